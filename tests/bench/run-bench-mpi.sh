#!/bin/sh
# make bench-mpi, section (a): sweep throughput over ranks. The same sweep
# (paper_tables.lua --quick: every learner of the paper's table, runs of
# uneven length, over a few seeds) alone with every core, then under
# mpirun -np 2 (each rank the node's cores / 2 threads: engine/threads.c);
# prints a RESULT line per rank count (runs, seconds, runs per hour) and a
# summary. Needs an MPI build (make MPI=1 all); never part of make test.
#   BENCH_MPI_SEEDS   seeds of the sweep (default 3)
#   BENCH_MPI_ONLY    paper_tables.lua --only (default split; toy for a check in seconds)
#   BENCH_MPI_RANKS   rank counts (default "1 2")
# Sections (b) and (c) (distributed training) are in run-bench-mpi-train.sh,
# which make bench-mpi runs next.
set -eu
cd "$(dirname "$0")/../.."
seeds=${BENCH_MPI_SEEDS:-3}
only=${BENCH_MPI_ONLY:-split}
ranks=${BENCH_MPI_RANKS:-1 2}
if ! ./hnet -e 'os.exit(hnet.dist.built() and 0 or 1)'; then
  echo "run-bench-mpi.sh: ./hnet is not built with MPI: make MPI=1 all" >&2
  exit 1
fi
tmp=$(mktemp -d /tmp/hnet-bench-mpi-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "== (a) sweep throughput: paper_tables.lua --quick --only $only --seeds $seeds, $(nproc) cores"
base=""
for n in $ranks; do
  out="$tmp/np$n"
  args="experiments/paper_tables.lua --quick --quiet --only $only --seeds $seeds --out $out"
  t0=$(date +%s.%N)
  if [ "$n" -eq 1 ]; then
    ./hnet $args >"$tmp/log$n" 2>&1
  else
    mpirun --allow-run-as-root --oversubscribe -np "$n" ./hnet $args >"$tmp/log$n" 2>&1
  fi
  t1=$(date +%s.%N)
  runs=$(./hnet -e "print(#require('hnet.rundir').runs_below('$out'))")
  line=$(awk -v n="$n" -v r="$runs" -v a="$t0" -v b="$t1" \
    'BEGIN { s = b - a; printf "RESULT sweep ranks=%d runs=%d seconds=%.1f runs_per_hour=%.0f", n, r, s, r * 3600 / s }')
  echo "$line"
  [ -z "$base" ] && base=$line
  last=$line
done
rate() { echo "$1" | sed -n 's/.*runs_per_hour=\([0-9]*\).*/\1/p'; }
awk -v a="$(rate "$base")" -v b="$(rate "$last")" -v r="$ranks" \
  'BEGIN { if (a > 0) printf "summary: runs per hour %s at ranks %s: x%.2f from the first to the last\n", a " -> " b, r, b / a }'

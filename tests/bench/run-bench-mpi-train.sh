#!/bin/sh
# make bench-mpi, parts (b) and (c): one training run over MPI ranks
# (docs/distributed_training.md). Needs the MPI ./hnet (make MPI=1). Run it on
# an idle machine: the figures are wall times.
#   tests/bench/run-bench-mpi-train.sh
# (b) the median hypernetwork step (experiments/step_timing.lua --config
#     pm100) at task 1, 10 and 100, in one process and over 2 ranks split by
#     data, by earlier tasks and both, with the part of the step spent in the
#     allreduce(s);
# (c) the allreduce's cost against its size, 1 KiB up to the PermutedMNIST-100
#     step's fused buffer (|θ| + embedding + 3 floats = 11.2 MB), over loopback
#     TCP (--mca btl tcp,self), 2 ranks.
# results/scaling.md turns these into a model of 8-128 ranks.
# Environment: BENCH_TASKS ("1 10 100"), BENCH_STEPS (10), BENCH_CONFIG
# (pm100), BENCH_REPEATS (allreduces per size, 20), BENCH_MAX_FLOATS (0: the
# PM-100 buffer), BENCH_THREADS (threads per rank; default: the cores / 2, so
# that 1 and 2 ranks use the same cores).
set -u
TASKS=${BENCH_TASKS:-"1 10 100"}
STEPS=${BENCH_STEPS:-10}
CONFIG=${BENCH_CONFIG:-pm100}
REPEATS=${BENCH_REPEATS:-20}
MAXF=${BENCH_MAX_FLOATS:-0}
CORES=$(nproc)
TH=${BENCH_THREADS:-$(( CORES / 2 > 0 ? CORES / 2 : 1 ))}
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none"
export OMP_WAIT_POLICY=passive
if ! ./hnet -e 'os.exit(hnet.dist.built() and 0 or 1)'; then
  echo "run-bench-mpi-train.sh: ./hnet is built without MPI: make MPI=1 first" >&2
  exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "== (b) step time, $CONFIG, $STEPS timed steps, $TH threads per rank"
for t in $TASKS; do
  # One process with the threads of one rank, then with those of both ranks.
  for th in "$TH" "$(( TH * 2 ))"; do
    line=$(./hnet --threads "$th" experiments/step_timing.lua --config "$CONFIG" --task "$t" --steps "$STEPS") || exit 1
    echo "$line"
    ms=$(echo "$line" | sed -n 's/.*median step \([0-9.]*\) ms.*/\1/p')
    echo "RESULT step task=$t ranks=1 threads=$th split=none median_ms=$ms comm_ms=0" >> "$out"
  done
  for split in data tasks both; do
    line=$($MPIRUN -np 2 ./hnet --threads "$TH" experiments/step_timing.lua --config "$CONFIG" --task "$t" \
      --steps "$STEPS" --distributed --dist_split "$split") || exit 1
    echo "$line"
    ms=$(echo "$line" | sed -n 's/.*median step \([0-9.]*\) ms.*/\1/p')
    comm=$(echo "$line" | sed -n 's/.*median \([0-9.]*\) ms of the step in them.*/\1/p')
    echo "RESULT step task=$t ranks=2 threads=$TH split=$split median_ms=$ms comm_ms=$comm" >> "$out"
  done
done
echo "== (c) allreduce over loopback TCP (btl tcp,self), 2 ranks"
$MPIRUN -np 2 --mca btl tcp,self ./hnet --threads 1 tests/bench/allreduce_cost.lua --repeats "$REPEATS" \
  --max_floats "$MAXF" | tee -a "$out" || exit 1
echo
echo "== summary"
grep '^RESULT' "$out"

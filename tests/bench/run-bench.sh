#!/bin/sh
# make bench / make bench-compare: every figure measured in this one run.
#   run-bench.sh [--compare]
# Runs the engine bench built against both OpenBLAS builds (OpenMP and
# pthread) under both OMP_WAIT_POLICY settings, at 1 and 2 threads, then (with
# --compare) the same step in PyTorch, and prints the ratios.
set -u
REPEATS=${BENCH_REPEATS:-20}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for blas in openmp pthread; do
  for policy in passive active; do
    for th in 1 2; do
      OMP_WAIT_POLICY=$policy "build/$blas/bench" --threads "$th" --repeats "$REPEATS" \
        --tag "$blas/$policy" | tee -a "$out" || exit 1
    done
  done
done
# The regulariser at scale (issue 15's workloads): task 10 of PermutedMNIST-10
# (9 earlier tasks), task 100 of PermutedMNIST-100 with all 99 earlier tasks
# and with a subset of 10 (reg_tasks); each in its own process, so that its
# peak memory is its own. PermutedMNIST-100 steps take seconds: fewer repeats.
OMP_WAIT_POLICY=passive build/openmp/bench --threads 2 --repeats "$REPEATS" --reg 9 \
  --tag "openmp/passive+reg9" | tee -a "$out" || exit 1
R100=${BENCH_REPEATS_PM100:-5}
for reg in 99 10; do
  OMP_WAIT_POLICY=passive build/openmp/bench --threads 2 --repeats "$R100" --config pm100 \
    --reg "$reg" --tag "openmp/passive+pm100+reg$reg" | tee -a "$out" || exit 1
done
if [ "${1:-}" = "--compare" ]; then
  for th in 1 2; do
    python3=/usr/bin/python3
    "$python3" tests/bench/torch_step.py --threads "$th" --repeats "$REPEATS" | tee -a "$out" || exit 1
  done
fi
echo
echo "== summary (median step time; ratio = faster is larger)"
awk '
/^RESULT/ {
  for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
  key = f["tag"] " " f["threads"]
  ms[key] = f["step_ms"]
  if (f["tag"] != "torch") { gf[key] = f["gflops"]; cs[key] = f["ceil_small"]; cb[key] = f["ceil_big"]; pk[key] = f["peak_mib"] }
  order[++n] = key
}
END {
  for (i = 1; i <= n; i++) {
    k = order[i]
    if (k ~ /^torch/) continue
    split(k, a, " ")
    line = sprintf("%-28s threads=%s  %9.2f ms  %6.1f GFLOP/s  %3.0f%% of sgemm 128x1000x784, %3.0f%% of 2048^3, peak %6.0f MiB",
                   a[1], a[2], ms[k], gf[k], 100 * gf[k] / cs[k], 100 * gf[k] / cb[k], pk[k])
    t = "torch " a[2]
    if ((t in ms) && a[1] !~ /reg/) line = line sprintf("  | %.2fx faster than PyTorch (%.2f ms)", ms[t] / ms[k], ms[t])
    print line
  }
}' "$out"

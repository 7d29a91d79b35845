#!/bin/sh
# make bench / make bench-compare: every figure measured in this one run.
#   run-bench.sh [--compare]
# Runs the engine bench built against both OpenBLAS builds (OpenMP and
# pthread) under both OMP_WAIT_POLICY settings, at 1 and 2 threads, then issue
# 15's regulariser workloads and issue 18's recurrent step; with --compare the
# same steps in PyTorch (tests/bench/torch_step.py) at 1 and 2 threads, and
# the goal tables with the ratios against PyTorch's faster thread setting.
# Repeats: BENCH_REPEATS (default 20), BENCH_REPEATS_PM100 for the
# PermutedMNIST-100 steps (default 5; seconds each), BENCH_REPEATS_PM100_TORCH
# for PyTorch's (default 3; ~6 s each at task 100).
set -u
REPEATS=${BENCH_REPEATS:-20}
R100=${BENCH_REPEATS_PM100:-5}
RT100=${BENCH_REPEATS_PM100_TORCH:-3}
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
# and with a random 10 of the 99 stored targets per step (reg_tasks 10); each
# in its own process, so that its peak memory is its own. PermutedMNIST-100
# steps take seconds: fewer repeats.
OMP_WAIT_POLICY=passive build/openmp/bench --threads 2 --repeats "$REPEATS" --reg 9 \
  --tag "openmp/passive+reg9" | tee -a "$out" || exit 1
for reg in 99 10; do
  OMP_WAIT_POLICY=passive build/openmp/bench --threads 2 --repeats "$R100" --config pm100 \
    --reg "$reg" --stored 99 --tag "openmp/passive+pm100+reg$reg" | tee -a "$out" || exit 1
done
# The recurrent step (issue 18): the Permuted Copy Task, 1 and 2 threads.
for th in 1 2; do
  OMP_WAIT_POLICY=passive build/openmp/bench --threads "$th" --repeats "$REPEATS" --config copy \
    --tag "openmp/passive+copy" | tee -a "$out" || exit 1
done
if [ "${1:-}" = "--compare" ]; then
  # Debian's interpreter, which has python3-torch (not a python3 earlier in PATH).
  py=/usr/bin/python3
  # Both sides compute the same step: PyTorch runs hnet's first two steps
  # from hnet's θ, embeddings and batch (bench --dump) and must give the same
  # losses and regulariser (torch_step.py --check; PermutedMNIST-100 with a
  # random 2 of 5 stored targets: the code paths of 99 and of 10 of 99 at a
  # fraction of the cost).
  dump=$(mktemp)
  trap 'rm -f "$out" "$dump"' EXIT
  for w in "--config pm10 --reg 0" "--config pm10 --reg 9" "--config pm100 --reg 2 --stored 5" \
           "--config copy --reg 0"; do
    # shellcheck disable=SC2086 # $w is a list of options
    OMP_WAIT_POLICY=passive build/openmp/bench --threads 2 --repeats 1 $w --dump "$dump" \
      >/dev/null || exit 1
    # shellcheck disable=SC2086
    "$py" tests/bench/torch_step.py --threads 2 $w --check "$dump" || exit 1
  done
  for th in 1 2; do
    "$py" tests/bench/torch_step.py --threads "$th" --repeats "$REPEATS" \
      --tag torch | tee -a "$out" || exit 1
    "$py" tests/bench/torch_step.py --threads "$th" --repeats "$REPEATS" --reg 9 \
      --tag torch+reg9 | tee -a "$out" || exit 1
    for reg in 99 10; do
      "$py" tests/bench/torch_step.py --threads "$th" --repeats "$RT100" --config pm100 \
        --reg "$reg" --stored 99 --tag "torch+pm100+reg$reg" | tee -a "$out" || exit 1
    done
    "$py" tests/bench/torch_step.py --threads "$th" --repeats "$REPEATS" --config copy \
      --tag torch+copy | tee -a "$out" || exit 1
    "$py" tests/bench/torch_step.py --threads "$th" --repeats "$REPEATS" --config copy \
      --rnn loop --tag torch+copy+loop | tee -a "$out" || exit 1
  done
fi
echo
awk -f tests/bench/summary.awk "$out"

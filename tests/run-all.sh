#!/bin/sh
# Run every test binary; print each one's cmocka summary; fail if any failed.
# Tests are run from the repository root (they find ./hnet and lua/ there).
# The OpenMP wait policy hnet's program uses (see lua/main.c and the
# Makefile): spinning threads slow everything down on a shared machine.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
status=0
failed=""
for t in "$@"; do
  echo "== $t"
  start=$(date +%s)
  if ! "$t"; then status=1; failed="$failed $(basename "$t")"; fi
  echo "== $(basename "$t"): $(($(date +%s) - start)) s"
done
if [ $status -ne 0 ]; then
  echo "FAILED test programs:$failed"
else
  echo "all $# test programs passed"
fi
exit $status

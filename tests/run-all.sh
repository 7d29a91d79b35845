#!/bin/sh
# Run every test binary; print each one's cmocka summary; fail if any failed.
# Tests are run from the repository root (they find ./hnet and lua/ there).
status=0
failed=""
for t in "$@"; do
  echo "== $t"
  if ! "$t"; then status=1; failed="$failed $(basename "$t")"; fi
done
if [ $status -ne 0 ]; then
  echo "FAILED test programs:$failed"
else
  echo "all $# test programs passed"
fi
exit $status

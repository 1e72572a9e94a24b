#!/usr/bin/env bash
# `make test`: run each stage in order, stop at the first failure, and print the time each stage took (also when
# one fails or the run is interrupted), so a slow or failing stage is visible at a glance.
set -uo pipefail
summary=()
rc=0
report() {
    echo
    echo "make test: time per stage"
    printf '%s\n' "${summary[@]}"
}
trap report EXIT
for stage in "$@"; do
    t0=$(date +%s)
    make --no-print-directory "$stage"
    rc=$?
    status=$([ "$rc" -eq 0 ] && echo ok || echo "FAILED (exit $rc)")
    summary+=("$(printf '  %-12s %6ss  %s' "$stage" "$(( $(date +%s) - t0 ))" "$status")")
    [ "$rc" -eq 0 ] || exit "$rc"
done

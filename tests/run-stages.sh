#!/usr/bin/env bash
# `make test`: run each stage in order, stop at the first failure, and print the time each stage took (also when
# one fails or the run is interrupted), so a slow or failing stage is visible at a glance.
#
# A stage written `a+b` runs make targets a and b side by side: each one's output goes to its own log, printed
# whole when it ends, and the group fails if either does (both run to their end: each result is worth seeing).
# Ctrl-C or SIGTERM stops both: each runs in its own process group, and the signal reaches all of it as SIGTERM
# (a background job of a script ignores SIGINT), which the harness turns into a clean teardown.
set -uo pipefail
summary=()
logs=""
pgids=()
report() {
    [ -n "$logs" ] && rm -rf "$logs"
    echo
    echo "make test: time per stage"
    printf '%s\n' "${summary[@]}"
}
trap report EXIT
stop_group() {
    trap - INT TERM
    for g in "${pgids[@]}"; do kill -TERM -- "-$g" 2>/dev/null; done
    wait
    exit 130
}
trap stop_group INT TERM

record() {   # name seconds exit-code [note]: one line of the summary
    local status
    status=$([ "$3" -eq 0 ] && echo ok || echo "FAILED (exit $3)")
    summary+=("$(printf '  %-12s %6ss  %s%s' "$1" "$2" "$status" "${4:+, $4}")")
}

run_one() {   # stage: run it here, its output straight to the terminal
    local t0 rc
    t0=$(date +%s)
    make --no-print-directory "$1"
    rc=$?
    record "$1" "$(( $(date +%s) - t0 ))" "$rc"
    return "$rc"
}

run_side_by_side() {   # a+b: every part in its own process group, its log printed when it ends
    local parts part rc=0 t0 gone prc secs
    local -A shown=()
    IFS=+ read -ra parts <<< "$1"
    logs=$(mktemp -d /tmp/harness-stages.XXXXXX)
    t0=$(date +%s)
    echo "side by side: ${parts[*]} (logs in $logs while they run)"
    for part in "${parts[@]}"; do
        setsid bash -c 't0=$(date +%s); make --no-print-directory "$1" > "$2/$1.log" 2>&1; rc=$?;
                       echo "$rc $(( $(date +%s) - t0 ))" > "$2/$1.rc"' _ "$part" "$logs" &
        pgids+=("$!")
    done
    while [ "${#shown[@]}" -lt "${#parts[@]}" ]; do
        wait -n
        gone=$?   # 127: no job left, so a part that wrote no result was killed
        for part in "${parts[@]}"; do
            [ -z "${shown[$part]:-}" ] || continue
            if [ ! -f "$logs/$part.rc" ]; then
                [ "$gone" -eq 127 ] || continue
                echo "1 $(( $(date +%s) - t0 ))" > "$logs/$part.rc"
                echo "(killed before it could write its result)" >> "$logs/$part.log"
            fi
            shown[$part]=1
            read -r prc secs < "$logs/$part.rc"
            echo "---- $part (ended after ${secs}s, exit $prc) ----"
            cat "$logs/$part.log"
            record "$part" "$secs" "$prc" "beside the others of $1"
            [ "$prc" -eq 0 ] || rc=$prc
        done
    done
    pgids=()
    summary+=("$(printf '  %-12s %6ss  %s' "$1" "$(( $(date +%s) - t0 ))" "wall time of the group")")
    rm -rf "$logs"
    logs=""
    return "$rc"
}

for stage in "$@"; do
    if [[ "$stage" == *+* ]]; then
        run_side_by_side "$stage" || exit $?
    else
        run_one "$stage" || exit $?
    fi
done

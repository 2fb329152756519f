#!/usr/bin/env bash
# Drill: kill -9 the host at N random moments of a 4-iteration campaign (a fresh folder each
# time), resume each to the end, and count the campaigns that end complete and duplicate-free
# and the workers left running after the kill.
#   scripts/drills/kill9.sh [N=20]
source "$(dirname "$0")/lib.sh"
N="${1:-20}"
manifest "$DRILL_DIR/m.toml" 4
cd "$DRILL_DIR"

start=$(now_s)
"$HOST" run m.toml --out clean >clean.log 2>&1
span=$(echo "$(now_s) - $start" | bc)
echo "a whole campaign (8 runs and its analysis) takes ${span} s"

complete=0; duplicated=0; leftover=0
for i in $(seq 1 "$N"); do
    dir="$DRILL_DIR/k$i"
    at=$(python3 -c "import random; print(round(random.uniform(0, $span), 2))")
    "$HOST" run m.toml --out "k$i" >"k$i.log" 2>&1 &
    pid=$!
    sleep "$at"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    sleep 2
    left=$(workers "k$i")
    leftover=$((leftover + left))
    before=$( [ -f "$dir/runs.csv" ] && rows "$dir" || echo "-")
    if [ -d "$dir" ]; then
        "$HOST" run m.toml --resume "k$i" >"k$i.resume.log" 2>&1 && rc=0 || rc=$?
    else
        # Killed before the folder existed: nothing to resume; start it again.
        "$HOST" run m.toml --out "k$i" >"k$i.resume.log" 2>&1 && rc=0 || rc=$?
    fi
    ok=$(ok_rows "$dir"); dup=$(duplicates "$dir"); whole=$(analysis_whole "$dir")
    [ "$ok" = 8 ] && [ "$dup" = 0 ] && [ "$rc" = 0 ] && [ "$whole" = 1 ] && complete=$((complete + 1))
    [ "$dup" = 0 ] || duplicated=$((duplicated + 1))
    printf 'kill %2d at %5.2f s: %s row(s) before, %s worker(s) left; resume exit %s, %s ok, %s duplicate(s), analysis whole %s\n' \
        "$i" "$at" "$before" "$left" "$rc" "$ok" "$dup" "$whole"
done
echo "kill -9 x$N: $complete/$N complete (8 ok rows, analysis whole, exit 0), $duplicated with duplicates, $leftover worker(s) outlived the host"
[ "$complete" = "$N" ] && [ "$leftover" = 0 ]

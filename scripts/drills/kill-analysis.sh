#!/usr/bin/env bash
# Drill: kill -9 the host at N random moments of its final analysis, then resume: the
# analysis must come back whole and the resume exit 0.
#   scripts/drills/kill-analysis.sh [N=5] [WINDOW=15]
source "$(dirname "$0")/lib.sh"
N="${1:-5}"
WINDOW="${2:-15}"
manifest "$DRILL_DIR/m.toml" 2
cd "$DRILL_DIR"
good=0
for i in $(seq 1 "$N"); do
    dir="$DRILL_DIR/a$i"
    "$HOST" run m.toml --out "a$i" >"a$i.log" 2>&1 &
    pid=$!
    # The analysis starts when analysis/ appears.
    until [ -d "$dir/analysis" ] || ! kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
    at=$(python3 -c "import random; print(round(random.uniform(0, $WINDOW), 2))")
    sleep "$at"
    kill -9 "$pid" 2>/dev/null && killed=yes || killed="no (it had ended)"
    wait "$pid" 2>/dev/null || true
    files=$(find "$dir/analysis" -type f ! -name '.*' | grep -c . || true)
    "$HOST" run m.toml --resume "a$i" >"a$i.resume.log" 2>&1 && rc=0 || rc=$?
    whole=$(analysis_whole "$dir"); after=$(find "$dir/analysis" -type f ! -name '.*' | grep -c . || true)
    printf 'kill %d at %.2f s into the analysis (killed: %s): %s file(s) left; resume exit %s, %s file(s), whole %s\n' \
        "$i" "$at" "$killed" "$files" "$rc" "$after" "$whole"
    [ "$rc" = 0 ] && [ "$whole" = 1 ] && good=$((good + 1))
done
echo "kill during analysis x$N: $good/$N whole after resume"
[ "$good" = "$N" ]

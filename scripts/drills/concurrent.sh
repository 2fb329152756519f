#!/usr/bin/env bash
# Drill: start two resumes of one folder at the same instant, N times; exactly one may
# measure (the other exits 2 naming the holder, or finds nothing left), never a run twice.
#   scripts/drills/concurrent.sh [N=5]
source "$(dirname "$0")/lib.sh"
N="${1:-5}"
manifest "$DRILL_DIR/m.toml" 1
cd "$DRILL_DIR"
"$HOST" run m.toml --out c >c.log 2>&1
good=0
for i in $(seq 1 "$N"); do
    its=$((i + 1))
    "$HOST" run m.toml --resume c --iterations "$its" >"c$i.1.log" 2>&1 & p1=$!
    "$HOST" run m.toml --resume c --iterations "$its" >"c$i.2.log" 2>&1 & p2=$!
    wait "$p1" && r1=0 || r1=$?
    wait "$p2" && r2=0 || r2=$?
    rows=$(rows c); dup=$(duplicates c)
    holder=$(grep -ho "in use by another host: [^.]*" "c$i.1.log" "c$i.2.log" || true)
    # A refusal must name the other host of the pair.
    named=$(echo "$holder" | grep -o "PID [0-9]*" | cut -d' ' -f2 || true)
    right=yes
    if [ -n "$holder" ] && [ "$named" != "$p1" ] && [ "$named" != "$p2" ]; then right=no; fi
    printf 'pair %d: exits %s and %s, %s row(s) (expected %s), %s duplicate(s) %s\n' \
        "$i" "$r1" "$r2" "$rows" "$((its * 2))" "$dup" "${holder:+— refused: $holder (the other host: $right)}"
    codes="$(printf '%s\n' "$r1" "$r2" | sort | tr '\n' ' ')"
    if [ "$dup" = 0 ] && [ "$rows" = "$((its * 2))" ] && [ "$right" = yes ] &&
        { [ "$codes" = "0 2 " ] || [ "$codes" = "0 0 " ]; }; then
        good=$((good + 1))
    fi
done
echo "two concurrent resumes x$N: $good/$N with one host measuring and no run twice"
[ "$good" = "$N" ]

#!/usr/bin/env bash
# Drill: a campaign folder on a small tmpfs filled so that the disk runs out at a different
# moment each time (campaign.json, runs.csv, a run's samples or log, the analysis); then free
# the space and resume. Needs root (mount).
#   scripts/drills/disk-full.sh [FREE_KIB...]   (default: 0 4 8 16 32 64 128 256 512)
source "$(dirname "$0")/lib.sh"
frees=("$@"); [ ${#frees[@]} -gt 0 ] || frees=(0 4 8 16 32 64 128 256 512)
manifest "$DRILL_DIR/m.toml" 2
cd "$DRILL_DIR"
good=0
for free in "${frees[@]}"; do
    dir="$DRILL_DIR/d$free"
    mkdir -p "$dir"
    mount -t tmpfs -o size=2m joulebench-drill "$dir"
    trap 'umount -l "$dir" 2>/dev/null || true' EXIT
    # Fill to the last byte, then give back FREE KiB.
    dd if=/dev/zero of="$dir/.filler" bs=4k status=none 2>/dev/null || true
    if [ "$free" -gt 0 ]; then truncate -s "-${free}K" "$dir/.filler"; fi
    "$HOST" run m.toml --out "d$free" >"d$free.log" 2>&1 && rc1=0 || rc1=$?
    failed=$(tail -n +2 "$dir/runs.csv" 2>/dev/null | awk -F, '$5 == "failed"' | grep -c . || true)
    partial=$(find "$dir" -name '.*.part' -o -name '.part-*' | grep -c . || true)
    why=$(grep -m1 -o "No space left on device" "d$free.log" || echo "-")
    rm -f "$dir/.filler"
    if [ -f "$dir/runs.csv" ] || [ -f "$dir/campaign.json" ] || [ -f "$dir/manifest.toml" ]; then
        "$HOST" run m.toml --resume "d$free" >"d$free.resume.log" 2>&1 && rc2=0 || rc2=$?
    else
        "$HOST" run m.toml --out "d$free" >"d$free.resume.log" 2>&1 && rc2=0 || rc2=$?
    fi
    ok=$(ok_rows "$dir"); dup=$(duplicates "$dir"); whole=$(analysis_whole "$dir")
    printf '%4s KiB free: exit %s (%s), %s failed row(s), %s partial file(s); after freeing: resume exit %s, %s ok, %s duplicate(s), analysis whole %s\n' \
        "$free" "$rc1" "$why" "$failed" "$partial" "$rc2" "$ok" "$dup" "$whole"
    [ "$failed" = 0 ] && [ "$rc2" = 0 ] && [ "$ok" = 4 ] && [ "$dup" = 0 ] && [ "$whole" = 1 ] && good=$((good + 1))
    umount -l "$dir"; trap - EXIT
done
echo "disk full x${#frees[@]}: $good/${#frees[@]} complete after freeing space and resuming, no failed rows"
[ "$good" = "${#frees[@]}" ]

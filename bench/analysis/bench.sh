#!/usr/bin/env bash
# Times `host analyze` against the pandas + SciPy baseline (analyze.py) on the shared
# EnergiBridge data, end to end including plots, side by side in one hyperfine run.
# First checks that both agree to 1e-9 relative.
#
#   bench/analysis/bench.sh [DATA_DIR]     (default: ../shared/data/energibridge-mnist)
#
# Needs: hyperfine (Debian: apt-get install hyperfine) and a Python with
# bench/analysis/requirements.txt (a venv is made in ~/.cache/joulebench unless $PYTHON is set).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
data="${1:-$root/../shared/data/energibridge-mnist}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -z "${PYTHON:-}" ]; then
    venv="${XDG_CACHE_HOME:-$HOME/.cache}/joulebench/bench-analysis-venv"
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q -r "$root/bench/analysis/requirements.txt"
    fi
    PYTHON="$venv/bin/python"
fi
command -v hyperfine >/dev/null || { echo "bench.sh: hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }

cargo build --release -q --manifest-path "$root/Cargo.toml" -p host --bin host
host="${CARGO_TARGET_DIR:-$root/target}/release/host"

# Same figures first: a fast wrong answer is no win.
"$host" analyze "$data" --out "$work/host" >/dev/null
"$PYTHON" "$root/bench/analysis/analyze.py" "$data" --out "$work/py" --check "$work/host/summary.json"

hyperfine --warmup 2 --min-runs 10 --export-markdown "$work/bench.md" \
    -n "host analyze" "$host analyze '$data' --out '$work/host'" \
    -n "pandas + SciPy" "$PYTHON '$root/bench/analysis/analyze.py' '$data' --out '$work/py'"
cat "$work/bench.md"

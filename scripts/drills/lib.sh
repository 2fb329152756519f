# Shared by the drills (sourced, not run): the host binary, a small spin campaign, and the
# checks every drill ends with. See scripts/drills/README.md.
#
# HOST      the host binary (default: target/debug/host, built by `cargo build -p host`)
# PLUGINS   the folder holding libplugin_spin.so (default: the host's folder)
# MNIST_DIR the MNIST files (as for any campaign)
# DRILL_DIR where the drills make their folders (default: a fresh temporary folder)

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HOST="${HOST:-$ROOT/target/debug/host}"
PLUGINS="${PLUGINS:-$(dirname "$HOST")}"
DRILL_DIR="${DRILL_DIR:-$(mktemp -d /tmp/joulebench-drill-XXXXXX)}"
[ -x "$HOST" ] || { echo "no host binary at $HOST: cargo build -p host -p plugin-spin" >&2; exit 2; }
[ -f "$PLUGINS/libplugin_spin.so" ] || { echo "no $PLUGINS/libplugin_spin.so: cargo build -p plugin-spin" >&2; exit 2; }

# manifest FILE ITERATIONS: two spin plugins on a tiny MNIST subset, no rests.
manifest() {
    cat >"$1" <<TOML
[experiment]
name = "drill"
seed = 7
iterations = $2
rest = "0s"
run_timeout = "2m"

[dataset]
train_subset = 300
test_subset = 200

[model]
layers = [{ kind = "flatten" }, { kind = "dense", units = 10 }]

[training]
epochs = 1
batch_size = 32
threads = 1

[[plugin]]
name = "a"
path = "$PLUGINS/libplugin_spin.so"

[[plugin]]
name = "b"
path = "$PLUGINS/libplugin_spin.so"
TOML
}

# rows DIR: data rows in DIR/runs.csv.
rows() { tail -n +2 "$1/runs.csv" | grep -c . || true; }

# ok_rows DIR: rows whose status is ok (the 5th column).
ok_rows() { tail -n +2 "$1/runs.csv" | awk -F, '$5 == "ok"' | grep -c . || true; }

# duplicates DIR: (iteration, plugin) pairs recorded more than once.
duplicates() { tail -n +2 "$1/runs.csv" | awk -F, '{print $1","$3}' | sort | uniq -d | grep -c . || true; }

# workers OUT: `host worker` processes still running for the campaign started with --out OUT.
workers() { pgrep -f -- "--samples $1/samples/" | grep -c . || true; }

# analysis_whole DIR: 1 when DIR/analysis/summary.json exists and every file it lists is there.
analysis_whole() {
    local a="$1/analysis"
    [ -f "$a/summary.json" ] || { echo 0; return; }
    python3 - "$a" <<'PY'
import json, os, sys
a = sys.argv[1]
files = json.load(open(os.path.join(a, "summary.json"))).get("files", [])
print(int(all(os.path.isfile(os.path.join(a, f)) for f in files)))
PY
}

# now_s: seconds since the epoch, with fractions.
now_s() { date +%s.%N; }

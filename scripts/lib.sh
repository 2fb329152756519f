# Shared by scripts/setup and scripts/test (sourced, not run).
#
# Prepares the optional native toolchains and sets CARGO_EXCLUDE to the workspace members
# that cannot be built on this machine, each with a note on stderr:
#   plugin-tch    needs libtorch from .venv/torch (plugins/tch/setup-libtorch)

CARGO_EXCLUDE=()

# LIBTORCH must keep one value across cargo calls, or torch-sys rebuilds its C++ shim.
if LIBTORCH="$(plugins/tch/setup-libtorch 2>/dev/null)"; then
    export LIBTORCH
else
    CARGO_EXCLUDE+=(--exclude plugin-tch)
    echo "note: .venv/torch is missing: plugin-tch is skipped (scripts/setup-venvs torch)" >&2
fi

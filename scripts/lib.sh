# Shared by scripts/setup and scripts/test (sourced, not run).
#
# Prepares the optional native toolchains and sets CARGO_EXCLUDE to the workspace members
# that cannot be built on this machine, each with a note on stderr:
#   plugin-tch    needs libtorch from .venv/torch (plugins/tch/setup-libtorch)
#   plugin-xla    needs XLA's CPU PJRT plugin (plugins/xla/setup-pjrt downloads it from PyPI)
#                 and libclang for bindgen (apt-get install libclang-dev)
# Under CI (CI set and not 0) a missing prerequisite of plugin-xla is an error instead: CI
# installs everything it needs (.ci/run), so a skip there would hide a broken setup.

CARGO_EXCLUDE=()

# LIBTORCH must keep one value across cargo calls, or torch-sys rebuilds its C++ shim.
if LIBTORCH="$(plugins/tch/setup-libtorch 2>/dev/null)"; then
    export LIBTORCH
else
    CARGO_EXCLUDE+=(--exclude plugin-tch)
    echo "note: .venv/torch is missing: plugin-tch is skipped (scripts/setup-venvs torch)" >&2
fi

# XLA_PJRT_DIR likewise: plugin-xla's build.rs reruns bindgen when it changes. setup-pjrt is
# idempotent (a stamp check when the wheel is already unpacked) and prints the folder.
xla_missing=""
if ! XLA_PJRT_DIR="$(plugins/xla/setup-pjrt)"; then
    xla_missing="plugins/xla/setup-pjrt failed (see above)"
elif ! compgen -G "/usr/lib/llvm-*/lib/libclang*.so*" >/dev/null &&
    ! ldconfig -p 2>/dev/null | grep -q 'libclang[-.0-9]*\.so'; then
    xla_missing="libclang is missing (apt-get install libclang-dev)"
fi
if [ -z "$xla_missing" ]; then
    export XLA_PJRT_DIR
elif [ -n "${CI:-}" ] && [ "${CI}" != 0 ]; then
    echo "error: plugin-xla cannot be built: $xla_missing" >&2
    return 1 2>/dev/null || exit 1
else
    CARGO_EXCLUDE+=(--exclude plugin-xla)
    echo "note: $xla_missing: plugin-xla is skipped" >&2
fi
unset xla_missing

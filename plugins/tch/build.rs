//! Run-time search path for libtorch, and whether this build links CUDA.
//!
//! torch-sys links `-ltorch_cpu -ltorch -lc10` from its `LIBTORCH/lib` but its own rpath flag
//! only reaches the C++ shim it compiles, not the final link of this cdylib (or of the test
//! executables), so without the rpath below the worker process would fail to load
//! `libtorch_cpu.so` unless LD_LIBRARY_PATH were set. torch-sys hands its lib folder to
//! direct dependents as `DEP_TCH_LIBTORCH_LIB` (its `links = "tch"` key).

use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(libtorch_cuda)");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        // Only on a platform where torch-sys emits no lib folder (not Linux/macOS).
        println!("cargo:warning=torch-sys reported no libtorch lib folder: no rpath set");
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");

    let lib = Path::new(&lib);
    if lib.join("libtorch_cuda.so").exists() {
        // torch-sys links libtorch_cuda too when the folder holds it, but the linker's
        // --as-needed default drops it again: nothing here names a CUDA symbol, the library
        // only registers CUDA with libtorch from its static initialisers. Keep it.
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
        println!("cargo:rustc-cfg=libtorch_cuda");
    }

    // The libtorch version for info(): setup-libtorch writes `build-version` (torch-sys then
    // refuses any other version); the wheel's own torch/ folder has `version.py` instead.
    let root = lib.parent().unwrap_or(lib);
    let version = std::fs::read_to_string(root.join("build-version"))
        .ok()
        .map(|v| v.trim().to_string())
        .or_else(|| {
            let text = std::fs::read_to_string(root.join("version.py")).ok()?;
            let line = text.lines().find(|l| l.starts_with("__version__"))?;
            Some(line.split('\'').nth(1)?.to_string())
        })
        .unwrap_or_else(|| "2.13.0".to_string());
    println!("cargo:rustc-env=JOULEBENCH_LIBTORCH_VERSION={version}");
}

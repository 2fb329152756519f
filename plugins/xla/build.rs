//! Generates Rust bindings to the PJRT C API from the header of the xla-cpu-pjrt wheel that
//! `setup-pjrt` unpacked, and records where that wheel's `xla_cpu_pjrt.so` lies, so the plugin
//! finds it at run time without any setting.
//!
//! The folder is `$XLA_PJRT_DIR`, else setup-pjrt's default
//! (`${XDG_CACHE_HOME:-~/.cache}/joulebench/xla-cpu-pjrt-<version>`, the version pinned in
//! requirements.txt). Binding the wheel's own header (API 0.81 for xla-cpu-pjrt 0.0.1) keeps the
//! struct sizes that the plugin checks on every call equal to ours.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=XLA_PJRT_DIR");
    println!("cargo:rerun-if-env-changed=XDG_CACHE_HOME");
    println!("cargo:rerun-if-changed=requirements.txt");
    let version = pinned_version();
    let dir = pjrt_dir(&version);
    let header = dir.join("include/pjrt_c_api.h");
    if !header.is_file() {
        panic!(
            "{} is missing: run plugins/xla/setup-pjrt (it downloads xla-cpu-pjrt {version} \
             from PyPI), or set XLA_PJRT_DIR to the folder it printed",
            header.display()
        );
    }
    println!("cargo:rerun-if-changed={}", header.display());

    let bindings = bindgen::Builder::default()
        .header(header.display().to_string())
        .allowlist_type("PJRT_.*")
        .allowlist_var("PJRT_.*")
        .derive_default(true)
        .layout_tests(false)
        .generate()
        .unwrap_or_else(|e| {
            panic!(
                "bindgen could not read {} ({e}); it needs libclang: apt-get install libclang-dev",
                header.display()
            )
        });
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("pjrt_bindings.rs"))
        .expect("writing the PJRT bindings into OUT_DIR");

    println!(
        "cargo:rustc-env=JOULEBENCH_PJRT_LIBRARY={}",
        dir.join("xla_cpu_pjrt.so").display()
    );
    println!("cargo:rustc-env=JOULEBENCH_XLA_PJRT_VERSION={version}");
}

/// The xla-cpu-pjrt version that requirements.txt pins.
fn pinned_version() -> String {
    let text = std::fs::read_to_string("requirements.txt").expect("reading requirements.txt");
    text.lines()
        .find_map(|l| l.strip_prefix("xla-cpu-pjrt=="))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .expect("requirements.txt pins xla-cpu-pjrt==<version>")
}

fn pjrt_dir(version: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("XLA_PJRT_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join(format!("joulebench/xla-cpu-pjrt-{version}"))
}

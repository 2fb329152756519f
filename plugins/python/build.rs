//! Link-time facts about the embedded interpreter.
//!
//! pyo3 links `libpython3.X.so` of the interpreter it finds (`PYO3_PYTHON`, else `python3` on
//! PATH) but records no search path for it, so at run time the dynamic loader would pick
//! whatever `libpython3.X.so.1.0` the system has (Debian's, another patch release), silently.
//! The rpath pins the library to the interpreter the venvs were made from.

fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
    let config = pyo3_build_config::get();
    if !config.shared() {
        println!(
            "cargo:warning=the Python pyo3 found has no shared libpython; embedding needs one \
             (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared)"
        );
    }
    let version = config.version();
    println!(
        "cargo:rustc-env=JOULEBENCH_PYTHON_VERSION={}.{}",
        version.major, version.minor
    );
    println!(
        "cargo:rustc-env=JOULEBENCH_PYTHON_LIBDIR={}",
        config.lib_dir().unwrap_or("")
    );
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}

//! Finding the trainer file and the venv the options name.
//!
//! The host passes plugin options through as written in the manifest, and manifests write
//! paths relative to themselves (`../plugins/python/trainers/keras_cnn.py`). A relative path
//! is therefore tried against, in order:
//!
//! 1. the option `manifest_dir` or the environment variable `JOULEBENCH_MANIFEST_DIR`, when
//!    the host provides one;
//! 2. the current directory;
//! 3. the folders above this library's own file, nearest first: with the library in
//!    `<repo>/target/release/`, `../plugins/…` resolves against `<repo>/target`, i.e. to
//!    `<repo>/plugins/…`, as it does from `<repo>/manifests`.
//!
//! The first candidate that exists wins; an error lists every candidate tried.

use std::path::{Path, PathBuf};

use std::ffi::{c_char, c_int, c_void, CString};
use std::os::unix::ffi::OsStrExt;

use plugin_api::{PluginError, Session};

use crate::{PYTHON_VERSION, SETUP_HINT};

/// A venv and its `site-packages`.
#[derive(Debug, Clone)]
pub struct Venv {
    pub root: PathBuf,
    pub site_packages: PathBuf,
    /// pyvenv.cfg's `include-system-site-packages`.
    pub include_system: bool,
}

/// The trainer file from option `trainer`.
pub fn resolve_trainer(session: &Session<'_>) -> Result<PathBuf, PluginError> {
    let value = session.option("trainer").ok_or_else(|| {
        PluginError::setup(format!(
            "plugin `{}` needs option `trainer` (a trainer .py file), e.g. options = {{ trainer \
             = \"../plugins/python/trainers/keras_cnn.py\", venv = \"../.venv/keras\" }}",
            session.plugin_name
        ))
    })?;
    let tried = candidates(session, value);
    tried
        .iter()
        .find(|p| p.is_file())
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
        .ok_or_else(|| {
            PluginError::setup(format!(
                "trainer `{value}` not found (tried {})",
                list(&tried)
            ))
        })
}

/// The venv from option `venv`, checked to be one made from this plugin's Python; `None`
/// when the option is absent (the interpreter's own site-packages are used).
pub fn resolve_venv(session: &Session<'_>) -> Result<Option<Venv>, PluginError> {
    let Some(value) = session.option("venv") else {
        return Ok(None);
    };
    let tried = candidates(session, value);
    let root = tried
        .iter()
        .find(|p| p.join("pyvenv.cfg").is_file())
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
        .ok_or_else(|| {
            PluginError::setup(format!(
                "python venv `{value}` not found (tried {}): {SETUP_HINT}",
                list(&tried)
            ))
        })?;
    let cfg = std::fs::read_to_string(root.join("pyvenv.cfg")).unwrap_or_default();
    let setting = |keys: &[&str]| {
        cfg.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| keys.contains(&k.trim()))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let version = setting(&["version", "version_info"]);
    let include_system = setting(&["include-system-site-packages"]).eq_ignore_ascii_case("true");
    if !version.starts_with(&format!("{PYTHON_VERSION}.")) {
        return Err(PluginError::setup(format!(
            "venv {} is for Python {}, but this plugin embeds Python {PYTHON_VERSION}: \
             recreate it with scripts/setup-venvs --force, from the same python3",
            root.display(),
            if version.is_empty() {
                "(unknown)"
            } else {
                &version
            }
        )));
    }
    let site_packages = root
        .join("lib")
        .join(format!("python{PYTHON_VERSION}"))
        .join("site-packages");
    if !site_packages.is_dir() {
        return Err(PluginError::setup(format!(
            "venv {} has no {}: {SETUP_HINT}",
            root.display(),
            site_packages.display()
        )));
    }
    Ok(Some(Venv {
        root,
        site_packages,
        include_system,
    }))
}

/// Where a relative option path may point, in the order tried (see the module docs).
fn candidates(session: &Session<'_>, value: &str) -> Vec<PathBuf> {
    let path = Path::new(value);
    if path.is_absolute() {
        return vec![path.to_path_buf()];
    }
    let mut bases: Vec<PathBuf> = Vec::new();
    if let Some(dir) = session.option("manifest_dir") {
        bases.push(dir.into());
    }
    if let Some(dir) = std::env::var_os("JOULEBENCH_MANIFEST_DIR") {
        bases.push(dir.into());
    }
    if let Ok(cwd) = std::env::current_dir() {
        bases.push(cwd);
    }
    if let Some(lib) = own_library() {
        bases.extend(lib.ancestors().skip(1).map(Path::to_path_buf));
    }
    let mut out: Vec<PathBuf> = Vec::new();
    for base in bases {
        let candidate = base.join(path);
        if !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The file mapped at `address` in this process, from `/proc/self/maps`.
fn mapped_file(address: usize) -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (start, end) = fields.next()?.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        let path = fields.nth(4)?;
        (start <= address && address < end && path.starts_with('/')).then(|| path.into())
    })
}

/// This library's own file (the cdylib, or the test binary when linked statically).
fn own_library() -> Option<PathBuf> {
    mapped_file(own_library as fn() -> Option<PathBuf> as usize)
}

/// The `libpython*.so*` this process has loaded, if any.
pub fn loaded_libpython() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| {
            Path::new(path)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libpython"))
        })
        .map(PathBuf::from)
}

extern "C" {
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
}
// glibc's values (<dlfcn.h>, Linux).
const RTLD_NOW: c_int = 0x2;
const RTLD_NOLOAD: c_int = 0x4;
const RTLD_GLOBAL: c_int = 0x100;

/// Makes libpython's symbols global.
///
/// The host loads this plugin with `dlopen(RTLD_LOCAL)`, so libpython, loaded as the plugin's
/// dependency, is local to it too. Extension modules (numpy's `_multiarray_umath`, torch's
/// `_C`) do not link libpython; they expect its symbols in the global scope and would fail
/// with "undefined symbol: PyObject_…". Reopening the already-loaded library with
/// `RTLD_NOLOAD | RTLD_GLOBAL` promotes it without loading anything.
pub fn promote_libpython() -> Result<(), PluginError> {
    let Some(lib) = loaded_libpython() else {
        // Linked statically into the executable (a test binary): already global.
        return Ok(());
    };
    let name = CString::new(lib.as_os_str().as_bytes())
        .map_err(|_| PluginError::setup(format!("odd libpython path {}", lib.display())))?;
    // SAFETY: a valid C string; RTLD_NOLOAD only adjusts an already-loaded object.
    let handle = unsafe { dlopen(name.as_ptr(), RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL) };
    if handle.is_null() {
        return Err(PluginError::setup(format!(
            "could not make {}'s symbols global (dlopen RTLD_NOLOAD|RTLD_GLOBAL failed)",
            lib.display()
        )));
    }
    Ok(())
}

//! Opening a plugin file and checking that it speaks our interface.
//!
//! Each file is opened with `lib_header_from_path` + `init_root_module`, never with
//! `RootModule::load_from_file`: the latter keeps one module per root-module *type* for the
//! whole process and would hand back the first plugin for every later path.

use std::path::{Path, PathBuf};

use abi_stable::library::{lib_header_from_path, LibraryError};
use plugin_api::{PluginInfo, PluginModRef, INTERFACE_VERSION};

/// A plugin whose ABI layout and interface version match the host's.
pub struct LoadedPlugin {
    pub path: PathBuf,
    pub module: PluginModRef,
    pub info: PluginInfo,
}

/// Why a file could not be used as a plugin: one sentence (at most three lines) each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// Loads `path` and checks it (layout of every ABI type, then the interface version).
pub fn load(path: &Path) -> Result<LoadedPlugin, LoadError> {
    let shown = path.display();
    if !path.exists() {
        return Err(LoadError(format!(
            "{shown}: no such file (build it first, e.g. `cargo build --release`)"
        )));
    }
    if path.is_dir() {
        return Err(LoadError(format!(
            "{shown}: is a folder, not a plugin library"
        )));
    }
    let header = lib_header_from_path(path).map_err(|e| LoadError(describe(path, &e)))?;
    let module = header
        .init_root_module::<PluginModRef>()
        .map_err(|e| LoadError(describe(path, &e)))?;
    let info = (module.info())();
    if info.interface_version != INTERFACE_VERSION {
        return Err(LoadError(if info.interface_version == 0 {
            format!("{shown}: the plugin's info() panicked; it cannot be used")
        } else {
            format!(
                "{shown}: built for plugin interface {} but this host speaks interface {INTERFACE_VERSION}: \
                 rebuild the plugin against this plugin-api",
                info.interface_version
            )
        }));
    }
    Ok(LoadedPlugin {
        path: path.to_path_buf(),
        module,
        info,
    })
}

/// One clear sentence for each way loading fails.
fn describe(path: &Path, err: &LibraryError) -> String {
    let shown = path.display();
    match err {
        LibraryError::OpenError { err, .. } => {
            format!("{shown}: cannot be opened as a shared library ({err})")
        }
        LibraryError::GetSymbolError { .. } => format!(
            "{shown}: not a joulebench plugin (it exports no abi_stable root module; \
             did you export one with plugin_api::export_plugin!?)"
        ),
        LibraryError::IncompatibleVersionNumber { expected_version, actual_version, .. } => format!(
            "{shown}: built with plugin-api {actual_version}, incompatible with the host's {expected_version}: \
             rebuild the plugin against this plugin-api"
        ),
        LibraryError::AbiInstability(report) => {
            format!("{shown}: its ABI does not match the host's: {}", summarize_abi_report(&report.to_string()))
        }
        LibraryError::RootModule { err, .. } => {
            format!("{shown}: the plugin's root module failed to initialise: {err}")
        }
        other => {
            let text = other.to_string();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("unknown error");
            format!("{shown}: cannot be loaded as a plugin: {}", first.trim())
        }
    }
}

/// abi_stable's layout report runs to hundreds of lines. Keep what a person needs: which
/// type or field differs, and what was expected against what was found (at most two lines).
pub fn summarize_abi_report(report: &str) -> String {
    let mut kind = None;
    let mut expected = None;
    let mut found = None;
    let mut fields: Vec<String> = Vec::new();
    for line in report.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Error:") {
            kind.get_or_insert_with(|| rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("Expected:") {
            expected.get_or_insert_with(|| rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("Found:") {
            found.get_or_insert_with(|| rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("field:") {
            let name = rest
                .trim()
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            if !name.is_empty() && fields.last() != Some(&name) {
                fields.push(name);
            }
        }
    }
    let mut out = String::new();
    if !fields.is_empty() {
        out.push_str(&format!("at {}: ", fields.join(" → ")));
    }
    out.push_str(kind.as_deref().unwrap_or("layouts differ"));
    if let (Some(e), Some(f)) = (expected, found) {
        out.push_str(&format!(" (host expects {e}, plugin has {f})"));
    }
    out.push_str("\n  rebuild the plugin against this host's plugin-api");
    out
}

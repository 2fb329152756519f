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
///
/// The library is always opened by its absolute path (a relative one taken against the
/// current folder): the dynamic loader looks a bare file name such as `libplugin_spin.so` up
/// on the system library path (`LD_LIBRARY_PATH`, ld.so.cache), where a same-named library
/// could be found instead of the one named.
pub fn load(path: &Path) -> Result<LoadedPlugin, LoadError> {
    let path = &crate::manifest::absolute(path);
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
            if std::env::var_os("JOULEBENCH_ABI_REPORT").is_some() {
                eprintln!("{shown}: abi_stable's full layout report:\n{report}");
            }
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
/// type and field differ, and what was expected against what was found.
///
/// The report's shape (abi_stable 0.11): for each check, "N error(s)inside:" followed by the
/// path to the offending item as `type:` / `field_name:` lines, the two full layouts, then
/// "Error:<kind>", "Expected:" and "Found:" each followed by a value on the next line.
pub fn summarize_abi_report(report: &str) -> String {
    let lines: Vec<&str> = report.lines().map(str::trim).collect();
    let mut path: Option<String> = None;
    let mut kind = None;
    let mut expected = None;
    let mut found = None;
    let next_value = |i: usize| {
        lines[i + 1..]
            .iter()
            .find(|l| !l.is_empty())
            .map(|l| l.to_string())
    };
    for (i, line) in lines.iter().enumerate() {
        let failing_check = line
            .split_once(" error(s)")
            .and_then(|(n, _)| n.parse::<usize>().ok())
            .is_some_and(|n| n > 0);
        if failing_check && path.is_none() {
            // Walk the path: remember the last named (non-numeric) field and its owner type.
            let (mut owner, mut last_type, mut field) =
                (None::<String>, None::<String>, None::<String>);
            for l in lines[i + 1..]
                .iter()
                .take_while(|l| !l.starts_with("Layout of expected type"))
            {
                if let Some(t) = l.strip_prefix("type:") {
                    last_type = Some(t.to_string());
                } else if let Some(f) = l.strip_prefix("field_name:") {
                    if f.parse::<usize>().is_err() && !f.starts_with("__") {
                        owner = last_type.clone();
                        field = Some(f.to_string());
                    }
                }
            }
            path = match (owner, field) {
                (Some(o), Some(f)) => Some(format!("{o}.{f}")),
                (None, Some(f)) => Some(f),
                _ => None,
            };
        } else if let Some(rest) = line.strip_prefix("Error:") {
            kind.get_or_insert_with(|| rest.trim().to_string());
        } else if *line == "Expected:" && expected.is_none() {
            expected = next_value(i);
        } else if *line == "Found:" && found.is_none() {
            found = next_value(i);
        }
    }
    let mut out = String::new();
    if let Some(p) = path {
        out.push_str(&format!("{p}: "));
    }
    out.push_str(kind.as_deref().unwrap_or("layouts differ"));
    if let (Some(e), Some(f)) = (expected, found) {
        out.push_str(&format!(" (host expects {e}, plugin has {f})"));
    }
    out.push_str(
        "\n  rebuild the plugin against this host's plugin-api (JOULEBENCH_ABI_REPORT=1 prints the full report)",
    );
    out
}

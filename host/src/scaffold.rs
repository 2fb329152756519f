//! `host new-plugin`: writes a new plugin as a crate of its own, outside this repository,
//! from the templates in `host/templates/` (compiled into the binary, so they are the ones
//! this host was built with). A Rust plugin gets a crate that builds as is against this
//! checkout's plugin-api; `--python` gets a trainer file for the python plugin and a manifest.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error;

/// The checkout this host was built from: its plugin-api is what plugins must build against.
const CHECKOUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The checkout's lock file: copied into a new crate, it pins abi_stable and the other crates
/// it shares with the host to the versions the host was built with.
const CARGO_LOCK: &str = include_str!("../../Cargo.lock");

/// `(path in the new folder, template)`, for a Rust plugin.
const RUST_FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../templates/rust/Cargo.toml")),
    ("src/lib.rs", include_str!("../templates/rust/src/lib.rs")),
    (
        "src/tests.rs",
        include_str!("../templates/rust/src/tests.rs"),
    ),
    (
        "manifest.toml",
        include_str!("../templates/rust/manifest.toml"),
    ),
    ("README.md", include_str!("../templates/rust/README.md")),
    ("Cargo.lock", CARGO_LOCK),
    (".gitignore", "/target\n"),
];

/// The same for a python trainer; `{{name}}.py` is named after the plugin.
const PYTHON_FILES: &[(&str, &str)] = &[
    (
        "{{name}}.py",
        include_str!("../templates/python/trainer.py"),
    ),
    (
        "manifest.toml",
        include_str!("../templates/python/manifest.toml"),
    ),
];

/// What to write.
#[derive(Debug, Clone)]
pub struct NewPlugin {
    /// The plugin's name: lower-case letters, digits and `_`, starting with a letter.
    pub name: String,
    /// The folder to create (default: `./NAME`); it must not exist or be empty.
    pub dir: Option<PathBuf>,
    pub python: bool,
}

/// Writes the plugin's files; returns the folder and the files written, relative to it.
pub fn new_plugin(request: &NewPlugin) -> anyhow::Result<(PathBuf, Vec<String>)> {
    check_name(&request.name)?;
    let dir = request
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&request.name));
    check_empty(&dir)?;
    let root = checkout()?;
    let plugin_api = root.join("plugin-api");
    let fill = |text: &str| {
        text.replace("{{name}}", &request.name)
            .replace("{{plugin_api}}", &plugin_api.to_string_lossy())
            .replace("{{root}}", &root.to_string_lossy())
    };
    let files = if request.python {
        PYTHON_FILES
    } else {
        RUST_FILES
    };
    let mut written = Vec::new();
    for (rel, template) in files {
        let rel = fill(rel);
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, fill(template))
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(rel);
    }
    Ok((dir, written))
}

/// The python plugin of this host's checkout, which `--python` manifests name.
pub fn python_plugin() -> PathBuf {
    checkout()
        .unwrap_or_else(|_| PathBuf::from(CHECKOUT))
        .join("target/release/libplugin_python.so")
}

/// The checkout, for messages.
pub fn checkout_shown() -> String {
    checkout()
        .unwrap_or_else(|_| PathBuf::from(CHECKOUT))
        .display()
        .to_string()
}

/// A name that is a valid crate, library and manifest name alike.
fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(error::usage(format!(
            "plugin name `{name}`: use lower-case letters, digits and `_`, starting with a \
             letter (it names the crate plugin-NAME and the library libplugin_NAME.so)"
        )))
    }
}

/// Never writes over someone's files.
fn check_empty(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir).map(|mut entries| entries.next().is_none()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(error::usage(format!(
            "{} exists and is not empty: choose another --dir",
            dir.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(error::usage(format!("{}: {e}", dir.display()))),
    }
}

/// The checkout, absolute; an error when it has gone since the host was built.
fn checkout() -> anyhow::Result<PathBuf> {
    let manifest = Path::new(CHECKOUT).join("plugin-api/Cargo.toml");
    let root = std::fs::canonicalize(CHECKOUT)
        .ok()
        .filter(|_| manifest.is_file())
        .with_context(|| {
            format!(
                "this host was built from {CHECKOUT}, which no longer holds plugin-api (the \
                 crate plugins build against; it is not on crates.io): rebuild the host from \
                 a joulebench checkout"
            )
        })?;
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_name_a_crate_and_a_library_are_refused() {
        for bad in ["", "Demo", "1x", "my-plugin", "a b", "é"] {
            let e = check_name(bad).unwrap_err();
            assert!(error::is_usage(&e), "{bad}: {e}");
        }
        for good in ["demo", "candle2", "my_plugin"] {
            check_name(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    #[test]
    fn every_placeholder_is_filled_and_nothing_is_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        for python in [false, true] {
            let dir = tmp.path().join(format!("p{python}"));
            let request = NewPlugin {
                name: "demo".into(),
                dir: Some(dir.clone()),
                python,
            };
            let (_, files) = new_plugin(&request).unwrap();
            for f in &files {
                let text = std::fs::read_to_string(dir.join(f)).unwrap();
                assert!(!text.contains("{{"), "{f} keeps a placeholder");
                assert!(!f.contains("{{"), "{f}");
            }
            assert!(files.iter().any(|f| f == "manifest.toml"));
            let again = new_plugin(&request).unwrap_err();
            assert!(again.to_string().contains("not empty"), "{again}");
        }
        let cargo = std::fs::read_to_string(tmp.path().join("pfalse/Cargo.toml")).unwrap();
        let api = checkout().unwrap().join("plugin-api");
        assert!(
            cargo.contains(&format!("path = \"{}\"", api.display())),
            "{cargo}"
        );
        assert!(tmp.path().join("ptrue/demo.py").is_file());
    }
}

//! Where a manifest's relative paths resolve, and the copy a campaign folder keeps.
//!
//! Relative paths (plugin files, the data folder, fake energy roots, and the paths plugins
//! read from their own options, such as a trainer script) mean "next to the manifest". The
//! copy saved in a results folder would resolve them against that folder, so the advised
//! `host run <folder>/manifest.toml --resume <folder>` would look for `../target/release/…`
//! there. The copy therefore starts with `paths_relative_to = "<the original folder>"`: the
//! text is otherwise kept byte for byte, comments and all.

use std::path::{Path, PathBuf};

use toml::Spanned;

/// The top-level key naming the folder relative paths resolve against.
pub const PATHS_RELATIVE_TO: &str = "paths_relative_to";

/// The folder the relative paths of the manifest at `path` resolve against: its
/// `paths_relative_to` (itself taken against the manifest's folder) when set, else the
/// manifest's folder (`""` for a manifest in the current folder).
pub(super) fn base_dir(path: &Path, declared: Option<&Spanned<PathBuf>>) -> PathBuf {
    let folder = path.parent().unwrap_or(Path::new(""));
    match declared {
        Some(d) => folder.join(d.get_ref()),
        None => folder.to_path_buf(),
    }
}

/// The text to save in a campaign folder: `text` whose relative paths resolve against `base`
/// wherever the copy is put. A `paths_relative_to` already in `text` gets `base` written in
/// its place; else the key is added at the top (top-level keys precede every table).
pub(super) fn text(text: &str, declared: Option<&Spanned<PathBuf>>, base: &Path) -> String {
    let value = toml::Value::String(absolute(base).display().to_string()).to_string();
    match declared {
        Some(d) => {
            let span = d.span();
            format!("{}{value}{}", &text[..span.start], &text[span.end..])
        }
        None => format!(
            "# Saved by `host run`: relative paths below resolve against the folder of the \
             manifest this campaign started from.\n{PATHS_RELATIVE_TO} = {value}\n\n{text}"
        ),
    }
}

/// `path` made absolute against the current folder (lexically: `..` is kept and nothing need
/// exist; `""` is the current folder), or as it is when the current folder cannot be read.
pub fn absolute(path: &Path) -> PathBuf {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Top {
        paths_relative_to: Option<Spanned<PathBuf>>,
        x: Option<toml::Table>,
    }

    #[test]
    fn the_copy_names_the_original_folder_and_keeps_the_text() {
        let original = "# a comment\n[x]\npath = \"../t/a.so\"\n";
        let copy = text(original, None, Path::new("/home/u/my \"m\""));
        assert!(copy.ends_with(original), "{copy}");
        let top: Top = toml::from_str(&copy).unwrap();
        let declared = top.paths_relative_to.expect("the key is set");
        assert_eq!(declared.get_ref(), Path::new("/home/u/my \"m\""));
        assert!(top.x.is_some());
        // Read from anywhere, the copy resolves against the original folder.
        let base = base_dir(Path::new("/results/c1/manifest.toml"), Some(&declared));
        assert_eq!(base, PathBuf::from("/home/u/my \"m\""));
        // Copying a copy rewrites the key instead of adding a second one.
        let again = text(&copy, Some(&declared), Path::new("/elsewhere"));
        let top: Top = toml::from_str(&again).unwrap();
        assert_eq!(
            top.paths_relative_to.unwrap().get_ref(),
            Path::new("/elsewhere")
        );
    }

    #[test]
    fn bases_resolve_against_the_manifests_folder_and_save_absolute() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(base_dir(Path::new("m.toml"), None), PathBuf::from(""));
        assert_eq!(absolute(Path::new("")), cwd);
        assert_eq!(absolute(Path::new("lib.so")), cwd.join("lib.so"));
        let declared: Top = toml::from_str("paths_relative_to = \"../up\"").unwrap();
        let declared = declared.paths_relative_to.unwrap();
        assert_eq!(
            base_dir(Path::new("/a/b/m.toml"), Some(&declared)),
            PathBuf::from("/a/b/../up")
        );
        let copy = text("", None, Path::new("rel"));
        assert!(copy.contains(&format!("{:?}", cwd.join("rel"))), "{copy}");
    }
}

//! The one support module of the host's test binaries (`tests/{cli,campaign,analysis,energy}`):
//! temporary folders, the workspace and shared data, the test plugins, running the host binary,
//! and reading CSVs. Topic helpers live in [`analysis`] and [`energy`].
#![allow(dead_code)]

pub mod analysis;
pub mod energy;
pub mod tmpfs;

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host has a parent")
        .to_path_buf()
}

/// The shared folder (MNIST, EnergiBridge data): `$JOULEBENCH_SHARED`, else `<root>/../shared`.
pub fn shared() -> PathBuf {
    std::env::var_os("JOULEBENCH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared"))
}

pub fn mnist_dir() -> PathBuf {
    shared().join("data/mnist")
}

/// The 106 real EnergiBridge runs (Keras, PyTorch, JAX-jit on MNIST).
pub fn energibridge_mnist() -> PathBuf {
    let dir = shared().join("data/energibridge-mnist");
    assert!(
        dir.is_dir(),
        "{} is missing: set JOULEBENCH_SHARED to the shared folder",
        dir.display()
    );
    dir
}

/// The target folder of this build profile (where cargo put the host binary).
fn target_profile_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_host"))
        .parent()
        .expect("binary has a folder")
        .to_path_buf()
}

/// Builds the test plugins once per test binary (a no-op when up to date) and returns the
/// folder holding them.
pub fn plugins_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = target_profile_dir();
            let mut cmd = Command::new(env!("CARGO"));
            cmd.current_dir(root())
                .args(["build", "-p", "plugin-spin", "-p", "plugin-faulty"]);
            if dir.ends_with("release") {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("cargo runs");
            assert!(status.success(), "building the test plugins failed");
            dir
        })
        .clone()
}

pub fn plugin(name: &str) -> PathBuf {
    plugins_dir().join(format!("libplugin_{name}.so"))
}

/// Runs the host binary with `args` in `cwd`, MNIST_DIR pointing at the shared data.
pub fn host(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host"))
        .current_dir(cwd)
        .env("MNIST_DIR", mnist_dir())
        .args(args)
        .output()
        .expect("host runs")
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A fresh temporary folder (`tempfile`), removed when dropped — except when the test is
/// failing: then it is kept and its path printed, for inspection.
pub struct TempDir(Option<tempfile::TempDir>);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("joulebench-{tag}-"))
            .tempdir()
            .expect("create temp dir");
        TempDir(Some(dir))
    }

    pub fn path(&self) -> &Path {
        self.0.as_ref().expect("temp dir is alive").path()
    }

    /// Writes `text` to `rel`, creating folders.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        path
    }
}

impl Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        self.path()
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        self.path()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let (true, Some(dir)) = (std::thread::panicking(), self.0.take()) {
            eprintln!("kept for inspection: {}", dir.keep().display());
        }
    }
}

/// A fresh temporary folder; see [`TempDir`].
pub fn temp_dir(tag: &str) -> TempDir {
    TempDir::new(tag)
}

/// A small manifest: the quick model on a tiny subset, with the given [[plugin]] tables.
pub fn manifest(plugins: &str) -> String {
    format!(
        r#"[experiment]
name = "test"
seed = 7
iterations = 1
rest = "0s"
run_timeout = "2m"

[dataset]
train_subset = 300
test_subset = 200

[model]
layers = [
  {{ kind = "conv2d", filters = 4, kernel = 3, padding = "same", activation = "relu" }},
  {{ kind = "maxpool2d", size = 2 }},
  {{ kind = "flatten" }},
  {{ kind = "dense", units = 10 }},
]

[training]
epochs = 2
batch_size = 32
threads = 1

{plugins}
"#
    )
}

/// Reads a CSV into (header, rows).
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).expect("csv opens");
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = r
        .records()
        .map(|rec| rec.expect("row").iter().map(String::from).collect())
        .collect();
    (header, rows)
}

pub fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

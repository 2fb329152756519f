//! Helpers shared by the analysis tests: temporary folders and the shared data.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub use joulebench::analysis::StepSpec;
use joulebench::analysis::{analyze, AnalyzeRequest, Summary};

/// A folder under the system's temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!(
            "joulebench-analysis-{tag}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `rel`, creating folders.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The shared folder: `$JOULEBENCH_SHARED`, else `shared/` beside the repository.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("JOULEBENCH_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

/// The 106 real EnergiBridge runs (Keras, PyTorch, JAX-jit on MNIST).
pub fn energibridge_mnist() -> PathBuf {
    let dir = shared_dir().join("data/energibridge-mnist");
    assert!(
        dir.is_dir(),
        "{} is missing: set JOULEBENCH_SHARED to the shared folder",
        dir.display()
    );
    dir
}

/// A step from TOML text, as a manifest's `[[analysis]]` table would give it.
pub fn step(toml_text: &str) -> StepSpec {
    let mut options: toml::Table = toml::from_str(toml_text).expect("valid TOML");
    let name = match options.remove("step") {
        Some(toml::Value::String(s)) => s,
        other => panic!("no step name in {toml_text:?}: {other:?}"),
    };
    StepSpec {
        step: name,
        options,
        line: None,
    }
}

pub fn run(inputs: &[&Path], steps: Vec<StepSpec>, out: &Path) -> anyhow::Result<Summary> {
    analyze(&AnalyzeRequest {
        inputs: inputs.iter().map(|p| p.to_path_buf()).collect(),
        steps,
        out: out.to_path_buf(),
    })
}

/// An EnergiBridge CSV from (Time ms, CPU_ENERGY J) samples.
pub fn energibridge_csv(samples: &[(u64, f64)]) -> String {
    let mut text = String::from("Delta,Time,CORE0_ENERGY (J),CPU_ENERGY (J),CPU_USAGE_0\n");
    let mut prev = None;
    for (t, e) in samples {
        let delta = prev.map(|p| t - p).unwrap_or(0);
        text.push_str(&format!("{delta},{t},1.0,{e},50\n"));
        prev = Some(*t);
    }
    text
}

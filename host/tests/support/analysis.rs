//! Helpers of the analysis tests: steps from TOML, running the pipeline, EnergiBridge CSVs.
//! (Temporary folders and the shared data come from the support module itself.)

use std::path::Path;

#[allow(unused_imports)] // each test binary uses some
pub use super::{energibridge_mnist, temp_dir, TempDir};
pub use joulebench::analysis::StepSpec;
use joulebench::analysis::{analyze, AnalyzeRequest, Summary};

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

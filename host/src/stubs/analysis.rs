//! TEMPORARY stand-in until the analysis module lands.
#[path = "../analysis/stats/mod.rs"]
pub mod stats;
use std::path::PathBuf;
#[derive(Debug, Clone)]
pub struct StepSpec {
    pub step: String,
    pub options: toml::Table,
    pub line: Option<usize>,
}
pub fn default_pipeline() -> Vec<StepSpec> {
    Vec::new()
}
pub fn validate(_steps: &[StepSpec]) -> anyhow::Result<()> {
    Ok(())
}
pub struct AnalyzeRequest {
    pub inputs: Vec<PathBuf>,
    pub steps: Vec<StepSpec>,
    pub out: PathBuf,
}
pub struct Summary;
pub fn analyze(_req: &AnalyzeRequest) -> anyhow::Result<Summary> {
    anyhow::bail!("analysis not built yet")
}
pub fn print_summary(_s: &Summary, _w: &mut dyn std::io::Write) -> std::io::Result<()> {
    Ok(())
}

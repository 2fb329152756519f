//! The analysis pipeline and its statistics, checked against SciPy fixtures and the shared
//! EnergiBridge recordings. One test binary; one module per subject.

#[path = "../support/mod.rs"]
mod support;

mod clean;
mod edges;
mod energibridge;
mod exec;
mod findings;
mod ingest;
mod pipeline;
mod pipeline_scipy;
mod report_browser;
mod sequential;
mod stats_bootstrap_coverage;
mod stats_findings_scipy;
mod stats_scipy;
mod summary;

//! Campaigns through the real binary (worker processes, runs.csv, failures, rests, retries,
//! interruption and resume), its edges (bounds, paths, quoting, reasons), the MNIST download,
//! and the machine's provenance. One test binary; one module per subject.

#[path = "../support/mod.rs"]
mod support;

mod data_download;
mod edges;
mod environment;
mod faults;
mod protocol;
mod runs;

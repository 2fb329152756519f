//! The command line through the real binary: argument checking, plugin listing and the
//! conformance check. One test binary; one module per subject.

#[path = "../support/mod.rs"]
mod support;

mod args;
mod parity;
mod plugins;

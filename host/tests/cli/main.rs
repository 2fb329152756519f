//! The command line through the real binary: argument checking, plugin listing, the
//! conformance check, and sharded campaigns through a real Slurm. One test binary; one module per subject.

#[path = "../support/mod.rs"]
mod support;

mod args;
mod parity;
mod plugins;
mod scaffold;
mod shards;
mod slurm;

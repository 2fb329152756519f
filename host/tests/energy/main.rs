//! The energy meters against fake powercap, perf, MSR and /proc trees, the estimate, the
//! sampler, and `host meters`. One test binary; one module per subject.

#[path = "../support/mod.rs"]
mod support;

mod estimate;
mod estimate_ticks;
mod meters;
mod msr;
mod perf;
mod powercap;
mod sampler;

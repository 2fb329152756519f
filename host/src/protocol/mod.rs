//! Scheduling: what runs when. `plan` is pure; `campaign` drives workers through it.

pub mod campaign;
pub mod environment;
pub mod estimate;
pub mod idle;
pub mod plan;
pub mod progress;
pub mod rng;

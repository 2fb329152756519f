//! Scheduling: `campaign` drives workers through the plan (`crate::plan`, pure), with rests,
//! retries and resume; `environment` records the machine; `idle` measures it at rest;
//! `cluster` shards a campaign across Slurm nodes and merges the shards.

pub mod campaign;
pub mod cluster;
pub mod environment;
pub mod forecast;
pub mod idle;
pub mod parity;
pub mod progress;

//! Scheduling: `campaign` drives workers through the plan (`crate::plan`, pure), with rests,
//! retries and resume; `environment` records the machine; `idle` measures it at rest.

pub mod campaign;
pub mod environment;
pub mod forecast;
pub mod idle;
pub mod parity;
pub mod progress;

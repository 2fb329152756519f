//! joulebench's host: manifest → protocol → worker → store → analysis → report.
//!
//! The `host` binary is a thin CLI over this library; tests use the library directly.

pub mod analysis;
pub mod dataset;
pub mod energy;
pub mod error;
pub mod fsx;
pub mod manifest;
pub mod plan;
pub mod plugin;
pub mod protocol;
pub mod scaffold;
pub mod shell;
pub mod store;

//! Empty stand-in for `burn-tch` (see Cargo.toml): it exists only so that the workspace's
//! dependency graph resolves next to plugins/tch. burn's `tch` feature must stay off.

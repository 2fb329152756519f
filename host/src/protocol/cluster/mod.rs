//! Campaigns across a cluster: a campaign's iterations dealt out as shards (`crate::plan`'s
//! [`Shard`](crate::plan::Shard)), one Slurm array task per shard, and the shards merged again
//! for one analysis.
//!
//! - [`sbatch`]: the array job's script;
//! - [`submit`]: `host slurm` (write, submit, say how to watch and merge);
//! - [`merge`]: `host analyze` over shard folders (same campaign, no run twice, same hardware).

pub mod merge;
pub mod sbatch;
pub mod submit;

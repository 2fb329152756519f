//! `xla`: the study's CNN as XLA programs, compiled and run by XLA's CPU PJRT plugin
//! (`xla_cpu_pjrt.so` from PyPI's `xla-cpu-pjrt`) through the PJRT C API, with no Python
//! anywhere: beside the python plugin's JAX trainer it shows what XLA's compiled code costs
//! without the interpreter driving it.
//!
//! What it does with the session:
//! - takes the layer list as plugin-api walks and checks it, restates it for the programs
//!   ([`plan`]) and writes two StableHLO programs for it ([`program`]): a train step
//!   (forward, softmax cross-entropy, backward, Adam with the session's lr, betas and
//!   epsilon, no weight decay) and an eval step; both are compiled once, in `new_trainer`, so
//!   compile time and energy land in the setup phase;
//! - starts from the session's initial weights when given, else from PyTorch's default
//!   initialisation drawn from the seed ([`weights`]);
//! - trains in the host's sample order, batch after batch (plugin-api's epoch loop); the last
//!   partial batch is padded to the batch size and masked, so one program serves every batch
//!   and the mean loss is over the real samples only;
//! - sizes XLA's thread pools to `session.threads` and reports the pool it finds ([`threads`]).
//!
//! Options ([`options`]): `pjrt_plugin` (path to xla_cpu_pjrt.so; default: the one
//! setup-pjrt unpacked, or `$JOULEBENCH_PJRT_PLUGIN`), `eval_batch_size` (default 1000; the old
//! spelling `eval_batch` still works, with a note), `maxpool_grad` (`mask` or `scatter`),
//! `dump_programs` (a folder for the generated StableHLO).

mod batch;
pub mod options;
pub mod pjrt;
pub mod plan;
pub mod program;
pub mod threads;
mod trainer;
pub mod weights;

use plugin_api::{export_plugin, into_trainer, PluginError, PluginInfo, Session, TrainerBox};

pub use trainer::XlaTrainer;

/// The `xla_cpu_pjrt.so` that build.rs found (setup-pjrt's folder).
pub const PJRT_LIBRARY: &str = env!("JOULEBENCH_PJRT_LIBRARY");
/// The xla-cpu-pjrt wheel version that requirements.txt pins.
pub const XLA_PJRT_VERSION: &str = env!("JOULEBENCH_XLA_PJRT_VERSION");

const FRAMEWORK: &str = "xla";

/// `xla-cpu-pjrt 0.0.1 (PJRT C API 0.81)`: the wheel, and the API of the header these
/// bindings were generated from (the loaded plugin's own API version is a run note).
pub fn framework_version() -> String {
    format!(
        "xla-cpu-pjrt {XLA_PJRT_VERSION} (PJRT C API {}.{})",
        pjrt::sys::PJRT_API_MAJOR,
        pjrt::sys::PJRT_API_MINOR
    )
}

fn info() -> PluginInfo {
    PluginInfo::new("xla", FRAMEWORK, &framework_version(), &["cpu"])
}

fn new_trainer<'a>(session: &Session<'a>) -> Result<TrainerBox<'a>, PluginError> {
    Ok(into_trainer(XlaTrainer::new(session)?))
}

export_plugin! { info: info, new_trainer: new_trainer }

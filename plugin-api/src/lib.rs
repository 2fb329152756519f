//! # plugin-api: how a framework plugs into joulebench
//!
//! joulebench measures the energy ML frameworks spend on the same training job. The `host`
//! binary loads each framework's trainer as a **dynamic library** (a Rust `cdylib`) through the
//! stable ABI defined here ([`abi_stable`] 0.11), so adding a framework never recompiles the host.
//!
//! A plugin exports one root module ([`PluginMod`]) with two entry points:
//!
//! - `info()` → [`PluginInfo`]: name, framework and version, devices, and the
//!   [`INTERFACE_VERSION`] it was built against;
//! - `new_trainer(&Session)` → a [`TrainerBox`] or a [`PluginError`].
//!
//! The trainer then gets, in one fresh worker process per measured run:
//! `train_epochs(1, progress)` once per epoch, then `evaluate()`. The host reads the energy
//! counters between those calls, so do all the work inside them (not lazily afterwards) and
//! nothing outside them (no background threads still computing when a call returns).
//!
//! ## What the session fixes, so that every plugin does the same work
//!
//! [`Session`] carries the model as a layer list ([`Layer`]), the optimizer with every
//! hyper-parameter spelled out ([`Optimizer`]), the batch size, the seed, the thread count and
//! device, the data (MNIST as `f32` pixels already scaled to `[0, 1]`, borrowed from the host),
//! and the **sample order** of every epoch. Use that order, batch after batch, including the
//! last partial batch. Honour `threads`, and report what took effect in [`RunInfo`].
//!
//! ## Rules of the boundary
//!
//! - Never let a panic unwind across it: implement the plain Rust trait [`Train`] and wrap it
//!   with [`into_trainer`], and export with [`export_plugin!`]; both run your code under
//!   `catch_unwind` and turn a panic into a [`PluginError`] of kind [`ErrorKind::Panicked`].
//! - Return errors, don't exit: a [`PluginError`] with a sentence a user can act on
//!   ("layer kind Dropout is not supported by this plugin", "venv .venv/keras is missing: run
//!   scripts/setup-venvs").
//! - The library is never unloaded; the worker process ends after the run instead.
//! - Build with the same `plugin-api` version as the host. The host checks the ABI layout of
//!   every type here and the interface version, and refuses a mismatch with a short reason.
//!
//! ## A complete plugin
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "plugin-mean"
//! edition = "2021"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! plugin-api = { path = "../../plugin-api" }
//! # export_plugin! expands to abi_stable's `#[export_root_module]`, which names the crate
//! # directly: depend on the same version as plugin-api does.
//! abi_stable = "0.11.3"
//! ```
//!
//! `src/lib.rs` — a "trainer" that predicts the most frequent label (it learns nothing useful,
//! but it honours the protocol: order, batches, progress, reports):
//!
//! ```
//! use plugin_api::{
//!     export_plugin, into_trainer, EvalReport, Note, PluginError, PluginInfo, Progress,
//!     RunInfo, Session, Train, TrainReport, TrainerBox, INTERFACE_VERSION,
//! };
//!
//! fn info() -> PluginInfo {
//!     PluginInfo::new("mean", "majority-vote", "0.1.0", &["cpu"])
//! }
//!
//! struct Majority<'a> {
//!     session: Session<'a>,
//!     epoch: u32,
//!     counts: Vec<u64>,
//! }
//!
//! fn new_trainer<'a>(session: &Session<'a>) -> Result<TrainerBox<'a>, PluginError> {
//!     let counts = vec![0; session.data.classes as usize];
//!     Ok(into_trainer(Majority { session: *session, epoch: 0, counts }))
//! }
//!
//! impl Train for Majority<'_> {
//!     fn run_info(&self) -> RunInfo {
//!         RunInfo { framework: "majority-vote".into(), framework_version: "0.1.0".into(),
//!                   threads: 1, notes: Default::default() }
//!     }
//!
//!     fn train_epochs(&mut self, epochs: u32, progress: &Progress<'_>) -> Result<TrainReport, PluginError> {
//!         let labels = self.session.data.train.labels.as_slice();
//!         let batch = self.session.batch_size as usize;
//!         let mut report = TrainReport::default();
//!         for _ in 0..epochs {
//!             let order = self.session.epoch_order(self.epoch)
//!                 .ok_or_else(|| PluginError::failed("asked to train past the last epoch"))?;
//!             let batches = order.len().div_ceil(batch) as u64;
//!             for (b, chunk) in order.chunks(batch).enumerate() {
//!                 for &i in chunk {
//!                     self.counts[labels[i as usize] as usize] += 1;
//!                 }
//!                 progress.batch_done(self.epoch, b as u64 + 1, batches);
//!             }
//!             report.samples += order.len() as u64;
//!             report.epoch_losses.push(1.0);
//!             self.epoch += 1;
//!         }
//!         report.notes.push(Note::new("rule", "predict the most frequent training label"));
//!         Ok(report)
//!     }
//!
//!     fn evaluate(&mut self) -> Result<EvalReport, PluginError> {
//!         let best = (0..self.counts.len()).max_by_key(|&c| self.counts[c]).unwrap_or(0);
//!         let labels = self.session.data.test.labels.as_slice();
//!         let hits = labels.iter().filter(|&&l| l as usize == best).count();
//!         Ok(EvalReport {
//!             accuracy: hits as f64 / labels.len().max(1) as f64,
//!             loss: f64::ln(self.session.data.classes as f64),
//!             samples: labels.len() as u64,
//!             notes: Default::default(),
//!         })
//!     }
//! }
//!
//! export_plugin! { info: info, new_trainer: new_trainer }
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --release`, then check it with
//! `host check-plugin target/release/libplugin_mean.so` and list it in a manifest:
//!
//! ```toml
//! [[plugin]]
//! name = "mean"
//! path = "../target/release/libplugin_mean.so"
//! ```

pub mod guard;
mod module;
mod report;
mod session;
mod trainer;

/// Re-exported so that [`export_plugin!`] works without a direct dependency on it.
pub use abi_stable;

pub use module::{PluginMod, PluginModRef};
pub use report::{ErrorKind, EvalReport, Note, PluginError, PluginInfo, RunInfo, TrainReport};
pub use session::{
    Activation, Dataset, Images, KeyValue, Layer, Optimizer, OptimizerKind, Padding, Session,
    Tensor,
};
pub use trainer::{
    into_trainer, Progress, ProgressSink, ProgressSink_TO, Train, Trainer, TrainerBox, Trainer_TO,
};

/// An option the host adds to every session: the manifest's folder (absolute), against which
/// relative paths in the other options resolve. Plugins that check their option keys must
/// accept it.
pub const MANIFEST_DIR_OPTION: &str = "manifest_dir";

/// The version of this interface. The host refuses a plugin whose `PluginInfo` names another.
/// Bump it whenever a type here changes in a way that needs plugins rebuilt.
pub const INTERFACE_VERSION: u32 = 1;

impl PluginInfo {
    /// Info for the current [`INTERFACE_VERSION`].
    pub fn new(name: &str, framework: &str, framework_version: &str, devices: &[&str]) -> Self {
        PluginInfo {
            name: name.into(),
            framework: framework.into(),
            framework_version: framework_version.into(),
            devices: devices.iter().map(|d| (*d).into()).collect(),
            interface_version: INTERFACE_VERSION,
        }
    }

    /// What [`export_plugin!`] reports when the author's `info()` panicked: interface
    /// version 0, which the host refuses with a clear message.
    pub fn panicked() -> Self {
        PluginInfo {
            name: "(info() panicked)".into(),
            framework: "".into(),
            framework_version: "".into(),
            devices: Default::default(),
            interface_version: 0,
        }
    }
}

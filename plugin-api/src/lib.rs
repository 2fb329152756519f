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
//! ## What every plugin would otherwise write again
//!
//! - [`shapes`]: the layer-shape walk ([`Session::model_shapes`]): each layer's input and
//!   output shape, its weight and bias shapes and names, `same` padding's placement; the
//!   errors number layers from 1.
//! - [`epochs`]: the epoch loop ([`epochs::Epochs`]): the plugin writes one training step.
//! - [`options`]: option keys checked once ([`options::OptionKeys`]), old spellings kept
//!   with a note.
//! - [`init`]: the host's initial weights ([`init::glorot_uniform`]), so a test can make the
//!   very numbers a plugin will be handed.
//! - [`parity`]: the steps `host parity` asks for ([`Train::parity`]), for a plugin whose
//!   model implements [`parity::ParitySteps`].
//! - [`rng`]: the seeded generator the host draws its plans from ([`rng::SplitMix64`]).
//! - [`Session::check_data`]: sizes and labels checked once, so batches can index freely.
//! - `testing` (cargo feature `testing`): sessions over synthetic or real MNIST, a recording
//!   progress sink, and the host's steps with their checks, for unit tests.
//!
//! ## A complete plugin
//!
//! `host new-plugin NAME` writes one that builds as is, outside any repository; the
//! [`guide`] ("Writing a joulebench plugin") covers threads, data, initial weights, notes and
//! versions. By hand: `Cargo.toml` needs `plugin-api` only ([`export_plugin!`] reaches
//! abi_stable through it). plugin-api is not on crates.io: depend on a joulebench checkout by
//! path, and give the crate an empty `[workspace]` table so that no enclosing workspace
//! claims it:
//!
//! ```toml
//! [package]
//! name = "plugin-mean"
//! edition = "2021"
//!
//! [workspace]
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! plugin-api = { path = "/path/to/joulebench/plugin-api" }
//!
//! [dev-dependencies]
//! plugin-api = { path = "/path/to/joulebench/plugin-api", features = ["testing"] }
//! ```
//!
//! `src/lib.rs` — a "trainer" that predicts the most frequent label (it learns nothing useful,
//! but it honours the protocol: order, batches, progress, options, reports):
//!
//! ```
//! use plugin_api::epochs::{Batch, BatchStep, Epochs};
//! use plugin_api::options::OptionKeys;
//! use plugin_api::{
//!     export_plugin, into_trainer, EvalReport, Note, PluginError, PluginInfo, Progress,
//!     RunInfo, Session, Train, TrainReport, TrainerBox,
//! };
//!
//! fn info() -> PluginInfo {
//!     PluginInfo::new("mean", "majority-vote", "0.1.0", &["cpu"])
//! }
//!
//! /// `tie = "first" | "last"`: which class wins a tie.
//! const OPTIONS: OptionKeys<'static> = OptionKeys::new("mean", &["tie"]);
//!
//! struct Majority<'a> {
//!     session: Session<'a>,
//!     epochs: Epochs<'a>,
//!     counts: Counts<'a>,
//!     last_wins: bool,
//! }
//!
//! /// The training step: count the labels of each batch.
//! struct Counts<'a> {
//!     labels: &'a [u8],
//!     seen: Vec<u64>,
//! }
//!
//! fn new_trainer<'a>(session: &Session<'a>) -> Result<TrainerBox<'a>, PluginError> {
//!     let options = OPTIONS.check(session)?;
//!     session.check_data()?;
//!     let counts = Counts {
//!         labels: session.data.train.labels.as_slice(),
//!         seen: vec![0; session.data.classes as usize],
//!     };
//!     Ok(into_trainer(Majority {
//!         session: *session,
//!         epochs: Epochs::new(session)?,
//!         counts,
//!         last_wins: options.get("tie") == Some("last"),
//!     }))
//! }
//!
//! impl BatchStep for Counts<'_> {
//!     type Epoch = f64; // the epoch's loss, summed over its samples
//!
//!     fn begin_epoch(&mut self, _order: &[u32]) -> Result<f64, PluginError> {
//!         Ok(0.0)
//!     }
//!
//!     fn train_batch(&mut self, loss: &mut f64, batch: Batch<'_>) -> Result<(), PluginError> {
//!         for &i in batch.indices {
//!             self.seen[self.labels[i as usize] as usize] += 1;
//!         }
//!         *loss += (self.seen.len() as f64).ln() * batch.indices.len() as f64;
//!         Ok(())
//!     }
//!
//!     fn end_epoch(&mut self, loss: f64) -> Result<f64, PluginError> {
//!         Ok(loss)
//!     }
//! }
//!
//! impl Train for Majority<'_> {
//!     fn run_info(&self) -> RunInfo {
//!         RunInfo { framework: "majority-vote".into(), framework_version: "0.1.0".into(),
//!                   threads: 1, notes: vec![Note::new("last_wins", self.last_wins)].into() }
//!     }
//!
//!     fn train_epochs(&mut self, epochs: u32, progress: &Progress<'_>) -> Result<TrainReport, PluginError> {
//!         self.epochs.train(epochs, progress, &mut self.counts)
//!     }
//!
//!     fn evaluate(&mut self) -> Result<EvalReport, PluginError> {
//!         let seen = &self.counts.seen;
//!         let classes = 0..seen.len();
//!         // max_by_key keeps the last of equals: reversed, that is the first class.
//!         let best = if self.last_wins {
//!             classes.max_by_key(|&c| seen[c])
//!         } else {
//!             classes.rev().max_by_key(|&c| seen[c])
//!         };
//!         let best = best.unwrap_or(0);
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
//!
//! // A `#[test]` in tests/protocol.rs (here called from `main`), with the `testing` feature:
//! fn follows_the_protocol() {
//!     let builder = plugin_api::testing::SessionBuilder::synthetic(100, 30).epochs(2);
//!     let mut trainer = new_trainer(&builder.session()).expect("a trainer");
//!     let run = builder.run(&mut trainer);
//!     assert!(run.eval.accuracy <= 0.2, "a majority vote is no better than chance");
//! }
//! # fn main() { follows_the_protocol() }
//! ```
//!
//! Build it with `cargo build --release`, then check it with
//! `host check-plugin target/release/libplugin_mean.so` and list it in a manifest (the path
//! is relative to the manifest's folder):
//!
//! ```toml
//! [[plugin]]
//! name = "mean"
//! path = "plugin-mean/target/release/libplugin_mean.so"
//! ```

// Every example above and in the modules compiles without a warning, as a user would copy it.
#![doc(test(attr(deny(warnings))))]

pub mod epochs;
pub mod guard;
#[doc = include_str!("../README.md")]
pub mod guide {}
pub mod init;
mod module;
pub mod options;
pub mod parity;
mod report;
pub mod rng;
mod session;
pub mod shapes;
#[cfg(feature = "testing")]
pub mod testing;
mod trainer;

/// abi_stable, as this crate uses it: [`export_plugin!`] reaches it through this path, so a
/// plugin needs no dependency of its own on it.
pub use abi_stable;

#[doc(hidden)]
pub use module::same_str;

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
///
/// 2: the trainer's `parity` method. It is defaulted and placed after the vtable's last
/// prefix field, yet abi_stable 0.11's layout check refuses a library whose prefix type has
/// *fewer* fields than the host's (a newer library may have more, not an older one fewer), so
/// plugins built against interface 1 must be rebuilt; the number says so.
pub const INTERFACE_VERSION: u32 = 2;

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

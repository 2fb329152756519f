//! The plugin's `[[plugin]] options`, checked up front by plugin-api's [`OptionKeys`]: an
//! unknown key is an error that lists the accepted ones, so a typo never silently changes
//! what is measured.

use std::path::{Path, PathBuf};

use plugin_api::options::OptionKeys;
use plugin_api::{Note, PluginError, Session, MANIFEST_DIR_OPTION};

use crate::program::PoolGrad;

/// Option keys this plugin reads, spelled as the other plugins spell them; `eval_batch`, this
/// plugin's first spelling, is accepted with a note until the next release.
pub const KEYS: OptionKeys<'static> = OptionKeys::new(
    "xla",
    &[
        "pjrt_plugin",
        "eval_batch_size",
        "maxpool_grad",
        "dump_programs",
    ],
)
.renamed(&[("eval_batch", "eval_batch_size")]);

/// Evaluation batch size when the manifest does not set one (the other plugins' too).
pub const DEFAULT_EVAL_BATCH: usize = 1000;

/// The largest evaluation batch: its staging buffer (784 floats an MNIST image) must be an
/// allocation that can succeed, not one that aborts the worker.
pub const MAX_EVAL_BATCH: u64 = 1 << 24;

/// Environment variable naming the PJRT plugin file, when the option does not.
pub const PJRT_PLUGIN_VARIABLE: &str = "JOULEBENCH_PJRT_PLUGIN";

#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// `xla_cpu_pjrt.so` to load.
    pub pjrt_plugin: PathBuf,
    pub eval_batch: usize,
    pub pool_grad: PoolGrad,
    /// A folder to write the generated StableHLO programs into (for reading and profiling).
    pub dump_programs: Option<PathBuf>,
    /// A note per old spelling the manifest used, for the run's notes.
    pub notes: Vec<Note>,
}

impl Options {
    pub fn parse(session: &Session<'_>) -> Result<Options, PluginError> {
        let options = KEYS.check(session)?;
        let base = options.get(MANIFEST_DIR_OPTION).map(Path::new);
        let resolve = |p: &str| match base {
            Some(dir) if Path::new(p).is_relative() => dir.join(p),
            _ => PathBuf::from(p),
        };
        let pjrt_plugin = match options.get("pjrt_plugin") {
            Some(p) => resolve(p),
            None => std::env::var_os(PJRT_PLUGIN_VARIABLE)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(crate::PJRT_LIBRARY)),
        };
        let eval_batch = match options.positive("eval_batch_size")? {
            None => DEFAULT_EVAL_BATCH,
            Some(n) if n <= MAX_EVAL_BATCH => n as usize,
            Some(n) => {
                return Err(PluginError::unsupported(format!(
                    "option eval_batch_size = {n}: at most {MAX_EVAL_BATCH}"
                )))
            }
        };
        let pool_grad = match options.get("maxpool_grad") {
            None | Some("mask") => PoolGrad::Mask,
            Some("scatter") => PoolGrad::Scatter,
            Some(other) => {
                return Err(PluginError::unsupported(format!(
                    "option maxpool_grad = {other:?}: expected \"mask\" or \"scatter\""
                )))
            }
        };
        Ok(Options {
            pjrt_plugin,
            eval_batch,
            pool_grad,
            dump_programs: options.get("dump_programs").map(resolve),
            notes: options.notes().to_vec(),
        })
    }
}

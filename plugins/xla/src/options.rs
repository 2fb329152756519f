//! The plugin's `[[plugin]] options`, checked up front: an unknown key is an error, so a typo
//! never silently changes what is measured.

use std::path::{Path, PathBuf};

use plugin_api::{PluginError, Session, MANIFEST_DIR_OPTION};

use crate::program::PoolGrad;

/// Option keys this plugin reads.
pub const KNOWN: &[&str] = &["pjrt_plugin", "eval_batch", "maxpool_grad", "dump_programs"];

/// Evaluation batch size when the manifest does not set one (the python plugin's too).
pub const DEFAULT_EVAL_BATCH: usize = 1000;

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
}

impl Options {
    pub fn parse(session: &Session<'_>) -> Result<Options, PluginError> {
        for kv in session.options.as_slice() {
            let key = kv.key.as_str();
            if key != MANIFEST_DIR_OPTION && !KNOWN.contains(&key) {
                return Err(PluginError::unsupported(format!(
                    "unknown option `{key}` for the xla plugin (known: {})",
                    KNOWN.join(", ")
                )));
            }
        }
        let base = session.option(MANIFEST_DIR_OPTION).map(Path::new);
        let resolve = |p: &str| match base {
            Some(dir) if Path::new(p).is_relative() => dir.join(p),
            _ => PathBuf::from(p),
        };
        let pjrt_plugin = match session.option("pjrt_plugin") {
            Some(p) => resolve(p),
            None => std::env::var_os(PJRT_PLUGIN_VARIABLE)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(crate::PJRT_LIBRARY)),
        };
        let eval_batch = match session.option("eval_batch") {
            None => DEFAULT_EVAL_BATCH,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|&n| (1..=1 << 24).contains(&n))
                .ok_or_else(|| {
                    PluginError::unsupported(format!(
                        "option eval_batch = {v:?}: expected a whole number from 1 to 16777216"
                    ))
                })?,
        };
        let pool_grad = match session.option("maxpool_grad") {
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
            dump_programs: session.option("dump_programs").map(resolve),
        })
    }
}

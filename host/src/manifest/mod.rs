//! The campaign manifest: TOML in, a validated [`Manifest`] out.
//!
//! Parsing is strict (unknown keys are errors naming the key and its line) and everything is
//! checked here, once, so nothing downstream re-validates user input. Relative paths are
//! resolved against the manifest's folder.

mod duration;
mod model;
mod raw;

pub use duration::parse_duration;
pub use model::{layers_from_specs, parse_layer_tables, LayerSpec};

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use plugin_api::{Layer, Optimizer, OptimizerKind};
use sha2::{Digest, Sha256};

use crate::analysis::StepSpec;
use crate::energy::{EnergyConfig, SourceChoice};
use crate::error::usage;

/// A validated campaign.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Where it was read from, and its exact bytes' SHA-256 (provenance, resume checks).
    pub path: PathBuf,
    pub text: String,
    pub sha256: String,
    pub experiment: Experiment,
    pub dataset: DatasetSpec,
    pub model: Vec<Layer>,
    pub training: Training,
    pub energy: EnergyConfig,
    pub plugins: Vec<PluginSpec>,
    pub analysis: Vec<StepSpec>,
}

#[derive(Debug, Clone)]
pub struct Experiment {
    pub name: String,
    pub seed: u64,
    pub iterations: u32,
    pub warmup: Duration,
    pub rest: Rest,
    pub idle_baseline: Duration,
    /// Measure the idle baseline again after the last run (drift check).
    pub idle_baseline_after: bool,
    /// Per-run limit; a worker still running after it is killed and its run recorded failed.
    pub run_timeout: Duration,
    pub retry_failed: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rest {
    Fixed(Duration),
    UntilIdle { max: Duration, within: f64 },
}

#[derive(Debug, Clone)]
pub struct DatasetSpec {
    /// Folder holding the MNIST IDX files, if the manifest names one.
    pub dir: Option<PathBuf>,
    /// Use only the first N training / test images (quick campaigns).
    pub train_subset: Option<usize>,
    pub test_subset: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Training {
    pub epochs: u32,
    pub batch_size: u32,
    pub threads: u32,
    pub cpus: Option<String>,
    pub device: String,
    pub optimizer: Optimizer,
}

#[derive(Debug, Clone)]
pub struct PluginSpec {
    pub name: String,
    pub path: PathBuf,
    pub options: Vec<(String, String)>,
    /// Environment variables for this plugin's workers, e.g. `OMP_WAIT_POLICY = "PASSIVE"`
    /// (runtimes such as OpenMP read them when they load, before any plugin code runs).
    pub env: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    /// Skip this plugin (with a note) when its file does not exist, instead of refusing to
    /// start: for manifests that list plugins not every machine builds.
    pub optional: bool,
}

impl PluginSpec {
    /// The label used in runs.csv and reports.
    pub fn label(&self) -> &str {
        &self.name
    }
}

impl Manifest {
    /// Reads and validates the manifest at `path`. Every problem is a usage error (exit 2)
    /// that names the file, and the key and line where it can.
    pub fn load(path: &Path) -> anyhow::Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| usage(format!("cannot read manifest {}: {e}", path.display())))?;
        Self::parse(path, text)
    }

    /// Validates manifest `text` as if read from `path` (relative paths resolve against its
    /// folder).
    pub fn parse(path: &Path, text: String) -> anyhow::Result<Manifest> {
        let raw: raw::RawManifest =
            toml::from_str(&text).map_err(|e| usage(format_toml_error(path, &text, &e)))?;
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let here = |line: Option<usize>| match line {
            Some(l) => format!("{}:{l}", path.display()),
            None => path.display().to_string(),
        };
        let sha256 = hex(&Sha256::digest(text.as_bytes()));
        let line_of = |span: std::ops::Range<usize>| Some(line_at(&text, span.start));

        let e = raw.experiment;
        let name = e.name.unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "campaign".into())
        });
        if name.is_empty() || name.contains(['/', '\\']) {
            return Err(usage(format!(
                "{}: [experiment] name `{name}` must be non-empty and contain no slash",
                here(None)
            )));
        }
        let duration =
            |value: &Option<toml::Spanned<String>>, key: &str, default: Duration| match value {
                None => Ok(default),
                Some(v) => parse_duration(v.get_ref())
                    .map_err(|err| usage(format!("{}: `{key}`: {err}", here(line_of(v.span()))))),
            };
        let rest_line = e.rest.as_ref().and_then(|r| line_of(r.span()));
        let rest_duration = |text: &str, key: &str| {
            parse_duration(text)
                .map_err(|err| usage(format!("{}: `{key}`: {err}", here(rest_line))))
        };
        let rest = match e.rest.map(|r| r.into_inner()) {
            None => Rest::Fixed(Duration::from_secs(60)),
            Some(raw::RawRest::Fixed(v)) => Rest::Fixed(rest_duration(&v, "rest")?),
            Some(raw::RawRest::UntilIdle(r)) => {
                if !r.until_idle {
                    return Err(usage(format!(
                        "{}: `rest` as a table needs `until_idle = true`; for a fixed rest write rest = \"60s\"",
                        here(rest_line)
                    )));
                }
                let within = r.within.unwrap_or(0.05);
                if !(within > 0.0 && within < 1.0) {
                    return Err(usage(format!(
                        "{}: `rest.within` must be a fraction between 0 and 1, got {within}",
                        here(rest_line)
                    )));
                }
                Rest::UntilIdle {
                    max: match &r.max {
                        Some(m) => rest_duration(m, "rest.max")?,
                        None => Duration::from_secs(180),
                    },
                    within,
                }
            }
        };
        let iterations = e.iterations.unwrap_or(1);
        if iterations == 0 {
            return Err(usage(format!(
                "{}: `iterations` must be at least 1",
                here(None)
            )));
        }
        let experiment = Experiment {
            name,
            seed: e.seed.unwrap_or(42),
            iterations,
            warmup: duration(&e.warmup, "warmup", Duration::ZERO)?,
            rest,
            idle_baseline: duration(&e.idle_baseline, "idle_baseline", Duration::ZERO)?,
            idle_baseline_after: e.idle_baseline_after.unwrap_or(false),
            run_timeout: duration(&e.run_timeout, "run_timeout", Duration::from_secs(3600))?,
            retry_failed: e.retry_failed.unwrap_or(0),
        };

        if matches!(experiment.rest, Rest::UntilIdle { .. }) && experiment.idle_baseline.is_zero() {
            return Err(usage(format!(
                "{}: `rest = {{ until_idle = true, .. }}` rests until power is back near the idle \
                 baseline, so it needs `idle_baseline` (e.g. \"30s\") in [experiment]",
                here(rest_line)
            )));
        }

        let d = raw.dataset.unwrap_or_default();
        if let Some(n) = d.name.as_deref() {
            if n != "mnist" {
                return Err(usage(format!(
                    "{}: [dataset] name `{n}` is not known; the one dataset is `mnist`",
                    here(None)
                )));
            }
        }
        let dataset = DatasetSpec {
            dir: d.dir.map(|p| base.join(p)),
            train_subset: d.train_subset,
            test_subset: d.test_subset,
        };
        for (key, value) in [
            ("train_subset", d.train_subset),
            ("test_subset", d.test_subset),
        ] {
            if value == Some(0) {
                return Err(usage(format!(
                    "{}: [dataset] `{key}` must be at least 1",
                    here(None)
                )));
            }
        }

        let model = parse_layer_tables(&raw.model.layers, |offset| line_at(&text, offset))
            .and_then(|specs| layers_from_specs(&specs))
            .map_err(|err| usage(format!("{}: [model] {}", here(err.line), err.message)))?;

        let t = raw.training;
        let o = t.optimizer.unwrap_or_default();
        let optimizer = Optimizer {
            kind: match o.kind.as_deref().unwrap_or("adam") {
                "adam" => OptimizerKind::Adam,
                other => {
                    return Err(usage(format!(
                        "{}: [training.optimizer] kind `{other}` is not known; use `adam`",
                        here(None)
                    )))
                }
            },
            learning_rate: o.learning_rate.unwrap_or(1e-3),
            beta1: o.beta1.unwrap_or(0.9),
            beta2: o.beta2.unwrap_or(0.999),
            epsilon: o.epsilon.unwrap_or(1e-8),
        };
        let threads = match t.threads {
            None => 1,
            Some(raw::RawThreads::Count(n)) if n >= 1 => n,
            Some(raw::RawThreads::Count(_)) => {
                return Err(usage(format!(
                    "{}: [training] `threads` must be at least 1",
                    here(None)
                )))
            }
            Some(raw::RawThreads::Word(w)) if w == "all" => std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1),
            Some(raw::RawThreads::Word(w)) => {
                return Err(usage(format!(
                    "{}: [training] `threads` must be a number or \"all\", got \"{w}\"",
                    here(None)
                )))
            }
        };
        if t.epochs == 0 || t.batch_size == 0 {
            return Err(usage(format!(
                "{}: [training] `epochs` and `batch_size` must be at least 1",
                here(None)
            )));
        }
        // Checked here, so a bad list is a manifest error before the warm-up, not a failed run.
        if let Some(list) = &t.cpus {
            crate::plugin::supervisor::parse_cpu_list(list)
                .map_err(|err| usage(format!("{}: {err}", here(None))))?;
        }
        let training = Training {
            epochs: t.epochs,
            batch_size: t.batch_size,
            threads,
            cpus: t.cpus,
            device: t.device.unwrap_or_else(|| "cpu".into()),
            optimizer,
        };

        let en = raw.energy.unwrap_or_default();
        let mut energy = EnergyConfig::default();
        if let Some(s) = en.source {
            energy.source = s.get_ref().parse::<SourceChoice>().map_err(|err| {
                usage(format!(
                    "{}: [energy] `source`: {err}",
                    here(line_of(s.span()))
                ))
            })?;
        }
        if let Some(w) = en.tdp_watts {
            if w.is_nan() || w <= 0.0 {
                return Err(usage(format!(
                    "{}: [energy] `tdp_watts` must be positive",
                    here(None)
                )));
            }
            energy.tdp_watts = w;
        }
        if let Some(s) = en.idle_share {
            if !(0.0..1.0).contains(&s) {
                return Err(usage(format!(
                    "{}: [energy] `idle_share` must be in [0, 1)",
                    here(None)
                )));
            }
            energy.idle_share = s;
        }
        energy.sample_interval = duration(
            &en.sample_interval,
            "sample_interval",
            energy.sample_interval,
        )?;
        if energy.sample_interval < Duration::from_millis(1) {
            return Err(usage(format!(
                "{}: [energy] `sample_interval` must be at least 1ms",
                here(None)
            )));
        }
        for (root, field) in [
            (en.powercap_root, &mut energy.powercap_root),
            (en.msr_root, &mut energy.msr_root),
        ] {
            if let Some(r) = root {
                *field = base.join(r);
            }
        }

        let mut plugins = Vec::new();
        for p in raw.plugin {
            let line = line_of(p.name.span());
            let name = p.name.into_inner();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(usage(format!(
                    "{}: [[plugin]] name `{name}` may hold only letters, digits, '-', '_' and '.'",
                    here(line)
                )));
            }
            if plugins.iter().any(|q: &PluginSpec| q.name == name) {
                return Err(usage(format!(
                    "{}: [[plugin]] name `{name}` appears twice; names label the runs, so they must differ",
                    here(line)
                )));
            }
            let timeout = duration(&p.timeout, "timeout", Duration::ZERO)?;
            plugins.push(PluginSpec {
                name,
                path: base.join(p.path),
                options: p.options.into_iter().collect(),
                env: p.env.into_iter().collect(),
                optional: p.optional,
                timeout: (timeout > Duration::ZERO).then_some(timeout),
            });
        }
        if plugins.is_empty() {
            return Err(usage(format!(
                "{}: no [[plugin]] entries: a campaign needs at least one plugin",
                here(None)
            )));
        }

        let analysis: Vec<StepSpec> = raw
            .analysis
            .into_iter()
            .map(|step| {
                let line = Some(line_at(&text, step.span().start));
                let mut options = step.into_inner();
                let name = match options.remove("step") {
                    Some(toml::Value::String(s)) => s,
                    _ => {
                        return Err(usage(format!(
                            "{}: [[analysis]] needs `step = \"<name>\"`",
                            here(line)
                        )))
                    }
                };
                Ok(StepSpec {
                    step: name,
                    options,
                    line,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        crate::analysis::validate(&analysis)
            .with_context(|| format!("in manifest {}", path.display()))?;

        Ok(Manifest {
            path: path.to_path_buf(),
            text,
            sha256,
            experiment,
            dataset,
            model,
            training,
            energy,
            plugins,
            analysis,
        })
    }

    /// The manifest without its optional plugins whose files are missing, and one note per
    /// plugin left out. Refuses (usage error) when no plugin is left.
    pub fn without_missing_optional_plugins(&self) -> anyhow::Result<(Manifest, Vec<String>)> {
        let mut kept = self.clone();
        let mut notes = Vec::new();
        kept.plugins.retain(|p| {
            let missing = p.optional && !p.path.exists();
            if missing {
                notes.push(format!(
                    "skipping optional plugin `{}`: {} is not built",
                    p.name,
                    p.path.display()
                ));
            }
            !missing
        });
        if kept.plugins.is_empty() {
            return Err(usage(format!(
                "{}: every plugin is optional and none is built",
                self.path.display()
            )));
        }
        Ok((kept, notes))
    }

    /// Total runs in the campaign (before retries).
    pub fn run_count(&self) -> usize {
        self.experiment.iterations as usize * self.plugins.len()
    }

    /// The run timeout for `plugin`: its own, else the campaign's.
    pub fn timeout_for(&self, plugin: &PluginSpec) -> Duration {
        plugin.timeout.unwrap_or(self.experiment.run_timeout)
    }
}

/// "path:line:col: message" from a toml error, plus the offending line.
fn format_toml_error(path: &Path, text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim_end();
    match err.span() {
        Some(span) => {
            let line = line_at(text, span.start);
            let line_start = text[..span.start.min(text.len())]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            let column = span.start.saturating_sub(line_start) + 1;
            let source_line = text.lines().nth(line - 1).unwrap_or("").trim_end();
            format!(
                "{}:{line}:{column}: {message}\n    {line} | {source_line}",
                path.display()
            )
        }
        None => format!("{}: {message}", path.display()),
    }
}

/// 1-based line number of byte offset `offset` in `text`.
pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: &str = include_str!("../../../manifests/quick.toml");
    const STUDY: &str = include_str!("../../../manifests/mnist.toml");

    fn parse(text: &str) -> anyhow::Result<Manifest> {
        Manifest::parse(Path::new("manifests/test.toml"), text.to_string())
    }

    fn error(text: &str) -> String {
        let err = parse(text).expect_err("should be refused");
        assert!(
            crate::error::is_usage(&err),
            "manifest errors are usage errors (exit 2)"
        );
        format!("{err:#}")
    }

    #[test]
    fn the_shipped_manifests_parse() {
        let quick = parse(QUICK).expect("quick.toml");
        assert_eq!(quick.dataset.train_subset, Some(500));
        assert_eq!(quick.model.len(), 6);
        let study = parse(STUDY).expect("mnist.toml");
        assert_eq!(study.experiment.iterations, 30);
        assert_eq!(study.experiment.warmup, Duration::from_secs(300));
        assert_eq!(study.experiment.rest, Rest::Fixed(Duration::from_secs(60)));
        assert_eq!(study.training.epochs, 3);
        assert_eq!(study.training.batch_size, 64);
        assert_eq!(study.training.optimizer.epsilon, 1e-8);
        assert_eq!(
            study.model[2],
            Layer::Conv2d {
                filters: 128,
                kernel: 5,
                padding: plugin_api::Padding::Same,
                activation: plugin_api::Activation::Relu
            }
        );
        // Relative plugin paths resolve against the manifest's folder.
        assert!(study.plugins[0].path.starts_with("manifests/.."));
    }

    #[test]
    fn typos_name_the_key_and_line() {
        let e = error(&QUICK.replace("batch_size = 64", "batchsize = 64"));
        assert!(
            e.contains("test.toml:29:1:") && e.contains("batchsize"),
            "{e}"
        );
        let e = error(&QUICK.replace("filters = 64", "filter = 64"));
        assert!(e.contains("test.toml:19:") && e.contains("`filter`"), "{e}");
        let e = error(&QUICK.replace("kind = \"flatten\"", "kind = \"flaten\""));
        assert!(e.contains("test.toml:23:") && e.contains("flaten"), "{e}");
    }

    #[test]
    fn bad_values_are_explained() {
        let e = error(&QUICK.replace("rest = \"2s\"", "rest = \"2\""));
        assert!(e.contains("`rest`") && e.contains("not a duration"), "{e}");
        let e = error(&QUICK.replace(
            "{ kind = \"dense\", units = 10 }",
            "{ kind = \"dense\", units = 10, activation = \"relu\" }",
        ));
        assert!(e.contains("logits"), "{e}");
        let e = error(&QUICK.replace("threads = \"all\"", "threads = \"many\""));
        assert!(e.contains("\"all\""), "{e}");
        let e = error(&QUICK.replace("source = \"auto\"", "source = \"rapl\""));
        assert!(e.contains("source"), "{e}");
        let e = error(&format!(
            "{QUICK}\n[[plugin]]\nname = \"keras\"\npath = \"x.so\"\n"
        ));
        assert!(e.contains("appears twice"), "{e}");
        // A CPU list is checked at load, and a huge range is refused without expanding it.
        for bad in ["0-99999999999", "1-0", "two"] {
            let e = error(&QUICK.replace(
                "threads = \"all\"",
                &format!("threads = \"all\"\ncpus = \"{bad}\""),
            ));
            assert!(e.contains("[training] cpus") && e.contains(bad), "{e}");
        }
        let ok = parse(&QUICK.replace("threads = \"all\"", "threads = \"all\"\ncpus = \"0-1\""));
        assert_eq!(ok.expect("cpus 0-1").training.cpus.as_deref(), Some("0-1"));
    }
}

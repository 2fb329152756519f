//! One function per manifest section: each turns its part of the [`raw`](super::raw) manifest
//! into validated settings, with errors that name the file, and the key and line where it can.

use std::path::Path;
use std::time::Duration;

use plugin_api::{Layer, Optimizer, OptimizerKind};
use toml::Spanned;

use super::bounds;
use super::cpus::parse_cpu_list;
use super::raw;
use super::source::{line_at, Source};
use super::{layers_from_specs, parse_layer_tables};
use super::{DatasetSpec, Experiment, PluginSpec, Rest, Training};
use crate::analysis::factors::{check_currency, lacks_a_base, Factor};
use crate::analysis::{apply_factors, default_pipeline, ReportFactors, StepSpec};
use crate::energy::{EnergyConfig, SourceChoice};
use crate::plan::Init;

/// `[experiment]`; an unnamed campaign takes the manifest's file name.
pub(super) fn experiment(src: Source, e: raw::RawExperiment) -> anyhow::Result<Experiment> {
    let name = e.name.unwrap_or_else(|| {
        src.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "campaign".into())
    });
    if name.is_empty() || name.contains(['/', '\\']) {
        return Err(src.error(
            None,
            format!("[experiment] name `{name}` must be non-empty and contain no slash"),
        ));
    }
    let rest_line = e.rest.as_ref().and_then(|r| src.line(r.span()));
    let rest = rest(src, e.rest.map(|r| r.into_inner()), rest_line)?;
    let iterations = match e.iterations {
        None => 1,
        Some(n) => bounds::check_iterations(*n.get_ref())
            .map_err(|err| src.error(src.line(n.span()), format!("[experiment] {err}")))?,
    };
    let experiment = Experiment {
        name,
        seed: e.seed.unwrap_or(42),
        iterations,
        warmup: src.duration(&e.warmup, "warmup", Duration::ZERO)?,
        rest,
        idle_baseline: src.duration(&e.idle_baseline, "idle_baseline", Duration::ZERO)?,
        idle_baseline_after: e.idle_baseline_after.unwrap_or(false),
        run_timeout: src.duration(&e.run_timeout, "run_timeout", Duration::from_secs(3600))?,
        retry_failed: e.retry_failed.unwrap_or(0),
        parity: e.parity.unwrap_or(false),
        stop: None, // read with the plugins (`stop.rs`): it needs their number
    };
    if matches!(experiment.rest, Rest::UntilIdle { .. }) && experiment.idle_baseline.is_zero() {
        return Err(src.error(
            rest_line,
            "`rest = { until_idle = true, .. }` rests until power is back near the idle \
             baseline, so it needs `idle_baseline` (e.g. \"30s\") in [experiment]",
        ));
    }
    Ok(experiment)
}

/// `rest = "60s"` or `rest = { until_idle = true, max = "3m", within = 0.05 }`.
fn rest(src: Source, rest: Option<raw::RawRest>, line: Option<usize>) -> anyhow::Result<Rest> {
    let duration = |text: &str, key: &str| {
        super::parse_duration(text).map_err(|err| src.error(line, format!("`{key}`: {err}")))
    };
    let r = match rest {
        None => return Ok(Rest::Fixed(Duration::from_secs(60))),
        Some(raw::RawRest::Fixed(v)) => return Ok(Rest::Fixed(duration(&v, "rest")?)),
        Some(raw::RawRest::UntilIdle(r)) => r,
    };
    if !r.until_idle {
        return Err(src.error(
            line,
            "`rest` as a table needs `until_idle = true`; for a fixed rest write rest = \"60s\"",
        ));
    }
    let within = r.within.unwrap_or(0.05);
    if !(within > 0.0 && within < 1.0) {
        return Err(src.error(
            line,
            format!("`rest.within` must be a fraction between 0 and 1, got {within}"),
        ));
    }
    let max = match &r.max {
        Some(m) => duration(m, "rest.max")?,
        None => Duration::from_secs(180),
    };
    Ok(Rest::UntilIdle { max, within })
}

/// `[dataset]`: MNIST only; a relative `dir` resolves against the manifest's folder.
pub(super) fn dataset(
    src: Source,
    d: Option<raw::RawDataset>,
    base: &Path,
) -> anyhow::Result<DatasetSpec> {
    let d = d.unwrap_or_default();
    if let Some(n) = d.name.as_deref() {
        if n != "mnist" {
            return Err(src.error(
                None,
                format!("[dataset] name `{n}` is not known; the one dataset is `mnist`"),
            ));
        }
    }
    let subset = |key: &str, value: Option<Spanned<usize>>, split: usize| {
        value
            .map(|v| {
                bounds::check_subset(key, *v.get_ref(), split)
                    .map_err(|err| src.error(src.line(v.span()), err))
            })
            .transpose()
    };
    Ok(DatasetSpec {
        dir: d.dir.map(|p| base.join(p)),
        train_subset: subset("train_subset", d.train_subset, bounds::MNIST_TRAIN_IMAGES)?,
        test_subset: subset("test_subset", d.test_subset, bounds::MNIST_TEST_IMAGES)?,
    })
}

/// `[model] layers = [...]`, checked layer by layer (`model.rs`), and `init`.
pub(super) fn model(src: Source, m: raw::RawModel) -> anyhow::Result<(Vec<Layer>, Init)> {
    let layers = parse_layer_tables(&m.layers, |offset| line_at(src.text, offset))
        .and_then(|specs| layers_from_specs(&specs))
        .map_err(|err| src.error(err.line, format!("[model] {}", err.message)))?;
    let init = match &m.init {
        None => Init::default(),
        Some(word) => Init::parse(word.get_ref()).ok_or_else(|| {
            src.error(
                src.line(word.span()),
                format!(
                    "[model] init `{}` is not known: `host` (the host's Glorot-uniform \
                     weights, the default) or `framework` (each framework's own)",
                    word.get_ref()
                ),
            )
        })?,
    };
    Ok((layers, init))
}

/// `[training]` and its `[training.optimizer]`; the batch size is checked against the
/// `dataset`'s training images.
pub(super) fn training(
    src: Source,
    t: raw::RawTraining,
    dataset: &DatasetSpec,
) -> anyhow::Result<Training> {
    let optimizer = optimizer(src, t.optimizer.unwrap_or_default())?;
    let threads = threads(src, t.threads)?;
    let epochs = bounds::check_epochs(*t.epochs.get_ref())
        .map_err(|err| src.error(src.line(t.epochs.span()), err))?;
    let train_images = dataset.train_subset.unwrap_or(bounds::MNIST_TRAIN_IMAGES);
    let batch_size = bounds::check_batch_size(*t.batch_size.get_ref(), train_images)
        .map_err(|err| src.error(src.line(t.batch_size.span()), err))?;
    let cpus = match &t.cpus {
        Some(list) => Some(
            parse_cpu_list(list)
                .map_err(|err| src.error(None, format!("[training] cpus: {err}")))?,
        ),
        None => None,
    };
    Ok(Training {
        epochs,
        batch_size,
        threads,
        cpus,
        device: t.device.unwrap_or_else(|| "cpu".into()),
        optimizer,
    })
}

fn optimizer(src: Source, o: raw::RawOptimizer) -> anyhow::Result<Optimizer> {
    let kind = match o.kind.as_deref().unwrap_or("adam") {
        "adam" => OptimizerKind::Adam,
        other => {
            return Err(src.error(
                None,
                format!("[training.optimizer] kind `{other}` is not known; use `adam`"),
            ))
        }
    };
    Ok(Optimizer {
        kind,
        learning_rate: o.learning_rate.unwrap_or(1e-3),
        beta1: o.beta1.unwrap_or(0.9),
        beta2: o.beta2.unwrap_or(0.999),
        epsilon: o.epsilon.unwrap_or(1e-8),
    })
}

/// `threads = N` (at least 1) or `threads = "all"` (every CPU this process may use).
fn threads(src: Source, threads: Option<raw::RawThreads>) -> anyhow::Result<u32> {
    match threads {
        None => Ok(1),
        Some(raw::RawThreads::Count(n)) if n >= 1 => Ok(n),
        Some(raw::RawThreads::Count(_)) => {
            Err(src.error(None, "[training] `threads` must be at least 1"))
        }
        Some(raw::RawThreads::Word(w)) if w == "all" => Ok(std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1)),
        Some(raw::RawThreads::Word(w)) => Err(src.error(
            None,
            format!("[training] `threads` must be a number or \"all\", got \"{w}\""),
        )),
    }
}

/// `[energy]`: the source, the estimate's figures, sampling, and fake roots for tests.
pub(super) fn energy(
    src: Source,
    en: Option<raw::RawEnergy>,
    base: &Path,
) -> anyhow::Result<EnergyConfig> {
    let en = en.unwrap_or_default();
    let mut energy = EnergyConfig::default();
    if let Some(s) = en.source {
        energy.source = s
            .get_ref()
            .parse::<SourceChoice>()
            .map_err(|err| src.error(src.line(s.span()), format!("[energy] `source`: {err}")))?;
    }
    if let Some(w) = en.tdp_watts {
        if w.is_nan() || w <= 0.0 {
            return Err(src.error(None, "[energy] `tdp_watts` must be positive"));
        }
        energy.tdp_watts = w;
    }
    if let Some(s) = en.idle_share {
        if !(0.0..1.0).contains(&s) {
            return Err(src.error(None, "[energy] `idle_share` must be in [0, 1)"));
        }
        energy.idle_share = s;
    }
    energy.sample_interval = src.duration(
        &en.sample_interval,
        "sample_interval",
        energy.sample_interval,
    )?;
    if energy.sample_interval < Duration::from_millis(1) {
        return Err(src.error(None, "[energy] `sample_interval` must be at least 1ms"));
    }
    for (root, field) in [
        (en.powercap_root, &mut energy.powercap_root),
        (en.msr_root, &mut energy.msr_root),
    ] {
        if let Some(r) = root {
            *field = base.join(r);
        }
    }
    Ok(energy)
}

/// `[[plugin]]` tables: at least one, names that can label runs and files, each once.
pub(super) fn plugins(
    src: Source,
    raw_plugins: Vec<raw::RawPlugin>,
    base: &Path,
    threads: u32,
) -> anyhow::Result<Vec<PluginSpec>> {
    let mut plugins: Vec<PluginSpec> = Vec::new();
    for p in raw_plugins {
        let line = src.line(p.name.span());
        let name = p.name.into_inner();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(src.error(
                line,
                format!("[[plugin]] name `{name}` may hold only letters, digits, '-', '_' and '.'"),
            ));
        }
        if plugins.iter().any(|q| q.name == name) {
            return Err(src.error(
                line,
                format!(
                    "[[plugin]] name `{name}` appears twice; names label the runs, so they must differ"
                ),
            ));
        }
        let timeout = src.duration(&p.timeout, "timeout", Duration::ZERO)?;
        plugins.push(PluginSpec {
            name,
            path: base.join(p.path),
            options: p.options.into_iter().collect(),
            // `{threads}` in a value is the session's thread count, so a framework's pools
            // (RAYON_NUM_THREADS, OMP_NUM_THREADS, …) follow `[training] threads`.
            env: p
                .env
                .into_iter()
                .map(|(k, v)| (k, v.replace("{threads}", &threads.to_string())))
                .collect(),
            optional: p.optional,
            timeout: (timeout > Duration::ZERO).then_some(timeout),
        });
    }
    if plugins.is_empty() {
        return Err(src.error(
            None,
            "no [[plugin]] entries: a campaign needs at least one plugin",
        ));
    }
    Ok(plugins)
}

/// `[[analysis]]` tables, each naming its `step`; the steps' options are checked by the
/// analysis registry, which names the option and the table's line.
pub(super) fn analysis(
    src: Source,
    tables: Vec<toml::Spanned<toml::Table>>,
) -> anyhow::Result<Vec<StepSpec>> {
    let steps: Vec<StepSpec> = tables
        .into_iter()
        .map(|step| {
            let line = src.line(step.span());
            let mut options = step.into_inner();
            let Some(toml::Value::String(name)) = options.remove("step") else {
                return Err(src.error(line, "[[analysis]] needs `step = \"<name>\"`"));
            };
            Ok(StepSpec {
                step: name,
                options,
                line,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    crate::analysis::validate(&steps)
        .map_err(|e| e.context(format!("in manifest {}", src.path.display())))?;
    Ok(steps)
}

/// `[report]`: the carbon and cost factors, each checked by its rule and named with its line
/// when refused; `pue` and `currency` need a grid intensity or a price, here or in the
/// `steps`' `findings` step. An absent table declares none.
pub(super) fn report(
    src: Source,
    table: Option<toml::Spanned<raw::RawReport>>,
    steps: &[StepSpec],
) -> anyhow::Result<ReportFactors> {
    let Some(table) = table else {
        return Ok(ReportFactors::default());
    };
    let line = src.line(table.span());
    let factors = report_values(src, table.into_inner())?;
    let mut resolved = if steps.is_empty() {
        default_pipeline()
    } else {
        steps.to_vec()
    };
    apply_factors(&mut resolved, &factors);
    if lacks_a_base(&resolved) {
        return Err(src.error(
            line,
            "[report] `pue` and `currency` need `grid_intensity` or `price_per_kwh` (in \
             [report] or the `findings` step) to apply to",
        ));
    }
    Ok(factors)
}

/// The values of `[report]`, each checked by its rule.
fn report_values(src: Source, r: raw::RawReport) -> anyhow::Result<ReportFactors> {
    let number = |factor: Factor, value: Option<toml::Spanned<f64>>| {
        value
            .map(|v| {
                factor.check(*v.get_ref()).map_err(|rule| {
                    src.error(
                        src.line(v.span()),
                        format!("[report] `{}` = {}: {rule}", factor.key(), v.get_ref()),
                    )
                })
            })
            .transpose()
    };
    let currency = r
        .currency
        .map(|c| {
            check_currency(c.get_ref()).map_err(|rule| {
                src.error(src.line(c.span()), format!("[report] `currency`: {rule}"))
            })
        })
        .transpose()?;
    Ok(ReportFactors {
        grid_intensity: number(Factor::GridIntensity, r.grid_intensity)?,
        pue: number(Factor::Pue, r.pue)?,
        price_per_kwh: number(Factor::PricePerKwh, r.price_per_kwh)?,
        currency,
    })
}

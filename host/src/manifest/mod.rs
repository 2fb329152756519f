//! The campaign manifest: TOML in, a validated [`Manifest`] out.
//!
//! Parsing is strict (unknown keys are errors naming the key and its line) and everything is
//! checked here, once, so nothing downstream re-validates user input. Relative paths are
//! resolved against the manifest's folder.

pub mod bounds;
mod cpus;
mod duration;
mod model;
mod portable;
mod raw;
mod sections;
mod source;
mod stop;

pub use duration::parse_duration;
pub use model::{layers_from_specs, parse_layer_tables, LayerSpec};
pub use portable::{absolute, PATHS_RELATIVE_TO};

use std::path::{Path, PathBuf};
use std::time::Duration;

use plugin_api::{Layer, Optimizer};

use crate::analysis::stats::Spending;
use crate::analysis::{apply_factors, default_pipeline, ReportFactors, StepSpec};
use crate::energy::EnergyConfig;
use crate::error::usage;
use crate::plan::Init;
use source::Source;

/// A validated campaign.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Where it was read from, and its exact bytes' SHA-256 (provenance, resume checks).
    pub path: PathBuf,
    pub text: String,
    pub sha256: String,
    /// The folder its relative paths resolve against (plugins get it to resolve the paths
    /// in their options): the manifest's own, or the one its `paths_relative_to` names.
    pub base_dir: PathBuf,
    /// What a campaign folder saves: `text` with `paths_relative_to` set to the absolute
    /// `base_dir`, so that the copy resolves the same files from wherever it lies.
    pub portable_text: String,
    pub experiment: Experiment,
    pub dataset: DatasetSpec,
    pub model: Vec<Layer>,
    /// `[model] init`: where every run's initial weights come from.
    pub init: Init,
    pub training: Training,
    pub energy: EnergyConfig,
    pub plugins: Vec<PluginSpec>,
    pub analysis: Vec<StepSpec>,
    /// `[report]`: carbon and cost factors for the findings (they change no measurement).
    pub report: ReportFactors,
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
    /// Run `host parity` before the first run and refuse to start on a disagreement.
    pub parity: bool,
    /// `stop = { .. }`: stop measuring once the answer is known (a sequential design).
    pub stop: Option<StopRule>,
}

/// When to stop a campaign early: at each look (runs per plugin), test every pair of plugins
/// on `metric` and stop once all are decided, spending `alpha` across the looks.
#[derive(Debug, Clone, PartialEq)]
pub struct StopRule {
    /// A metric key every campaign records (`energy`, `time`, `power`, `edp`).
    pub metric: String,
    /// Runs per plugin at each look: at least 2 looks, strictly increasing, the last within
    /// `iterations`.
    pub looks: Vec<usize>,
    pub spending: Spending,
    /// Campaign-wide alpha for the metric (0.05 unless set).
    pub alpha: f64,
}

/// The rest between runs: a fixed time, or until power is back within `within` (a fraction)
/// of the idle baseline, for at most `max`.
#[derive(Debug, Clone, PartialEq)]
pub enum Rest {
    Fixed(Duration),
    UntilIdle { max: Duration, within: f64 },
}

impl Rest {
    /// The longest one rest can last (for plans and ETAs).
    pub fn longest(&self) -> Duration {
        match self {
            Rest::Fixed(d) => *d,
            Rest::UntilIdle { max, .. } => *max,
        }
    }
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
    /// Pin every worker to these CPUs (`cpus = "0-1,4"`, parsed).
    pub cpus: Option<Vec<usize>>,
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

impl Manifest {
    /// Reads and validates the manifest at `path`. Every problem is a usage error (exit 2)
    /// that names the file, and the key and line where it can.
    pub fn load(path: &Path) -> anyhow::Result<Manifest> {
        Self::parse(path, read(path)?)
    }

    /// Validates manifest `text` as if read from `path` (relative paths resolve against its
    /// folder).
    pub fn parse(path: &Path, text: String) -> anyhow::Result<Manifest> {
        let src = Source { path, text: &text };
        let raw: raw::RawManifest = src.deserialize()?;
        let base_dir = portable::base_dir(path, raw.paths_relative_to.as_ref());
        let portable_text = portable::text(&text, raw.paths_relative_to.as_ref(), &base_dir);
        let base = base_dir.as_path();
        let mut raw_experiment = raw.experiment;
        let raw_stop = raw_experiment.stop.take();
        let mut experiment = sections::experiment(src, raw_experiment)?;
        let dataset = sections::dataset(src, raw.dataset, base)?;
        let (model, init) = sections::model(src, raw.model)?;
        let training = sections::training(src, raw.training, &dataset)?;
        let energy = sections::energy(src, raw.energy, base)?;
        let plugins = sections::plugins(src, raw.plugin, base, training.threads)?;
        experiment.stop = stop::rule(src, raw_stop, experiment.iterations, plugins.len())?;
        let analysis = sections::analysis(src, raw.analysis)?;
        let report = sections::report(src, raw.report, &analysis)?;
        check_resolved(src, &analysis, &report)?;
        Ok(Manifest {
            path: path.to_path_buf(),
            sha256: crate::fsx::sha256_hex(text.as_bytes()),
            text,
            base_dir,
            portable_text,
            experiment,
            dataset,
            model,
            init,
            training,
            energy,
            plugins,
            analysis,
            report,
        })
    }

    /// Its `[[analysis]]` steps and `[report]` factors (what `host run` analyses with).
    pub fn pipeline(&self) -> Pipeline {
        Pipeline {
            steps: self.analysis.clone(),
            report: self.report.clone(),
        }
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

    /// The run timeout for `plugin`: its own, else the campaign's.
    pub fn timeout_for(&self, plugin: &PluginSpec) -> Duration {
        plugin.timeout.unwrap_or(self.experiment.run_timeout)
    }
}

/// What a manifest or a `--pipeline` file says about the analysis: its `[[analysis]]` steps
/// (none: the default pipeline) and its `[report]` factors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pipeline {
    pub steps: Vec<StepSpec>,
    pub report: ReportFactors,
}

impl Pipeline {
    /// The steps to run: the declared ones, else the default pipeline, with the factors
    /// written into its `findings` step.
    pub fn resolve(&self) -> Vec<StepSpec> {
        let mut steps = if self.steps.is_empty() {
            default_pipeline()
        } else {
            self.steps.clone()
        };
        apply_factors(&mut steps, &self.report);
        steps
    }
}

/// The `[[analysis]]` steps and `[report]` factors of `path`: a file holding only those, or a
/// whole campaign manifest (validated as such). Refuses a file with neither.
pub fn load_pipeline(path: &Path) -> anyhow::Result<Pipeline> {
    let text = read(path)?;
    let whole_manifest = text
        .parse::<toml::Table>()
        .is_ok_and(|t| t.contains_key("experiment"));
    let pipeline = if whole_manifest {
        Manifest::parse(path, text)?.pipeline()
    } else {
        let src = Source { path, text: &text };
        let raw: raw::RawPipeline = src.deserialize()?;
        let steps = sections::analysis(src, raw.analysis)?;
        let report = sections::report(src, raw.report, &steps)?;
        check_resolved(src, &steps, &report)?;
        Pipeline { steps, report }
    };
    if pipeline == Pipeline::default() {
        return Err(usage(format!(
            "{} has no [[analysis]] steps and no [report] factors",
            path.display()
        )));
    }
    Ok(pipeline)
}

/// The pipeline with the `[report]` factors applied, checked as the analysis will take it: a
/// campaign's analysis runs after hours of measuring, so it must not fail on a factor then.
fn check_resolved(src: Source, steps: &[StepSpec], report: &ReportFactors) -> anyhow::Result<()> {
    if report.is_empty() {
        return Ok(());
    }
    let pipeline = Pipeline {
        steps: steps.to_vec(),
        report: report.clone(),
    };
    crate::analysis::validate(&pipeline.resolve()).map_err(|e| {
        e.context(format!(
            "in manifest {}, with its [report] factors",
            src.path.display()
        ))
    })
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read manifest {}: {e}", path.display())))
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
        // Its commented-out `stop` example is valid as written.
        assert!(study.experiment.stop.is_none());
        let with_stop = STUDY.replace("# stop = {", "stop = {");
        assert_ne!(
            with_stop, STUDY,
            "mnist.toml has a `# stop = {{ .. }}` example"
        );
        let rule = parse(&with_stop).expect("mnist.toml with its stop example");
        assert_eq!(
            rule.experiment.stop.map(|r| r.looks),
            Some(vec![5, 10, 15, 20, 30])
        );
    }

    #[test]
    fn threads_in_a_plugins_env_is_the_sessions_thread_count() {
        let text = QUICK.replace("threads = \"all\"", "threads = 3").replace(
            "path = \"../target/release/libplugin_burn.so\"",
            "path = \"../target/release/libplugin_burn.so\"\n\
             env = { RAYON_NUM_THREADS = \"{threads}\", NOTE = \"{threads} of {threads}\", X = \"{other}\" }",
        );
        let m = parse(&text).expect("parses");
        let burn = m.plugins.iter().find(|p| p.name == "burn").expect("burn");
        let env: Vec<(&str, &str)> = burn
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            env,
            [
                ("NOTE", "3 of 3"),
                ("RAYON_NUM_THREADS", "3"),
                ("X", "{other}")
            ]
        );
    }

    #[test]
    fn init_is_host_unless_the_manifest_says_framework() {
        assert_eq!(parse(QUICK).unwrap().init, Init::Host);
        assert!(!parse(QUICK).unwrap().experiment.parity);
        let framework = QUICK.replace("[training]\n", "init = \"framework\"\n[training]\n");
        assert_eq!(parse(&framework).unwrap().init, Init::Framework);
        let parity = QUICK.replace("seed = 42", "seed = 42\nparity = true");
        assert!(parse(&parity).unwrap().experiment.parity);
        let text = QUICK.replace("[training]\n", "init = \"lecun\"\n[training]\n");
        let line = text.lines().position(|l| l.starts_with("init =")).unwrap() + 1;
        let e = error(&text);
        assert!(e.contains("init `lecun` is not known"), "{e}");
        assert!(e.contains(&format!(":{line}:")), "names line {line}: {e}");
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
        assert_eq!(
            ok.expect("cpus 0-1").training.cpus.as_deref(),
            Some(&[0, 1][..])
        );
    }

    #[test]
    fn a_pipeline_file_may_hold_only_analysis_steps() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let only = write(
            "steps.toml",
            "# steps\n[[analysis]]\nstep = \"clean\"\n\n[[analysis]]\nstep = \"describe\"\n",
        );
        let pipeline = load_pipeline(&only).expect("analysis-only file");
        let names: Vec<(&str, Option<usize>)> = pipeline
            .steps
            .iter()
            .map(|s| (s.step.as_str(), s.line))
            .collect();
        assert_eq!(names, [("clean", Some(2)), ("describe", Some(5))]);
        assert!(pipeline.report.is_empty());

        let whole = write(
            "quick.toml",
            &format!("{QUICK}\n[[analysis]]\nstep = \"describe\"\n"),
        );
        let pipeline = load_pipeline(&whole).expect("a whole manifest");
        assert_eq!(pipeline.steps.len(), 1);
        assert_eq!(pipeline.steps[0].step, "describe");
        // ... with its [report] factors, which resolve() writes into a findings step.
        assert_eq!(pipeline.report.grid_intensity, Some(400.0));
        let names: Vec<String> = pipeline.resolve().into_iter().map(|s| s.step).collect();
        assert_eq!(names, ["describe", "findings"]);
        // A whole manifest is validated as one: a bad [training] is refused.
        let broken = write("broken.toml", &QUICK.replace("epochs = 1", "epochs = 0"));
        assert!(format!("{:#}", load_pipeline(&broken).unwrap_err()).contains("epochs"));

        for (text, expect) in [
            (
                "[[analysis]]\nstep = \"clean\"\n[[analysys]]\n",
                "steps.toml:3:",
            ),
            ("[[analysis]]\nstep = \"clean\"\nk_sigma = 3\n", "k_sigma"),
            ("[[analysis]]\nstp = \"clean\"\n", "steps.toml:1"),
            ("# nothing\n", "has no [[analysis]] steps"),
        ] {
            let err = load_pipeline(&write("steps.toml", text)).expect_err(text);
            assert!(crate::error::is_usage(&err), "{err:#}");
            assert!(format!("{err:#}").contains(expect), "{text}: {err:#}");
        }
        let typo = load_pipeline(&write(
            "steps.toml",
            "[[analysis]]\nstep = \"clean\"\n[[analysys]]\n",
        ))
        .unwrap_err();
        assert!(format!("{typo:#}").contains("analysys"), "{typo:#}");
    }

    #[test]
    fn report_factors_are_read_checked_and_named_by_key_and_line() {
        let base = QUICK
            .split("[report]")
            .next()
            .expect("quick.toml has [report]");
        let with = |report: &str| format!("{base}[report]\n{report}");
        // quick.toml's own, integers taken as numbers.
        let quick = parse(QUICK).expect("quick.toml");
        assert_eq!(
            quick.report,
            ReportFactors {
                grid_intensity: Some(400.0),
                pue: None,
                price_per_kwh: Some(0.25),
                currency: Some("EUR".into()),
            }
        );
        let m = parse(&with("grid_intensity = 50\npue = 1.4\n")).expect("valid");
        assert_eq!(m.report.grid_intensity, Some(50.0));
        assert_eq!(m.report.pue, Some(1.4));
        // No [report]: none declared, and host run's pipeline is the default one untouched.
        let none = parse(base).expect("no [report]");
        assert!(none.report.is_empty());
        assert_eq!(none.pipeline().resolve(), default_pipeline());
        // With one, the default pipeline's findings step takes the factors.
        let steps = m.pipeline().resolve();
        let findings = steps
            .iter()
            .find(|s| s.step == "findings")
            .expect("findings");
        assert_eq!(findings.options["grid_intensity"].as_float(), Some(50.0));

        let report_line = base.lines().count() + 1;
        for (report, key, line) in [
            ("grid_intensity = -3\n", "`grid_intensity` = -3", 1),
            ("grid_intensity = 400\npue = 0.8\n", "`pue` = 0.8", 2),
            ("price_per_kwh = -0.1\n", "`price_per_kwh` = -0.1", 1),
            ("price_per_kwh = 1\ncurrency = \"\"\n", "`currency`", 2),
            ("grid_intensity = nan\n", "`grid_intensity` = NaN", 1),
        ] {
            let e = error(&with(report));
            let at = format!("test.toml:{}:", report_line + line);
            assert!(e.contains(key) && e.contains(&at), "{report}: {e}");
        }
        // Unknown keys and wrong types are refused with their line too.
        let e = error(&with("grid = 400\n"));
        assert!(
            e.contains("grid") && e.contains(&format!("test.toml:{}:", report_line + 1)),
            "{e}"
        );
        let e = error(&with("pue = \"1.2\"\n"));
        assert!(
            e.contains(&format!("test.toml:{}:", report_line + 1)),
            "{e}"
        );
        // A PUE with nothing to apply it to is refused, naming the factors.
        let e = error(&with("pue = 1.2\n"));
        let at = format!("test.toml:{report_line}:");
        assert!(
            e.contains(&at) && e.contains("need `grid_intensity`"),
            "{e}"
        );
        // ... unless the manifest's own findings step declares a base.
        let own = format!(
            "{}[[analysis]]\nstep = \"findings\"\nprice_per_kwh = 0.2\n",
            with("pue = 1.2\n")
        );
        let m = parse(&own).expect("pue applies to the step's price");
        let steps = m.pipeline().resolve();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].options["pue"].as_float(), Some(1.2));
    }

    #[test]
    fn a_stop_rule_is_read_and_each_bad_key_named_with_its_line() {
        // quick.toml has 3 plugins; give it room for the looks.
        let base = QUICK.replace("iterations = 5\n", "iterations = 20\n");
        assert_ne!(base, QUICK, "quick.toml sets iterations = 5");
        let with = |stop: &str| base.replace("[experiment]\n", &format!("[experiment]\n{stop}\n"));
        let m = parse(&with(
            r#"stop = { metric = "energy", looks = [5, 10, 20], spending = "pocock" }"#,
        ))
        .expect("valid stop");
        let rule = m.experiment.stop.expect("a rule");
        assert_eq!(
            (
                rule.metric.as_str(),
                &rule.looks[..],
                rule.spending,
                rule.alpha
            ),
            ("energy", &[5, 10, 20][..], Spending::Pocock, 0.05)
        );
        assert!(parse(&base).expect("no stop").experiment.stop.is_none());
        let line = base.lines().position(|l| l == "[experiment]").unwrap() + 2;
        for (stop, expect) in [
            (
                r#"stop = { metric = "joules", looks = [5, 10] }"#,
                "`stop.metric`: `joules`",
            ),
            (
                r#"stop = { metric = "energy", looks = [5] }"#,
                "`stop.looks`: [5] has 1 look",
            ),
            (
                r#"stop = { metric = "energy", looks = [10, 5] }"#,
                "`stop.looks`: [10, 5] must increase",
            ),
            (
                r#"stop = { metric = "energy", looks = [1, 5] }"#,
                "`stop.looks`: the first look",
            ),
            (
                r#"stop = { metric = "energy", looks = [5, 30] }"#,
                "the last look (30) is after the campaign's 20",
            ),
            (
                r#"stop = { metric = "energy", looks = [5, 10], spending = "fast" }"#,
                "`stop.spending`: `fast`",
            ),
            (
                r#"stop = { metric = "energy", looks = [5, 10], alpha = 1.5 }"#,
                "`stop.alpha`: 1.5",
            ),
        ] {
            let e = error(&with(stop));
            assert!(
                e.contains(expect) && e.contains(&format!("test.toml:{line}:")),
                "{stop}: {e}"
            );
        }
        // Unknown and missing keys are refused with the line too.
        for stop in [
            r#"stop = { metric = "energy", look = [5, 10] }"#,
            r#"stop = { looks = [5, 10] }"#,
        ] {
            let e = error(&with(stop));
            assert!(e.contains(&format!("test.toml:{line}:")), "{stop}: {e}");
        }
        // One plugin has nothing to compare.
        let one = with(r#"stop = { metric = "energy", looks = [5, 10] }"#);
        let cut = one.find("[[plugin]]").unwrap();
        let second = one[cut + 1..].find("[[plugin]]").unwrap() + cut + 1;
        let e = error(&one[..second]);
        assert!(e.contains("at least 2 [[plugin]]"), "{e}");
    }

    #[test]
    fn a_pipeline_file_may_hold_only_report_factors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("factors.toml");
        std::fs::write(&path, "[report]\nprice_per_kwh = 0.3\ncurrency = \"CHF\"\n").unwrap();
        let pipeline = load_pipeline(&path).expect("a [report]-only file");
        assert!(pipeline.steps.is_empty());
        let steps = pipeline.resolve();
        assert_eq!(steps.len(), default_pipeline().len());
        let findings = steps
            .iter()
            .find(|s| s.step == "findings")
            .expect("findings");
        assert_eq!(findings.options["price_per_kwh"].as_float(), Some(0.3));
        assert_eq!(findings.options["currency"].as_str(), Some("CHF"));
        std::fs::write(&path, "[report]\ngrid_intensity = 0\n").unwrap();
        let e = format!("{:#}", load_pipeline(&path).unwrap_err());
        assert!(
            e.contains("factors.toml:2:") && e.contains("`grid_intensity` = 0"),
            "{e}"
        );
        std::fs::write(&path, "[reprot]\ngrid_intensity = 1\n").unwrap();
        let e = format!("{:#}", load_pipeline(&path).unwrap_err());
        assert!(e.contains("reprot") && e.contains("factors.toml:1:"), "{e}");
    }
}

//! `host`: the joulebench command line. Parses arguments (clap checks them: a bad flag is a
//! usage error, exit 2), runs one `cmd_*` function per subcommand, and maps errors to exit
//! codes (0 ok, 1 run-time failure, 2 usage or manifest error). Output cut short by a closed
//! pipe (`host plugins | head -1`) ends the command quietly.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use joulebench::analysis::factors::{check_currency, Factor};
use joulebench::manifest::{self, Manifest};
use joulebench::protocol::campaign::{self, CampaignResult};
use joulebench::store::CampaignDir;
use joulebench::{analysis, energy, error, plugin, protocol};

#[derive(Parser)]
#[command(
    name = "host",
    version,
    about = "Measure how much energy ML frameworks spend on the same training job",
    long_about = "joulebench runs the same training job (a CNN on MNIST) in several ML frameworks, \
each loaded as a plugin and run in its own worker process, reads the energy counters around \
every phase, and tests the differences with statistics.\n\n\
Start with:  host run manifests/quick.toml",
    after_help = "Exit status: 0 ok, 1 run-time failure, 2 usage or manifest error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the campaign a manifest describes, then analyse it
    #[command(
        after_help = "Example:\n  host run manifests/quick.toml\n  host run manifests/mnist.toml --dry-run"
    )]
    Run {
        /// The campaign manifest (TOML), e.g. manifests/quick.toml
        manifest: PathBuf,
        /// Results folder (default: results/<campaign>-<UTC time>)
        #[arg(long, conflicts_with = "resume")]
        out: Option<PathBuf>,
        /// Continue an interrupted campaign in DIR (its runs.csv and saved plan): no run
        /// measured twice, none missing. The manifest must match the one it started with
        /// (analysis steps, [report] factors and iterations may change).
        #[arg(long, value_name = "DIR")]
        resume: Option<PathBuf>,
        /// Override the manifest's number of iterations (at least 1)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        iterations: Option<u32>,
        /// Check the manifest, plugins and data, print the plan; measure nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Analyse campaign folders, runs.csv files or EnergiBridge folders
    #[command(
        after_help = "Examples:\n  host analyze results/quick-20260101T120000Z\n  \
host analyze ../shared/data/energibridge-mnist --grid-intensity 400 --price-per-kwh 0.25 --currency EUR\n\n\
Carbon and cost are derived from the factors you declare (flags, else the --pipeline file's \
[report] table), never looked up."
    )]
    Analyze {
        /// Campaign folders, runs.csv files, or folders of EnergiBridge CSVs (one subfolder per group)
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Take the [[analysis]] steps and [report] factors from this file instead of the
        /// default pipeline: a file of [[analysis]] tables and/or a [report] table, or a whole
        /// campaign manifest
        #[arg(long, value_name = "FILE")]
        pipeline: Option<PathBuf>,
        /// Where to write summary.json, tables.md, report.html and the plots
        #[arg(long, default_value = "analysis")]
        out: PathBuf,
        /// EnergiBridge column whose energy makes the total (repeat to sum several): a counter
        /// such as `PACKAGE_ENERGY (J)` is differenced, a power column such as
        /// `GPU0_POWER (mWatts)` integrated over time. Default: the top-level domains found
        /// in each file (CPU package, DRAM, every GPU; never cores)
        #[arg(long = "energy-column", value_name = "NAME")]
        energy_column: Vec<String>,
        #[command(flatten)]
        factors: FactorFlags,
    },
    /// Check that the manifest's plugins compute the same thing: the same host-made weights and
    /// first batches, dropout off, K optimizer steps; losses, logits and weights compared
    #[command(
        after_help = "Example:\n  host parity manifests/quick.toml --steps 3\n\n\
Exit status 1 names the first plugin, step or weight tensor that disagrees."
    )]
    Parity {
        /// The campaign manifest (TOML)
        manifest: PathBuf,
        /// Optimizer steps on the first batches of the first epoch
        #[arg(long, default_value_t = protocol::parity::DEFAULT_STEPS)]
        steps: u32,
    },
    /// Internal: one plugin's parity steps in its own process (started by `host parity`)
    #[command(hide = true)]
    ParityWorker {
        #[arg(long)]
        manifest: PathBuf,
        #[arg(long)]
        plugin: String,
        #[arg(long)]
        steps: u32,
        #[arg(long)]
        out: PathBuf,
    },
    /// List plugins in files or folders: name, framework, version, ABI verdict
    Plugins {
        /// Plugin files or folders holding them (default: target/release)
        paths: Vec<PathBuf>,
    },
    /// Conformance test for plugin authors: load, tiny session, train, evaluate, check reports
    CheckPlugin {
        /// The plugin library, e.g. target/release/libplugin_spin.so
        file: PathBuf,
        /// A plugin option as KEY=VALUE (repeatable), e.g. --option trainer=path/to/trainer.py
        #[arg(long = "option", value_name = "KEY=VALUE", value_parser = key_value)]
        options: Vec<(String, String)>,
    },
    /// List energy sources and domains, and why others are unavailable
    Meters {
        /// Read RAPL from this powercap tree instead of /sys/class/powercap (e.g. a fake one)
        #[arg(long, value_name = "DIR")]
        powercap_root: Option<PathBuf>,
        /// Read RAPL MSRs from this folder instead of /dev/cpu (holding <cpu>/msr files)
        #[arg(long, value_name = "DIR")]
        msr_root: Option<PathBuf>,
        /// Sample for this long and print energy and mean power per domain, e.g. 5s
        #[arg(long, value_name = "DURATION", value_parser = manifest::parse_duration)]
        watch: Option<Duration>,
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },
    /// Internal: one measured run in its own process (started by `host run`)
    #[command(hide = true)]
    Worker {
        #[arg(long)]
        manifest: PathBuf,
        #[arg(long)]
        manifest_sha256: Option<String>,
        #[arg(long)]
        plugin: String,
        #[arg(long)]
        iteration: u32,
        #[arg(long)]
        samples: Option<PathBuf>,
    },
}

/// `host analyze`'s carbon and cost factors; each overrides the `--pipeline` file's
/// `[report]` and the `findings` step's own option of the same name. Negative numbers reach
/// the parsers (which name the rule) instead of being taken for flags.
#[derive(clap::Args)]
struct FactorFlags {
    /// Grid carbon intensity in gCO2e per kWh: every energy figure gets its carbon
    #[arg(
        long,
        value_name = "G_PER_KWH",
        value_parser = parse_grid_intensity,
        allow_negative_numbers = true
    )]
    grid_intensity: Option<f64>,
    /// Power usage effectiveness of the site, at least 1 (default 1): energy is multiplied by
    /// it before carbon and cost
    #[arg(
        long,
        value_name = "RATIO",
        value_parser = parse_pue,
        allow_negative_numbers = true
    )]
    pue: Option<f64>,
    /// Price of one kWh: every energy figure gets its cost
    #[arg(
        long,
        value_name = "PRICE",
        value_parser = parse_price_per_kwh,
        allow_negative_numbers = true
    )]
    price_per_kwh: Option<f64>,
    /// Currency printed with --price-per-kwh's costs (default EUR)
    #[arg(long, value_name = "NAME", value_parser = check_currency)]
    currency: Option<String>,
}

fn parse_grid_intensity(text: &str) -> Result<f64, String> {
    Factor::GridIntensity.parse(text)
}

fn parse_pue(text: &str) -> Result<f64, String> {
    Factor::Pue.parse(text)
}

fn parse_price_per_kwh(text: &str) -> Result<f64, String> {
    Factor::PricePerKwh.parse(text)
}

impl FactorFlags {
    fn factors(self) -> analysis::ReportFactors {
        analysis::ReportFactors {
            grid_intensity: self.grid_intensity,
            pue: self.pue,
            price_per_kwh: self.price_per_kwh,
            currency: self.currency,
        }
    }
}

/// `KEY=VALUE` → (key, value); the value may itself hold '='.
fn key_value(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: expected KEY=VALUE"))?;
    Ok((key.to_string(), value.to_string()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A campaign's exit status says how its runs went, whatever became of its output.
    let quiet_on_broken_pipe = !matches!(cli.command, Command::Run { .. } | Command::Worker { .. });
    let result = match cli.command {
        Command::Run {
            manifest,
            out,
            resume,
            iterations,
            dry_run,
        } => cmd_run(
            manifest,
            campaign::CampaignOptions {
                out,
                iterations,
                dry_run,
                resume,
            },
        ),
        Command::Analyze {
            inputs,
            pipeline,
            out,
            energy_column,
            factors,
        } => cmd_analyze(inputs, pipeline, &energy_column, factors.factors(), out),
        Command::Plugins { paths } => cmd_plugins(paths),
        Command::Parity { manifest, steps } => cmd_parity(manifest, steps),
        Command::ParityWorker {
            manifest,
            plugin,
            steps,
            out,
        } => plugin::parity_worker::run(&plugin::parity_worker::ParityJob {
            manifest,
            plugin,
            steps,
            out,
        })
        .map(|()| ExitCode::SUCCESS),
        Command::CheckPlugin { file, options } => cmd_check_plugin(file, &options),
        Command::Meters {
            powercap_root,
            msr_root,
            watch,
            json,
        } => cmd_meters(energy::MetersArgs {
            powercap_root,
            msr_root,
            watch,
            json,
        }),
        Command::Worker {
            manifest,
            manifest_sha256,
            plugin,
            iteration,
            samples,
        } => cmd_worker(plugin::worker::WorkerJob {
            manifest,
            manifest_sha256,
            plugin,
            iteration,
            samples_csv: samples,
        }),
    };
    match result {
        Ok(code) => code,
        // Whoever read our output stopped reading (`| head`): nothing is wrong, nothing to say.
        Err(err) if quiet_on_broken_pipe && is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(if error::is_usage(&err) { 2 } else { 1 })
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `host parity`: the table, and exit 1 when a plugin disagrees (or none could be compared).
fn cmd_parity(manifest: PathBuf, steps: u32) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&manifest)?;
    let verdict = protocol::parity::check(&manifest, steps)?;
    println!("\n{}", protocol::parity::table(&verdict, steps));
    for note in verdict.unsupported() {
        println!("{note}");
    }
    if let Some(why) = verdict.first_disagreement() {
        eprintln!("error: parity: {why}");
        return Ok(ExitCode::from(1));
    }
    if verdict.reference.is_none() {
        eprintln!("error: parity: no plugin of the manifest has parity steps");
        return Ok(ExitCode::from(1));
    }
    println!("parity: every plugin with parity steps agrees");
    Ok(ExitCode::SUCCESS)
}

/// `host run`: the campaign, then its analysis. Exit 0 when every run is ok, 1 when some
/// failed, 130 when interrupted.
fn cmd_run(manifest: PathBuf, opts: campaign::CampaignOptions) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&manifest)?;
    let stop = install_stop_flag()?;
    let result = campaign::run(&manifest, &opts, &stop)?;
    if opts.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let ok = result.records.iter().filter(|r| r.is_ok()).count();
    println!(
        "\n{} of {} run(s) ok; results in {}",
        ok,
        result.records.len(),
        result.dir.display()
    );
    if result.interrupted {
        // 130: the conventional status of a program stopped by Ctrl-C.
        return Ok(ExitCode::from(130));
    }
    if ok > 0 {
        analyse_campaign(&manifest, &result)?;
    }
    Ok(if ok == result.records.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The analysis at the end of `host run`. Its failure leaves the runs intact, so it is
/// reported, not fatal.
fn analyse_campaign(manifest: &Manifest, result: &CampaignResult) -> anyhow::Result<()> {
    let steps = manifest.pipeline().resolve();
    let req = analysis::AnalyzeRequest {
        inputs: vec![result.dir.clone()],
        steps,
        out: CampaignDir::open(&result.dir).analysis(),
    };
    match analysis::analyze(&req) {
        Ok(summary) => {
            analysis::print_summary(&summary, &mut std::io::stdout())?;
            println!("analysis: {}", req.out.display());
        }
        Err(e) => eprintln!(
            "analysis failed (runs.csv is intact; rerun `host analyze {}`): {e:#}",
            result.dir.display()
        ),
    }
    Ok(())
}

/// `host analyze`: the pipeline over the inputs, a summary on the terminal. The factors given
/// as flags override the `--pipeline` file's `[report]`.
fn cmd_analyze(
    inputs: Vec<PathBuf>,
    pipeline: Option<PathBuf>,
    energy_columns: &[String],
    factors: analysis::ReportFactors,
    out: PathBuf,
) -> anyhow::Result<ExitCode> {
    let from_file = match pipeline {
        Some(p) => manifest::load_pipeline(&p)?,
        None => manifest::Pipeline::default(),
    };
    let mut steps = from_file.resolve();
    analysis::apply_factors(&mut steps, &factors);
    let steps = analysis::with_energy_columns(steps, energy_columns);
    if analysis::factors::lacks_a_base(&steps) {
        return Err(error::usage(
            "--pue and --currency need --grid-intensity or --price-per-kwh (or a [report] or \
             `findings` step in the --pipeline file that declares one) to apply to",
        ));
    }
    analysis::validate(&steps)?;
    let req = analysis::AnalyzeRequest { inputs, steps, out };
    let summary = analysis::analyze(&req)?;
    let mut stdout = std::io::stdout().lock();
    analysis::print_summary(&summary, &mut stdout)?;
    writeln!(stdout, "wrote {}", req.out.display())?;
    Ok(ExitCode::SUCCESS)
}

/// `host plugins`: every plugin-looking library in the given files and folders.
fn cmd_plugins(paths: Vec<PathBuf>) -> anyhow::Result<ExitCode> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("target/release")]
    } else {
        paths
    };
    let files = plugin_files(&paths)?;
    let mut out = std::io::stdout().lock();
    if files.is_empty() {
        let searched: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        writeln!(
            out,
            "no plugins (libplugin_*.so) found in {}",
            searched.join(", ")
        )?;
        return Ok(ExitCode::from(1));
    }
    let mut bad = 0;
    for f in &files {
        match plugin::load::load(f) {
            Ok(l) => writeln!(
                out,
                "{:<12} {:<28} {:<12} ok   {}",
                l.info.name,
                l.info.framework,
                l.info.framework_version,
                f.display()
            )?,
            Err(e) => {
                bad += 1;
                let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
                writeln!(out, "{:<12} refused: {e}", name.unwrap_or_default())?;
            }
        }
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The files among `paths`, and the `libplugin_*.so` files in the folders among them (sorted
/// per folder). A path that does not exist is a usage error.
fn plugin_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let is_plugin = |f: &PathBuf| {
        f.is_file()
            && f.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libplugin_") && n.ends_with(".so"))
    };
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| error::usage(format!("cannot list {}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(is_plugin)
                .collect();
            found.sort();
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            return Err(error::usage(format!(
                "{}: no such file or folder",
                p.display()
            )));
        }
    }
    Ok(files)
}

/// `host check-plugin`: every conformance check, one line each; exit 1 if any fails.
fn cmd_check_plugin(file: PathBuf, options: &[(String, String)]) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "checking {}", file.display())?;
    let checks = plugin::check::check_plugin(&file, options);
    for c in &checks {
        let mark = if c.passed { "ok  " } else { "FAIL" };
        if c.detail.is_empty() {
            writeln!(out, "  {mark} {}", c.name)?;
        } else {
            writeln!(out, "  {mark} {}: {}", c.name, c.detail)?;
        }
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    if failed == 0 {
        writeln!(out, "PASS: {} checks", checks.len())?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(out, "FAIL: {failed} of {} checks failed", checks.len())?;
        Ok(ExitCode::from(1))
    }
}

/// `host meters`: what this machine can measure.
fn cmd_meters(args: energy::MetersArgs) -> anyhow::Result<ExitCode> {
    energy::meters_command(&args, &mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}

/// `host worker`: one run, reported as events on stdout; its exit code is the run's.
fn cmd_worker(job: plugin::worker::WorkerJob) -> anyhow::Result<ExitCode> {
    let code = plugin::worker::run(&job);
    Ok(ExitCode::from(code as u8))
}

/// SIGINT/SIGTERM set a flag: the running worker is stopped, finished runs are kept. A
/// second signal while the first is being handled exits at once (status 130).
fn install_stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
}

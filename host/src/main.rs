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
use joulebench::plan::Shard;
use joulebench::protocol::campaign::{self, CampaignResult};
use joulebench::protocol::cluster::merge;
use joulebench::protocol::cluster::submit::{write_and_submit, SlurmRequest};
use joulebench::store::CampaignDir;
use joulebench::{analysis, energy, error, plugin, protocol, shell};

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
        after_help = "Example:\n  host run manifests/quick.toml\n  host run manifests/mnist.toml --dry-run\n  \
host run manifests/mnist.toml --shard 2/10 --out results/mnist-shard-2   # one node's part"
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
        /// Override the manifest's number of iterations (1 to 100000)
        #[arg(long, value_name = "N", value_parser = parse_iterations)]
        iterations: Option<u32>,
        /// Check the manifest, plugins and data, run the parity check, build each plugin's
        /// trainer once in a worker (so option and layer errors show now), print the plan and
        /// its expected duration; measure nothing
        #[arg(long)]
        dry_run: bool,
        /// Run shard K of N (K from 1 to N): iterations K, K+N, K+2N, … of the campaign's plan,
        /// with the full protocol, into its own folder. Merge the shards with `host analyze`.
        /// A resumed shard keeps its own
        #[arg(long, value_name = "K/N", value_parser = parse_shard)]
        shard: Option<Shard>,
    },
    /// Write (and with --submit, submit) a Slurm array job: one task per shard, each running
    /// `host run MANIFEST --shard K/N` on a node of its own
    #[command(
        after_help = "Example:\n  host slurm manifests/mnist.toml --shards 10 --partition cpu --time 4:00:00 --submit\n  \
host analyze results/mnist-slurm-…   # when every task has ended: merges the shards\n\n\
Tasks are numbered 1..N (--array=1-N): task K runs `host run --shard K/N`. A task whose \
folder already holds a campaign resumes it, so submitting the script again finishes what \
was cut short."
    )]
    Slurm {
        /// The campaign manifest (TOML)
        manifest: PathBuf,
        /// Number of shards (array tasks), at most the manifest's iterations
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        shards: u32,
        /// Slurm partition (sbatch --partition)
        #[arg(long, value_name = "P")]
        partition: Option<String>,
        /// Time limit per task (sbatch --time), e.g. 4:00:00
        #[arg(long, value_name = "T")]
        time: Option<String>,
        /// Folder for the script, the shard folders and Slurm's output files
        /// (default: results/<campaign>-slurm-<UTC time>)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Submit the script with sbatch and print the job id
        #[arg(long)]
        submit: bool,
        /// Share nodes with other jobs (a warning: energy counters are per socket, so the
        /// neighbours' work is measured too)
        #[arg(long)]
        no_exclusive: bool,
    },
    /// Analyse campaign folders, runs.csv files or EnergiBridge folders
    #[command(
        after_help = "Examples:\n  host analyze results/quick-20260101T120000Z\n  \
host analyze ../shared/data/energibridge-mnist --grid-intensity 400 --price-per-kwh 0.25 --currency EUR\n\n\
Carbon and cost are derived from the factors you declare (flags, else the --pipeline file's \
[report] table), never looked up."
    )]
    Analyze {
        /// Campaign folders, runs.csv files, or folders of EnergiBridge CSVs (one subfolder per
        /// group); shard folders of one campaign (or the folder holding them) are merged
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
        /// Pool shards measured on different CPU models or energy meters (refused otherwise);
        /// the report warns and shows the per-node medians
        #[arg(long)]
        allow_mixed_hardware: bool,
        #[command(flatten)]
        factors: FactorFlags,
    },
    /// Check that the manifest's plugins compute the same thing: the same host-made weights and
    /// first batches, dropout off, K Adam steps, then a gradient probe; losses, gradients,
    /// logits and the weights' movement compared
    #[command(
        after_help = "Example:\n  host parity manifests/quick.toml --steps 3 --tensors\n\n\
Each plugin runs twice, in workers of its own: K steps with the manifest's Adam (the loss\n\
before each step, the logits of the first test images after, the weights' movement), then\n\
one Adam step at learning rate = epsilon = 1e6, which moves every weight by its gradient.\n\
Exit status 1 names the first plugin, step or tensor that disagrees."
    )]
    Parity {
        /// The campaign manifest (TOML)
        manifest: PathBuf,
        /// Optimizer steps on the first batches of the first epoch
        #[arg(long, default_value_t = protocol::parity::DEFAULT_STEPS)]
        steps: u32,
        /// Also print every tensor's distances (gradient and movement, per plugin)
        #[arg(long)]
        tensors: bool,
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
        #[arg(long, value_enum, default_value = "steps")]
        probe: plugin::parity_worker::Probe,
        #[arg(long)]
        out: PathBuf,
    },
    /// List plugins in files or folders: name, framework, version, ABI verdict
    Plugins {
        /// Plugin files or folders holding them (default: target/release)
        paths: Vec<PathBuf>,
    },
    /// Conformance test for plugin authors: the protocol and behaviour, in child processes
    #[command(
        long_about = "Runs the plugin in child processes (a crash, abort or hang is a failed \
check with its reason) on a small session, printed first: synthetic digits and a small CNN, \
one thread, or with --manifest that manifest's model, optimizer, threads, options, environment \
and first images. Checks: it loads; every epoch trains every sample once with one finite loss \
and a progress call per batch; the loss falls; evaluation covers the test set and is \
repeatable; training past the last epoch is an error; no more threads compute at once (CPU time over \
wall time) than run_info() reports; the same seed gives the same losses; initial weights change them (skipped when the \
plugin says it ignores them or refuses them as unsupported); an unknown option and an \
impossible device are refused with a PluginError.",
        after_help = "Examples:\n  host check-plugin target/release/libplugin_spin.so\n  \
host check-plugin target/release/libplugin_burn.so --manifest manifests/quick.toml"
    )]
    CheckPlugin {
        /// The plugin library, e.g. target/release/libplugin_spin.so
        file: PathBuf,
        /// Take the session from this manifest's [[plugin]] whose path is FILE
        #[arg(long, value_name = "MANIFEST")]
        manifest: Option<PathBuf>,
        /// A plugin option as KEY=VALUE (repeatable), e.g. --option trainer=path/to/trainer.py
        #[arg(long = "option", value_name = "KEY=VALUE", value_parser = key_value)]
        options: Vec<(String, String)>,
        /// Give each child process at most this long, e.g. 30s
        #[arg(long, value_name = "DURATION", value_parser = manifest::parse_duration, default_value = "5m")]
        timeout: Duration,
    },
    /// Internal: one probe of `host check-plugin` in its own process
    #[command(hide = true)]
    CheckProbe {
        file: PathBuf,
        #[arg(long, value_enum)]
        probe: plugin::check::Probe,
        #[arg(long)]
        manifest: Option<PathBuf>,
        #[arg(long = "option", value_parser = key_value)]
        options: Vec<(String, String)>,
    },
    /// Start a plugin of your own: a crate that builds as is, or (--python) a trainer file
    #[command(
        after_help = "Examples:\n  host new-plugin demo && cd demo && cargo build --release\n  \
host check-plugin demo/target/release/libplugin_demo.so\n  host new-plugin mytrainer --python --dir mytrainer"
    )]
    NewPlugin {
        /// The plugin's name: lower-case letters, digits and `_` (the crate is plugin-NAME)
        name: String,
        /// The folder to write (default: ./NAME); it must not exist or be empty
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Write a trainer .py for the python plugin and a manifest instead of a Rust crate
        #[arg(long)]
        python: bool,
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
        #[arg(long)]
        setup_only: bool,
        /// Stdin is a pipe from the host: kill this worker's process group when it closes
        #[arg(long)]
        watch_host: bool,
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

fn parse_shard(text: &str) -> Result<Shard, String> {
    text.parse()
}

/// `--iterations N`, within the manifest's bounds (the error says the limit and why).
fn parse_iterations(text: &str) -> Result<u32, String> {
    let n: u32 = text.trim().parse().map_err(|_| {
        format!(
            "`{text}` is not a whole number from 1 to {}",
            manifest::bounds::MAX_ITERATIONS
        )
    })?;
    manifest::bounds::check_iterations(n)
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
    let quiet_on_broken_pipe = !matches!(
        cli.command,
        Command::Run { .. } | Command::Worker { .. } | Command::CheckProbe { .. }
    );
    let result = match cli.command {
        Command::Run {
            manifest,
            out,
            resume,
            iterations,
            dry_run,
            shard,
        } => cmd_run(
            manifest,
            campaign::CampaignOptions {
                out,
                iterations,
                dry_run,
                resume,
                shard,
            },
        ),
        Command::Slurm {
            manifest,
            shards,
            partition,
            time,
            out,
            submit,
            no_exclusive,
        } => cmd_slurm(
            manifest,
            &SlurmRequest {
                shards,
                partition,
                time,
                out,
                submit,
                exclusive: !no_exclusive,
            },
        ),
        Command::Analyze {
            inputs,
            pipeline,
            out,
            energy_column,
            allow_mixed_hardware,
            factors,
        } => cmd_analyze(
            AnalyzeInputs {
                inputs,
                allow_mixed_hardware,
            },
            pipeline,
            &energy_column,
            factors.factors(),
            out,
        ),
        Command::Plugins { paths } => cmd_plugins(paths),
        Command::Parity {
            manifest,
            steps,
            tensors,
        } => cmd_parity(manifest, steps, tensors),
        Command::ParityWorker {
            manifest,
            plugin,
            steps,
            probe,
            out,
        } => plugin::parity_worker::run(&plugin::parity_worker::ParityJob {
            manifest,
            plugin,
            steps,
            probe,
            out,
        })
        .map(|()| ExitCode::SUCCESS),
        Command::CheckPlugin {
            file,
            manifest,
            options,
            timeout,
        } => cmd_check_plugin(&plugin::check::CheckRequest {
            file,
            manifest,
            options,
            timeout,
        }),
        Command::CheckProbe {
            file,
            probe,
            manifest,
            options,
        } => Ok(ExitCode::from(
            plugin::check::probe::run(&plugin::check::probe::ProbeJob {
                file,
                manifest,
                options,
                probe,
            }) as u8,
        )),
        Command::NewPlugin { name, dir, python } => {
            cmd_new_plugin(&joulebench::scaffold::NewPlugin { name, dir, python })
        }
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
            setup_only,
            watch_host,
        } => cmd_worker(plugin::worker::WorkerJob {
            manifest,
            manifest_sha256,
            plugin,
            iteration,
            samples_csv: samples,
            setup_only,
            watch_host,
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
fn cmd_parity(manifest: PathBuf, steps: u32, tensors: bool) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&manifest)?;
    let verdict = protocol::parity::check(&manifest, steps)?;
    println!("\n{}", protocol::parity::table(&verdict, steps));
    if tensors {
        println!("{}", protocol::parity::tensor_table(&verdict));
    }
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

/// `host run`: the campaign, then its analysis. Exit 0 when every run is ok and the analysis
/// is written, 1 when some run failed or the analysis could not be written, 130 when
/// interrupted.
fn cmd_run(manifest: PathBuf, opts: campaign::CampaignOptions) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&manifest)?;
    let stop = install_stop_flag()?;
    let result = campaign::run(&manifest, &opts, &stop)?;
    if opts.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let ok = result.records.iter().filter(|r| r.is_ok()).count();
    if result.records.is_empty() {
        println!("\nno run this time; results in {}", result.dir.display());
    } else {
        println!(
            "\n{} of {} run(s) ok; results in {}",
            ok,
            result.records.len(),
            result.dir.display()
        );
    }
    if result.interrupted {
        // 130: the conventional status of a program stopped by Ctrl-C.
        return Ok(ExitCode::from(130));
    }
    // A resume finishes what is unfinished: an analysis that was killed, failed or deleted is
    // written again even when no run was left to do; so is that of a campaign `[experiment]
    // stop` stopped (a resume after the stop runs nothing).
    let wanted = ok > 0 || opts.resume.is_some() || result.stopped_early;
    let analysed = if result.ok_rows > 0 && wanted {
        analyse_campaign(&manifest, &result)
    } else {
        true
    };
    // The lock is held until the analysis is written.
    drop(result.lock);
    Ok(if analysed && ok == result.records.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The analysis at the end of `host run`; whether it was written. Its failure leaves the runs
/// intact, so it is reported with the command that redoes it (a resume does too).
fn analyse_campaign(manifest: &Manifest, result: &CampaignResult) -> bool {
    let steps = manifest.pipeline().resolve();
    let req = analysis::AnalyzeRequest {
        inputs: vec![result.dir.clone()],
        steps,
        out: CampaignDir::open(&result.dir).analysis(),
    };
    let written = analysis::analyze(&req).and_then(|summary| {
        analysis::print_summary(&summary, &mut std::io::stdout())?;
        Ok(())
    });
    match written {
        Ok(()) => {
            println!("analysis: {}", req.out.display());
            true
        }
        Err(e) => {
            eprintln!(
                "analysis failed (runs.csv is intact; rerun `host analyze {}`): {e:#}",
                shell::quote_path(&result.dir)
            );
            false
        }
    }
}

/// `host slurm`: the array job's script, submitted when asked.
fn cmd_slurm(manifest: PathBuf, req: &SlurmRequest) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&manifest)?;
    write_and_submit(&manifest, req)?;
    Ok(ExitCode::SUCCESS)
}

/// `host analyze`'s inputs: a parent of shard folders stands for them.
struct AnalyzeInputs {
    inputs: Vec<PathBuf>,
    allow_mixed_hardware: bool,
}

/// `host analyze`: the pipeline over the inputs (shards of one campaign checked and merged), a
/// summary on the terminal. The factors given as flags override the `--pipeline` file's
/// `[report]`.
fn cmd_analyze(
    given: AnalyzeInputs,
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
    let inputs = merge::expand_inputs(&given.inputs);
    let notes = merge::check_shards(&inputs, given.allow_mixed_hardware)?;
    for note in &notes {
        eprintln!("warning: {note}");
    }
    // Held while the analysis is written, when it is written into a campaign folder.
    let _lock = joulebench::store::lock::lock_for_analysis(&out)?;
    let req = analysis::AnalyzeRequest { inputs, steps, out };
    let summary = analysis::analyze_with_notes(&req, &notes)?;
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
                "{:<12} {:<40} ok   {}",
                l.info.name,
                plugin::check::framework_label(&l.info.framework, &l.info.framework_version),
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

/// `host check-plugin`: the session, then every check, one line each; exit 1 if any fails.
fn cmd_check_plugin(request: &plugin::check::CheckRequest) -> anyhow::Result<ExitCode> {
    use plugin::check::Verdict;
    let mut out = std::io::stdout().lock();
    writeln!(out, "checking {}", request.file.display())?;
    let report = plugin::check::check_plugin(request)?;
    if !report.session.is_empty() {
        writeln!(out, "session (each check process):")?;
        for line in &report.session {
            writeln!(out, "  {line}")?;
        }
    }
    for c in &report.checks {
        let mark = match c.verdict {
            Verdict::Pass => "ok  ",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
        };
        if c.detail.is_empty() {
            writeln!(out, "  {mark} {}", c.name)?;
        } else {
            writeln!(out, "  {mark} {}: {}", c.name, c.detail)?;
        }
    }
    let count = |v: Verdict| report.checks.iter().filter(|c| c.verdict == v).count();
    let (failed, skipped) = (count(Verdict::Fail), count(Verdict::Skip));
    if failed == 0 {
        writeln!(
            out,
            "PASS: {} checks, {skipped} skipped",
            report.checks.len()
        )?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(
            out,
            "FAIL: {failed} of {} checks failed",
            report.checks.len()
        )?;
        Ok(ExitCode::from(1))
    }
}

/// `host new-plugin`: the files, and what to do next.
fn cmd_new_plugin(request: &joulebench::scaffold::NewPlugin) -> anyhow::Result<ExitCode> {
    let (dir, files) = joulebench::scaffold::new_plugin(request)?;
    let mut out = std::io::stdout().lock();
    for f in &files {
        writeln!(out, "wrote {}", dir.join(f).display())?;
    }
    let host = std::env::current_exe()?;
    let host = host.display();
    let manifest = dir.join("manifest.toml");
    if request.python {
        let python = joulebench::scaffold::python_plugin();
        writeln!(
            out,
            "next (the python plugin built with `cargo build --release -p plugin-python` in {}):\n  \
             {host} check-plugin {} --manifest {}\n  {host} run {}",
            joulebench::scaffold::checkout_shown(),
            python.display(),
            manifest.display(),
            manifest.display()
        )?;
    } else {
        let lib = dir.join(format!("target/release/libplugin_{}.so", request.name));
        writeln!(
            out,
            "next:\n  cd {} && cargo build --release && cd -\n  {host} check-plugin {}\n  {host} run {}",
            dir.display(),
            lib.display(),
            manifest.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
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

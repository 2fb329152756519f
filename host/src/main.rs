//! `host`: the joulebench command line. Parses arguments, calls the library, maps errors to
//! exit codes (0 ok, 1 run-time failure, 2 usage or manifest error).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use joulebench::{analysis, energy, error, manifest::Manifest, plugin, protocol::campaign};

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
        #[arg(long)]
        out: Option<PathBuf>,
        /// Continue an interrupted campaign in DIR (its runs.csv and saved plan): no run
        /// measured twice, none missing. The manifest must match the one it started with
        /// (analysis steps and iterations may change).
        #[arg(long, value_name = "DIR")]
        resume: Option<PathBuf>,
        /// Override the manifest's number of iterations
        #[arg(long, value_name = "N")]
        iterations: Option<u32>,
        /// Check the manifest, plugins and data, print the plan; measure nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Analyse campaign folders, runs.csv files or EnergiBridge folders
    Analyze {
        /// Campaign folders, runs.csv files, or folders of EnergiBridge CSVs (one subfolder per group)
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Take the [[analysis]] steps from this manifest instead of the default pipeline
        #[arg(long, value_name = "MANIFEST")]
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
        #[arg(long = "option", value_name = "KEY=VALUE")]
        options: Vec<String>,
    },
    /// List energy sources and domains, and why others are unavailable
    Meters {
        #[arg(long, value_name = "DIR")]
        powercap_root: Option<PathBuf>,
        #[arg(long, value_name = "DIR")]
        msr_root: Option<PathBuf>,
        /// Sample for this long and print energy and mean power per domain, e.g. 5s
        #[arg(long, value_name = "DURATION")]
        watch: Option<String>,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(if error::is_usage(&err) { 2 } else { 1 })
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run {
            manifest,
            out,
            resume,
            iterations,
            dry_run,
        } => {
            if resume.is_some() && out.is_some() {
                return Err(error::usage(
                    "--resume continues the campaign in its own folder; drop --out",
                ));
            }
            if iterations == Some(0) {
                return Err(error::usage("--iterations must be at least 1"));
            }
            let manifest = Manifest::load(&manifest)?;
            let stop = install_stop_flag()?;
            let opts = campaign::CampaignOptions {
                out,
                iterations,
                dry_run,
                resume,
            };
            let result = campaign::run(&manifest, &opts, &stop)?;
            if dry_run {
                return Ok(ExitCode::SUCCESS);
            }
            let ok = result.records.iter().filter(|r| r.status == "ok").count();
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
                let steps = if manifest.analysis.is_empty() {
                    analysis::default_pipeline()
                } else {
                    manifest.analysis.clone()
                };
                let req = analysis::AnalyzeRequest {
                    inputs: vec![result.dir.clone()],
                    steps,
                    out: result.dir.join("analysis"),
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
            }
            Ok(if ok == result.records.len() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Analyze {
            inputs,
            pipeline,
            out,
            energy_column,
        } => {
            let steps = match pipeline {
                Some(p) => {
                    let m = Manifest::load(&p)?;
                    if m.analysis.is_empty() {
                        return Err(error::usage(format!(
                            "{} has no [[analysis]] steps",
                            p.display()
                        )));
                    }
                    m.analysis
                }
                None => analysis::default_pipeline(),
            };
            let steps = analysis::with_energy_columns(steps, &energy_column);
            let req = analysis::AnalyzeRequest { inputs, steps, out };
            let summary = analysis::analyze(&req)?;
            analysis::print_summary(&summary, &mut std::io::stdout())?;
            println!("wrote {}", req.out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugins { paths } => plugins(paths),
        Command::CheckPlugin { file, options } => {
            let mut kv = Vec::new();
            for o in options {
                let (k, v) = o
                    .split_once('=')
                    .ok_or_else(|| error::usage(format!("--option `{o}`: expected KEY=VALUE")))?;
                kv.push((k.to_string(), v.to_string()));
            }
            println!("checking {}", file.display());
            let checks = plugin::check::check_plugin(&file, &kv);
            for c in &checks {
                let mark = if c.passed { "ok  " } else { "FAIL" };
                if c.detail.is_empty() {
                    println!("  {mark} {}", c.name);
                } else {
                    println!("  {mark} {}: {}", c.name, c.detail);
                }
            }
            let failed = checks.iter().filter(|c| !c.passed).count();
            if failed == 0 {
                println!("PASS: {} checks", checks.len());
                Ok(ExitCode::SUCCESS)
            } else {
                println!("FAIL: {failed} of {} checks failed", checks.len());
                Ok(ExitCode::from(1))
            }
        }
        Command::Meters {
            powercap_root,
            msr_root,
            watch,
            json,
        } => {
            let watch = match watch {
                Some(w) => Some(
                    joulebench::manifest::parse_duration(&w)
                        .map_err(|e| error::usage(format!("--watch: {e}")))?,
                ),
                None => None,
            };
            let args = energy::MetersArgs {
                powercap_root,
                msr_root,
                watch,
                json,
            };
            energy::meters_command(&args, &mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker {
            manifest,
            manifest_sha256,
            plugin,
            iteration,
            samples,
        } => {
            let job = plugin::worker::WorkerJob {
                manifest,
                manifest_sha256,
                plugin,
                iteration,
                samples_csv: samples,
            };
            let code = plugin::worker::run(&job);
            Ok(ExitCode::from(code as u8))
        }
    }
}

/// `host plugins`: every plugin-looking library in the given files and folders.
fn plugins(paths: Vec<PathBuf>) -> anyhow::Result<ExitCode> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("target/release")]
    } else {
        paths
    };
    let mut files = Vec::new();
    for p in &paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| error::usage(format!("cannot list {}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && f.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("libplugin_") && n.ends_with(".so"))
                })
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
    if files.is_empty() {
        println!(
            "no plugins (libplugin_*.so) found in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(ExitCode::from(1));
    }
    let mut bad = 0;
    for f in &files {
        match plugin::load::load(f) {
            Ok(l) => println!(
                "{:<12} {:<28} {:<12} ok   {}",
                l.info.name,
                l.info.framework,
                l.info.framework_version,
                f.display()
            ),
            Err(e) => {
                bad += 1;
                println!(
                    "{:<12} refused: {e}",
                    f.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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

//! `exec`: hands the tidy data to an external program so third parties add a step
//! without recompiling. The program gets two arguments, the tidy CSV (`tidy.csv` in the
//! output folder: `group,run,metric,unit,value`, one row per run and metric after
//! cleaning) and the output folder, also as `JOULEBENCH_TIDY_CSV` and `JOULEBENCH_OUT`.
//! Its exit status and output go into summary.json; a failure stops the pipeline only
//! with `required = true`.

use std::process::Command;

use anyhow::Context as _;

use super::options::Options;
use super::Context;
use crate::analysis::summary::{ExecRecord, StepRecord};

pub const OPTIONS: &[(&str, &str)] = &[
    ("command", "program and arguments as a list, or one string run by `sh -c` (its $1 and $2: the CSV and the folder)"),
    ("required", "fail the analysis when the command fails (default false)"),
];

/// Output kept per stream, so a chatty program cannot bloat summary.json.
const KEEP_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// argv; a string command becomes `sh -c STRING joulebench-exec`.
    pub argv: Vec<String>,
    pub required: bool,
}

impl Config {
    pub fn parse(opts: &Options) -> anyhow::Result<Self> {
        let argv = match opts.strings("command") {
            Ok(Some(list)) if list.is_empty() || list[0].is_empty() => {
                return Err(opts.error("option `command` is empty"))
            }
            Ok(Some(list)) => match opts.string("command") {
                Ok(Some(shell)) => vec!["sh".into(), "-c".into(), shell, "joulebench-exec".into()],
                _ => list,
            },
            Ok(None) => {
                return Err(opts.error(
                    "option `command` is required, e.g. command = [\"python3\", \"my_step.py\"]",
                ))
            }
            Err(e) => return Err(e),
        };
        Ok(Config {
            argv,
            required: opts.boolean("required")?.unwrap_or(false),
        })
    }
}

pub fn run(config: &Config, ctx: &mut Context) -> anyhow::Result<StepRecord> {
    let tidy = ctx.out.join("tidy.csv");
    ctx.table.write_tidy_csv(&tidy)?;
    if !ctx.summary.files.iter().any(|f| f == "tidy.csv") {
        ctx.summary.files.push("tidy.csv".into());
    }
    let shown = config.argv.join(" ");
    let output = Command::new(&config.argv[0])
        .args(&config.argv[1..])
        .arg(&tidy)
        .arg(&ctx.out)
        .env("JOULEBENCH_TIDY_CSV", &tidy)
        .env("JOULEBENCH_OUT", &ctx.out)
        .stdin(std::process::Stdio::null())
        .output();
    let record = match output {
        Ok(out) => ExecRecord {
            command: config.argv.clone(),
            exit_code: out.status.code(),
            success: out.status.success(),
            stdout: keep(&out.stdout),
            stderr: keep(&out.stderr),
        },
        Err(e) => ExecRecord {
            command: config.argv.clone(),
            exit_code: None,
            success: false,
            stdout: String::new(),
            stderr: format!("cannot start `{}`: {e}", config.argv[0]),
        },
    };
    let status = match record.exit_code {
        Some(code) => format!("exit status {code}"),
        None if record.stderr.starts_with("cannot start") => record.stderr.clone(),
        None => "killed by a signal".to_string(),
    };
    if config.required && !record.success {
        return Err(anyhow::anyhow!("{}", record.stderr.trim_end()))
            .with_context(|| format!("[[analysis]] `exec` step `{shown}` failed ({status})"));
    }
    let note = format!("`{shown}`: {status}");
    Ok(StepRecord {
        step: "exec".into(),
        note,
        exec: Some(record),
    })
}

fn keep(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= KEEP_BYTES {
        return text.into_owned();
    }
    let mut cut = KEEP_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n… ({} bytes cut)", &text[..cut], text.len() - cut)
}

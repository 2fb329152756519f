//! `host slurm`: writes the array job's script into the results folder and, with `--submit`,
//! hands it to `sbatch`; then says how to watch the job and how to merge its shards.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use super::sbatch::{self, ArrayJob};
use crate::error::usage;
use crate::manifest::Manifest;
use crate::protocol::campaign::{no_early_stop_in_shards, preflight};

/// What the user asked of `host slurm`.
#[derive(Debug, Clone)]
pub struct SlurmRequest {
    pub shards: u32,
    pub partition: Option<String>,
    pub time: Option<String>,
    /// Results folder (default `results/<campaign>-slurm-<UTC time>`).
    pub out: Option<PathBuf>,
    pub submit: bool,
    pub exclusive: bool,
}

/// Writes the script (and submits it when asked); returns the script's path. The plugins and
/// the data are checked here first, as every task will check them: a missing build should
/// stop the submission, not fail N tasks in the queue.
pub fn write_and_submit(manifest: &Manifest, req: &SlurmRequest) -> anyhow::Result<PathBuf> {
    let job = array_job(manifest, req)?;
    let (checked, skipped) = manifest.without_missing_optional_plugins()?;
    for note in &skipped {
        println!("{note}");
    }
    preflight(&checked).context("nothing was submitted: every task would fail the same way")?;
    if !req.exclusive {
        eprintln!(
            "warning: --no-exclusive: energy counters (RAPL) count a whole CPU socket, so a task \
             sharing its node with other jobs measures their work too; these shards' energy is \
             not comparable with exclusive ones"
        );
    }
    std::fs::create_dir_all(&job.out)
        .with_context(|| format!("cannot create {}", job.out.display()))?;
    let script = job.out.join(format!("joulebench-{}.sbatch", job.name));
    crate::fsx::write_atomically(&script, job.script().as_bytes())?;
    println!(
        "wrote {} (array of {} shard(s), {} CPU(s) per task{})",
        script.display(),
        job.shards,
        job.cpus_per_task,
        if job.exclusive {
            ", exclusive nodes"
        } else {
            ", NOT exclusive"
        }
    );
    if req.time.is_none() {
        println!(
            "no --time: the partition's default limit applies; `host run {} --dry-run --shard \
             1/{}` estimates a shard's wall time",
            job.manifest.display(),
            job.shards
        );
    }
    let job_id = if req.submit {
        Some(sbatch(&script)?)
    } else {
        println!(
            "submit it with: sbatch {}",
            sbatch::shell_quote(&script.display().to_string())
        );
        None
    };
    print_next_steps(&job, job_id.as_deref());
    Ok(script)
}

/// The job the manifest and request describe, every path made absolute (the tasks start on
/// other machines, in Slurm's own working folder).
fn array_job(manifest: &Manifest, req: &SlurmRequest) -> anyhow::Result<ArrayJob> {
    let iterations = manifest.experiment.iterations;
    if req.shards > iterations {
        return Err(usage(format!(
            "--shards {}: {} has {iterations} iteration(s), and a shard is whole iterations: \
             use at most {iterations} shard(s)",
            req.shards,
            manifest.path.display()
        )));
    }
    if manifest.experiment.stop.is_some() {
        let shards = format!("--shards {}", req.shards);
        return Err(usage(no_early_stop_in_shards(&manifest.path, &shards)));
    }
    sbatch::check_options(req.partition.as_deref(), req.time.as_deref())?;
    let workdir = std::env::current_dir().context("cannot read the current folder")?;
    let out = req.out.clone().unwrap_or_else(|| {
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
            .to_string()
            .replace(':', "");
        PathBuf::from("results").join(format!("{}-slurm-{stamp}", manifest.experiment.name))
    });
    let out = workdir.join(out);
    if out
        .display()
        .to_string()
        .contains(|c: char| c.is_whitespace() || c == '%')
    {
        return Err(usage(format!(
            "--out {}: sbatch's --output cannot hold blanks or `%` in a folder name; choose \
             another folder",
            out.display()
        )));
    }
    let manifest_path = std::fs::canonicalize(&manifest.path)
        .with_context(|| format!("cannot resolve {}", manifest.path.display()))?;
    Ok(ArrayJob {
        name: manifest.experiment.name.clone(),
        host: std::env::current_exe().context("cannot find the host binary's path")?,
        manifest: manifest_path,
        out,
        workdir,
        shards: req.shards,
        cpus_per_task: manifest.training.threads,
        threads_all: threads_all(&manifest.text),
        partition: req.partition.clone(),
        time: req.time.clone(),
        exclusive: req.exclusive,
    })
}

/// Whether the manifest says `threads = "all"` (resolved to this machine's count on parse).
fn threads_all(text: &str) -> bool {
    let table: toml::Table = text.parse().unwrap_or_default();
    table
        .get("training")
        .and_then(|t| t.get("threads"))
        .and_then(|t| t.as_str())
        == Some("all")
}

/// Runs `sbatch --parsable SCRIPT` and returns the job id it prints.
fn sbatch(script: &Path) -> anyhow::Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(script)
        .output()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot run sbatch ({e}): is Slurm installed here (a login node)? The script is \
                 written; submit it where Slurm is: sbatch {}",
                script.display()
            )
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        anyhow::bail!(
            "sbatch {} failed ({}): {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let id = parse_job_id(&stdout)
        .ok_or_else(|| anyhow::anyhow!("sbatch printed no job id: {:?}", stdout.trim()))?;
    println!("submitted job {id}");
    Ok(id)
}

/// `--parsable` prints `<job id>` or `<job id>;<cluster>`.
pub fn parse_job_id(stdout: &str) -> Option<String> {
    let id = stdout.lines().last()?.split(';').next()?.trim();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then(|| id.to_string())
}

/// How to watch the job and merge its shards.
fn print_next_steps(job: &ArrayJob, job_id: Option<&str>) {
    let id = job_id.unwrap_or("<job id>");
    let out = sbatch::shell_quote(&job.out.display().to_string());
    println!("watch it:");
    println!("  squeue -j {id}                      # pending and running tasks");
    println!("  sacct -j {id} -X --format=JobID,State,Elapsed,NodeList   # needs Slurm accounting");
    println!("  tail -f {out}/slurm-{id}_1.out       # shard 1's progress");
    println!("when every task has ended, merge the shards into one analysis:");
    println!("  host analyze {out} --out {out}/analysis");
    let first = sbatch::shard_folder(&job.out, 1, job.shards);
    println!(
        "a task that did not finish resumes its folder ({} …) when the script is submitted again",
        first.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_read_from_sbatch_parsable_output() {
        assert_eq!(parse_job_id("123\n"), Some("123".into()));
        assert_eq!(parse_job_id("4567;cluster\n"), Some("4567".into()));
        assert_eq!(parse_job_id(""), None);
        assert_eq!(parse_job_id("Submitted batch job 5\n"), None);
    }

    #[test]
    fn threads_all_is_read_from_the_manifest_text() {
        assert!(threads_all("[training]\nthreads = \"all\"\n"));
        assert!(!threads_all("[training]\nthreads = 4\n"));
        assert!(!threads_all("not toml ["));
    }
}

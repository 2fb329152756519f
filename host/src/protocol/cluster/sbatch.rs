//! The sbatch script of `host slurm`: one array job, one task per shard, each task running
//! `host run MANIFEST --shard $SLURM_ARRAY_TASK_ID/N` into its own folder (or resuming that
//! folder when a previous submission left it unfinished).

use std::path::{Path, PathBuf};

use crate::error::usage;

/// Everything the script says.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayJob {
    /// The campaign's name (the job's name is `joulebench-<name>`).
    pub name: String,
    /// Absolute paths: the host binary, the manifest, the results folder, the working folder.
    pub host: PathBuf,
    pub manifest: PathBuf,
    pub out: PathBuf,
    pub workdir: PathBuf,
    pub shards: u32,
    pub cpus_per_task: u32,
    /// `threads = "all"` in the manifest: `cpus_per_task` is this machine's count.
    pub threads_all: bool,
    pub partition: Option<String>,
    pub time: Option<String>,
    /// Whole nodes (the default): nobody else's work on the measured sockets.
    pub exclusive: bool,
}

/// The folder of shard `k` of `n` under `out`.
pub fn shard_folder(out: &Path, k: u32, n: u32) -> PathBuf {
    out.join(format!("shard-{k}-of-{n}"))
}

/// Checks `--partition` (a Slurm name or list) and `--time` (Slurm's time formats) enough that
/// nothing but a value lands in the script.
pub fn check_options(partition: Option<&str>, time: Option<&str>) -> anyhow::Result<()> {
    if let Some(p) = partition {
        let ok = |c: char| c.is_ascii_alphanumeric() || "_-.,".contains(c);
        if p.is_empty() || !p.chars().all(ok) {
            return Err(usage(format!(
                "--partition `{p}`: a partition name (letters, digits, _ - . , only)"
            )));
        }
    }
    if let Some(t) = time {
        let ok = |c: char| c.is_ascii_digit() || c == ':' || c == '-';
        let words = ["UNLIMITED", "INFINITE", "infinite", "unlimited"];
        if t.is_empty() || !(t.chars().all(ok) || words.contains(&t)) {
            return Err(usage(format!(
                "--time `{t}`: a Slurm time limit such as 90, 1:30:00 or 2-00:00:00"
            )));
        }
    }
    Ok(())
}

impl ArrayJob {
    /// The script's text.
    pub fn script(&self) -> String {
        let n = self.shards;
        let mut s = String::from("#!/bin/bash\n");
        s.push_str(&format!(
            "# Written by `host slurm` (joulebench): campaign `{}` in {n} shard(s), one array \
             task per shard.\n# Task K runs iterations K, K+{n}, K+{}, … of the campaign's plan \
             (full protocol: warm-up, idle baseline, rests) into {}/shard-K-of-{n}.\n",
            self.name,
            2 * n,
            self.out.display()
        ));
        let mut option = |line: String| s.push_str(&format!("#SBATCH {line}\n"));
        option(format!("--job-name=joulebench-{}", self.name));
        option(format!("--array=1-{n}"));
        option("--nodes=1".into());
        option("--ntasks=1".into());
        option(format!("--cpus-per-task={}", self.cpus_per_task));
        if self.exclusive {
            option("--exclusive".into());
        }
        if let Some(p) = &self.partition {
            option(format!("--partition={p}"));
        }
        if let Some(t) = &self.time {
            option(format!("--time={t}"));
        }
        // %A: the array's job id, %a: the task (shard) number.
        option(format!(
            "--output={}",
            self.out.join("slurm-%A_%a.out").display()
        ));
        option(format!(
            "--error={}",
            self.out.join("slurm-%A_%a.err").display()
        ));
        s.push_str(&self.notes());
        s.push_str(&self.body());
        s
    }

    /// Comments on what the options protect.
    fn notes(&self) -> String {
        let mut s = String::new();
        if self.exclusive {
            s.push_str(
                "# --exclusive: energy counters (RAPL) count a whole CPU socket, so each task \
                 gets its node to itself.\n",
            );
        } else {
            s.push_str(
                "# WARNING: not exclusive. Energy counters (RAPL) count a whole CPU socket: \
                 other jobs on the node are measured too.\n",
            );
        }
        if self.threads_all {
            s.push_str(&format!(
                "# threads = \"all\": --cpus-per-task is the submitting machine's {} CPU(s); \
                 the trainer uses every CPU its task may use on the node.\n",
                self.cpus_per_task
            ));
        }
        s
    }

    /// The commands: run the shard, or resume its folder if an earlier submission started it.
    fn body(&self) -> String {
        let n = self.shards;
        let q = |p: &Path| shell_quote(&p.display().to_string());
        format!(
            "\nset -euo pipefail\n\
             : \"${{SLURM_ARRAY_TASK_ID:?run this script with sbatch (it is an array job)}}\"\n\
             cd {workdir}\n\
             shard_dir={out}/shard-\"$SLURM_ARRAY_TASK_ID\"-of-{n}\n\
             if [ -f \"$shard_dir/campaign.json\" ]; then\n\
             \x20   exec {host} run {manifest} --resume \"$shard_dir\"\n\
             else\n\
             \x20   exec {host} run {manifest} --shard \"$SLURM_ARRAY_TASK_ID/{n}\" --out \"$shard_dir\"\n\
             fi\n",
            workdir = q(&self.workdir),
            out = q(&self.out),
            host = q(&self.host),
            manifest = q(&self.manifest),
        )
    }
}

/// `text` as one shell word: single-quoted, a `'` written as `'\''`.
pub fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:@%,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> ArrayJob {
        ArrayJob {
            name: "quick".into(),
            host: "/opt/jb/host".into(),
            manifest: "/home/me/my runs/quick.toml".into(),
            out: "/scratch/quick-slurm".into(),
            workdir: "/home/me/it's".into(),
            shards: 3,
            cpus_per_task: 8,
            threads_all: false,
            partition: Some("cpu".into()),
            time: Some("2:00:00".into()),
            exclusive: true,
        }
    }

    #[test]
    fn the_script_runs_one_shard_per_array_task() {
        let s = job().script();
        for line in [
            "#SBATCH --array=1-3\n",
            "#SBATCH --cpus-per-task=8\n",
            "#SBATCH --exclusive\n",
            "#SBATCH --partition=cpu\n",
            "#SBATCH --time=2:00:00\n",
            "#SBATCH --output=/scratch/quick-slurm/slurm-%A_%a.out\n",
            "#SBATCH --error=/scratch/quick-slurm/slurm-%A_%a.err\n",
            "cd '/home/me/it'\\''s'\n",
            "shard_dir=/scratch/quick-slurm/shard-\"$SLURM_ARRAY_TASK_ID\"-of-3\n",
            "exec /opt/jb/host run '/home/me/my runs/quick.toml' --shard \"$SLURM_ARRAY_TASK_ID/3\" --out \"$shard_dir\"\n",
            "exec /opt/jb/host run '/home/me/my runs/quick.toml' --resume \"$shard_dir\"\n",
        ] {
            assert!(s.contains(line), "missing {line:?} in\n{s}");
        }
        // Every #SBATCH line comes before the first command, or sbatch ignores it.
        let last_option = s.rfind("#SBATCH").unwrap();
        assert!(last_option < s.find("set -euo").unwrap());
    }

    #[test]
    fn without_exclusive_the_script_says_what_is_measured() {
        let s = ArrayJob {
            exclusive: false,
            partition: None,
            time: None,
            ..job()
        }
        .script();
        assert!(!s.contains("--exclusive\n"), "{s}");
        assert!(!s.contains("--partition") && !s.contains("--time"), "{s}");
        assert!(s.contains("WARNING: not exclusive"), "{s}");
    }

    #[test]
    fn options_that_could_break_the_script_are_refused() {
        assert!(check_options(Some("gpu,cpu"), Some("1-12:00:00")).is_ok());
        assert!(check_options(None, Some("UNLIMITED")).is_ok());
        for (p, t) in [
            (Some("a b"), None),
            (Some("x\n#SBATCH"), None),
            (None, Some("2h")),
        ] {
            let err = check_options(p, t).unwrap_err();
            assert!(crate::error::is_usage(&err), "{err:#}");
        }
    }

    #[test]
    fn quoting_keeps_one_word() {
        assert_eq!(shell_quote("/a/b-c.toml"), "/a/b-c.toml");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote(""), "''");
    }
}

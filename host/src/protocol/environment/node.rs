//! Which machine measured, and under which Slurm allocation: the hostname, and the job's
//! `SLURM_*` variables (job id, array task, node list, allocated CPUs) when `host run` runs
//! inside a Slurm job. Merging shards later names each node by [`Node::name`].

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::read;

/// The machine and, inside a Slurm job, its allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// `/proc/sys/kernel/hostname`.
    pub hostname: Option<String>,
    /// `None` outside Slurm.
    pub slurm: Option<SlurmJob>,
}

/// The `SLURM_*` variables of the job this process runs in (each `None` when unset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlurmJob {
    /// `SLURM_JOB_ID`: this task's own job id (an array task has one of its own).
    pub job_id: Option<String>,
    /// `SLURM_ARRAY_JOB_ID`: the array's id, shared by its tasks.
    pub array_job_id: Option<String>,
    /// `SLURM_ARRAY_TASK_ID`.
    pub array_task_id: Option<String>,
    /// `SLURMD_NODENAME`: the node, as Slurm names it.
    pub node_name: Option<String>,
    /// `SLURM_JOB_NODELIST`.
    pub node_list: Option<String>,
    /// `SLURM_CPUS_ON_NODE`: CPUs allocated on this node.
    pub cpus_on_node: Option<String>,
    /// `SLURM_CPUS_PER_TASK`.
    pub cpus_per_task: Option<String>,
    /// `SLURM_JOB_PARTITION`.
    pub partition: Option<String>,
    /// `SLURM_CLUSTER_NAME`.
    pub cluster: Option<String>,
}

impl SlurmJob {
    /// The job described by `var` (the process environment: `|k| std::env::var(k).ok()`);
    /// `None` when no job id is set (not under Slurm).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<SlurmJob> {
        let get = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let job = SlurmJob {
            job_id: get("SLURM_JOB_ID"),
            array_job_id: get("SLURM_ARRAY_JOB_ID"),
            array_task_id: get("SLURM_ARRAY_TASK_ID"),
            node_name: get("SLURMD_NODENAME"),
            node_list: get("SLURM_JOB_NODELIST"),
            cpus_on_node: get("SLURM_CPUS_ON_NODE"),
            cpus_per_task: get("SLURM_CPUS_PER_TASK"),
            partition: get("SLURM_JOB_PARTITION"),
            cluster: get("SLURM_CLUSTER_NAME"),
        };
        job.job_id.is_some().then_some(job)
    }
}

impl Node {
    /// This machine: the hostname under `proc_root`, the job from `var`.
    pub fn read(proc_root: &Path, var: impl Fn(&str) -> Option<String>) -> Node {
        Node {
            hostname: read::text(&proc_root.join("sys/kernel/hostname")),
            slurm: SlurmJob::from_vars(var),
        }
    }

    /// This process's machine.
    pub fn current() -> Node {
        Node::read(Path::new("/proc"), |k| std::env::var(k).ok())
    }

    /// The node's name in runs.csv: Slurm's name for it, else the hostname, else `unknown`.
    pub fn name(&self) -> String {
        self.slurm
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .or_else(|| self.hostname.clone())
            .unwrap_or_else(|| "unknown".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_slurm_task_is_recorded_and_named_by_slurm() {
        let proc = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(proc.path().join("sys/kernel")).unwrap();
        std::fs::write(proc.path().join("sys/kernel/hostname"), "n01.cluster\n").unwrap();
        let vars: HashMap<&str, &str> = [
            ("SLURM_JOB_ID", "108"),
            ("SLURM_ARRAY_JOB_ID", "107"),
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURMD_NODENAME", "n01"),
            ("SLURM_JOB_NODELIST", "n01"),
            ("SLURM_CPUS_ON_NODE", "32"),
            ("SLURM_CPUS_PER_TASK", " "),
        ]
        .into();
        let node = Node::read(proc.path(), |k| vars.get(k).map(|v| v.to_string()));
        assert_eq!(node.hostname.as_deref(), Some("n01.cluster"));
        let job = node.slurm.clone().unwrap();
        assert_eq!(
            (job.job_id, job.array_job_id, job.array_task_id),
            (Some("108".into()), Some("107".into()), Some("2".into()))
        );
        assert_eq!(job.cpus_on_node.as_deref(), Some("32"));
        assert_eq!(job.cpus_per_task, None, "a blank variable is unset");
        assert_eq!(node.name(), "n01");
    }

    #[test]
    fn outside_slurm_the_hostname_names_the_node() {
        let proc = tempfile::tempdir().unwrap();
        let node = Node::read(proc.path(), |_| None);
        assert_eq!(node, Node::default());
        assert_eq!(node.name(), "unknown");
        std::fs::create_dir_all(proc.path().join("sys/kernel")).unwrap();
        std::fs::write(proc.path().join("sys/kernel/hostname"), "laptop\n").unwrap();
        let only_array = |k: &str| (k == "SLURM_ARRAY_TASK_ID").then(|| "1".to_string());
        let node = Node::read(proc.path(), only_array);
        assert_eq!(node.slurm, None, "no job id: not a Slurm job");
        assert_eq!(node.name(), "laptop");
    }
}

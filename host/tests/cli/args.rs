//! The command line itself: clap refuses bad flags with exit 2, every `meters` flag is
//! explained, a closed pipe ends a listing quietly, and `--pipeline` takes a steps-only file.

use std::process::{Command, Stdio};

use crate::support::*;

#[test]
fn bad_flags_are_usage_errors_that_name_the_flag() {
    let dir = temp_dir("cli-usage");
    for (args, names) in [
        (
            &["run", "m.toml", "--out", "a", "--resume", "b"][..],
            "--out",
        ),
        (&["run", "m.toml", "--iterations", "0"][..], "--iterations"),
        (
            &["check-plugin", "x.so", "--option", "novalue"][..],
            "KEY=VALUE",
        ),
        (&["meters", "--watch", "5"][..], "not a duration"),
    ] {
        let out = host(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(names), "{args:?}: {}", text(&out));
    }
}

#[test]
fn every_meters_flag_has_help() {
    let out = host(&root(), &["meters", "--help"]);
    assert!(out.status.success(), "{}", text(&out));
    let help = text(&out);
    for flag in ["--powercap-root", "--msr-root", "--watch", "--json"] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("no {flag} in {help}"));
        let words = line
            .split_whitespace()
            .filter(|w| !w.starts_with("--") && !w.starts_with('<'))
            .count();
        assert!(words >= 2, "{flag} has no help text: {line:?}");
    }
}

#[test]
fn a_closed_pipe_ends_a_listing_quietly() {
    // A pipe whose reading end is already closed: the first write fails with EPIPE, as when
    // `| head -1` has read its line and gone.
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    unsafe { libc::close(fds[0]) };
    let write_end = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) };
    let out = Command::new(env!("CARGO_BIN_EXE_host"))
        .args(["plugins", plugins_dir().to_str().unwrap()])
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .output()
        .expect("host runs");
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).as_ref()
        ),
        (Some(0), ""),
    );
}

#[test]
fn analyze_takes_a_pipeline_file_of_steps_only() {
    let dir = temp_dir("cli-pipeline");
    std::fs::write(
        dir.join("runs.csv"),
        "iteration,plugin,status,time_s,energy_j\n1,a,ok,1,10\n2,a,ok,1.1,11\n1,b,ok,2,20\n2,b,ok,2.2,21\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("steps.toml"),
        "[[analysis]]\nstep = \"describe\"\n",
    )
    .unwrap();
    let out = host(
        &dir,
        &[
            "analyze",
            "runs.csv",
            "--pipeline",
            "steps.toml",
            "--out",
            "an",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let summary = std::fs::read_to_string(dir.join("an/summary.json")).unwrap();
    assert!(summary.contains("\"describe\""), "{summary}");
    assert!(
        !summary.contains("\"compare\""),
        "only the file's steps run: {summary}"
    );

    std::fs::write(
        dir.join("steps.toml"),
        "[[analysis]]\nstep = \"describe\"\n\n[[analysys]]\nstep = \"compare\"\n",
    )
    .unwrap();
    let out = host(&dir, &["analyze", "runs.csv", "--pipeline", "steps.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("steps.toml:4") && text(&out).contains("analysys"),
        "{}",
        text(&out)
    );
}

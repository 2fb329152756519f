//! Records the git commit the host was built from, for environment.json's provenance
//! (`option_env!("JOULEBENCH_GIT_COMMIT")`, "unknown" when absent).
//!
//! Never fails the build: outside a checkout, or without git, the variable is simply not set.
//! A packager can set JOULEBENCH_GIT_COMMIT in the environment to override it.

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=JOULEBENCH_GIT_COMMIT");
    if let Ok(commit) = std::env::var("JOULEBENCH_GIT_COMMIT") {
        println!("cargo:rustc-env=JOULEBENCH_GIT_COMMIT={commit}");
        return;
    }
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") else {
        return;
    };
    let dir = Path::new(&dir);
    let Some(commit) = git(dir, &["rev-parse", "HEAD"]) else {
        return;
    };
    println!("cargo:rustc-env=JOULEBENCH_GIT_COMMIT={commit}");
    // Rebuild only when HEAD moves: HEAD itself (checkout), the branch it points at (commit),
    // and packed-refs (where the branch lives after `git gc`). Worktrees keep HEAD in their own
    // git dir and refs in the common one. Watching the index for a "-dirty" flag would rebuild
    // the host after every `git status`, so the commit is recorded without one.
    let git_dir = git(dir, &["rev-parse", "--absolute-git-dir"]);
    let common = git(dir, &["rev-parse", "--git-common-dir"])
        .map(|c| dir.join(c)) // relative to `dir` when not absolute; join keeps absolute ones
        .or_else(|| git_dir.as_ref().map(Into::into));
    if let Some(git_dir) = &git_dir {
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
    }
    if let Some(common) = common {
        if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={}", common.join(branch).display());
        }
        println!(
            "cargo:rerun-if-changed={}",
            common.join("packed-refs").display()
        );
    }
}

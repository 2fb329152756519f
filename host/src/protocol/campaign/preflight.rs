//! Before anything is measured: the plugins load and speak our interface, the data is present
//! and verified, the meter's domains are known, and the machine is recorded.

use crate::dataset::mnist;
use crate::energy::EnergyMonitor;
use crate::error::usage;
use crate::manifest::Manifest;
use crate::protocol::environment::{self, EnergySummary, Environment, PluginProvenance, Roots};

/// What preflight found: one line per item for the user, and each plugin's provenance.
pub struct Preflight {
    pub lines: Vec<String>,
    pub plugins: Vec<PluginProvenance>,
}

/// Checks what can be checked before measuring anything: plugins load and speak our
/// interface, the data is present and verified. Every problem is listed in one usage error.
pub fn preflight(manifest: &Manifest) -> anyhow::Result<Preflight> {
    let mut lines = Vec::new();
    let mut plugins = Vec::new();
    let mut problems = Vec::new();
    for p in &manifest.plugins {
        match crate::plugin::load::load(&p.path) {
            Ok(l) => {
                lines.push(format!(
                    "  {:<10} {} ({})",
                    p.name,
                    crate::plugin::check::framework_label(
                        &l.info.framework,
                        &l.info.framework_version
                    ),
                    p.path.display()
                ));
                plugins.push(PluginProvenance {
                    name: p.name.clone(),
                    path: p.path.clone(),
                    sha256: crate::fsx::sha256_file(&p.path)?,
                    framework: l.info.framework.to_string(),
                    framework_version: l.info.framework_version.to_string(),
                });
            }
            Err(e) => problems.push(format!("  plugin `{}`: {e}", p.name)),
        }
    }
    // Verify the data fully here (once, ~1 s) so a corrupt file stops the campaign before it
    // starts instead of failing every run.
    let data = mnist::locate_or_download(manifest.dataset.dir.as_deref(), &mut |l| println!("{l}"))
        .and_then(|dir| mnist::load(&dir, mnist::Verify::Sha256));
    match data {
        Ok(d) => lines.push(format!(
            "  data       MNIST from {} (SHA-256 verified)",
            d.dir.display()
        )),
        Err(e) => problems.push(format!("  data: {e:#}")),
    }
    if !problems.is_empty() {
        return Err(usage(format!(
            "{}: cannot start the campaign:\n{}",
            manifest.path.display(),
            problems.join("\n")
        )));
    }
    Ok(Preflight { lines, plugins })
}

/// Starts the meter once to learn its domains (they fix runs.csv's columns), and tells the
/// user what measures and what could not.
pub fn probe_energy(manifest: &Manifest) -> anyhow::Result<EnergySummary> {
    let probe = EnergyMonitor::start(&manifest.energy, None)?;
    println!("energy: {}", probe.label());
    for why in probe.unused_sources() {
        println!("  not used: {why}");
    }
    let energy = EnergySummary {
        label: probe.label(),
        measured: probe.measured(),
        domains: probe.domains().into_iter().map(|d| d.name).collect(),
        unused_sources: probe.unused_sources(),
    };
    probe.stop()?;
    Ok(energy)
}

/// Provenance, and the "is this machine quiet?" checklist: reported, never enforced.
pub fn record_machine(
    manifest: &Manifest,
    checked: &Preflight,
    energy: &EnergySummary,
) -> Environment {
    let roots = Roots::default();
    let mut env = environment::capture(
        &roots,
        &manifest.path,
        &manifest.sha256,
        &checked.plugins,
        energy,
    );
    let warnings = environment::quiet_machine_warnings(&roots, &env);
    for w in &warnings {
        println!("warning: {w}");
    }
    env.record_warnings(&warnings);
    env
}

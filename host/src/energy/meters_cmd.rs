//! `host meters [--powercap-root DIR] [--msr-root DIR] [--watch DURATION] [--json]`: what this
//! machine can measure, why the rest is unavailable, and (with `--watch`) energy and mean power
//! per domain over a stretch of time.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::config::EnergyConfig;
use super::monitor::EnergyMonitor;

#[derive(Debug, Clone, Default)]
pub struct MetersArgs {
    pub powercap_root: Option<PathBuf>,
    pub msr_root: Option<PathBuf>,
    pub watch: Option<Duration>,
    pub json: bool,
}

struct Source {
    name: String,
    used: bool,
    detail: String,
}

fn sources(monitor: &EnergyMonitor) -> Vec<Source> {
    let mut list: Vec<Source> = monitor
        .used_sources()
        .into_iter()
        .map(|(name, detail)| Source {
            name,
            used: true,
            detail,
        })
        .collect();
    for line in monitor.unused_sources() {
        let (name, detail) = line.split_once(": ").unwrap_or(("?", line.as_str()));
        list.push(Source {
            name: name.to_string(),
            used: false,
            detail: detail.to_string(),
        });
    }
    list
}

pub fn meters_command(args: &MetersArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut cfg = EnergyConfig::default();
    if let Some(root) = &args.powercap_root {
        cfg.powercap_root = root.clone();
    }
    if let Some(root) = &args.msr_root {
        cfg.msr_root = root.clone();
    }
    let monitor = EnergyMonitor::start(&cfg, None)?;
    let watched = match args.watch {
        Some(d) => {
            std::thread::sleep(d);
            Some(monitor.snapshot()?)
        }
        None => None,
    };
    let domains = monitor.domains();
    let sources = sources(&monitor);
    let label = monitor.label();
    let measured = monitor.measured();
    let faults = monitor.stop()?;

    if args.json {
        let doc = json!({
            "label": label,
            "measured": measured,
            "sources": sources.iter().map(|s| json!({
                "name": s.name, "used": s.used, "detail": s.detail,
            })).collect::<Vec<_>>(),
            "domains": domains.iter().enumerate().map(|(i, d)| {
                let energy = watched.as_ref().and_then(|w| w.joules.get(i).copied());
                let seconds = watched.as_ref().map(|w| w.elapsed.as_secs_f64());
                let power = energy.zip(seconds).filter(|(_, s)| *s > 0.0).map(|(e, s)| e / s);
                json!({
                    "name": d.name, "source": d.source, "measured": d.measured,
                    "energy_j": energy, "seconds": seconds, "power_w": power,
                })
            }).collect::<Vec<_>>(),
            "faults": faults.iter().map(|f| json!({
                "domain": f.domain, "kind": f.kind, "detail": f.detail, "unix_ms": f.unix_ms,
            })).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(());
    }

    writeln!(out, "energy sources")?;
    let width = sources.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in &sources {
        let state = if s.used { "used  " } else { "unused" };
        writeln!(out, "  {:width$}  {state}  {}", s.name, s.detail)?;
    }
    writeln!(out, "meter: {label}")?;
    if !measured {
        writeln!(
            out,
            "note: energy on this machine is ESTIMATED from CPU time, not measured; set \
             [energy] tdp_watts and idle_share to your CPU's figures"
        )?;
    }
    writeln!(out, "domains")?;
    let width = domains.iter().map(|d| d.name.len()).max().unwrap_or(0);
    match &watched {
        None => {
            for d in &domains {
                let kind = if d.measured { "measured" } else { "estimated" };
                writeln!(out, "  {:width$}  {:8}  {kind}", d.name, d.source)?;
            }
        }
        Some(w) => {
            let secs = w.elapsed.as_secs_f64();
            writeln!(out, "  watched {secs:.2} s")?;
            writeln!(
                out,
                "  {:width$}  {:8}  {:>12}  {:>10}",
                "domain", "source", "energy (J)", "power (W)"
            )?;
            for (d, j) in domains.iter().zip(&w.joules) {
                let power = if secs > 0.0 { j / secs } else { 0.0 };
                writeln!(
                    out,
                    "  {:width$}  {:8}  {j:>12.3}  {power:>10.2}",
                    d.name, d.source
                )?;
            }
        }
    }
    for f in &faults {
        writeln!(out, "fault: {} {}: {}", f.domain, f.kind, f.detail)?;
    }
    Ok(())
}

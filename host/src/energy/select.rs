//! Which sources to open, and one line per source left unused saying why.
//!
//! `auto`: powercap, perf and msr read the same RAPL counters, so the first that opens is used
//! for the CPU and the others are only probed (to say whether they would have worked). NVML is
//! added when it opens. With no CPU source the estimate covers the CPU, labelled as such.
//! An explicit choice opens that source alone and fails with its reason.

use super::config::{EnergyConfig, SourceChoice};
use super::estimate::Estimate;
use super::meter::Meter;
use super::msr::Msr;
use super::nvml::Nvml;
use super::perf::Perf;
use super::powercap::Powercap;

pub(crate) struct Selection {
    pub meters: Vec<Box<dyn Meter>>,
    pub unused: Vec<String>,
}

const CPU_SOURCES: [SourceChoice; 3] = [
    SourceChoice::Powercap,
    SourceChoice::Perf,
    SourceChoice::Msr,
];

fn open_one(choice: SourceChoice, cfg: &EnergyConfig) -> anyhow::Result<Box<dyn Meter>> {
    Ok(match choice {
        SourceChoice::Powercap => Box::new(Powercap::open(&cfg.powercap_root)?),
        SourceChoice::Perf => Box::new(Perf::open(&cfg.perf_root, &cfg.proc_root)?),
        SourceChoice::Msr => Box::new(Msr::open(&cfg.msr_root, &cfg.proc_root, &cfg.sys_cpu_root)?),
        SourceChoice::Nvml => Box::new(Nvml::open()?),
        SourceChoice::Estimate | SourceChoice::Auto => Box::new(Estimate::new(
            cfg.tdp_watts,
            cfg.idle_share,
            cfg.proc_root.clone(),
        )),
    })
}

/// `{:#}` prints the whole context chain on one line.
fn reason(err: &anyhow::Error) -> String {
    format!("{err:#}")
}

pub(crate) fn select(cfg: &EnergyConfig) -> anyhow::Result<Selection> {
    let mut sel = Selection {
        meters: Vec::new(),
        unused: Vec::new(),
    };
    if cfg.source != SourceChoice::Auto {
        let meter = open_one(cfg.source, cfg)
            .map_err(|e| anyhow::anyhow!("energy source {}: {}", cfg.source, reason(&e)))?;
        sel.meters.push(meter);
        for other in CPU_SOURCES
            .iter()
            .chain(&[SourceChoice::Nvml, SourceChoice::Estimate])
        {
            if *other != cfg.source {
                sel.unused.push(format!(
                    "{other}: not tried (energy source is {})",
                    cfg.source
                ));
            }
        }
        return Ok(sel);
    }
    let mut cpu: Option<SourceChoice> = None;
    for choice in CPU_SOURCES {
        match (open_one(choice, cfg), cpu) {
            (Ok(meter), None) => {
                sel.meters.push(meter);
                cpu = Some(choice);
            }
            (Ok(_), Some(used)) => sel.unused.push(format!(
                "{choice}: readable, but the same RAPL counters are already read through {used}"
            )),
            (Err(e), _) => sel.unused.push(format!("{choice}: {}", reason(&e))),
        }
    }
    match open_one(SourceChoice::Nvml, cfg) {
        Ok(meter) => sel.meters.push(meter),
        Err(e) => sel.unused.push(format!("nvml: {}", reason(&e))),
    }
    match cpu {
        Some(used) => sel.unused.push(format!(
            "estimate: not needed — CPU energy is measured through {used}"
        )),
        None => sel.meters.push(open_one(SourceChoice::Estimate, cfg)?),
    }
    Ok(sel)
}

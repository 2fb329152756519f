//! NVIDIA GPUs through NVML, loaded at run time so the host builds and runs without a driver.
//!
//! Per device: `nvmlDeviceGetTotalEnergyConsumption` (millijoules since the driver loaded,
//! Volta and later, 64-bit, no wrap) where supported; otherwise `nvmlDeviceGetPowerUsage`
//! (milliwatts) integrated over time at each read, which is only as good as the read rate:
//! the description says which devices use it.

use std::ffi::{c_char, c_int, c_uint, c_ulonglong, c_void, CStr};
use std::time::Instant;

use anyhow::anyhow;
use libloading::Library;

use super::meter::{CounterSpec, DomainSpec, Meter};

const LIBRARY: &str = "libnvidia-ml.so.1";
const SUCCESS: c_int = 0;
/// NVML refreshes its energy and power figures every few tens of milliseconds.
const NVML_GRANULARITY_S: f64 = 0.1;

type Device = *mut c_void;
type InitFn = unsafe extern "C" fn() -> c_int;
type CountFn = unsafe extern "C" fn(*mut c_uint) -> c_int;
type HandleFn = unsafe extern "C" fn(c_uint, *mut Device) -> c_int;
type EnergyFn = unsafe extern "C" fn(Device, *mut c_ulonglong) -> c_int;
type PowerFn = unsafe extern "C" fn(Device, *mut c_uint) -> c_int;
type ErrorStringFn = unsafe extern "C" fn(c_int) -> *const c_char;

struct Api {
    shutdown: InitFn,
    energy: EnergyFn,
    power: PowerFn,
    error_string: ErrorStringFn,
    // Last: the function pointers above are valid only while the library stays loaded.
    _lib: Library,
}

impl Api {
    fn load() -> anyhow::Result<(Api, InitFn, CountFn, HandleFn)> {
        // SAFETY: loading the NVIDIA management library runs its initialisers, which have no
        // preconditions; the symbols are looked up with their documented C signatures.
        unsafe {
            let lib = Library::new(LIBRARY).map_err(|e| {
                anyhow!("{LIBRARY} not loadable ({e}) — no NVIDIA driver on this machine")
            })?;
            let init = *lib.get::<InitFn>("nvmlInit_v2")?;
            let count = *lib.get::<CountFn>("nvmlDeviceGetCount_v2")?;
            let handle = *lib.get::<HandleFn>("nvmlDeviceGetHandleByIndex_v2")?;
            let api = Api {
                shutdown: *lib.get::<InitFn>("nvmlShutdown")?,
                energy: *lib.get::<EnergyFn>("nvmlDeviceGetTotalEnergyConsumption")?,
                power: *lib.get::<PowerFn>("nvmlDeviceGetPowerUsage")?,
                error_string: *lib.get::<ErrorStringFn>("nvmlErrorString")?,
                _lib: lib,
            };
            Ok((api, init, count, handle))
        }
    }

    fn error(&self, code: c_int) -> String {
        // SAFETY: nvmlErrorString returns a static NUL-terminated string for any code.
        let text = unsafe { (self.error_string)(code) };
        if text.is_null() {
            return format!("NVML error {code}");
        }
        // SAFETY: non-null and NUL-terminated per the NVML documentation.
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

enum Mode {
    /// Total energy counter in mJ.
    Counter,
    /// Power in mW integrated at each read into µJ.
    Integrated {
        last: Instant,
        last_mw: u32,
        total_uj: f64,
    },
}

pub(crate) struct Nvml {
    api: Api,
    devices: Vec<(Device, Mode)>,
    domains: Vec<DomainSpec>,
    counters: Vec<CounterSpec>,
}

// SAFETY: NVML is thread-safe and device handles are plain identifiers valid for the whole
// session; the meter is only ever used from one thread at a time (behind the monitor's mutex).
unsafe impl Send for Nvml {}

impl Nvml {
    pub fn open() -> anyhow::Result<Nvml> {
        let (api, init, count_fn, handle_fn) = Api::load()?;
        // SAFETY: plain NVML calls with out-pointers to locals, per the documented signatures.
        unsafe {
            let rc = init();
            if rc != SUCCESS {
                return Err(anyhow!("nvmlInit failed: {}", api.error(rc)));
            }
            let mut nvml = Nvml {
                api,
                devices: Vec::new(),
                domains: Vec::new(),
                counters: Vec::new(),
            };
            let mut count: c_uint = 0;
            let rc = count_fn(&mut count);
            if rc != SUCCESS {
                return Err(anyhow!("nvmlDeviceGetCount failed: {}", nvml.api.error(rc)));
            }
            for i in 0..count {
                let mut dev: Device = std::ptr::null_mut();
                if handle_fn(i, &mut dev) != SUCCESS {
                    continue;
                }
                let mut mj: c_ulonglong = 0;
                let mut mw: c_uint = 0;
                let (mode, scale) = if (nvml.api.energy)(dev, &mut mj) == SUCCESS {
                    (Mode::Counter, 1e-3)
                } else if (nvml.api.power)(dev, &mut mw) == SUCCESS {
                    let mode = Mode::Integrated {
                        last: Instant::now(),
                        last_mw: mw,
                        total_uj: 0.0,
                    };
                    (mode, 1e-6)
                } else {
                    continue;
                };
                nvml.domains.push(DomainSpec {
                    name: format!("gpu-{i}"),
                    in_total: true,
                });
                nvml.counters.push(CounterSpec {
                    domain: nvml.domains.len() - 1,
                    scale_j: scale,
                    modulus: None,
                    granularity_s: NVML_GRANULARITY_S,
                    origin: format!("nvml device {i}"),
                });
                nvml.devices.push((dev, mode));
            }
            if nvml.devices.is_empty() {
                return Err(anyhow!(
                    "no NVIDIA GPU with an energy counter or power reading ({count} devices)"
                ));
            }
            Ok(nvml)
        }
    }
}

impl Drop for Nvml {
    fn drop(&mut self) {
        // SAFETY: balances the successful nvmlInit in open().
        unsafe {
            (self.api.shutdown)();
        }
    }
}

impl Meter for Nvml {
    fn source(&self) -> &'static str {
        "nvml"
    }

    fn domains(&self) -> &[DomainSpec] {
        &self.domains
    }

    fn counters(&self) -> &[CounterSpec] {
        &self.counters
    }

    fn read(&mut self, index: usize) -> anyhow::Result<u64> {
        let api = &self.api;
        let (dev, mode) = self
            .devices
            .get_mut(index)
            .ok_or_else(|| anyhow!("nvml has no counter {index}"))?;
        match mode {
            Mode::Counter => {
                let mut mj: c_ulonglong = 0;
                // SAFETY: valid device handle, out-pointer to a local.
                let rc = unsafe { (api.energy)(*dev, &mut mj) };
                if rc != SUCCESS {
                    return Err(anyhow!("gpu-{index} energy: {}", api.error(rc)));
                }
                Ok(mj)
            }
            Mode::Integrated {
                last,
                last_mw,
                total_uj,
            } => {
                let mut mw: c_uint = 0;
                // SAFETY: valid device handle, out-pointer to a local.
                let rc = unsafe { (api.power)(*dev, &mut mw) };
                if rc != SUCCESS {
                    return Err(anyhow!("gpu-{index} power: {}", api.error(rc)));
                }
                let now = Instant::now();
                // Trapezoid between the two power readings: mW × s × 1000 = µJ.
                let dt = now.saturating_duration_since(*last).as_secs_f64();
                *total_uj += (f64::from(*last_mw) + f64::from(mw)) / 2.0 * dt * 1e3;
                *last = now;
                *last_mw = mw;
                Ok(*total_uj as u64)
            }
        }
    }

    fn describe(&self) -> String {
        let integrated: Vec<String> = self
            .devices
            .iter()
            .enumerate()
            .filter(|(_, (_, m))| matches!(m, Mode::Integrated { .. }))
            .map(|(i, _)| format!("gpu-{i}"))
            .collect();
        let mut s = format!("{} GPUs through {LIBRARY}", self.devices.len());
        if !integrated.is_empty() {
            s.push_str(&format!(
                "; no energy counter on {}: power × time at each read",
                integrated.join(" ")
            ));
        }
        s
    }
}

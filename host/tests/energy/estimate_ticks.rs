//! The estimate over short steps: /proc/stat counts busy time in 10 ms ticks, which land in
//! lumps. A step that shows more ticks than it can hold must pass the surplus on, not lose it,
//! so the estimate at a 10 ms step equals the model over the whole stretch.
//!
//! Its own test binary: the estimate also reads this process's CPU time, and other tests
//! running beside it would add theirs.

use std::fs;
use std::time::Duration;

use crate::support::energy::*;
use crate::support::temp_dir;
use joulebench::energy::{EnergyConfig, EnergyMonitor, SourceChoice};

#[test]
fn lumpy_ticks_at_a_10_ms_step_add_up_to_the_model() {
    let dir = temp_dir("estimate-ticks");
    let proc_root = fake_proc(&dir, "GenuineIntel", 6, 158, 2);
    let cfg = EnergyConfig {
        source: SourceChoice::Estimate,
        tdp_watts: 10.0,
        idle_share: 0.0,
        proc_root: proc_root.clone(),
        ..Default::default()
    };
    let stat = |busy: u64| {
        // Two CPUs; the aggregate line carries the busy ticks (user), idle stays put.
        let text = format!(
            "cpu  {busy} 0 0 800 0 0 0 0 0 0\ncpu0 {} 0 0 400 0 0 0 0 0 0\ncpu1 {} 0 0 400 0 0 0 0 0 0\n",
            busy / 2,
            busy - busy / 2
        );
        write_atomic(&proc_root.join("stat"), text.as_bytes());
    };
    stat(0);
    let monitor = EnergyMonitor::start(&cfg, None).expect("start");
    let first = monitor.snapshot().expect("snapshot");
    // 3 ticks every third step of ~10 ms: 50 % of 2 CPUs on average, but each lump is more
    // than the 2 ticks one step of 2 CPUs can hold.
    let mut busy = 0;
    for step in 0..60 {
        std::thread::sleep(Duration::from_millis(10));
        if step % 3 == 0 && step < 48 {
            busy += 3;
            stat(busy);
        }
        monitor.snapshot().expect("snapshot");
    }
    let last = monitor.snapshot().expect("snapshot");
    monitor.stop().expect("stop");

    // Idle share 0: 10 W over 2 CPUs is 5 J per busy CPU-second; the ticks are 10 ms.
    let busy_s = busy as f64 * 0.01;
    let want = 5.0 * busy_s;
    let got = last.joules[0] - first.joules[0];
    assert!(
        rel_err(got, want) < 0.05,
        "{got} J for {busy_s} busy CPU-seconds, want {want} J"
    );
    let _ = fs::remove_dir_all(&dir);
}

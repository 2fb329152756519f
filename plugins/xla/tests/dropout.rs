//! The dropout layer as the train step runs it: inverted dropout (kept values scaled by
//! 1 / (1 − rate), the rest 0), the kept share right, a fresh mask every step.

use plugin_xla::pjrt::{compile_options, Api, Client};
use plugin_xla::program;
use std::path::Path;

#[test]
fn keeps_the_right_share_and_scales_it() {
    let api = Api::load(Path::new(plugin_xla::PJRT_LIBRARY)).expect("load");
    let client = Client::new(api, 1).expect("client");
    let (n, rate) = (20_000usize, 0.3f32);
    let exe = client
        .compile(
            &program::probes::dropout_only(&[4, n as i64 / 4], rate),
            &compile_options::encode(&[]),
        )
        .expect("compile");
    let x: Vec<f32> = (0..n).map(|i| 1.0 + (i % 7) as f32).collect();
    let xb = client.buffer(&x, &[4, n as i64 / 4]).unwrap();
    let mut rng = client.buffer(&[5u64, 6], &[2]).unwrap();
    let mut masks = Vec::new();
    for _ in 0..2 {
        let out = exe.execute(&[&xb, &rng]).expect("run");
        let y = out[0].to_host::<f32>().unwrap();
        let keep = 1.0 - rate;
        let mut kept = 0;
        for (yi, xi) in y.iter().zip(&x) {
            if *yi != 0.0 {
                // Within an ulp: XLA may multiply by the reciprocal instead of dividing.
                let want = xi / keep;
                assert!(
                    (yi - want).abs() <= 1e-6 * want,
                    "{yi} is not {xi} / {keep}"
                );
                kept += 1;
            }
        }
        // Binomial(20000, 0.7): 5 standard deviations either side.
        let (mean, sd) = (n as f64 * 0.7, (n as f64 * 0.21).sqrt());
        assert!((kept as f64 - mean).abs() < 5.0 * sd, "kept {kept} of {n}");
        masks.push(y.iter().map(|v| *v != 0.0).collect::<Vec<_>>());
        rng = out.into_iter().nth(1).unwrap();
    }
    assert_ne!(
        masks[0], masks[1],
        "the state advances: a new mask each step"
    );
}

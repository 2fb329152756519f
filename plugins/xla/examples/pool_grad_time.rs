//! How long the study's two max pools and their gradients take per batch of 64, with each
//! gradient: `select_and_scatter` (what JAX emits) and the window mask (this plugin's default).
//!
//!     cargo run --release -p plugin-xla --example pool_grad_time -- [--threads N] [--runs N]

use std::path::Path;
use std::time::Instant;

use plugin_xla::pjrt::{compile_options, Api, Client};
use plugin_xla::program::{probes, PoolGrad};
use plugin_xla::threads;

mod common;
use common::arg;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads_n: u32 = arg(&args, "--threads", "1").parse().expect("--threads");
    let runs: usize = arg(&args, "--runs", "20").parse().expect("--runs");
    let api = Api::load(Path::new(plugin_xla::PJRT_LIBRARY)).expect("load");
    threads::apply(threads_n);
    let client = Client::new(api, 1).expect("client");
    // The study's pools: after conv 1 (64 × 28×28×64) and after conv 2 (64 × 14×14×128).
    for dims in [[64i64, 28, 28, 64], [64, 14, 14, 128]] {
        let n: usize = dims.iter().product::<i64>() as usize;
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
            .collect();
        let pooled = [dims[0], dims[1] / 2, dims[2] / 2, dims[3]];
        let g = vec![1.0f32; n / 4];
        let xb = client.buffer(&x, &dims).unwrap();
        let gb = client.buffer(&g, &pooled).unwrap();
        for how in [PoolGrad::Scatter, PoolGrad::Mask] {
            let exe = client
                .compile(
                    &probes::max_pool_only(&dims, (2, 2), how),
                    &compile_options::encode(&[]),
                )
                .expect("compile");
            exe.execute(&[&xb, &gb]).expect("warm-up");
            let t = Instant::now();
            for _ in 0..runs {
                exe.execute(&[&xb, &gb]).expect("run");
            }
            let ms = 1e3 * t.elapsed().as_secs_f64() / runs as f64;
            println!("pool {dims:?} forward + gradient, {how:?}: {ms:.2} ms");
        }
    }
}

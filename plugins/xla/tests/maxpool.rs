//! The two max-pool gradients agree with each other and with `select_and_scatter`'s rule:
//! each window's gradient goes to its first maximum in row-major order, ties included.

use plugin_xla::pjrt::{compile_options, Api, Client};
use plugin_xla::program::{probes, PoolGrad};
use std::path::Path;

/// `(y, dx)` of a 2×2/2 pool on NHWC `x` with output gradient `g`.
fn pool(
    client: &Client,
    how: PoolGrad,
    dims: [i64; 4],
    x: &[f32],
    g: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let exe = client
        .compile(
            &probes::max_pool_only(&dims, (2, 2), how),
            &compile_options::encode(&[]),
        )
        .expect("compile");
    let pooled = [dims[0], dims[1] / 2, dims[2] / 2, dims[3]];
    let xb = client.buffer(x, &dims).unwrap();
    let gb = client.buffer(g, &pooled).unwrap();
    let out = exe.execute(&[&xb, &gb]).expect("run");
    (out[0].to_host().unwrap(), out[1].to_host().unwrap())
}

#[test]
fn ties_go_to_the_first_maximum_and_both_ways_agree() {
    let api = Api::load(Path::new(plugin_xla::PJRT_LIBRARY)).expect("load");
    let client = Client::new(api, 1).expect("client");

    // One image, 4×4, one channel, all zeros: every window is a four-way tie.
    let dims = [1, 4, 4, 1];
    let x = vec![0.0; 16];
    let g = vec![1.0, 2.0, 3.0, 4.0];
    let mut want = vec![0.0; 16];
    for (w, v) in g.iter().enumerate() {
        let (wy, wx) = (w / 2, w % 2);
        want[(2 * wy) * 4 + 2 * wx] = *v; // the window's top-left cell
    }
    for how in [PoolGrad::Mask, PoolGrad::Scatter] {
        let (y, dx) = pool(&client, how, dims, &x, &g);
        assert_eq!(y, vec![0.0; 4], "{how:?}");
        assert_eq!(dx, want, "{how:?}: ties go to the first cell");
    }

    // A second maximum later in the window loses to the first; a larger one wins.
    let mut x = vec![0.0; 16];
    x[1] = 5.0; // window 0, (0, 1)
    x[4] = 5.0; // window 0, (1, 0): same value, later
    x[2 * 4 + 3] = 7.0; // window 3, (0, 1)
    x[3 * 4 + 3] = 9.0; // window 3, (1, 1): larger
    for how in [PoolGrad::Mask, PoolGrad::Scatter] {
        let (y, dx) = pool(&client, how, dims, &x, &g);
        assert_eq!(y, vec![5.0, 0.0, 0.0, 9.0], "{how:?}");
        assert_eq!((dx[1], dx[4]), (1.0, 0.0), "{how:?}");
        assert_eq!((dx[2 * 4 + 3], dx[3 * 4 + 3]), (0.0, 4.0), "{how:?}");
        assert_eq!(
            dx.iter().sum::<f32>(),
            10.0,
            "{how:?}: every window's gradient lands once"
        );
    }

    // Odd sizes (floor mode drops the last row and column), several channels, values with
    // frequent ties: both gradients are identical.
    let dims = [2, 5, 7, 3];
    let n: usize = dims.iter().product::<i64>() as usize;
    let x: Vec<f32> = (0..n).map(|i| ((i * 37) % 11) as f32).collect();
    let g: Vec<f32> = (0..2 * 2 * 3 * 3).map(|i| i as f32 + 1.0).collect();
    let (ym, dxm) = pool(&client, PoolGrad::Mask, dims, &x, &g);
    let (ys, dxs) = pool(&client, PoolGrad::Scatter, dims, &x, &g);
    assert_eq!(ym, ys);
    assert_eq!(dxm, dxs);
}

//! Single layers as programs of their own, for tests and micro-benchmarks: the same code the
//! train step is built from, on inputs the caller chooses.

use super::layers::{self, PoolGrad};
use super::text::{Elem, Func, Ty};
use crate::plan::{Op, Shape, Step};
use plugin_api::shapes::{self, LayerShape};
use plugin_api::Layer;

/// The training-time dropout layer on its own, `(x: f32[dims], rng: u64[2]) → (y, rng')`,
/// so tests can look at its masks and scaling directly.
pub fn dropout_only(dims: &[i64], rate: f32) -> String {
    let mut f = Func::new();
    let x = f.arg(Ty::f32(dims), None);
    let mut rng = f.arg(Ty::new(&[2], Elem::U64), None);
    let n: i64 = dims[1..].iter().product();
    let shape = Shape::Flat { n, from: None };
    let walked = shapes::Shape::Flat(n as usize);
    let step = Step {
        layer: LayerShape {
            index: 0,
            layer: Layer::Dropout { rate },
            input: walked,
            output: walked,
            params: None,
            padding: (0, 0),
        },
        op: Op::Dropout { rate },
        input: shape,
        output: shape,
    };
    let flat = f.reshape(&x, &shape.dims(dims[0]));
    let (y, _) = layers::forward(&mut f, &[step], &[], flat, Some(&mut rng));
    let y = f.reshape(&y, dims);
    f.finish("joulebench_xla_dropout", &[&y, &rng])
}

/// A max pool and its gradient on NHWC input: `(x: f32[dims], g: f32[pooled]) → (y, dx)`;
/// `pooled` is the output shape (floor mode).
pub fn max_pool_only(dims: &[i64], window: (i64, i64), how: PoolGrad) -> String {
    let (size, stride) = window;
    let pooled = [
        dims[0],
        (dims[1] - size) / stride + 1,
        (dims[2] - size) / stride + 1,
        dims[3],
    ];
    let mut f = Func::new();
    let x = f.arg(Ty::f32(dims), None);
    let g = f.arg(Ty::f32(&pooled), None);
    let y = f.max_pool(&x, size, stride, &pooled);
    let dx = layers::max_pool_grad(&mut f, how, &x, &y, &g, window);
    f.finish("joulebench_xla_max_pool", &[&y, &dx])
}

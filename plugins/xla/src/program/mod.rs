//! The two XLA programs of a session, generated from its plan as StableHLO text:
//!
//! - **train step**: forward, softmax cross-entropy (mean over the batch's real samples),
//!   backward, Adam; it donates its state (parameters, moments, step count, dropout RNG state,
//!   the epoch's loss sum) so XLA updates it in place;
//! - **eval step**: forward without dropout; summed loss and correct count of a batch.
//!
//! Both take fixed-size batches with a 0/1 mask, so one compiled program serves every batch
//! including the last partial one (padded; padding rows count nowhere).
//!
//! Argument order of the train step (results in the same order, minus the batch):
//! `params.., m.., v.., step: i32, rng: u64[2], loss_sum: f32, x, labels: i32[B], mask: f32[B]`.

mod adam;
mod layers;
mod loss;
pub mod probes;
mod text;

pub use layers::PoolGrad;

use crate::plan::Step;
use crate::weights::ParamSpec;
use plugin_api::Optimizer;
use text::{Elem, Func, Ty};

/// The input batch's dimensions: `[batch, h, w, c]` as the plan's first layer reads them.
fn input_dims(plan: &[Step], batch: i64) -> Vec<i64> {
    plan.first()
        .map(|s| s.input.dims(batch))
        .unwrap_or_else(|| vec![batch, 0])
}

/// The train step for batches of `batch` samples.
pub fn train_step(
    plan: &[Step],
    specs: &[ParamSpec],
    optimizer: &Optimizer,
    batch: i64,
    pool_grad: PoolGrad,
) -> String {
    let mut f = Func::new();
    let n = specs.len();
    let param_ty = |s: &ParamSpec| Ty::f32(&s.xla_shape);
    let params: Vec<_> = (0..n)
        .map(|i| f.arg(param_ty(&specs[i]), Some(i)))
        .collect();
    let ms: Vec<_> = (0..n)
        .map(|i| f.arg(param_ty(&specs[i]), Some(n + i)))
        .collect();
    let vs: Vec<_> = (0..n)
        .map(|i| f.arg(param_ty(&specs[i]), Some(2 * n + i)))
        .collect();
    let step = f.arg(Ty::new(&[], Elem::I32), Some(3 * n));
    let mut rng = f.arg(Ty::new(&[2], Elem::U64), Some(3 * n + 1));
    let loss_sum = f.arg(Ty::f32(&[]), Some(3 * n + 2));
    let x = f.arg(Ty::f32(&input_dims(plan, batch)), None);
    let labels = f.arg(Ty::new(&[batch], Elem::I32), None);
    let mask = f.arg(Ty::f32(&[batch]), None);

    let (logits, saved) = layers::forward(&mut f, plan, &params, x, Some(&mut rng));
    let ce = loss::cross_entropy(&mut f, &logits, &labels);
    let batch_loss = loss::masked_sum(&mut f, &ce.per_sample, &mask);
    let loss_sum = f.add(&loss_sum, &batch_loss);
    let g = loss::mean_loss_grad(&mut f, &ce, &mask);
    let grads = layers::backward(&mut f, plan, &params, saved, g, pool_grad);

    let h = adam::Hyper::new(optimizer);
    let (step, corrections) = adam::corrections(&mut f, h, &step);
    let (mut new_p, mut new_m, mut new_v) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let slot = adam::Slot {
            p: params[i].clone(),
            m: ms[i].clone(),
            v: vs[i].clone(),
        };
        let next = adam::update(&mut f, h, &corrections, &slot, &grads[i]);
        new_p.push(next.p);
        new_m.push(next.m);
        new_v.push(next.v);
    }
    let mut results: Vec<&text::V> = Vec::with_capacity(3 * n + 3);
    results.extend(new_p.iter().chain(&new_m).chain(&new_v));
    results.extend([&step, &rng, &loss_sum]);
    f.finish("joulebench_xla_train", &results)
}

/// The eval step for batches of `batch` samples: `(params.., x, labels, mask)` →
/// `(Σ loss, correct count, logits)`: two f32 scalars, and the `[batch, classes]` logits for
/// `host parity` (left on the device otherwise).
pub fn eval_step(plan: &[Step], specs: &[ParamSpec], batch: i64) -> String {
    let mut f = Func::new();
    let params: Vec<_> = specs
        .iter()
        .map(|s| f.arg(Ty::f32(&s.xla_shape), None))
        .collect();
    let x = f.arg(Ty::f32(&input_dims(plan, batch)), None);
    let labels = f.arg(Ty::new(&[batch], Elem::I32), None);
    let mask = f.arg(Ty::f32(&[batch]), None);
    let (logits, _) = layers::forward(&mut f, plan, &params, x, None);
    let ce = loss::cross_entropy(&mut f, &logits, &labels);
    let loss_sum = loss::masked_sum(&mut f, &ce.per_sample, &mask);
    let correct = loss::correct(&mut f, &logits, &labels, &mask);
    f.finish("joulebench_xla_eval", &[&loss_sum, &correct, &logits])
}

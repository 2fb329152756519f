//! Softmax cross-entropy on the logits (as `optax.softmax_cross_entropy_with_integer_labels`
//! computes it), its gradient, and first-index argmax accuracy. Padding rows of a batch have
//! mask 0 and count nowhere.

use super::text::{Cmp, Elem, Func, Lit, Ty, V};

/// Per-sample losses and what the gradient needs.
pub struct CrossEntropy {
    /// `[batch]`: log Σ exp(z − max) − (z_label − max).
    pub per_sample: V,
    /// `[batch, classes]`: exp(z − max).
    exp: V,
    /// `[batch]`: Σ exp(z − max).
    exp_sum: V,
    /// `[batch, classes]`: 1 at the label, else 0.
    one_hot: V,
}

pub fn cross_entropy(f: &mut Func, logits: &V, labels: &V) -> CrossEntropy {
    let dims = logits.dims().to_vec();
    let max = f.reduce("maximum", logits, Lit::F32(f32::NEG_INFINITY), &[1]);
    let max = f.broadcast(&max, &[0], &dims);
    let shifted = f.sub(logits, &max);
    let exp = f.unary("exponential", &shifted);
    let exp_sum = f.sum(&exp, &[1]);
    let log_norm = f.unary("log", &exp_sum);
    let one_hot = one_hot(f, labels, &dims);
    let picked = f.mul(&shifted, &one_hot);
    let label_logit = f.sum(&picked, &[1]);
    let per_sample = f.sub(&log_norm, &label_logit);
    CrossEntropy {
        per_sample,
        exp,
        exp_sum,
        one_hot,
    }
}

fn one_hot(f: &mut Func, labels: &V, dims: &[i64]) -> V {
    let class = f.iota(1, Ty::new(dims, Elem::I32));
    let label = f.broadcast(labels, &[0], dims);
    let hit = f.compare(Cmp::Eq, &class, &label);
    let one = f.splat(1.0, dims);
    let zero = f.splat(0.0, dims);
    f.select(&hit, &one, &zero)
}

/// `Σ loss · mask` over the batch (a scalar).
pub fn masked_sum(f: &mut Func, per_sample: &V, mask: &V) -> V {
    let masked = f.mul(per_sample, mask);
    f.sum(&masked, &[0])
}

/// The gradient of the mean loss over the real samples (`Σ mask` of them) w.r.t. the logits:
/// (softmax − one-hot) · mask / Σ mask.
pub fn mean_loss_grad(f: &mut Func, ce: &CrossEntropy, mask: &V) -> V {
    let dims = ce.exp.dims().to_vec();
    let sum = f.broadcast(&ce.exp_sum, &[0], &dims);
    let softmax = f.div(&ce.exp, &sum);
    let diff = f.sub(&softmax, &ce.one_hot);
    let count = f.sum(mask, &[0]);
    let count = f.broadcast(&count, &[], mask.dims());
    let weight = f.div(mask, &count);
    let weight = f.broadcast(&weight, &[0], &dims);
    f.mul(&diff, &weight)
}

/// How many real samples have their label as the first largest logit (`jnp.argmax`'s rule),
/// as an f32 scalar (exact below 2²⁴).
pub fn correct(f: &mut Func, logits: &V, labels: &V, mask: &V) -> V {
    let dims = logits.dims().to_vec();
    let max = f.reduce("maximum", logits, Lit::F32(f32::NEG_INFINITY), &[1]);
    let max = f.broadcast(&max, &[0], &dims);
    let is_max = f.compare(Cmp::Eq, logits, &max);
    let class = f.iota(1, Ty::new(&dims, Elem::I32));
    let past_end = f.constant(Lit::I32(dims[1] as i32), &dims);
    let candidate = f.select(&is_max, &class, &past_end);
    let predicted = f.reduce("minimum", &candidate, Lit::I32(i32::MAX), &[1]);
    let right = f.compare(Cmp::Eq, &predicted, labels);
    let zero = f.splat(0.0, mask.dims());
    let counted = f.select(&right, mask, &zero);
    f.sum(&counted, &[0])
}

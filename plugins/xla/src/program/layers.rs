//! Each layer's forward computation and its gradient, written out as StableHLO.
//!
//! Activations are NHWC (`[batch, h, w, c]`) and weights are in the programs' layout
//! ([`crate::weights`]). The gradients are the ones JAX's autodiff derives for the same
//! forward ops (checked against JAX + optax on a fixture: tests/step.rs), written by hand so
//! that the plugin needs no Python at any time.

use super::text::{Cmp, Conv, Elem, Func, Lit, Ty, V};
use crate::plan::{Op, Step};

/// How the max-pool gradient is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolGrad {
    /// `select_and_scatter`, as JAX emits it.
    Scatter,
    /// For windows that do not overlap (stride = size): mark each window's first maximum with
    /// elementwise ops and a small reduction, then place the gradient there. Same result as
    /// `Scatter` (first maximum in row-major order), but in ops XLA fuses and vectorises.
    Mask,
}

/// What a layer's forward pass keeps for its backward pass.
pub enum Saved {
    Conv { input: V, output: V },
    Pool { input: V, output: V },
    Flatten { input_dims: Vec<i64> },
    Dropout { kept: V, keep: f32 },
    Dense { input: V, output: V },
    Identity,
}

/// The forward pass of `plan` on `x`; `rng` is the dropout state while training (`None`:
/// evaluation, dropout is the identity). Returns the logits and what backward needs.
pub fn forward(
    f: &mut Func,
    plan: &[Step],
    params: &[V],
    mut x: V,
    mut rng: Option<&mut V>,
) -> (V, Vec<Saved>) {
    let mut params = params.iter();
    let mut saved = Vec::with_capacity(plan.len());
    for step in plan {
        let batch = x.dims()[0];
        let out_dims = step.output.dims(batch);
        let (y, keep) = match step.op {
            Op::Conv { pad, relu, .. } => {
                let (w, b) = pair(&mut params);
                let dims = "[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]";
                let conv = f.convolution(
                    &x,
                    w,
                    Conv {
                        dims,
                        pad,
                        out: &out_dims,
                    },
                );
                let bias = f.broadcast(b, &[3], &out_dims);
                let z = f.add(&conv, &bias);
                let y = activate(f, z, relu);
                (
                    y.clone(),
                    Saved::Conv {
                        input: x.clone(),
                        output: y,
                    },
                )
            }
            Op::Pool { size, stride } => {
                let y = f.max_pool(&x, size, stride, &out_dims);
                (
                    y.clone(),
                    Saved::Pool {
                        input: x.clone(),
                        output: y,
                    },
                )
            }
            Op::Flatten => {
                let y = f.reshape(&x, &out_dims);
                (
                    y,
                    Saved::Flatten {
                        input_dims: x.dims().to_vec(),
                    },
                )
            }
            Op::Dropout { rate } => match rng.as_deref_mut() {
                Some(state) if rate > 0.0 => {
                    let keep = 1.0 - rate;
                    let kept = keep_mask(f, state, x.dims(), keep);
                    (
                        scale_kept(f, &kept, &x, keep),
                        Saved::Dropout { kept, keep },
                    )
                }
                _ => (x.clone(), Saved::Identity),
            },
            Op::Dense { relu, .. } => {
                let (w, b) = pair(&mut params);
                let z = f.dot(&x, w, &[1], &[0]);
                let bias = f.broadcast(b, &[1], &out_dims);
                let z = f.add(&z, &bias);
                let y = activate(f, z, relu);
                (
                    y.clone(),
                    Saved::Dense {
                        input: x.clone(),
                        output: y,
                    },
                )
            }
        };
        saved.push(keep);
        x = y;
    }
    (x, saved)
}

/// Gradients of every parameter (in `params` order) given the gradient of the logits.
pub fn backward(
    f: &mut Func,
    plan: &[Step],
    params: &[V],
    saved: Vec<Saved>,
    mut g: V,
    pool_grad: PoolGrad,
) -> Vec<V> {
    // The input gradient of a layer is needed only if some layer before it has parameters.
    let first_with_params = plan.iter().position(Step::has_params).unwrap_or(plan.len());
    let mut grads: Vec<V> = Vec::with_capacity(params.len());
    let mut param_at = params.len();
    for (i, (step, keep)) in plan.iter().zip(saved).enumerate().rev() {
        let need_input = i > first_with_params;
        match (step.op, keep) {
            (
                Op::Conv {
                    kernel, pad, relu, ..
                },
                Saved::Conv { input, output },
            ) => {
                param_at -= 2;
                let w = &params[param_at];
                let g_out = through_relu(f, &g, &output, relu);
                let dims = "[f, 0, 1, b]x[i, 0, 1, o]->[0, 1, b, f]";
                let dw = f.convolution(
                    &input,
                    &g_out,
                    Conv {
                        dims,
                        pad,
                        out: w.dims(),
                    },
                );
                let db = f.sum(&g_out, &[0, 1, 2]);
                grads.push(db);
                grads.push(dw);
                if need_input {
                    let flipped = f.reverse(w, &[0, 1]);
                    let dims = "[b, 0, 1, f]x[0, 1, o, i]->[b, 0, 1, f]";
                    let back_pad = (kernel - 1 - pad.0, kernel - 1 - pad.1);
                    let conv = Conv {
                        dims,
                        pad: back_pad,
                        out: input.dims(),
                    };
                    g = f.convolution(&g_out, &flipped, conv);
                }
            }
            (Op::Pool { size, stride }, Saved::Pool { input, output }) => {
                if need_input {
                    g = max_pool_grad(f, pool_grad, &input, &output, &g, (size, stride));
                }
            }
            (Op::Flatten, Saved::Flatten { input_dims }) => {
                if need_input {
                    g = f.reshape(&g, &input_dims);
                }
            }
            (Op::Dropout { .. }, Saved::Dropout { kept, keep }) => {
                if need_input {
                    g = scale_kept(f, &kept, &g, keep);
                }
            }
            (Op::Dense { relu, .. }, Saved::Dense { input, output }) => {
                param_at -= 2;
                let w = &params[param_at];
                let g_out = through_relu(f, &g, &output, relu);
                let dw = f.dot(&input, &g_out, &[0], &[0]);
                let db = f.sum(&g_out, &[0]);
                grads.push(db);
                grads.push(dw);
                if need_input {
                    g = f.dot(&g_out, w, &[1], &[1]);
                }
            }
            (_, Saved::Identity) => {}
            _ => unreachable!("forward saved a different layer kind"),
        }
    }
    grads.reverse();
    grads
}

fn pair<'v>(params: &mut std::slice::Iter<'v, V>) -> (&'v V, &'v V) {
    match (params.next(), params.next()) {
        (Some(w), Some(b)) => (w, b),
        // The caller passes exactly the parameters of `plan` (weights::specs).
        _ => unreachable!("a layer with parameters has a weight and a bias"),
    }
}

fn activate(f: &mut Func, x: V, relu: bool) -> V {
    if relu {
        let zero = f.splat(0.0, x.dims());
        f.binary("maximum", &x, &zero)
    } else {
        x
    }
}

/// The gradient through ReLU: zero where the output is not positive (JAX and PyTorch alike
/// take the derivative at 0 as 0).
fn through_relu(f: &mut Func, g: &V, output: &V, relu: bool) -> V {
    if !relu {
        return g.clone();
    }
    let zero = f.splat(0.0, output.dims());
    let positive = f.compare(Cmp::Gt, output, &zero);
    f.select(&positive, g, &zero)
}

/// Which activations dropout keeps: uniform [0, 1) from 23 random bits (as
/// `jax.random.uniform` makes them) below `keep`. Advances `state`.
fn keep_mask(f: &mut Func, state: &mut V, dims: &[i64], keep: f32) -> V {
    let (next, bits) = f.random_bits(state, dims);
    *state = next;
    let nine = f.constant(Lit::U32(9), dims);
    let one_bits = f.constant(Lit::U32(0x3F80_0000), dims);
    let mantissa = f.binary("shift_right_logical", &bits, &nine);
    let in_one_two = f.binary("or", &mantissa, &one_bits);
    let in_one_two = f.bitcast(&in_one_two, Elem::F32);
    let one = f.splat(1.0, dims);
    let uniform = f.sub(&in_one_two, &one);
    let keep = f.splat(keep, dims);
    f.compare(Cmp::Lt, &uniform, &keep)
}

/// `kept ? x / keep : 0`, the inverted-dropout scaling (forward and backward alike).
fn scale_kept(f: &mut Func, kept: &V, x: &V, keep: f32) -> V {
    let keep = f.splat(keep, x.dims());
    let scaled = f.div(x, &keep);
    let zero = f.splat(0.0, x.dims());
    f.select(kept, &scaled, &zero)
}

/// The gradient of a max pool (`window` = (size, stride)) w.r.t. its input, given its input,
/// output and the output's gradient `g`.
pub fn max_pool_grad(
    f: &mut Func,
    how: PoolGrad,
    input: &V,
    output: &V,
    g: &V,
    (size, stride): (i64, i64),
) -> V {
    match how {
        PoolGrad::Mask if size == stride => pool_grad_by_mask(f, input, output, g, size),
        _ => f.max_pool_grad(input, g, size, stride),
    }
}

/// The max-pool gradient for non-overlapping `size`×`size` windows (see [`PoolGrad::Mask`]).
fn pool_grad_by_mask(f: &mut Func, input: &V, output: &V, g: &V, size: i64) -> V {
    let (b, h, w, c) = match input.dims() {
        &[b, h, w, c] => (b, h, w, c),
        _ => unreachable!("pooling works on NHWC images"),
    };
    let (oh, ow) = (output.dims()[1], output.dims()[2]);
    // Floor mode: rows and columns past the last whole window get no gradient.
    let covered = [b, oh * size, ow * size, c];
    let x = if covered[1] == h && covered[2] == w {
        input.clone()
    } else {
        f.slice(input, &covered)
    };
    let windows = [b, oh, size, ow, size, c];
    let x = f.reshape(&x, &windows);
    let outside = [0, 1, 3, 5];
    let max = f.broadcast(output, &outside, &windows);
    let is_max = f.compare(Cmp::Eq, &x, &max);
    // Position within the window, row-major: the first maximum has the smallest.
    let row = f.iota(2, Ty::new(&windows, Elem::I32));
    let col = f.iota(4, Ty::new(&windows, Elem::I32));
    let size_i = f.constant(Lit::I32(size as i32), &windows);
    let position = f.mul(&row, &size_i);
    let position = f.add(&position, &col);
    let past_end = f.constant(Lit::I32((size * size) as i32), &windows);
    let candidate = f.select(&is_max, &position, &past_end);
    let first = f.reduce("minimum", &candidate, Lit::I32(i32::MAX), &[2, 4]);
    let first = f.broadcast(&first, &outside, &windows);
    let chosen = f.compare(Cmp::Eq, &position, &first);
    let g = f.broadcast(g, &outside, &windows);
    let zero = f.splat(0.0, &windows);
    let dx = f.select(&chosen, &g, &zero);
    let dx = f.reshape(&dx, &covered);
    if covered[1] == h && covered[2] == w {
        dx
    } else {
        f.pad_after(&dx, input.dims())
    }
}

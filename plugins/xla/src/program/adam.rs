//! Adam (Kingma & Ba) without weight decay, in the arithmetic `optax.adam` uses:
//! m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², t ← t + 1,
//! p ← p − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε).
//! PyTorch's Adam is the same function, with ε applied after dividing √v by √(1 − β2ᵗ).

use super::text::{Elem, Func, Lit, V};
use plugin_api::Optimizer;

/// The hyper-parameters as f32, the precision the update runs in (like the other plugins'
/// f32 parameters; `1 − β` is taken in f64 first, as Python does before the f32 multiply).
#[derive(Clone, Copy, Debug)]
pub struct Hyper {
    lr: f32,
    b1: f32,
    b2: f32,
    one_minus_b1: f32,
    one_minus_b2: f32,
    eps: f32,
}

impl Hyper {
    pub fn new(o: &Optimizer) -> Hyper {
        Hyper {
            lr: o.learning_rate as f32,
            b1: o.beta1 as f32,
            b2: o.beta2 as f32,
            one_minus_b1: (1.0 - o.beta1) as f32,
            one_minus_b2: (1.0 - o.beta2) as f32,
            eps: o.epsilon as f32,
        }
    }
}

/// The bias corrections of one step, `1 − β1ᵗ` and `1 − β2ᵗ` (scalars).
pub struct Corrections {
    c1: V,
    c2: V,
}

/// A parameter and its two moments.
pub struct Slot {
    pub p: V,
    pub m: V,
    pub v: V,
}

/// The step count after this step, and its bias corrections.
pub fn corrections(f: &mut Func, h: Hyper, step: &V) -> (V, Corrections) {
    let one_i = f.constant(Lit::I32(1), &[]);
    let t = f.add(step, &one_i);
    let tf = f.convert(&t, Elem::F32);
    let one = f.f32(1.0, &[]);
    let b1 = f.f32(h.b1, &[]);
    let b2 = f.f32(h.b2, &[]);
    let b1t = f.binary("power", &b1, &tf);
    let b2t = f.binary("power", &b2, &tf);
    let c1 = f.sub(&one, &b1t);
    let c2 = f.sub(&one, &b2t);
    (t, Corrections { c1, c2 })
}

/// One parameter's update with its gradient `g`: the slot after the step.
pub fn update(f: &mut Func, h: Hyper, c: &Corrections, slot: &Slot, g: &V) -> Slot {
    let Slot { p, m, v } = slot;
    let dims = p.dims().to_vec();
    let k = |f: &mut Func, x: f32| f.splat(x, &dims);
    let (b1, nb1, b2, nb2) = (
        k(f, h.b1),
        k(f, h.one_minus_b1),
        k(f, h.b2),
        k(f, h.one_minus_b2),
    );
    let m_old = f.mul(&b1, m);
    let m_new = f.mul(&nb1, g);
    let m = f.add(&m_new, &m_old);
    let g2 = f.mul(g, g);
    let v_old = f.mul(&b2, v);
    let v_new = f.mul(&nb2, &g2);
    let v = f.add(&v_new, &v_old);
    let c1 = f.broadcast(&c.c1, &[], &dims);
    let c2 = f.broadcast(&c.c2, &[], &dims);
    let m_hat = f.div(&m, &c1);
    let v_hat = f.div(&v, &c2);
    let root = f.unary("sqrt", &v_hat);
    let eps = k(f, h.eps);
    let denom = f.add(&root, &eps);
    let step = f.div(&m_hat, &denom);
    let lr = k(f, h.lr);
    let step = f.mul(&lr, &step);
    let p = f.sub(p, &step);
    Slot { p, m, v }
}

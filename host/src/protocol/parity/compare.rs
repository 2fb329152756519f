//! Comparing the plugins' parity reports: each against the first plugin that has one, per
//! quantity, at tolerances suited to `f32` arithmetic done in different orders.
//!
//! Tensors (gradients, the weights' movement) are compared by their relative L2 distance
//! `‖a − b‖ / ‖b‖`, not entry by entry, because two plugins that compute the same function in
//! f32 still disagree wholly on a few entries, for two reasons seen on the study's manifest:
//! - **kinks**: one conv2 pre-activation of the first batch is −1.6e-8 in exact arithmetic;
//!   jax's f32 convolution rounds it to +3.2e-8, so its ReLU passes and its max-pool picks it,
//!   and the whole upstream gradient of that pooled cell lands on channel 127 instead of
//!   nowhere: jax's `2.bias` gradient is 1.1e-2 of the largest entry away from keras's (and
//!   from an f64 reference), yet 3.3e-3 in L2, while keras, torch and burn are within 1e-6 of
//!   the f64 reference everywhere.
//! - **Adam's sign**: its first step moves a weight by `lr · g / (|g| + ε)`, which with
//!   ε = 1e-8 is `±lr` for any gradient above 1e-8; a gradient that is zero up to f32 rounding
//!   moves by `+lr` in one plugin and `−lr` in another, and later steps feel it (torch after
//!   three steps: single entries of `2.weight` 1.4e-1 of the largest movement away from keras,
//!   1e-3 in L2).
//!
//! A plugin that computes something else (a transposed kernel, another ε, a flatten in the
//! wrong order, no bias correction) moves the L2 distance by 1e-1 or more (Keras's own Adam,
//! which adds ε before its bias correction: 0.97 on the gradient probe). The largest absolute
//! difference is shown beside it.

use std::fmt;

use crate::plugin::parity_worker::NamedTensor;

/// Loss before each step: `|a − b| / |b|`.
pub const LOSS_TOLERANCE: f64 = 1e-4;
/// Each tensor's gradient on the first batch: relative L2 distance (module docs; seen: 3.3e-3
/// for a plugin whose f32 rounding crossed one ReLU kink, 1e-6 otherwise).
pub const GRADIENT_TOLERANCE: f64 = 1e-2;
/// Logits on the evaluation batch: the largest `|a − b|` over the reference's largest `|b|`.
pub const VALUE_TOLERANCE: f64 = 1e-3;
/// Each weight tensor's movement over the steps (after − before): relative L2 distance (seen:
/// up to 6.7e-3 after three steps on the study's manifest).
pub const WEIGHT_TOLERANCE: f64 = 2e-2;

/// One plugin's parity reports: its steps and its gradient probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Each step's batch mean loss, before its update.
    pub losses: Vec<f64>,
    /// Logits of the evaluation batch after the steps.
    pub logits: Vec<f32>,
    /// Every weight's movement over the steps (after − before, as the worker measured it).
    pub movements: Vec<NamedTensor>,
    /// Every weight's gradient on the first batch, at the initial weights.
    pub gradients: Vec<NamedTensor>,
}

/// The first place where a plugin leaves the reference.
#[derive(Debug, Clone, PartialEq)]
pub enum Divergence {
    Loss {
        step: usize,
        rel: f64,
    },
    Gradient(TensorDistance),
    Logits {
        rel: f64,
    },
    Weights(TensorDistance),
    /// Shapes, tensor names or counts differ: nothing to compare numerically.
    Mismatch(String),
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Divergence::Loss { step, rel } => write!(
                f,
                "the loss of step {step} differs by {rel:.2e} (relative; tolerance {LOSS_TOLERANCE:.0e})"
            ),
            Divergence::Gradient(d) => write!(
                f,
                "the gradient of `{}` on the first batch differs by {:.2e} relative (L2; \
                 tolerance {GRADIENT_TOLERANCE:.0e}; largest entry difference {:.2e}): the \
                 backward pass or the Adam step differs (the probe reads the gradient through \
                 one Adam step at learning rate = ε = 1e6)",
                d.name, d.rel, d.abs
            ),
            Divergence::Logits { rel } => write!(
                f,
                "the logits on the evaluation batch differ by {rel:.2e} (of their largest; \
                 tolerance {VALUE_TOLERANCE:.0e})"
            ),
            Divergence::Weights(d) => write!(
                f,
                "weight `{}` moved differently over the steps: by {:.2e} relative (L2; \
                 tolerance {WEIGHT_TOLERANCE:.0e}; largest entry difference {:.2e})",
                d.name, d.rel, d.abs
            ),
            Divergence::Mismatch(what) => f.write_str(what),
        }
    }
}

/// How far one tensor is from the reference's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TensorDistance {
    pub name: String,
    /// Largest `|a − b|` of one entry.
    pub abs: f64,
    /// `‖a − b‖ / ‖b‖`.
    pub rel: f64,
}

/// One plugin's distances from the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Distances {
    /// Largest relative loss difference and its step (from 1).
    pub loss: (f64, usize),
    /// Each gradient tensor's distance from the reference's.
    pub gradients: Vec<TensorDistance>,
    pub logits: f64,
    /// Each weight tensor's movement's distance from the reference's.
    pub weights: Vec<TensorDistance>,
    pub divergence: Option<Divergence>,
}

impl Distances {
    /// The gradient tensor furthest from the reference's.
    pub fn worst_gradient(&self) -> TensorDistance {
        worst(&self.gradients)
    }

    /// The weight tensor whose movement is furthest from the reference's.
    pub fn worst_weights(&self) -> TensorDistance {
        worst(&self.weights)
    }
}

/// The distances of `got` from `reference` (both from the host's weights). The first
/// divergence in the order things happen: step 1's loss (the forward pass), the gradient (the
/// backward pass and Adam's first step), the later losses, the logits, the weights.
pub fn distances(reference: &Report, got: &Report) -> Result<Distances, Divergence> {
    if reference.losses.len() != got.losses.len() || reference.logits.len() != got.logits.len() {
        return Err(Divergence::Mismatch(format!(
            "{} losses and {} logits, but the reference has {} and {}",
            got.losses.len(),
            got.logits.len(),
            reference.losses.len(),
            reference.logits.len()
        )));
    }
    let losses = loss_distances(&reference.losses, &got.losses);
    let loss = losses
        .iter()
        .copied()
        .enumerate()
        .fold(
            (0.0, 1),
            |worst, (i, rel)| {
                if rel > worst.0 {
                    (rel, i + 1)
                } else {
                    worst
                }
            },
        );
    let over = |i: usize| {
        (losses[i] > LOSS_TOLERANCE).then_some(Divergence::Loss {
            step: i + 1,
            rel: losses[i],
        })
    };
    let first_loss = (!losses.is_empty()).then(|| over(0)).flatten();
    let later_loss = (1..losses.len()).find_map(over);
    let gradients = tensor_distances(&reference.gradients, &got.gradients, "gradient")?;
    let weights = tensor_distances(&reference.movements, &got.movements, "weight")?;
    let logits = relative(&got.logits, &reference.logits).1;
    let divergence = first_loss
        .or_else(|| first_over(&gradients, GRADIENT_TOLERANCE).map(Divergence::Gradient))
        .or(later_loss)
        .or_else(|| (logits > VALUE_TOLERANCE).then_some(Divergence::Logits { rel: logits }))
        .or_else(|| first_over(&weights, WEIGHT_TOLERANCE).map(Divergence::Weights));
    Ok(Distances {
        loss,
        gradients,
        logits,
        weights,
        divergence,
    })
}

/// Each step's `|a − b| / |b|`; NaN counts as infinitely far.
fn loss_distances(reference: &[f64], got: &[f64]) -> Vec<f64> {
    got.iter()
        .zip(reference)
        .map(|(a, b)| {
            let rel = (a - b).abs() / b.abs().max(f64::MIN_POSITIVE);
            if rel.is_nan() {
                f64::INFINITY
            } else {
                rel
            }
        })
        .collect()
}

/// Each of `reference`'s tensors against `got`'s of the same name (module docs).
fn tensor_distances(
    reference: &[NamedTensor],
    got: &[NamedTensor],
    what: &str,
) -> Result<Vec<TensorDistance>, Divergence> {
    reference
        .iter()
        .map(|r| {
            let g = tensor(got, r, what)?;
            Ok(l2_distance(&r.name, &g.values, &r.values))
        })
        .collect()
}

/// `got`'s distance from `reference`; NaN anywhere counts as infinitely far.
fn l2_distance(name: &str, got: &[f32], reference: &[f32]) -> TensorDistance {
    let (mut abs, mut squared, mut norm) = (0.0f64, 0.0f64, 0.0f64);
    for (&a, &b) in got.iter().zip(reference) {
        let (a, b) = (f64::from(a), f64::from(b));
        let d = (a - b).abs();
        abs = if d.is_nan() {
            f64::INFINITY
        } else {
            abs.max(d)
        };
        squared += d * d;
        norm += b * b;
    }
    let rel = squared.sqrt() / norm.sqrt().max(f64::MIN_POSITIVE);
    TensorDistance {
        name: name.to_string(),
        abs,
        rel: if rel.is_nan() || abs.is_infinite() {
            f64::INFINITY
        } else {
            rel
        },
    }
}

fn first_over(distances: &[TensorDistance], tolerance: f64) -> Option<TensorDistance> {
    distances.iter().find(|d| d.rel > tolerance).cloned()
}

fn worst(distances: &[TensorDistance]) -> TensorDistance {
    distances
        .iter()
        .fold(None, |worst: Option<&TensorDistance>, d| match worst {
            Some(w) if w.rel >= d.rel => Some(w),
            _ => Some(d),
        })
        .cloned()
        .unwrap_or_default()
}

/// `got`'s tensor named like `r`, with `r`'s shape.
fn tensor<'g>(
    got: &'g [NamedTensor],
    r: &NamedTensor,
    what: &str,
) -> Result<&'g NamedTensor, Divergence> {
    let g = got
        .iter()
        .find(|g| g.name == r.name)
        .ok_or_else(|| Divergence::Mismatch(format!("no {what} `{}` handed back", r.name)))?;
    if g.shape != r.shape || g.values.len() != r.values.len() {
        return Err(Divergence::Mismatch(format!(
            "{what} `{}` has shape {:?}, the reference {:?}",
            r.name, g.shape, r.shape
        )));
    }
    Ok(g)
}

/// (largest `|a − b|`, that over the largest `|b|`); NaN anywhere counts as infinitely far.
fn relative(got: &[f32], reference: &[f32]) -> (f64, f64) {
    let mut abs = 0.0f64;
    let mut scale = 0.0f64;
    for (&a, &b) in got.iter().zip(reference) {
        let d = (f64::from(a) - f64::from(b)).abs();
        abs = if d.is_nan() {
            f64::INFINITY
        } else {
            abs.max(d)
        };
        scale = scale.max(f64::from(b).abs());
    }
    (abs, abs / scale.max(f64::MIN_POSITIVE))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LR: f32 = 1e-3;

    fn named(values: &[f32]) -> Vec<NamedTensor> {
        vec![NamedTensor {
            name: "0.weight".into(),
            shape: vec![values.len() as u32],
            values: values.to_vec(),
        }]
    }

    /// 40 000 entries (a small conv kernel): the initial weights, a gradient, and the weights
    /// after one `±lr` step.
    fn start() -> Vec<f32> {
        (0..40_000)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 200.0)
            .collect()
    }
    fn gradient() -> Vec<f32> {
        (0..40_000)
            .map(|i| ((i * 53 % 97) as f32 - 48.5) / 2000.0)
            .collect()
    }
    fn stepped(gradient: &[f32]) -> Vec<f32> {
        start()
            .iter()
            .zip(gradient)
            .map(|(w, g)| w - LR * g.signum())
            .collect()
    }

    fn moved(after: &[f32]) -> Vec<f32> {
        after.iter().zip(start()).map(|(a, s)| a - s).collect()
    }

    fn report(losses: &[f64], logits: &[f32], after: &[f32], gradient: &[f32]) -> Report {
        Report {
            losses: losses.to_vec(),
            logits: logits.to_vec(),
            movements: named(&moved(after)),
            gradients: named(gradient),
        }
    }

    fn reference() -> Report {
        report(
            &[2.3, 2.1, 1.9],
            &[1.0, -2.0],
            &stepped(&gradient()),
            &gradient(),
        )
    }

    fn compare(got: &Report) -> Distances {
        distances(&reference(), got).unwrap()
    }

    #[test]
    fn agreement_within_f32_rounding_passes() {
        let g: Vec<f32> = gradient().iter().map(|g| g * (1.0 + 1e-6)).collect();
        let got = report(
            &[2.3 * (1.0 + 1e-6), 2.1, 1.9],
            &[1.0 + 1e-6, -2.0],
            &stepped(&g),
            &g,
        );
        let d = compare(&got);
        assert_eq!(d.divergence, None);
        assert!((d.loss.0 - 1e-6).abs() < 1e-9 && d.loss.1 == 1);
        assert!((d.logits - 1e-6 / 2.0).abs() < 1e-7);
        assert!(
            (d.worst_gradient().rel - 1e-6).abs() < 1e-7,
            "{:?}",
            d.worst_gradient()
        );
        assert!(d.worst_weights().rel < 1e-4, "{:?}", d.weights);
    }

    #[test]
    fn a_few_entries_across_a_kink_or_adams_sign_pass_a_systematic_difference_fails() {
        // One gradient entry routed elsewhere (a ReLU kink), two entries near zero stepping
        // the other way: whole disagreements on 3 of 40 000 entries.
        let mut g = gradient();
        g[7] += 0.01;
        let mut after = stepped(&gradient());
        after[3] += 2.0 * LR;
        after[500] -= 2.0 * LR;
        let d = compare(&report(&[2.3, 2.1, 1.9], &[1.0, -2.0], &after, &g));
        assert_eq!(d.divergence, None, "{d:?}");
        assert!(
            (d.worst_weights().abs - 2e-3).abs() < 1e-6,
            "{:?}",
            d.weights
        );
        assert!(d.worst_gradient().abs > 9e-3, "{:?}", d.gradients);
        // Every entry moving twice as far (no bias correction, another lr) is a disagreement.
        let twice: Vec<f32> = start()
            .iter()
            .zip(stepped(&gradient()))
            .map(|(s, a)| s + 2.0 * (a - s))
            .collect();
        let d = compare(&report(&[2.3, 2.1, 1.9], &[1.0, -2.0], &twice, &gradient()));
        let Some(Divergence::Weights(w)) = d.divergence else {
            panic!("{:?}", d.divergence)
        };
        assert_eq!(w.name, "0.weight");
        assert!((w.rel - 1.0).abs() < 1e-3, "{w:?}");
        // A gradient in another order (a transposed kernel) is a disagreement.
        let mut reversed = gradient();
        reversed.reverse();
        let d = compare(&report(
            &[2.3, 2.1, 1.9],
            &[1.0, -2.0],
            &stepped(&gradient()),
            &reversed,
        ));
        assert!(
            matches!(d.divergence, Some(Divergence::Gradient(_))),
            "{d:?}"
        );
    }

    #[test]
    fn divergences_are_named_in_the_order_they_happen() {
        let bad_gradient: Vec<f32> = gradient().iter().map(|g| g * 1.5).collect();
        let bad_move: Vec<f32> = stepped(&gradient()).iter().map(|w| w * 1.01).collect();
        let check = |losses: &[f64], logits: &[f32], after: &[f32], gradient: &[f32]| {
            compare(&report(losses, logits, after, gradient)).divergence
        };
        let everything = check(&[2.4, 2.2, 1.8], &[1.5, -2.0], &bad_move, &bad_gradient);
        assert!(matches!(everything, Some(Divergence::Loss { step: 1, .. })));
        let backward = check(&[2.3, 2.2, 1.8], &[1.5, -2.0], &bad_move, &bad_gradient);
        let Some(Divergence::Gradient(g)) = backward else {
            panic!("{backward:?}")
        };
        assert!((g.rel - 0.5).abs() < 1e-6, "{g:?}");
        let later = check(&[2.3, 2.1, 1.8], &[1.5, -2.0], &bad_move, &gradient());
        assert!(matches!(later, Some(Divergence::Loss { step: 3, .. })));
        let logits = check(&[2.3, 2.1, 1.9], &[1.5, -2.0], &bad_move, &gradient());
        assert_eq!(logits, Some(Divergence::Logits { rel: 0.25 }));
        let moved = check(&[2.3, 2.1, 1.9], &[1.0, -2.0], &bad_move, &gradient());
        assert!(matches!(moved, Some(Divergence::Weights(_))), "{moved:?}");
        let message = moved.unwrap().to_string();
        assert!(
            message.contains("weight `0.weight` moved differently"),
            "{message}"
        );
    }

    #[test]
    fn nan_and_shape_mismatches_never_pass() {
        let after = stepped(&gradient());
        let nan = report(&[f64::NAN, 2.1, 1.9], &[1.0, -2.0], &after, &gradient());
        assert!(matches!(
            compare(&nan).divergence,
            Some(Divergence::Loss { step: 1, .. })
        ));
        let mut g = gradient();
        g[0] = f32::NAN;
        let d = compare(&report(&[2.3, 2.1, 1.9], &[1.0, -2.0], &after, &g));
        assert!(
            matches!(d.divergence, Some(Divergence::Gradient(_))),
            "{d:?}"
        );
        assert!(d.worst_gradient().rel.is_infinite());
        let short = report(
            &[2.3, 2.1, 1.9],
            &[1.0, -2.0],
            &after[..39_999],
            &gradient(),
        );
        assert!(matches!(
            distances(&reference(), &short),
            Err(Divergence::Mismatch(_))
        ));
    }
}

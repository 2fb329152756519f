//! Comparing the plugins' parity reports: each against the first plugin that has one, per
//! quantity, at tolerances suited to `f32` arithmetic done in different orders.

use std::fmt;

use crate::plugin::parity_worker::{NamedTensor, ParityOutcome};

/// Loss after each step: `|a − b| / |b|`.
pub const LOSS_TOLERANCE: f64 = 1e-4;
/// Logits on the evaluation batch: the largest `|a − b|` over the reference's largest `|b|`.
pub const VALUE_TOLERANCE: f64 = 1e-3;
/// Every weight tensor after the steps, measured as the logits are. Looser: Adam divides each
/// gradient by its own magnitude, so an entry whose gradient is near f32 noise (≈ ε = 1e-8)
/// takes a step of up to the learning rate in a direction the noise picks (seen: 1.4e-4 of a
/// 3e-3 total movement between jax and keras, 3.6e-3 relative).
pub const WEIGHT_TOLERANCE: f64 = 1e-2;

/// The first place where a plugin leaves the reference.
#[derive(Debug, Clone, PartialEq)]
pub enum Divergence {
    Loss {
        step: usize,
        rel: f64,
    },
    Logits {
        rel: f64,
    },
    Tensor {
        name: String,
        abs: f64,
        rel: f64,
    },
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
            Divergence::Logits { rel } => write!(
                f,
                "the logits on the evaluation batch differ by {rel:.2e} (relative; tolerance \
                 {VALUE_TOLERANCE:.0e})"
            ),
            Divergence::Tensor { name, abs, rel } => write!(
                f,
                "weight `{name}` differs by {abs:.2e} ({rel:.2e} relative; tolerance \
                 {WEIGHT_TOLERANCE:.0e}) after the steps"
            ),
            Divergence::Mismatch(what) => f.write_str(what),
        }
    }
}

/// One plugin's distances from the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Distances {
    /// Largest relative loss difference and its step (from 1).
    pub loss: (f64, usize),
    pub logits: f64,
    /// The tensor with the largest relative difference: (name, max abs, relative).
    pub worst_tensor: (String, f64, f64),
    pub divergence: Option<Divergence>,
}

/// The distances of `got` from `reference` (both `Report`s).
pub fn distances(reference: &ParityOutcome, got: &ParityOutcome) -> Result<Distances, Divergence> {
    let (
        ParityOutcome::Report {
            losses: rl,
            logits: rg,
            weights: rw,
        },
        ParityOutcome::Report {
            losses: gl,
            logits: gg,
            weights: gw,
        },
    ) = (reference, got)
    else {
        return Err(Divergence::Mismatch("no report to compare".into()));
    };
    if rl.len() != gl.len() || rg.len() != gg.len() {
        return Err(Divergence::Mismatch(format!(
            "{} losses and {} logits, but the reference has {} and {}",
            gl.len(),
            gg.len(),
            rl.len(),
            rg.len()
        )));
    }
    let mut loss = (0.0, 0);
    let mut first_loss = None;
    for (step, (a, b)) in gl.iter().zip(rl).enumerate() {
        let rel = (a - b).abs() / b.abs().max(f64::MIN_POSITIVE);
        let rel = if rel.is_nan() { f64::INFINITY } else { rel };
        if rel > loss.0 || step == 0 {
            loss = (rel, step + 1);
        }
        if rel > LOSS_TOLERANCE && first_loss.is_none() {
            first_loss = Some(Divergence::Loss {
                step: step + 1,
                rel,
            });
        }
    }
    let logits = relative(gg, rg).1;
    let mut worst = (String::new(), 0.0, 0.0);
    let mut first_tensor = None;
    for r in rw {
        let g = tensor(gw, r)?;
        let (abs, rel) = relative(&g.values, &r.values);
        if rel > worst.2 || worst.0.is_empty() {
            worst = (r.name.clone(), abs, rel);
        }
        if rel > WEIGHT_TOLERANCE && first_tensor.is_none() {
            first_tensor = Some(Divergence::Tensor {
                name: r.name.clone(),
                abs,
                rel,
            });
        }
    }
    let logits_divergence =
        (logits > VALUE_TOLERANCE).then_some(Divergence::Logits { rel: logits });
    Ok(Distances {
        loss,
        logits,
        worst_tensor: worst,
        divergence: first_loss.or(logits_divergence).or(first_tensor),
    })
}

/// `got`'s tensor named like `r`, with `r`'s shape.
fn tensor<'g>(got: &'g [NamedTensor], r: &NamedTensor) -> Result<&'g NamedTensor, Divergence> {
    let g = got
        .iter()
        .find(|g| g.name == r.name)
        .ok_or_else(|| Divergence::Mismatch(format!("no weight `{}` handed back", r.name)))?;
    if g.shape != r.shape || g.values.len() != r.values.len() {
        return Err(Divergence::Mismatch(format!(
            "weight `{}` has shape {:?}, the reference {:?}",
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
        let d = (a as f64 - b as f64).abs();
        abs = if d.is_nan() {
            f64::INFINITY
        } else {
            abs.max(d)
        };
        scale = scale.max((b as f64).abs());
    }
    (abs, abs / scale.max(f64::MIN_POSITIVE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(losses: &[f64], logits: &[f32], weight: &[f32]) -> ParityOutcome {
        ParityOutcome::Report {
            losses: losses.to_vec(),
            logits: logits.to_vec(),
            weights: vec![
                NamedTensor {
                    name: "0.weight".into(),
                    shape: vec![2],
                    values: weight.to_vec(),
                },
                NamedTensor {
                    name: "0.bias".into(),
                    shape: vec![1],
                    values: vec![0.5],
                },
            ],
        }
    }

    #[test]
    fn agreement_within_f32_rounding_passes() {
        let r = report(&[2.3, 2.1], &[1.0, -2.0], &[0.25, -0.5]);
        let g = report(
            &[2.3 * (1.0 + 1e-6), 2.1],
            &[1.0 + 1e-6, -2.0],
            &[0.25, -0.5 + 1e-6],
        );
        let d = distances(&r, &g).unwrap();
        assert_eq!(d.divergence, None);
        assert!((d.loss.0 - 1e-6).abs() < 1e-9 && d.loss.1 == 1);
        assert!((d.logits - 1e-6 / 2.0).abs() < 1e-7);
        assert_eq!(d.worst_tensor.0, "0.weight");
    }

    #[test]
    fn the_first_diverging_step_then_logits_then_tensor_is_named() {
        let r = report(&[2.3, 2.1, 1.9], &[1.0, -2.0], &[0.25, -0.5]);
        let late = report(&[2.3, 2.1, 1.8], &[1.5, -2.0], &[0.0, -0.5]);
        let d = distances(&r, &late).unwrap();
        assert_eq!(d.loss.1, 3);
        match d.divergence {
            Some(Divergence::Loss { step: 3, rel }) => assert!((rel - 0.1 / 1.9).abs() < 1e-9),
            other => panic!("{other:?}"),
        }
        let logits_only = report(&[2.3, 2.1, 1.9], &[1.5, -2.0], &[0.0, -0.5]);
        let d = distances(&r, &logits_only).unwrap();
        assert_eq!(d.divergence, Some(Divergence::Logits { rel: 0.25 }));
        let within = report(&[2.3, 2.1, 1.9], &[1.0, -2.0], &[0.25, -0.5 + 4e-3]);
        assert_eq!(distances(&r, &within).unwrap().divergence, None);
        let tensor_only = report(&[2.3, 2.1, 1.9], &[1.0, -2.0], &[0.0, -0.5]);
        let d = distances(&r, &tensor_only).unwrap();
        let Some(Divergence::Tensor { name, abs, rel }) = d.divergence else {
            panic!("{:?}", d.divergence)
        };
        assert_eq!((name.as_str(), abs, rel), ("0.weight", 0.25, 0.5));
    }

    #[test]
    fn nan_and_shape_mismatches_never_pass() {
        let r = report(&[2.3], &[1.0], &[0.25, -0.5]);
        let nan = report(&[f64::NAN], &[1.0], &[0.25, -0.5]);
        assert!(matches!(
            distances(&r, &nan).unwrap().divergence,
            Some(Divergence::Loss { step: 1, .. })
        ));
        let short = report(&[2.3], &[1.0], &[0.25]);
        assert!(matches!(
            distances(&r, &short),
            Err(Divergence::Mismatch(_))
        ));
    }
}

//! The model's parameters: their names and shapes, the host's layout versus the programs'
//! layout, and their initial values (the host's when it supplies them, else from the seed).
//!
//! Host layout ([`plugin_api::Tensor`]): convolution weights `[out, in, kh, kw]`, dense weights
//! `[out, in]` with `in` in channel-major flatten order (`c, h, w`). Program layout (what XLA's
//! CPU kernels prefer, as JAX writes it): convolution weights `[kh, kw, in, out]` (HWIO), dense
//! weights `[in, out]` with `in` in the programs' flatten order (`h, w, c`). Biases are the same
//! in both. Converting here, once, keeps the per-step programs free of transposes.

use plugin_api::rng::SplitMix64;
use plugin_api::shapes::ModelShapes;
use plugin_api::{PluginError, Session};

use crate::plan::{Op, Shape, Step};

/// How a parameter's values are laid out, in both orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Conv {
        out: i64,
        inp: i64,
        k: i64,
    },
    /// `from`: the image (h, w, c) the input vector was flattened from, if any.
    Dense {
        out: i64,
        inp: i64,
        from: Option<(i64, i64, i64)>,
    },
    Bias,
}

/// One trainable tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// `<layer index>.weight` or `<layer index>.bias`, as in `Session::initial_weights`.
    pub name: String,
    /// Shape in the host's layout.
    pub host_shape: Vec<i64>,
    /// Shape in the programs' layout.
    pub xla_shape: Vec<i64>,
    /// Inputs per output unit of its layer (plugin-api's `Params::fan_in`): PyTorch's
    /// default init draws every parameter of the layer from U(-1/√fan_in, 1/√fan_in).
    pub fan_in: usize,
    layout: Layout,
}

impl ParamSpec {
    /// Number of values.
    pub fn count(&self) -> usize {
        self.host_shape.iter().product::<i64>() as usize
    }

    /// Where host-layout element `i` goes in the programs' layout.
    fn xla_index(&self, i: usize) -> usize {
        let i = i as i64;
        let j = match self.layout {
            Layout::Bias => i,
            Layout::Conv { out, inp, k } => {
                // host [o, c, y, x] → xla [y, x, c, o]
                let (x, rest) = (i % k, i / k);
                let (y, rest) = (rest % k, rest / k);
                let (c, o) = (rest % inp, rest / inp);
                ((y * k + x) * inp + c) * out + o
            }
            Layout::Dense { out, inp, from } => {
                // host [o, n] → xla [n', o], n' the programs' flatten index of host index n.
                let (n, o) = (i % inp, i / inp);
                let n = match from {
                    Some((h, w, c)) => {
                        let (x, rest) = (n % w, n / w);
                        let (y, ch) = (rest % h, rest / h);
                        (y * w + x) * c + ch
                    }
                    None => n,
                };
                n * out + o
            }
        };
        j as usize
    }

    /// Host-layout values in the programs' layout.
    pub fn to_xla(&self, host: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; host.len()];
        for (i, v) in host.iter().enumerate() {
            out[self.xla_index(i)] = *v;
        }
        out
    }

    /// Programs'-layout values in the host's layout.
    pub fn to_host(&self, xla: &[f32]) -> Vec<f32> {
        (0..xla.len()).map(|i| xla[self.xla_index(i)]).collect()
    }
}

/// The parameters of `plan`, layer after layer (weight, then bias).
pub fn specs(plan: &[Step]) -> Vec<ParamSpec> {
    let mut specs = Vec::new();
    for step in plan {
        let Some(params) = &step.layer.params else {
            continue;
        };
        let (layout, host_shape, xla_shape, units) = match (step.op, step.input) {
            (
                Op::Conv {
                    filters, kernel, ..
                },
                Shape::Image { c, .. },
            ) => (
                Layout::Conv {
                    out: filters,
                    inp: c,
                    k: kernel,
                },
                vec![filters, c, kernel, kernel],
                vec![kernel, kernel, c, filters],
                filters,
            ),
            (Op::Dense { units, .. }, Shape::Flat { n, from }) => (
                Layout::Dense {
                    out: units,
                    inp: n,
                    from,
                },
                vec![units, n],
                vec![n, units],
                units,
            ),
            _ => continue,
        };
        specs.push(ParamSpec {
            name: step.layer.weight_name(),
            host_shape,
            xla_shape,
            fan_in: params.fan_in,
            layout,
        });
        specs.push(ParamSpec {
            name: step.layer.bias_name(),
            host_shape: vec![units],
            xla_shape: vec![units],
            fan_in: params.fan_in,
            layout: Layout::Bias,
        });
    }
    specs
}

/// A parameter's values in the host's layout (as in `Session::initial_weights`).
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub name: String,
    pub shape: Vec<i64>,
    pub values: Vec<f32>,
}

/// Where the initial values came from, for the run's notes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Host,
    Seed,
}

/// Initial values of every parameter of `specs` (made from `model`), in the programs' layout:
/// the session's initial weights when given, checked by plugin-api against the model (every
/// tensor it has, with its shape, and no other), else PyTorch's default initialisation drawn
/// from the seed ([`seeded`]).
pub fn initial(
    session: &Session<'_>,
    model: &ModelShapes,
    specs: &[ParamSpec],
) -> Result<(Vec<Vec<f32>>, Origin), PluginError> {
    let Some(given) = model.initial_weights(session)? else {
        return Ok((seeded(session.seed, specs), Origin::Seed));
    };
    // A weight and a bias per layer with parameters, in layer order: the order of `specs`.
    let host: Vec<&[f32]> = given.iter().flat_map(|l| [l.weight, l.bias]).collect();
    if host.len() != specs.len() {
        return Err(PluginError::failed(format!(
            "the model has {} parameter tensors but its check found {}",
            specs.len(),
            host.len()
        )));
    }
    let values = specs.iter().zip(host).map(|(s, v)| s.to_xla(v)).collect();
    Ok((values, Origin::Host))
}

/// PyTorch's default initialisation, U(-1/√fan_in, 1/√fan_in) for a layer's weight and bias,
/// drawn in the host's layout, tensor after tensor, from plugin-api's SplitMix64 seeded with
/// `seed`: the generator the host's plans and burn's weights come from, whose outputs
/// plugin-api pins, so a seed gives the same start on every build (rand's range sampling, by
/// its own policy, may change values in any minor release).
fn seeded(seed: u64, specs: &[ParamSpec]) -> Vec<Vec<f32>> {
    let mut rng = SplitMix64::new(seed);
    specs
        .iter()
        .map(|spec| {
            let bound = (1.0 / (spec.fan_in as f64).sqrt()) as f32;
            let host: Vec<f32> = (0..spec.count())
                .map(|_| (rng.next_f32() * 2.0 - 1.0) * bound)
                .collect();
            spec.to_xla(&host)
        })
        .collect()
}

#[cfg(test)]
// Index arithmetic is spelled out term by term (`1 * 2 + 0`) to mirror the layouts.
#[allow(clippy::identity_op)]
mod tests {
    use super::*;

    fn spec(layout: Layout, host_shape: Vec<i64>) -> ParamSpec {
        ParamSpec {
            name: "t".into(),
            xla_shape: Vec::new(),
            fan_in: 1,
            layout,
            host_shape,
        }
    }

    #[test]
    fn conv_weights_move_to_hwio() {
        // out 2, in 3, kernel 2: host [o, c, y, x].
        let s = spec(
            Layout::Conv {
                out: 2,
                inp: 3,
                k: 2,
            },
            vec![2, 3, 2, 2],
        );
        let host: Vec<f32> = (0..24).map(|v| v as f32).collect();
        let xla = s.to_xla(&host);
        // xla [y, x, c, o]: element (y=1, x=0, c=2, o=1) is host (o=1, c=2, y=1, x=0).
        let at_xla = ((1 * 2 + 0) * 3 + 2) * 2 + 1;
        let at_host = ((1 * 3 + 2) * 2 + 1) * 2 + 0;
        assert_eq!(xla[at_xla], host[at_host]);
        assert_eq!(s.to_host(&xla), host, "round trip");
    }

    #[test]
    fn dense_weights_follow_the_flatten_order() {
        // A 2×3 image with 2 channels flattened: host index c*6 + y*3 + x, programs' index
        // (y*3 + x)*2 + c; 4 output units.
        let s = spec(
            Layout::Dense {
                out: 4,
                inp: 12,
                from: Some((2, 3, 2)),
            },
            vec![4, 12],
        );
        let host: Vec<f32> = (0..48).map(|v| v as f32).collect();
        let xla = s.to_xla(&host);
        // unit 3, channel 1, y 1, x 2: host [3, 1*6 + 1*3 + 2 = 11], xla [(1*3 + 2)*2 + 1 = 11, 3]
        // — the same n by coincidence, so check one where they differ too:
        // channel 1, y 0, x 0: host n = 6, xla n' = 1.
        assert_eq!(xla[11 * 4 + 3], host[3 * 12 + 11]);
        assert_eq!(xla[1 * 4 + 2], host[2 * 12 + 6]);
        assert_eq!(s.to_host(&xla), host, "round trip");

        // Without an image before it the input order is kept: a plain transpose.
        let plain = spec(
            Layout::Dense {
                out: 4,
                inp: 12,
                from: None,
            },
            vec![4, 12],
        );
        assert_eq!(plain.to_xla(&host)[6 * 4 + 2], host[2 * 12 + 6]);
    }

    #[test]
    fn seeded_values_come_from_splitmix64_in_the_host_layout() {
        // A dense layer 3 → 2 and its bias: fan-in 3, bound 1/√3 for both.
        let dense = ParamSpec {
            name: "0.weight".into(),
            host_shape: vec![2, 3],
            xla_shape: vec![3, 2],
            fan_in: 3,
            layout: Layout::Dense {
                out: 2,
                inp: 3,
                from: None,
            },
        };
        let bias = ParamSpec {
            name: "0.bias".into(),
            host_shape: vec![2],
            xla_shape: vec![2],
            layout: Layout::Bias,
            ..dense.clone()
        };
        let values = seeded(7, &[dense, bias]);
        let mut rng = SplitMix64::new(7);
        let bound = 1.0 / 3f32.sqrt();
        let draws: Vec<f32> = (0..8)
            .map(|_| (rng.next_f32() * 2.0 - 1.0) * bound)
            .collect();
        // Host [o, i] drawn row by row; the programs hold [i, o].
        let (w, b) = (&draws[..6], &draws[6..]);
        assert_eq!(values[0], [w[0], w[3], w[1], w[4], w[2], w[5]]);
        assert_eq!(values[1], b, "the bias continues the same stream");
        assert!(draws.iter().all(|x| x.abs() <= bound));
        let four = [spec(Layout::Bias, vec![4])];
        assert_ne!(
            seeded(8, &four),
            seeded(7, &four),
            "another seed, other values"
        );
    }
}

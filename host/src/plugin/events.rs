//! The worker → host stream: one JSON object per line on the worker's event pipe, and what
//! the host makes of a whole stream ([`measured_run`]: the store's neutral [`MeasuredRun`]).

use serde::{Deserialize, Serialize};

pub use crate::store::record::{Mark, Phase};
use crate::store::record::{MeasuredRun, PhaseSpan};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The worker is measuring: which meter, which domains.
    Started {
        pid: u32,
        meter: String,
        measured: bool,
        domains: Vec<String>,
        /// Per domain: whether it adds to the run's total (sub-domains such as `core` are
        /// inside their package and must not be counted twice). The meter decides.
        in_total: Vec<bool>,
        unused_sources: Vec<String>,
    },
    /// The plugin loaded; its static info.
    Plugin {
        name: String,
        framework: String,
        framework_version: String,
    },
    /// The trainer exists; what it says took effect.
    RunInfo {
        framework: String,
        framework_version: String,
        threads: u32,
        notes: Vec<(String, String)>,
    },
    /// A measured phase (setup, training epoch n, eval) began.
    PhaseStart {
        #[serde(with = "epoch_on_the_wire")]
        phase: Phase,
        epoch: Option<u32>,
        at: Mark,
    },
    /// A measured phase ended successfully.
    PhaseEnd {
        #[serde(with = "epoch_on_the_wire")]
        phase: Phase,
        epoch: Option<u32>,
        at: Mark,
    },
    /// Batches done within an epoch (throttled).
    Progress {
        epoch: u32,
        batch: u64,
        batches: u64,
    },
    Trained {
        epoch: u32,
        samples: u64,
        loss: Option<f64>,
        notes: Vec<(String, String)>,
    },
    Evaluated {
        accuracy: Option<f64>,
        loss: Option<f64>,
        samples: u64,
        notes: Vec<(String, String)>,
    },
    /// Counter faults the meters flagged (resets, implausible power).
    Faults { faults: Vec<String> },
    /// The run failed in `phase`.
    Error { phase: Phase, message: String },
    /// The run could not go on for a fault of the machine (a full disk, a read-only file
    /// system, a missing permission) met by the worker itself, not by the plugin: the host
    /// stops the campaign and leaves the run to do (see [`crate::error::environment_fault`]).
    Environment { phase: Phase, message: String },
    /// The run completed.
    Finished,
}

impl Event {
    pub fn to_line(&self) -> String {
        // Serialising these plain structs cannot fail; keep a readable fallback anyway.
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!("{{\"event\":\"error\",\"phase\":\"worker\",\"message\":\"{e}\"}}")
        })
    }
}

/// `phase_start` and `phase_end` have always called the training phase `"epoch"` (there is one
/// per epoch) while errors call it `"train"`: the stream keeps both spellings, so logs and
/// workers of either age read the same; the code has one, [`Phase::Train`].
mod epoch_on_the_wire {
    use serde::de::IntoDeserializer;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Phase;

    pub fn serialize<S: Serializer>(phase: &Phase, s: S) -> Result<S::Ok, S::Error> {
        match phase {
            Phase::Train => s.serialize_str("epoch"),
            other => other.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Phase, D::Error> {
        let word = String::deserialize(d)?;
        match word.as_str() {
            "epoch" => Ok(Phase::Train),
            _ => Phase::deserialize(word.into_deserializer()),
        }
    }
}

/// What a worker's whole event stream says it measured; `failure` is the supervisor's verdict.
pub fn measured_run(events: &[Event], failure: Option<String>) -> MeasuredRun {
    let mut run = MeasuredRun {
        failure,
        ..MeasuredRun::default()
    };
    let mut open: Option<(Phase, Option<u32>, &Mark)> = None;
    for e in events {
        match e {
            Event::Started {
                meter,
                domains,
                in_total,
                ..
            } => {
                run.meter = meter.clone();
                run.domains = domains.clone();
                run.in_total = in_total.clone();
            }
            Event::Plugin {
                framework,
                framework_version,
                ..
            } if run.framework.is_empty() => {
                run.framework = join_version(framework, framework_version);
            }
            Event::RunInfo {
                framework,
                framework_version,
                threads,
                notes,
            } => {
                run.framework = join_version(framework, framework_version);
                run.threads = Some(*threads);
                keep_notes(&mut run.notes, notes);
            }
            Event::Trained { notes, .. } => keep_notes(&mut run.notes, notes),
            Event::Evaluated {
                accuracy,
                loss,
                notes,
                ..
            } => {
                run.accuracy = *accuracy;
                run.loss = *loss;
                keep_notes(&mut run.notes, notes);
            }
            Event::Faults { faults } => run.faults.extend(faults.iter().cloned()),
            Event::PhaseStart { phase, epoch, at } => open = Some((*phase, *epoch, at)),
            Event::PhaseEnd { phase, epoch, at } => {
                if let Some((p, ep, start)) = open.take() {
                    if p == *phase && ep == *epoch {
                        run.phases.push(PhaseSpan {
                            phase: p,
                            epoch: ep,
                            start: start.clone(),
                            end: at.clone(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    run
}

/// Adds `new` notes to `kept`: a key already there takes the later value (the trainer's last
/// word on it, e.g. the last epoch's), in the place it first had.
fn keep_notes(kept: &mut Vec<(String, String)>, new: &[(String, String)]) {
    for (key, value) in new {
        match kept.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.clone(),
            None => kept.push((key.clone(), value.clone())),
        }
    }
}

/// A framework and its version for display, the version left out when the framework's name
/// already holds it (`candle 0.11.1` and `0.11.1`).
pub fn join_version(framework: &str, version: &str) -> String {
    if version.is_empty() || framework.contains(version) {
        framework.to_string()
    } else {
        format!("{framework} {version}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(mono_s: f64) -> Mark {
        Mark {
            mono_s,
            unix_ms: 5,
            joules: vec![mono_s],
            cpu_time_s: 0.0,
        }
    }

    #[test]
    fn the_wire_format_is_unchanged() {
        let start = Event::PhaseStart {
            phase: Phase::Train,
            epoch: Some(2),
            at: at(1.5),
        };
        let line = start.to_line();
        assert_eq!(
            line,
            r#"{"event":"phase_start","phase":"epoch","epoch":2,"at":{"mono_s":1.5,"unix_ms":5,"joules":[1.5],"cpu_time_s":0.0}}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), start);
        let error = Event::Error {
            phase: Phase::Train,
            message: "boom".into(),
        };
        assert_eq!(
            error.to_line(),
            r#"{"event":"error","phase":"train","message":"boom"}"#
        );
        let end: Event =
            serde_json::from_str(r#"{"event":"phase_end","phase":"setup","epoch":null,"at":{"mono_s":1,"unix_ms":5,"joules":[],"cpu_time_s":0}}"#)
                .unwrap();
        assert!(matches!(
            end,
            Event::PhaseEnd {
                phase: Phase::Setup,
                ..
            }
        ));
        assert!(
            serde_json::from_str::<Event>(r#"{"event":"error","phase":"nap","message":""}"#)
                .is_err()
        );
    }

    #[test]
    fn a_stream_becomes_phases_framework_and_results() {
        let events = [
            Event::Plugin {
                name: "spin".into(),
                framework: "spin".into(),
                framework_version: "1.0".into(),
            },
            Event::PhaseStart {
                phase: Phase::Setup,
                epoch: None,
                at: at(0.0),
            },
            Event::PhaseEnd {
                phase: Phase::Setup,
                epoch: None,
                at: at(1.0),
            },
            Event::RunInfo {
                framework: "spin 1.0".into(),
                framework_version: "1.0".into(),
                threads: 3,
                notes: vec![
                    ("pool".into(), "rayon".into()),
                    ("epoch_s".into(), "?".into()),
                ],
            },
            Event::PhaseStart {
                phase: Phase::Train,
                epoch: Some(1),
                at: at(1.0),
            },
            // A start without its end (the run failed there) completes nothing.
            Event::PhaseStart {
                phase: Phase::Eval,
                epoch: None,
                at: at(2.0),
            },
            Event::PhaseEnd {
                phase: Phase::Train,
                epoch: Some(1),
                at: at(3.0),
            },
            Event::Trained {
                epoch: 1,
                samples: 1,
                loss: None,
                notes: vec![("epoch_s".into(), "0.5".into())],
            },
            Event::Evaluated {
                accuracy: Some(0.5),
                loss: None,
                samples: 1,
                notes: vec![("eval_batch".into(), "1000".into())],
            },
        ];
        let run = measured_run(&events, Some("eval: x".into()));
        // Every note kept, a repeated key with its last value in its first place.
        let note = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            run.notes,
            [
                note("pool", "rayon"),
                note("epoch_s", "0.5"),
                note("eval_batch", "1000")
            ]
        );
        assert_eq!(run.framework, "spin 1.0");
        assert_eq!(run.threads, Some(3));
        assert_eq!(run.accuracy, Some(0.5));
        assert_eq!(run.phases.len(), 1);
        assert_eq!(run.phases[0].phase, Phase::Setup);
        assert_eq!(run.failure.as_deref(), Some("eval: x"));
        assert_eq!(join_version("keras", "3.1"), "keras 3.1");
    }
}

//! One EnergiBridge recording's rows → the run's duration and one reading per energy column.
//!
//! EnergiBridge writes a row per sample: `Time` is the Unix millisecond at which the interval
//! began (the row's values were read then), and `Delta` the interval's length in ms, up to the
//! moment the row was printed (so `Delta` of row k ≈ `Time` of row k+1 − `Time` of row k; its
//! first row has `Delta` 0). The run spans `Time` of the first row to `Time` of the last.
//!
//! - **Counters** (`… (J)`) are followed delta by delta, so a wrap or reset is caught at the row
//!   where it happens; the energy is decided later, by `metrics`, under `clean`'s policy.
//! - **Power** (`… (Watts)`, `… (mWatts)`) is integrated as EnergiBridge's own `--summary`
//!   does (0.0.6 and later): Σ power × `Delta` over every row but the last, i.e. each reading held
//!   over the interval that follows it, up to the last row's `Time`: the same span as the
//!   duration. (`Delta` is truncated to whole ms and leaves out the time EnergiBridge takes to
//!   write a row; on 106 real recordings it sums to 0.2–0.5 % less than the `Time` span. We keep
//!   EnergiBridge's rule so figures agree with its `--summary`, and cross-check `Delta` against
//!   `Time` in `metrics`.) Without a `Delta` column, `Time` differences stand in.
//! - A **damaged last row** (fewer fields, no line end, a value that is not a number) is what a
//!   recording stopped by Ctrl-C or a time limit ends with: it is dropped, said so, and the run
//!   kept. The same damage on any other row makes the run unreadable, with the row named.

use anyhow::{anyhow, bail, Context};

use super::columns::{self, Chosen, Quantity};
use super::decode::Decoded;
use crate::analysis::data::{CounterTrace, DomainReading, Reading, Sampled, Wrap};

/// What one file gave.
#[derive(Debug)]
pub(crate) struct RunRead {
    pub time_s: f64,
    pub sampled: Sampled,
    /// Every recognised column, whether the total adds it, and why not.
    pub chosen: Vec<Chosen>,
    /// What was repaired, e.g. "last row truncated (32 of 103 fields)".
    pub repair: Option<String>,
}

/// One parsed data row: its clock and the chosen columns' values (in the header's unit).
struct Row {
    time: f64,
    delta: Option<f64>,
    values: Vec<f64>,
}

/// Reads the rows of a decoded file; `forced` names the columns to use (default: the table).
pub(crate) fn read(decoded: &Decoded, forced: &[String]) -> anyhow::Result<RunRead> {
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(decoded.separator)
        .flexible(true)
        .has_headers(true)
        .from_reader(decoded.text.as_slice());
    let headers: Vec<String> = csv
        .byte_headers()
        .context("cannot read the CSV header")?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    let find = |name: &str| headers.iter().position(|h| h == name);
    let time = find("Time").ok_or_else(|| anyhow!("no `Time` column: not an EnergiBridge CSV"))?;
    let delta = find("Delta");
    let chosen = columns::choose(&headers, forced)?;
    // Only the columns the total adds or shows are read: a core counter that misbehaves (they
    // do, on real AMD recordings) must not cost the run.
    let read_cols: Vec<&Chosen> = chosen.iter().filter(|c| c.in_total || c.shown).collect();
    let used: Vec<(usize, &str)> = read_cols
        .iter()
        .map(|c| (c.column.index, c.column.header.as_str()))
        .collect();

    let mut records = Vec::new();
    let mut record = csv::ByteRecord::new();
    while csv
        .read_byte_record(&mut record)
        .context("cannot read CSV")?
    {
        records.push(record.clone());
    }
    let (rows, repair) = parse_rows(&records, headers.len(), decoded, time, delta, &used)?;
    if rows.is_empty() {
        bail!("no samples: the file holds its header only");
    }
    if rows.len() < 2 {
        bail!("only one sample: a run needs at least two");
    }
    let domains = read_cols
        .iter()
        .enumerate()
        .map(|(i, c)| reading(c, i, &rows))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (first, last) = (&rows[0], &rows[rows.len() - 1]);
    let sampled = Sampled {
        domains,
        rows: rows.len(),
        interval_ms: typical_delta(&rows),
        delta_sum_ms: rows[..rows.len() - 1]
            .iter()
            .map(|r| r.delta)
            .sum::<Option<f64>>(),
        first_time: first.time,
    };
    Ok(RunRead {
        time_s: (last.time - first.time) / 1000.0,
        sampled,
        chosen,
        repair,
    })
}

/// Parses every record; a damaged last one is dropped and described, any other is an error.
fn parse_rows(
    records: &[csv::ByteRecord],
    fields: usize,
    decoded: &Decoded,
    time: usize,
    delta: Option<usize>,
    used: &[(usize, &str)],
) -> anyhow::Result<(Vec<Row>, Option<String>)> {
    let mut rows = Vec::with_capacity(records.len());
    let mut repair = None;
    for (i, record) in records.iter().enumerate() {
        let n = i + 1;
        let is_last = n == records.len();
        let parsed = if record.len() != fields {
            Err(format!("{} of {fields} fields", record.len()))
        } else if is_last && !decoded.ends_with_newline() {
            Err("no line end: the recording was cut off".to_string())
        } else {
            parse_row(record, time, delta, used)
        };
        match parsed {
            Ok(row) => rows.push(row),
            Err(why) if is_last => repair = Some(format!("last row (data row {n}) dropped: {why}")),
            Err(why) => bail!("data row {n}: {why}"),
        }
    }
    Ok((rows, repair))
}

fn parse_row(
    record: &csv::ByteRecord,
    time: usize,
    delta: Option<usize>,
    used: &[(usize, &str)],
) -> Result<Row, String> {
    let value = |idx: usize, name: &str| -> Result<f64, String> {
        let raw = record.get(idx).unwrap_or_default();
        let text = String::from_utf8_lossy(raw);
        let v: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("`{name}` = {text:?} is not a number"))?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(format!("`{name}` = {text:?} is not finite"))
        }
    };
    Ok(Row {
        time: value(time, "Time")?,
        delta: delta.map(|d| value(d, "Delta")).transpose()?,
        values: used
            .iter()
            .map(|(idx, name)| value(*idx, name))
            .collect::<Result<_, _>>()?,
    })
}

/// One chosen column's reading over the rows.
fn reading(chosen: &Chosen, i: usize, rows: &[Row]) -> anyhow::Result<DomainReading> {
    let column = &chosen.column;
    let reading = match column.quantity {
        Quantity::Counter { joules_per_unit } => {
            Reading::Counter(counter(rows, i, joules_per_unit))
        }
        Quantity::Power { watts_per_unit } => Reading::Integrated {
            joules: integrate(rows, i, watts_per_unit, &column.header)?,
        },
    };
    Ok(DomainReading {
        column: column.header.clone(),
        domain: column.domain.clone(),
        bound_domain: column.bound_domain.to_string(),
        in_total: chosen.in_total,
        reading,
    })
}

/// Follows a cumulative counter delta by delta.
fn counter(rows: &[Row], i: usize, joules_per_unit: f64) -> CounterTrace {
    let mut trace = CounterTrace {
        forward_j: 0.0,
        steps: 0,
        wraps: Vec::new(),
        max_reading_j: f64::NEG_INFINITY,
    };
    let mut prev: Option<f64> = None;
    for (n, row) in rows.iter().enumerate() {
        let energy = row.values[i] * joules_per_unit;
        trace.max_reading_j = trace.max_reading_j.max(energy);
        if let Some(p) = prev {
            if energy >= p {
                trace.forward_j += energy - p;
                trace.steps += 1;
            } else {
                trace.wraps.push(Wrap {
                    row: n + 1,
                    before_j: p,
                    after_j: energy,
                });
            }
        }
        prev = Some(energy);
    }
    trace
}

/// Σ power × interval over every row but the last (EnergiBridge's `--summary` rule): the
/// interval is `Delta`, or the `Time` difference to the next row without a `Delta` column.
fn integrate(rows: &[Row], i: usize, watts_per_unit: f64, name: &str) -> anyhow::Result<f64> {
    let mut joules = 0.0;
    for (n, pair) in rows.windows(2).enumerate() {
        let watts = pair[0].values[i] * watts_per_unit;
        if watts < 0.0 {
            bail!(
                "data row {}: `{name}` = {}: power cannot be negative",
                n + 1,
                pair[0].values[i]
            );
        }
        let ms = pair[0].delta.unwrap_or(pair[1].time - pair[0].time);
        joules += watts * ms / 1000.0;
    }
    Ok(joules)
}

/// The median `Delta` of the full intervals: the first row's (0) and the last row's (cut short
/// when the command ended) are left out when there are others.
fn typical_delta(rows: &[Row]) -> Option<f64> {
    let all: Vec<f64> = rows.iter().map(|r| r.delta).collect::<Option<_>>()?;
    let mut inner: Vec<f64> = if all.len() > 2 {
        all[1..all.len() - 1].to_vec()
    } else {
        all
    };
    inner.sort_by(f64::total_cmp);
    let n = inner.len();
    Some(if n % 2 == 1 {
        inner[n / 2]
    } else {
        (inner[n / 2 - 1] + inner[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::super::decode::decode;
    use super::*;

    fn read_text(text: &str) -> anyhow::Result<RunRead> {
        read(&decode(text.as_bytes().to_vec())?, &[])
    }

    #[test]
    fn wrap_is_caught_where_it_happens() {
        let run = read_text(
            "Delta,Time,CPU_ENERGY (J)\n0,1000,65000\n200,1200,65500\n200,1400,100\n200,1600,600\n",
        )
        .expect("parses");
        assert!((run.time_s - 0.6).abs() < 1e-12);
        let Reading::Counter(trace) = &run.sampled.domains[0].reading else {
            panic!("counter")
        };
        assert_eq!((trace.forward_j, trace.steps), (1000.0, 2));
        assert_eq!(
            trace.wraps,
            vec![Wrap {
                row: 3,
                before_j: 65500.0,
                after_j: 100.0
            }]
        );
    }

    #[test]
    fn power_is_held_over_the_interval_that_follows_it() {
        // 10 W for 200 ms, 20 W for 300 ms; the last row's 1000 W is after the span.
        let run =
            read_text("Delta,Time,SYSTEM_POWER (Watts)\n200,1000,10\n300,1200,20\n5,1500,1000\n")
                .expect("parses");
        assert_eq!(
            run.sampled.domains[0].reading,
            Reading::Integrated { joules: 8.0 }
        );
        assert_eq!(run.sampled.delta_sum_ms, Some(500.0));
        assert_eq!(run.sampled.interval_ms, Some(300.0));
        // Without Delta, Time differences.
        let run = read_text("Time,GPU0_POWER (mWatts)\n1000,10000\n1500,0\n").expect("parses");
        assert_eq!(
            run.sampled.domains[0].reading,
            Reading::Integrated { joules: 5.0 }
        );
        let err = read_text("Delta,Time,CPU_POWER (Watts)\n0,1,-3\n1,2,4\n").expect_err("neg");
        assert!(err.to_string().contains("cannot be negative"), "{err}");
    }

    #[test]
    fn only_the_last_row_may_be_damaged() {
        let run = read_text("Delta,Time,CPU_ENERGY (J),X\n0,0,1,a\n200,200,3,b\n200,400,5\n")
            .expect("kept");
        assert_eq!(run.sampled.rows, 2);
        assert!(
            run.repair
                .as_deref()
                .is_some_and(|r| r.contains("3 of 4 fields")),
            "{:?}",
            run.repair
        );
        let run =
            read_text("Delta,Time,CPU_ENERGY (J)\n0,0,1\n200,200,3\n200,400,5.").expect("kept");
        assert_eq!(run.sampled.rows, 2);
        let run =
            read_text("Delta,Time,CPU_ENERGY (J)\n0,0,1\n200,200,3\n200,400,x\n").expect("kept");
        assert!(run
            .repair
            .as_deref()
            .is_some_and(|r| r.contains("not a number")));
        let err = read_text("Delta,Time,CPU_ENERGY (J)\n0,0,1\n200,200\n200,400,5\n")
            .expect_err("middle row");
        assert!(
            err.to_string().contains("data row 2: 2 of 3 fields"),
            "{err}"
        );
        let err = read_text("Delta,Time,CPU_ENERGY (J)\n").expect_err("header only");
        assert!(err.to_string().contains("header only"), "{err}");
    }
}

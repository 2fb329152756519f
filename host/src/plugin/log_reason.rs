//! What a dead worker's log says about why it died, in one line for runs.csv's `error`.
//!
//! The log holds the worker's stderr in full: framework output, and Rust's panic reports,
//! which with `RUST_BACKTRACE=1` (or `full`) in the environment run to dozens of backtrace
//! lines. The reason keeps the panic — where, and its message — and leaves the backtrace in
//! the log; a log without a panic gives its last lines, backtrace frames left out.

/// Lines kept from a log without a panic report.
const TAIL_LINES: usize = 3;
/// Longest panic message kept (a message may be a whole dump).
const MESSAGE_CHARS: usize = 300;

/// One line: the first panic reported in `log` (and the message of the next, which is often
/// the abort it caused), else its last few lines that are not backtrace noise; empty when
/// the log says nothing.
pub fn summarize(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let panics = panics(&lines);
    match panics.as_slice() {
        [] => {
            let kept: Vec<&str> = lines.into_iter().filter(|l| !is_noise(l)).collect();
            kept[kept.len().saturating_sub(TAIL_LINES)..].join(" | ")
        }
        [(at, message)] => format!("panicked at {at}: {message}"),
        [(at, message), (_, then), ..] => format!("panicked at {at}: {message}; then: {then}"),
    }
}

/// Each `thread '…' panicked at <where>:` report with its message (the lines up to the
/// backtrace or the next report), in order.
fn panics<'l>(lines: &[&'l str]) -> Vec<(&'l str, String)> {
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(at) = panic_location(line) else {
            continue;
        };
        let message: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| !is_noise(l) && panic_location(l).is_none())
            .copied()
            .collect();
        let mut message = message.join(" ");
        if message.chars().count() > MESSAGE_CHARS {
            message = message.chars().take(MESSAGE_CHARS).collect::<String>() + "…";
        }
        found.push((at, message));
    }
    found
}

/// `plugins/x/src/lib.rs:74:24` from `thread 'main' (123) panicked at plugins/x/src/lib.rs:74:24:`.
fn panic_location(line: &str) -> Option<&str> {
    if !line.starts_with("thread '") {
        return None;
    }
    let (_, at) = line.split_once("' panicked at ").or_else(|| {
        // Since Rust 1.87 the thread id follows its name: `thread 'main' (123) panicked at`.
        line.split_once(") panicked at ")
    })?;
    Some(at.trim_end_matches(':'))
}

/// Backtrace frames (`12: symbol`, `at file:line`) and the notes around them.
fn is_noise(line: &str) -> bool {
    let frame = line
        .split_once(": ")
        .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    frame
        || line.starts_with("at ")
        || line == "stack backtrace:"
        || line.starts_with("note: Some details are omitted")
        || line.starts_with("note: run with `RUST_BACKTRACE=1`")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log as Rust writes it with RUST_BACKTRACE=1 for a panic that cannot unwind.
    const ABORTED: &str = "loading data\n\
thread '<unnamed>' (12934) panicked at plugins/faulty/src/lib.rs:87:21:\n\
deliberate panic in a callback\n\
stack backtrace:\n\
   0: __rustc::rust_begin_unwind\n\
             at /rustc/abc/library/std/src/panicking.rs:689:5\n\
   1: plugin_faulty::callback\n\
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n\
\n\
thread '<unnamed>' (12934) panicked at /rustc/abc/library/core/src/panicking.rs:225:5:\n\
panic in a function that cannot unwind\n\
stack backtrace:\n\
  55: 0x55fd5250dea1 - _start\n\
  56: 0x0 - <unknown>\n\
thread caused non-unwinding panic. aborting.\n";

    #[test]
    fn a_panic_report_gives_where_and_what_without_the_backtrace() {
        assert_eq!(
            summarize(ABORTED),
            "panicked at plugins/faulty/src/lib.rs:87:21: deliberate panic in a callback; \
             then: panic in a function that cannot unwind"
        );
        let plain = "thread 'main' panicked at src/main.rs:2:5:\nboom\nnote: run with \
                     `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(summarize(plain), "panicked at src/main.rs:2:5: boom");
    }

    #[test]
    fn without_a_panic_the_last_lines_are_kept_and_frames_dropped() {
        let log = "a\nb\nc\nd\n   3: 0x1 - frame\n             at x.rs:1\n";
        assert_eq!(summarize(log), "b | c | d");
        assert_eq!(summarize(""), "");
        assert_eq!(summarize("Segmentation fault\n"), "Segmentation fault");
    }

    #[test]
    fn a_long_message_is_cut() {
        let log = format!(
            "thread 'main' panicked at a.rs:1:1:\n{}\n",
            "x".repeat(1000)
        );
        let reason = summarize(&log);
        assert!(reason.chars().count() < MESSAGE_CHARS + 40, "{reason}");
        assert!(reason.ends_with('…'));
    }
}

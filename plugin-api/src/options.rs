//! A plugin's options (`[[plugin]] options` in a manifest): the keys it accepts, checked once
//! in `new_trainer`, so that a typo is an error naming the key rather than a setting silently
//! ignored while energy is measured.
//!
//! ```
//! use plugin_api::options::OptionKeys;
//! use plugin_api::{KeyValue, PluginError, Session};
//!
//! const KEYS: OptionKeys<'static> =
//!     OptionKeys::new("mine", &["eval_batch_size"]).renamed(&[("eval_batch", "eval_batch_size")]);
//!
//! fn eval_batch(session: &Session<'_>) -> Result<u64, PluginError> {
//!     let options = KEYS.check(session)?;
//!     Ok(options.positive("eval_batch_size")?.unwrap_or(1000))
//! }
//! # let (mut session, old, typo) = (plugin_api::testing::SessionBuilder::synthetic(1, 1),
//! #     [KeyValue::new("eval_batch", "20")], [KeyValue::new("eval_bach_size", "20")]);
//! # session = session.options(&old);
//! # assert_eq!(eval_batch(&session.session())?, 20);
//! # session = session.options(&typo);
//! # assert!(eval_batch(&session.session()).unwrap_err().message.contains("eval_bach_size"));
//! # Ok::<(), PluginError>(())
//! ```

use crate::report::{Note, PluginError};
use crate::session::Session;
use crate::MANIFEST_DIR_OPTION;

/// The option keys a plugin accepts. [`MANIFEST_DIR_OPTION`], which the host adds to every
/// session, is always accepted.
#[derive(Clone, Copy, Debug)]
pub struct OptionKeys<'k> {
    /// The plugin's name, for messages.
    pub plugin: &'k str,
    /// Every key the plugin reads, each in its one spelling.
    pub keys: &'k [&'k str],
    /// Old spellings still accepted for one release, as `(old, new)`: a session that uses one
    /// gets a [`Note`] (and a line on stderr, the worker's log) saying so.
    pub renamed: &'k [(&'k str, &'k str)],
}

impl<'k> OptionKeys<'k> {
    pub const fn new(plugin: &'k str, keys: &'k [&'k str]) -> Self {
        OptionKeys {
            plugin,
            keys,
            renamed: &[],
        }
    }

    pub const fn renamed(self, renamed: &'k [(&'k str, &'k str)]) -> Self {
        OptionKeys { renamed, ..self }
    }

    /// The session's options, each under its current spelling; an unknown key, or a key set
    /// under both its old and its new spelling, is an [`crate::ErrorKind::Unsupported`] error
    /// that names it and lists the accepted keys.
    pub fn check<'a>(&self, session: &Session<'a>) -> Result<Options<'a>, PluginError> {
        let mut options = Options {
            values: Vec::new(),
            notes: Vec::new(),
        };
        for kv in session.options.as_slice() {
            let written = kv.key.as_str();
            let key = if written == MANIFEST_DIR_OPTION || self.keys.contains(&written) {
                written
            } else if let Some(&(_, new)) = self.renamed.iter().find(|(old, _)| *old == written) {
                let message = format!(
                    "option `{written}` is now spelled `{new}`; the old spelling is accepted \
                     until the next release"
                );
                eprintln!("{} plugin: {message}", self.plugin);
                options.notes.push(Note::new("deprecated_option", message));
                new
            } else {
                return Err(self.unknown(written));
            };
            if let Some(twice) = options.values.iter().find(|o| o.key == key) {
                return Err(PluginError::unsupported(format!(
                    "options `{}` and `{written}` both set `{key}` for the {} plugin: keep one",
                    twice.written, self.plugin
                )));
            }
            options.values.push(OptionValue {
                key: key.to_string(),
                written: written.to_string(),
                value: kv.value.as_str(),
            });
        }
        Ok(options)
    }

    fn unknown(&self, key: &str) -> PluginError {
        let known = if self.keys.is_empty() {
            "it takes none".to_string()
        } else {
            format!("known: {}", self.keys.join(", "))
        };
        PluginError::unsupported(format!(
            "unknown option `{key}` for the {} plugin ({known})",
            self.plugin
        ))
    }
}

/// The options of one session, checked by [`OptionKeys::check`].
#[derive(Clone, Debug)]
pub struct Options<'a> {
    values: Vec<OptionValue<'a>>,
    notes: Vec<Note>,
}

#[derive(Clone, Debug)]
struct OptionValue<'a> {
    /// The current spelling.
    key: String,
    /// As the manifest wrote it (an old spelling, perhaps), for messages.
    written: String,
    value: &'a str,
}

impl<'a> Options<'a> {
    /// The value of `key` (its current spelling), however the manifest spelled it.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.find(key).map(|o| o.value)
    }

    /// `key` as a whole number of at least 1, or `None` when it is not set.
    pub fn positive(&self, key: &str) -> Result<Option<u64>, PluginError> {
        let Some(option) = self.find(key) else {
            return Ok(None);
        };
        let value = option.value;
        match value.trim().parse::<u64>() {
            Ok(n) if n >= 1 => Ok(Some(n)),
            _ => Err(PluginError::unsupported(format!(
                "option {} = {value:?}: expected a whole number of at least 1",
                option.written
            ))),
        }
    }

    /// Notes for [`crate::RunInfo`]: one per old spelling the session used.
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    fn find(&self, key: &str) -> Option<&OptionValue<'a>> {
        self.values.iter().find(|o| o.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SessionBuilder;
    use crate::{ErrorKind, KeyValue};

    const KEYS: OptionKeys<'static> =
        OptionKeys::new("demo", &["inter_op_threads", "eval_batch_size"])
            .renamed(&[("interop_threads", "inter_op_threads")]);

    /// `body` gets what [`KEYS`] makes of a session with these options.
    fn check<R>(
        pairs: &[(&str, &str)],
        body: impl FnOnce(Result<Options<'_>, PluginError>) -> R,
    ) -> R {
        let kv: Vec<KeyValue<'_>> = pairs.iter().map(|(k, v)| KeyValue::new(k, v)).collect();
        let builder = SessionBuilder::synthetic(1, 1).options(&kv);
        body(KEYS.check(&builder.session()))
    }

    #[test]
    fn known_keys_and_manifest_dir_pass() {
        check(
            &[("eval_batch_size", "50"), (MANIFEST_DIR_OPTION, "/m")],
            |o| {
                let o = o.unwrap();
                assert_eq!(o.get("eval_batch_size"), Some("50"));
                assert_eq!(o.positive("eval_batch_size").unwrap(), Some(50));
                assert_eq!(o.get(MANIFEST_DIR_OPTION), Some("/m"));
                assert_eq!(o.positive("inter_op_threads").unwrap(), None);
                assert!(o.notes().is_empty());
            },
        );
    }

    #[test]
    fn an_unknown_key_is_named_with_the_accepted_ones() {
        let e = check(&[("eval_batch_sise", "50")], |o| o.unwrap_err());
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert_eq!(
            e.message.as_str(),
            "unknown option `eval_batch_sise` for the demo plugin \
             (known: inter_op_threads, eval_batch_size)"
        );
        let kv = [KeyValue::new("x", "1")];
        let builder = SessionBuilder::synthetic(1, 1).options(&kv);
        let e = OptionKeys::new("bare", &[])
            .check(&builder.session())
            .unwrap_err();
        assert!(e.message.contains("(it takes none)"), "{e}");
    }

    #[test]
    fn an_old_spelling_works_with_a_note_and_cannot_be_doubled() {
        check(&[("interop_threads", "3")], |o| {
            let o = o.unwrap();
            assert_eq!(o.positive("inter_op_threads").unwrap(), Some(3));
            assert_eq!(o.get("interop_threads"), None);
            assert_eq!(o.notes().len(), 1);
            assert_eq!(o.notes()[0].key.as_str(), "deprecated_option");
            assert!(o.notes()[0].value.contains("`inter_op_threads`"));
        });
        let e = check(
            &[("interop_threads", "3"), ("inter_op_threads", "2")],
            |o| o.unwrap_err(),
        );
        assert!(e.message.contains("keep one"), "{e}");
        // A bad value is reported under the spelling the manifest used.
        let e = check(&[("interop_threads", "0")], |o| {
            o.unwrap().positive("inter_op_threads").unwrap_err()
        });
        assert_eq!(
            e.message.as_str(),
            "option interop_threads = \"0\": expected a whole number of at least 1"
        );
    }

    #[test]
    fn positive_refuses_zero_negatives_and_words() {
        for bad in ["0", "-1", "ten", "", "1.5"] {
            let refused = check(&[("eval_batch_size", bad)], |o| {
                o.unwrap().positive("eval_batch_size").is_err()
            });
            assert!(refused, "{bad:?}");
        }
        let n = check(&[("eval_batch_size", " 7 ")], |o| {
            o.unwrap().positive("eval_batch_size")
        });
        assert_eq!(n.unwrap(), Some(7));
    }
}

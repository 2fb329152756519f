//! Reading one `[[analysis]]` table's options with errors that point at the manifest:
//! "[[analysis]] step 3 `clean` (line 42): unknown option `kk`; known: k, on_wrap, wrap_joules".

use super::StepSpec;

/// A step's options, checked against the names the step knows.
pub struct Options<'a> {
    spec: &'a StepSpec,
    index: usize,
}

impl<'a> Options<'a> {
    /// Fails on the first option the step does not know. `index` is 1-based.
    pub fn new(spec: &'a StepSpec, index: usize, known: &[&str]) -> anyhow::Result<Self> {
        let opts = Options { spec, index };
        let mut keys: Vec<&String> = spec
            .options
            .keys()
            .filter(|k| k.as_str() != "step")
            .collect();
        keys.sort();
        if let Some(bad) = keys.into_iter().find(|k| !known.contains(&k.as_str())) {
            let known = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            return Err(opts.error(format!("unknown option `{bad}`; known: {known}")));
        }
        Ok(opts)
    }

    /// A usage error that names the step and its manifest line.
    pub fn error(&self, message: impl std::fmt::Display) -> anyhow::Error {
        crate::error::usage(format!(
            "{}: {message}",
            where_(self.index, &self.spec.step, self.spec.line)
        ))
    }

    fn get(&self, key: &str) -> Option<&toml::Value> {
        self.spec.options.get(key)
    }

    /// A number (integers accepted too).
    pub fn number(&self, key: &str) -> anyhow::Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Float(f)) if f.is_finite() => Ok(Some(*f)),
            Some(toml::Value::Integer(i)) => Ok(Some(*i as f64)),
            Some(other) => Err(self.error(format!("option `{key}` must be a number, not {other}"))),
        }
    }

    /// A number with `ok` true, else a usage error quoting `rule`.
    pub fn number_where(
        &self,
        key: &str,
        rule: &str,
        ok: impl Fn(f64) -> bool,
    ) -> anyhow::Result<Option<f64>> {
        match self.number(key)? {
            Some(v) if !ok(v) => Err(self.error(format!("option `{key}` = {v}: must be {rule}"))),
            v => Ok(v),
        }
    }

    pub fn string(&self, key: &str) -> anyhow::Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.error(format!("option `{key}` must be a string, not {other}"))),
        }
    }

    /// One of `choices`.
    pub fn choice(&self, key: &str, choices: &[&str]) -> anyhow::Result<Option<String>> {
        match self.string(key)? {
            Some(s) if !choices.contains(&s.as_str()) => Err(self.error(format!(
                "option `{key}` = {s:?}: must be one of {}",
                choices
                    .iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            v => Ok(v),
        }
    }

    pub fn boolean(&self, key: &str) -> anyhow::Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => {
                Err(self.error(format!("option `{key}` must be true or false, not {other}")))
            }
        }
    }

    /// A list of whole numbers ≥ 0, e.g. `looks = [5, 10, 20]`.
    pub fn counts(&self, key: &str) -> anyhow::Result<Option<Vec<usize>>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    toml::Value::Integer(i) if *i >= 0 => Ok(*i as usize),
                    other => Err(self.error(format!(
                        "option `{key}` must list whole numbers ≥ 0, not {other}"
                    ))),
                })
                .collect::<anyhow::Result<Vec<_>>>()
                .map(Some),
            Some(other) => Err(self.error(format!(
                "option `{key}` must be a list of whole numbers, not {other}"
            ))),
        }
    }

    /// A list of strings; a single string counts as a list of one.
    pub fn strings(&self, key: &str) -> anyhow::Result<Option<Vec<String>>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s.clone()),
                    other => {
                        Err(self.error(format!("option `{key}` must list strings, not {other}")))
                    }
                })
                .collect::<anyhow::Result<Vec<_>>>()
                .map(Some),
            Some(other) => Err(self.error(format!(
                "option `{key}` must be a list of strings, not {other}"
            ))),
        }
    }
}

/// "[[analysis]] step 3 `clean` (line 42)".
pub fn where_(index: usize, step: &str, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("[[analysis]] step {index} `{step}` (line {l})"),
        None => format!("[[analysis]] step {index} `{step}`"),
    }
}

//! The parity steps of a Python trainer (`host parity`): its optional `parity_step(indices)`,
//! `logits(test_indices)` and `weights()` methods (plugins/python/README.md), behind
//! plugin-api's [`ParitySteps`].

use plugin_api::init::OwnedTensor;
use plugin_api::parity::ParitySteps;
use plugin_api::PluginError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::python_error;

/// The methods a trainer needs for the parity check.
pub const METHODS: [&str; 3] = ["parity_step", "logits", "weights"];

/// A trainer object, while attached to the interpreter.
pub struct PySteps<'py> {
    pub py: Python<'py>,
    pub trainer: Bound<'py, PyAny>,
}

impl PySteps<'_> {
    /// `array` as a flat f32 vector and its shape (numpy does the conversion).
    fn floats(
        &self,
        array: &Bound<'_, PyAny>,
        what: &str,
    ) -> Result<(Vec<u32>, Vec<f32>), PluginError> {
        let py = self.py;
        let convert = || -> PyResult<(Vec<u32>, Vec<f32>)> {
            let np = py.import("numpy")?;
            let a = np.call_method1("ascontiguousarray", (array, "float32"))?;
            let shape: Vec<u32> = a.getattr("shape")?.extract()?;
            let values: Vec<f32> = a.call_method0("ravel")?.call_method0("tolist")?.extract()?;
            Ok((shape, values))
        };
        convert().map_err(|e| python_error(py, &format!("{what}: not an array of floats"), e))
    }
}

impl ParitySteps for PySteps<'_> {
    fn step(&mut self, indices: &[u32]) -> Result<f64, PluginError> {
        let py = self.py;
        self.trainer
            .call_method1("parity_step", (indices.to_vec(),))
            .and_then(|l| l.extract())
            .map_err(|e| python_error(py, "parity_step failed", e))
    }

    fn test_logits(&mut self, indices: &[u32]) -> Result<Vec<f32>, PluginError> {
        let py = self.py;
        let logits = self
            .trainer
            .call_method1("logits", (indices.to_vec(),))
            .map_err(|e| python_error(py, "logits failed", e))?;
        Ok(self.floats(&logits, "logits()")?.1)
    }

    fn weights(&mut self) -> Result<Vec<OwnedTensor>, PluginError> {
        let py = self.py;
        let reply = self
            .trainer
            .call_method0("weights")
            .map_err(|e| python_error(py, "weights failed", e))?;
        let dict = reply
            .cast::<PyDict>()
            .map_err(|_| PluginError::failed("weights() must return a dict of arrays"))?;
        let mut tensors = Vec::new();
        for (name, array) in dict.iter() {
            let name = name.to_string();
            let (shape, values) = self.floats(&array, &format!("weights()[{name}]"))?;
            tensors.push(OwnedTensor::new(name, shape, values));
        }
        Ok(tensors)
    }
}

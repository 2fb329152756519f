//! # plugin-python: real Keras, PyTorch and JAX trainers, run inside embedded CPython
//!
//! One library serves every Python framework: the manifest names a trainer file and the venv
//! it needs, and this plugin embeds the CPython it was built against, adds the venv's
//! `site-packages`, imports the trainer and drives it through the small protocol described in
//! `plugins/python/README.md` (`build(session)`, `train_epochs(n, progress)`, `evaluate()`).
//!
//! ```toml
//! [[plugin]]
//! name = "keras"
//! path = "../target/release/libplugin_python.so"
//! options = { trainer = "../plugins/python/trainers/keras_cnn.py", venv = "../.venv/keras" }
//! ```
//!
//! The host's data reaches Python without copies: images, labels and the sample order are
//! read-only numpy views of the host's buffers. Python exceptions come back as
//! [`PluginError`]s carrying the exception and the last lines of its traceback.

mod convert;
mod errors;
mod parity;
mod paths;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use plugin_api::abi_stable::std_types::RVec;
use plugin_api::epochs::Epochs;
use plugin_api::options::OptionKeys;
use plugin_api::parity::ParityReport;
use plugin_api::{
    export_plugin, into_trainer, EvalReport, Note, PluginError, PluginInfo, Progress, RunInfo,
    Session, Train, TrainReport, TrainerBox,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

pub use errors::python_error;
pub use paths::{resolve_trainer, resolve_venv, Venv};

/// `major.minor` of the CPython this library is linked against.
pub const PYTHON_VERSION: &str = env!("JOULEBENCH_PYTHON_VERSION");
/// Where that CPython's `libpython` lives (the rpath points there).
pub const PYTHON_LIBDIR: &str = env!("JOULEBENCH_PYTHON_LIBDIR");

/// What to run to create the venvs; named in every setup error.
pub const SETUP_HINT: &str =
    "run scripts/setup-venvs (creates .venv/keras, .venv/torch, .venv/jax)";

/// Static facts: the real framework is only known once a session names a trainer, and is
/// reported in `run_info()` (and so in runs.csv).
pub fn info() -> PluginInfo {
    PluginInfo::new(
        "python",
        "python (trainer chosen by option: keras, torch, jax)",
        &format!("cpython {PYTHON_VERSION}"),
        &["cpu"],
    )
}

/// Makes the running interpreter look like the venv's own `bin/python`, as far as imports go:
/// an embedded interpreter starts with the *base* installation's site-packages on `sys.path`
/// (pyenv's, with whatever was pip-installed there), which a venv's interpreter would not see
/// unless its pyvenv.cfg says `include-system-site-packages = true`. Keras, for one, imports
/// IPython when it finds it. Runs before anything but the standard library is imported.
const ENTER_VENV: &std::ffi::CStr = c"
import site, sys
if not include_system:
    hidden = set(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        hidden.add(site.getusersitepackages())
    sys.path[:] = [p for p in sys.path if p not in hidden]
sys.prefix = sys.exec_prefix = venv_root
# Embedded, sys.executable is the host binary; code that starts Python subprocesses needs
# an interpreter.
sys.executable = venv_python
site.addsitedir(site_packages)
";

/// The venv added to this process's `sys.path`; one interpreter holds one venv.
static VENV_IN_USE: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The options this plugin reads itself; a trainer declares its own in `OPTIONS`.
const PLUGIN_OPTIONS: [&str; 2] = ["trainer", "venv"];

/// Builds a trainer: checks what the host lends (the model walked, the data, the order:
/// errors name the layer before any Python runs), resolves the options, starts Python,
/// imports the trainer file, checks the option keys it declares and calls its
/// `build(session)`.
pub fn new_trainer<'a>(session: &Session<'a>) -> Result<TrainerBox<'a>, PluginError> {
    let model = session.model_shapes()?;
    session.check_data()?;
    Epochs::new(session)?; // checks the order; the trainer walks it itself
    let trainer_path = resolve_trainer(session)?;
    let venv = resolve_venv(session)?;
    paths::promote_libpython()?;
    Python::initialize();
    let trainer = Python::attach(|py| -> Result<PyTrainer<'a>, PluginError> {
        prepare_interpreter(py, venv.as_ref())?;
        let module = import_trainer(py, &trainer_path, venv.as_ref())?;
        check_options(py, &module, session)?;
        let framework: String = module
            .call_method0("framework_version")
            .and_then(|v| v.extract())
            .map_err(|e| python_error(py, "the trainer's framework_version() failed", e))?;
        let session_obj = convert::session_to_python(py, session, &model)
            .map_err(|e| python_error(py, "passing the session to Python failed", e))?;
        let trainer = module.call_method1("build", (session_obj,)).map_err(|e| {
            python_error(
                py,
                &format!("{}: build(session) failed", trainer_path.display()),
                e,
            )
        })?;
        Ok(PyTrainer {
            trainer: trainer.unbind(),
            framework,
            requested_threads: session.threads,
            trainer_path,
            venv: venv.map(|v| v.root),
            session: *session,
        })
    })?;
    Ok(into_trainer(trainer))
}

/// A trainer that declares `OPTIONS` (the keys it reads) gets the session's keys checked
/// against them and this plugin's own; one that declares none gets whatever the manifest says,
/// as before `OPTIONS` existed.
fn check_options(
    py: Python<'_>,
    module: &Bound<'_, PyAny>,
    session: &Session<'_>,
) -> Result<(), PluginError> {
    if !module.hasattr("OPTIONS").unwrap_or(false) {
        return Ok(());
    }
    let declared: Vec<String> = module
        .getattr("OPTIONS")
        .and_then(|o| o.extract())
        .map_err(|e| python_error(py, "the trainer's OPTIONS must be a list of names", e))?;
    let mut keys: Vec<&str> = PLUGIN_OPTIONS.to_vec();
    keys.extend(declared.iter().map(String::as_str));
    OptionKeys::new(session.plugin_name.as_str(), &keys).check(session)?;
    Ok(())
}

/// Points the (possibly fresh) interpreter at the venv and gives it what embedded Python
/// lacks: `sys.argv` (absl and others read it) and a `sys.executable` that is a Python.
fn prepare_interpreter(py: Python<'_>, venv: Option<&Venv>) -> Result<(), PluginError> {
    let runtime: String = py
        .import("platform")
        .and_then(|m| m.call_method0("python_version"))
        .and_then(|v| v.extract())
        .map_err(|e| python_error(py, "asking Python its version failed", e))?;
    if !runtime.starts_with(&format!("{PYTHON_VERSION}.")) {
        return Err(PluginError::setup(format!(
            "the process loaded CPython {runtime}, but this plugin was built for \
             {PYTHON_VERSION} (libpython from {PYTHON_LIBDIR}); rebuild it with PYO3_PYTHON \
             set to the interpreter the venvs were made from"
        )));
    }
    if let Some(lib) = paths::loaded_libpython() {
        let expected = std::path::Path::new(PYTHON_LIBDIR);
        let canonical = |p: &std::path::Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        if !PYTHON_LIBDIR.is_empty() && !canonical(&lib).starts_with(canonical(expected)) {
            return Err(PluginError::setup(format!(
                "the process loaded {} instead of the libpython in {PYTHON_LIBDIR} that this \
                 plugin was built against (is LD_LIBRARY_PATH set, or was the rpath lost?)",
                lib.display()
            )));
        }
    }
    let mut in_use = VENV_IN_USE
        .lock()
        .map_err(|_| PluginError::failed("venv lock poisoned"))?;
    if let Some(venv) = venv {
        match in_use.as_ref() {
            Some(current) if *current != venv.root => {
                return Err(PluginError::setup(format!(
                    "this process already uses venv {}; one process serves one venv, so {} \
                     needs a worker of its own",
                    current.display(),
                    venv.root.display()
                )));
            }
            Some(_) => {}
            None => {
                let vars = PyDict::new(py);
                let set = |k: &str, v: String| vars.set_item(k, v);
                set("venv_root", venv.root.display().to_string())
                    .and_then(|_| {
                        set(
                            "venv_python",
                            venv.root.join("bin/python").display().to_string(),
                        )
                    })
                    .and_then(|_| set("site_packages", venv.site_packages.display().to_string()))
                    .and_then(|_| vars.set_item("include_system", venv.include_system))
                    .and_then(|_| py.run(ENTER_VENV, Some(&vars), None))
                    .map_err(|e| python_error(py, "switching to the venv failed", e))?;
                *in_use = Some(venv.root.clone());
            }
        }
    }
    let sys = py
        .import("sys")
        .map_err(|e| python_error(py, "import sys", e))?;
    let argv_empty = sys
        .getattr("argv")
        .and_then(|a| a.len())
        .map(|n| n == 0)
        .unwrap_or(true);
    if argv_empty {
        let argv = PyList::new(py, ["joulebench"])
            .map_err(|e| python_error(py, "building sys.argv", e))?;
        sys.setattr("argv", argv)
            .map_err(|e| python_error(py, "setting sys.argv", e))?;
    }
    Ok(())
}

/// Imports the trainer file as a module of its own (not via `sys.path`, so that two trainers
/// with one file name cannot shadow each other).
fn import_trainer<'py>(
    py: Python<'py>,
    path: &std::path::Path,
    venv: Option<&Venv>,
) -> Result<Bound<'py, PyAny>, PluginError> {
    let stem = path
        .file_stem()
        .map(|s| {
            s.to_string_lossy()
                .replace(|c: char| !c.is_alphanumeric(), "_")
        })
        .unwrap_or_else(|| "trainer".into());
    let name = format!("joulebench_trainer_{stem}");
    let load = || -> PyResult<Bound<'py, PyAny>> {
        let util = py.import("importlib.util")?;
        let spec = util.call_method1("spec_from_file_location", (&name, path))?;
        let module = util.call_method1("module_from_spec", (&spec,))?;
        py.import("sys")?
            .getattr("modules")?
            .set_item(&name, &module)?;
        spec.getattr("loader")?
            .call_method1("exec_module", (&module,))?;
        Ok(module)
    };
    let module = load().map_err(|e| {
        let missing_module = e.is_instance_of::<pyo3::exceptions::PyImportError>(py);
        let mut err = python_error(
            py,
            &format!("importing trainer {} failed", path.display()),
            e,
        );
        if missing_module {
            let venv = venv
                .map(|v| format!("venv {}", v.root.display()))
                .unwrap_or_else(|| "no venv option was given".into());
            err.message = format!("{} ({venv}; {SETUP_HINT})", err.message).into();
        }
        err
    })?;
    for function in ["framework_version", "build"] {
        if !module.hasattr(function).unwrap_or(false) {
            return Err(PluginError::setup(format!(
                "trainer {} has no `{function}` function (see plugins/python/README.md)",
                path.display()
            )));
        }
    }
    Ok(module)
}

/// A Python trainer object and what we know about it.
struct PyTrainer<'a> {
    trainer: Py<PyAny>,
    /// The trainer's `framework_version()`, e.g. `tensorflow 2.21.0 / keras 3.15.1`.
    framework: String,
    requested_threads: u32,
    trainer_path: PathBuf,
    venv: Option<PathBuf>,
    /// For the parity steps, which take their batches from the order.
    session: Session<'a>,
}

/// The Python-callable `progress(epoch, batch, batches)` handed to `train_epochs`. It holds the
/// host's progress sink only for the duration of that call: afterwards calls are ignored, so a
/// trainer that keeps the callable cannot reach a dangling sink.
#[pyclass(frozen)]
struct ProgressFn {
    /// Address of the `Progress` borrowed for the current call; 0 when closed.
    sink: AtomicUsize,
}

#[pymethods]
impl ProgressFn {
    fn __call__(&self, epoch: u32, batch: u64, batches: u64) {
        let sink = self.sink.load(Ordering::Acquire);
        if sink != 0 {
            // SAFETY: non-zero only while `train_epochs` (which borrows the sink) runs; it is
            // reset to 0 before that call returns.
            let progress = unsafe { &*(sink as *const Progress<'static>) };
            progress.batch_done(epoch, batch, batches);
        }
    }
}

/// Closes a `ProgressFn` when the `train_epochs` call ends, however it ends.
struct CloseOnDrop<'a>(&'a ProgressFn);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.sink.store(0, Ordering::Release);
    }
}

/// The first token that looks like a version (`2.21.0` in `tensorflow 2.21.0 / keras 3.15.1`).
fn version_token(framework: &str) -> &str {
    framework
        .split_whitespace()
        .find(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or("")
}

fn notes_from(dict: Option<&Bound<'_, PyAny>>) -> RVec<Note> {
    let mut notes = RVec::new();
    if let Some(dict) = dict.and_then(|d| d.cast::<PyDict>().ok()) {
        for (k, v) in dict.iter() {
            notes.push(Note::new(k.to_string(), v.to_string()));
        }
    }
    notes
}

impl Train for PyTrainer<'_> {
    fn run_info(&self) -> RunInfo {
        Python::attach(|py| {
            let mut info = RunInfo {
                framework: self.framework.as_str().into(),
                framework_version: version_token(&self.framework).into(),
                threads: self.requested_threads,
                notes: RVec::new(),
            };
            let trainer = self.trainer.bind(py);
            if trainer.hasattr("run_info").unwrap_or(false) {
                match trainer.call_method0("run_info") {
                    Ok(reply) => {
                        if let Ok(t) = reply.get_item("threads").and_then(|t| t.extract()) {
                            info.threads = t;
                        }
                        info.notes = notes_from(reply.get_item("notes").ok().as_ref());
                    }
                    Err(e) => info.notes.push(Note::new(
                        "run_info_error",
                        python_error(py, "run_info()", e).message,
                    )),
                }
            }
            info.notes.push(Note::new("python", python_summary(py)));
            info.notes
                .push(Note::new("trainer", self.trainer_path.display()));
            if let Some(venv) = &self.venv {
                info.notes.push(Note::new("venv", venv.display()));
            }
            info
        })
    }

    fn train_epochs(
        &mut self,
        epochs: u32,
        progress: &Progress<'_>,
    ) -> Result<TrainReport, PluginError> {
        Python::attach(|py| {
            let callback = Bound::new(
                py,
                ProgressFn {
                    sink: AtomicUsize::new(progress as *const Progress<'_> as usize),
                },
            )
            .map_err(|e| python_error(py, "creating the progress callable", e))?;
            let _close = CloseOnDrop(callback.get());
            let reply = self
                .trainer
                .bind(py)
                .call_method1("train_epochs", (epochs, &callback))
                .map_err(|e| python_error(py, "train_epochs failed", e))?;
            let field = |name: &str| {
                reply
                    .get_item(name)
                    .map_err(|e| python_error(py, &format!("train_epochs returned no {name}"), e))
            };
            let samples: u64 = field("samples")?
                .extract()
                .map_err(|e| python_error(py, "train_epochs: samples must be an int", e))?;
            let losses: Vec<f64> = field("epoch_losses")?.extract().map_err(|e| {
                python_error(py, "train_epochs: epoch_losses must be a list of floats", e)
            })?;
            Ok(TrainReport {
                samples,
                epoch_losses: losses.into(),
                notes: notes_from(reply.get_item("notes").ok().as_ref()),
            })
        })
    }

    /// `None` unless the trainer has every method the parity check needs.
    fn parity(&mut self, steps: u32) -> Option<Result<ParityReport, PluginError>> {
        Python::attach(|py| {
            let trainer = self.trainer.bind(py).clone();
            let has = |m: &str| trainer.hasattr(m).unwrap_or(false);
            if !parity::METHODS.iter().all(|m| has(m)) {
                return None;
            }
            let mut steps_of = parity::PySteps { py, trainer };
            Some(plugin_api::parity::run(&self.session, steps, &mut steps_of))
        })
    }

    fn evaluate(&mut self) -> Result<EvalReport, PluginError> {
        Python::attach(|py| {
            let reply = self
                .trainer
                .bind(py)
                .call_method0("evaluate")
                .map_err(|e| python_error(py, "evaluate failed", e))?;
            let get = |name: &str| -> Result<Bound<'_, PyAny>, PluginError> {
                reply
                    .get_item(name)
                    .map_err(|e| python_error(py, &format!("evaluate() returned no {name}"), e))
            };
            let bad = |name: &str| format!("evaluate(): {name} has the wrong type");
            Ok(EvalReport {
                accuracy: get("accuracy")?
                    .extract()
                    .map_err(|e| python_error(py, &bad("accuracy"), e))?,
                loss: get("loss")?
                    .extract()
                    .map_err(|e| python_error(py, &bad("loss"), e))?,
                samples: get("samples")?
                    .extract()
                    .map_err(|e| python_error(py, &bad("samples"), e))?,
                notes: notes_from(reply.get_item("notes").ok().as_ref()),
            })
        })
    }
}

impl Drop for PyTrainer<'_> {
    fn drop(&mut self) {
        // Release the Python object while attached, rather than via pyo3's deferred queue.
        Python::attach(|py| {
            let trainer = std::mem::replace(&mut self.trainer, py.None());
            drop(trainer);
        });
    }
}

/// `3.11.7 (/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0)`: the interpreter that
/// actually runs, with the libpython the loader picked, so a wrong one shows in the results.
fn python_summary(py: Python<'_>) -> String {
    let version: String = py
        .import("platform")
        .and_then(|m| m.call_method0("python_version"))
        .and_then(|v| v.extract())
        .unwrap_or_else(|_| "?".into());
    match paths::loaded_libpython() {
        Some(lib) => format!("{version} ({})", lib.display()),
        None => version,
    }
}

export_plugin! { info: info, new_trainer: new_trainer }

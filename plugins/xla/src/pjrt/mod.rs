//! A small safe layer over the PJRT C API: load a PJRT plugin (`xla_cpu_pjrt.so`), create a
//! client, compile StableHLO, move buffers in and out, execute.
//!
//! Only what this plugin needs is wrapped. Every call goes through [`Api::call`], which turns a
//! returned `PJRT_Error` into a [`PjrtError`] (message and code) and frees it. Handles free
//! their PJRT object on drop; the library itself is never unloaded (like every plugin here).

mod client;
pub mod compile_options;
pub mod sys;

pub use client::{Buffer, Client, Element, Executable};

use std::ffi::{c_char, CStr};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// A failure reported by the PJRT plugin, or by this layer around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PjrtError {
    /// `PJRT_Error_Code` (absl status code numbering); 0 when the error is ours.
    pub code: i32,
    pub message: String,
}

impl PjrtError {
    pub(crate) fn ours(message: impl Into<String>) -> Self {
        PjrtError {
            code: 0,
            message: message.into(),
        }
    }
}

impl fmt::Display for PjrtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Result<T> = std::result::Result<T, PjrtError>;

/// A loaded PJRT plugin: its function table and the library that holds it.
pub struct Api {
    raw: &'static sys::PJRT_Api,
    path: PathBuf,
    // Kept so the code behind `raw` stays mapped; never dropped (see `load`).
    _library: libloading::Library,
}

// SAFETY: the function table is immutable after GetPjrtApi returns, and the PJRT C API is
// thread-safe by contract (clients, buffers and executables may be used from any thread).
unsafe impl Send for Api {}
unsafe impl Sync for Api {}

/// The process's one plugin. PJRT plugins keep process-wide state (flags, thread pools), so a
/// second, different file in the same process is refused rather than loaded beside the first.
/// Only a success is kept: a failed load can be retried (with another path).
static LOADED: OnceLock<Api> = OnceLock::new();
static LOADING: Mutex<()> = Mutex::new(());

impl Api {
    /// Loads the plugin at `path` once per process, checks its API version against the header
    /// these bindings were made from, and initialises it.
    pub fn load(path: &Path) -> Result<&'static Api> {
        let api = match LOADED.get() {
            Some(api) => api,
            None => {
                let _one_at_a_time = LOADING.lock().unwrap_or_else(|e| e.into_inner());
                match LOADED.get() {
                    Some(api) => api,
                    None => {
                        let opened = Api::open(path)?;
                        // Under the lock nobody else can have set it since the check above.
                        LOADED.get_or_init(|| opened)
                    }
                }
            }
        };
        if api.path != path {
            return Err(PjrtError::ours(format!(
                "this process already loaded the PJRT plugin {}; it cannot also load {}",
                api.path.display(),
                path.display()
            )));
        }
        Ok(api)
    }

    fn open(path: &Path) -> Result<Api> {
        if !path.is_file() {
            return Err(PjrtError::ours(format!(
                "the PJRT plugin {} is missing",
                path.display()
            )));
        }
        // SAFETY: loading a shared library runs its initialisers; this is the XLA CPU plugin
        // the user pointed us at, the same file JAX-style clients load.
        let library = unsafe { libloading::Library::new(path) }
            .map_err(|e| PjrtError::ours(format!("cannot load {}: {e}", path.display())))?;
        type GetPjrtApi = unsafe extern "C" fn() -> *const sys::PJRT_Api;
        // SAFETY: GetPjrtApi has this signature in every PJRT plugin (pjrt_c_api.h).
        let raw = unsafe {
            let get = library
                .get::<GetPjrtApi>(b"GetPjrtApi\0")
                .map_err(|e| PjrtError::ours(format!("{}: {e}", path.display())))?;
            get()
        };
        // SAFETY: a non-null table returned by GetPjrtApi lives as long as the library, which
        // is never unloaded.
        let raw: &'static sys::PJRT_Api = unsafe { raw.as_ref() }.ok_or_else(|| {
            PjrtError::ours(format!("{}: GetPjrtApi returned null", path.display()))
        })?;
        let api = Api {
            raw,
            path: path.to_path_buf(),
            _library: library,
        };
        api.check_version()?;
        let mut args = sys::PJRT_Plugin_Initialize_Args {
            struct_size: sys::PJRT_Plugin_Initialize_Args_STRUCT_SIZE as usize,
            ..Default::default()
        };
        // SAFETY: args is a valid, correctly sized argument struct.
        unsafe { api.call(api.raw.PJRT_Plugin_Initialize, &mut args) }?;
        Ok(api)
    }

    /// The plugin must speak the major version of our header and at least its minor version,
    /// or the argument structs we pass could be larger than it knows.
    fn check_version(&self) -> Result<()> {
        let (major, minor) = self.version();
        let (want_major, want_minor) = (sys::PJRT_API_MAJOR as i32, sys::PJRT_API_MINOR as i32);
        if major != want_major || minor < want_minor {
            return Err(PjrtError::ours(format!(
                "{} speaks PJRT C API {major}.{minor}, but this build was made for \
                 {want_major}.{want_minor}: rebuild the xla plugin against that file's header",
                self.path.display()
            )));
        }
        if (self.raw.struct_size as u64) < sys::PJRT_Api_STRUCT_SIZE as u64 {
            return Err(PjrtError::ours(format!(
                "{}: its PJRT_Api table is smaller than API {want_major}.{want_minor}'s",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// The PJRT C API version the plugin implements, `(major, minor)`.
    pub fn version(&self) -> (i32, i32) {
        let v = &self.raw.pjrt_api_version;
        (v.major_version, v.minor_version)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plugin's self-description (`xla_version`, `stablehlo_current_version`, ...), as
    /// strings; list values are joined with `.`.
    pub fn attributes(&self) -> Result<Vec<(String, String)>> {
        let mut args = sys::PJRT_Plugin_Attributes_Args {
            struct_size: sys::PJRT_Plugin_Attributes_Args_STRUCT_SIZE as usize,
            ..Default::default()
        };
        // SAFETY: valid args; the returned array is owned by the plugin and lives forever.
        unsafe { self.call(self.raw.PJRT_Plugin_Attributes, &mut args) }?;
        let values = if args.attributes.is_null() {
            &[][..]
        } else {
            // SAFETY: the plugin returns `num_attributes` values at `attributes`.
            unsafe { std::slice::from_raw_parts(args.attributes, args.num_attributes) }
        };
        Ok(values.iter().map(named_value_text).collect())
    }

    /// Calls one function of the table with its argument struct, turning an error into
    /// [`PjrtError`].
    ///
    /// # Safety
    /// `args` must be the argument struct of `f`, with `struct_size` set and every pointer in
    /// it valid for the call.
    pub(crate) unsafe fn call<A>(
        &self,
        f: Option<unsafe extern "C" fn(*mut A) -> *mut sys::PJRT_Error>,
        args: &mut A,
    ) -> Result<()> {
        let f = f.ok_or_else(|| {
            PjrtError::ours(format!(
                "{} lacks a PJRT function this plugin needs",
                self.path.display()
            ))
        })?;
        let error = f(args);
        if error.is_null() {
            Ok(())
        } else {
            Err(self.take_error(error))
        }
    }

    /// Reads and frees a `PJRT_Error`.
    fn take_error(&self, error: *mut sys::PJRT_Error) -> PjrtError {
        let mut message = sys::PJRT_Error_Message_Args {
            struct_size: sys::PJRT_Error_Message_Args_STRUCT_SIZE as usize,
            error,
            ..Default::default()
        };
        let mut code = sys::PJRT_Error_GetCode_Args {
            struct_size: sys::PJRT_Error_GetCode_Args_STRUCT_SIZE as usize,
            error,
            ..Default::default()
        };
        let mut destroy = sys::PJRT_Error_Destroy_Args {
            struct_size: sys::PJRT_Error_Destroy_Args_STRUCT_SIZE as usize,
            error,
            ..Default::default()
        };
        // SAFETY: `error` is a live error object; message bytes stay valid until it is
        // destroyed, so they are copied first.
        unsafe {
            let text = match self.raw.PJRT_Error_Message {
                Some(f) => {
                    f(&mut message);
                    bytes_text(message.message, message.message_size)
                }
                None => "unknown PJRT error".to_string(),
            };
            let code = match self.raw.PJRT_Error_GetCode {
                Some(f) if f(&mut code).is_null() => code.code as i32,
                _ => -1,
            };
            if let Some(f) = self.raw.PJRT_Error_Destroy {
                f(&mut destroy);
            }
            PjrtError {
                code,
                message: text,
            }
        }
    }
}

/// `len` bytes at `ptr` as (lossy) UTF-8; empty for null.
///
/// # Safety
/// `ptr` must be null or valid for `len` bytes.
unsafe fn bytes_text(ptr: *const c_char, len: usize) -> String {
    if ptr.is_null() {
        return String::new();
    }
    let bytes = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
    String::from_utf8_lossy(bytes).into_owned()
}

fn named_value_text(v: &sys::PJRT_NamedValue) -> (String, String) {
    // SAFETY: the plugin fills name/name_size and the union member that `type_` names.
    unsafe {
        let name = bytes_text(v.name, v.name_size);
        let value = match v.type_ {
            sys::PJRT_NamedValue_Type_PJRT_NamedValue_kString => {
                bytes_text(v.__bindgen_anon_1.string_value, v.value_size)
            }
            sys::PJRT_NamedValue_Type_PJRT_NamedValue_kInt64 => {
                v.__bindgen_anon_1.int64_value.to_string()
            }
            sys::PJRT_NamedValue_Type_PJRT_NamedValue_kInt64List => {
                let p = v.__bindgen_anon_1.int64_array_value;
                if p.is_null() {
                    String::new()
                } else {
                    std::slice::from_raw_parts(p, v.value_size)
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(".")
                }
            }
            sys::PJRT_NamedValue_Type_PJRT_NamedValue_kFloat => {
                v.__bindgen_anon_1.float_value.to_string()
            }
            sys::PJRT_NamedValue_Type_PJRT_NamedValue_kBool => {
                v.__bindgen_anon_1.bool_value.to_string()
            }
            other => format!("(value of type {other})"),
        };
        (name, value)
    }
}

/// A C string for PJRT from a Rust literal (names of create options and formats).
pub(crate) fn c_text(text: &'static CStr) -> (*const c_char, usize) {
    (text.as_ptr(), text.to_bytes().len())
}

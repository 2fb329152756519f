//! A PJRT client on one device, its compiled executables and its buffers.
//!
//! Buffers and executables hold an `Arc` of the client, so the client is destroyed only after
//! the last of them (PJRT requires that order).

use std::ffi::c_void;
use std::sync::Arc;

use super::{c_text, sys, Api, PjrtError, Result};

/// Element types this plugin moves between host and device.
pub trait Element: Copy + Default {
    const TYPE: sys::PJRT_Buffer_Type;
}

impl Element for f32 {
    const TYPE: sys::PJRT_Buffer_Type = sys::PJRT_Buffer_Type_PJRT_Buffer_Type_F32;
}
impl Element for i32 {
    const TYPE: sys::PJRT_Buffer_Type = sys::PJRT_Buffer_Type_PJRT_Buffer_Type_S32;
}
impl Element for u64 {
    const TYPE: sys::PJRT_Buffer_Type = sys::PJRT_Buffer_Type_PJRT_Buffer_Type_U64;
}

struct ClientInner {
    api: &'static Api,
    raw: *mut sys::PJRT_Client,
    device: *mut sys::PJRT_Device,
}

// SAFETY: PJRT clients are thread-safe by contract; the raw pointers are only handles.
unsafe impl Send for ClientInner {}
unsafe impl Sync for ClientInner {}

impl Drop for ClientInner {
    fn drop(&mut self) {
        let mut args = sys::PJRT_Client_Destroy_Args {
            struct_size: sys::PJRT_Client_Destroy_Args_STRUCT_SIZE as usize,
            client: self.raw,
            ..Default::default()
        };
        // SAFETY: the client is live and nothing else refers to it any more (Arc count 0).
        let _ = unsafe { self.api.call(self.api.raw.PJRT_Client_Destroy, &mut args) };
    }
}

/// A PJRT client using its first addressable device.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

impl Client {
    /// Creates a client with `cpu_device_count` devices (the CPU plugin's own create option).
    pub fn new(api: &'static Api, cpu_device_count: i64) -> Result<Client> {
        let (name, name_size) = c_text(c"cpu_device_count");
        let option = sys::PJRT_NamedValue {
            struct_size: sys::PJRT_NamedValue_STRUCT_SIZE as usize,
            name,
            name_size,
            type_: sys::PJRT_NamedValue_Type_PJRT_NamedValue_kInt64,
            __bindgen_anon_1: sys::PJRT_NamedValue__bindgen_ty_1 {
                int64_value: cpu_device_count,
            },
            value_size: 1,
            ..Default::default()
        };
        let mut args = sys::PJRT_Client_Create_Args {
            struct_size: sys::PJRT_Client_Create_Args_STRUCT_SIZE as usize,
            create_options: &option,
            num_options: 1,
            ..Default::default()
        };
        // SAFETY: valid args; `option` outlives the call.
        unsafe { api.call(api.raw.PJRT_Client_Create, &mut args) }?;
        let mut inner = ClientInner {
            api,
            raw: args.client,
            device: std::ptr::null_mut(),
        };
        let mut devices = sys::PJRT_Client_AddressableDevices_Args {
            struct_size: sys::PJRT_Client_AddressableDevices_Args_STRUCT_SIZE as usize,
            client: inner.raw,
            ..Default::default()
        };
        // SAFETY: valid args; the device array belongs to the client.
        unsafe { api.call(api.raw.PJRT_Client_AddressableDevices, &mut devices) }?;
        if devices.num_addressable_devices == 0 || devices.addressable_devices.is_null() {
            return Err(PjrtError::ours("the PJRT client has no addressable device"));
        }
        // SAFETY: at least one device pointer is there.
        inner.device = unsafe { *devices.addressable_devices };
        Ok(Client {
            inner: Arc::new(inner),
        })
    }

    fn api(&self) -> &'static Api {
        self.inner.api
    }

    /// The platform's version string (for the CPU plugin: its build, e.g. `cpu`).
    pub fn platform_version(&self) -> Result<String> {
        let mut args = sys::PJRT_Client_PlatformVersion_Args {
            struct_size: sys::PJRT_Client_PlatformVersion_Args_STRUCT_SIZE as usize,
            client: self.inner.raw,
            ..Default::default()
        };
        let api = self.api();
        // SAFETY: valid args; the string belongs to the client.
        unsafe {
            api.call(api.raw.PJRT_Client_PlatformVersion, &mut args)?;
            Ok(super::bytes_text(
                args.platform_version,
                args.platform_version_size,
            ))
        }
    }

    /// Compiles a StableHLO module (MLIR text) with serialized `xla.CompileOptionsProto` bytes.
    pub fn compile(&self, mlir: &str, compile_options: &[u8]) -> Result<Executable> {
        let (format, format_size) = c_text(c"mlir");
        let program = sys::PJRT_Program {
            struct_size: sys::PJRT_Program_STRUCT_SIZE as usize,
            // PJRT only reads the code when compiling; the field is mutable for other calls.
            code: mlir.as_ptr().cast_mut().cast(),
            code_size: mlir.len(),
            format,
            format_size,
            ..Default::default()
        };
        let mut args = sys::PJRT_Client_Compile_Args {
            struct_size: sys::PJRT_Client_Compile_Args_STRUCT_SIZE as usize,
            client: self.inner.raw,
            program: &program,
            compile_options: compile_options.as_ptr().cast(),
            compile_options_size: compile_options.len(),
            ..Default::default()
        };
        let api = self.api();
        // SAFETY: valid args; the text and options outlive the call.
        unsafe { api.call(api.raw.PJRT_Client_Compile, &mut args) }?;
        let mut executable = Executable {
            client: self.clone(),
            raw: args.executable,
            outputs: 0,
        };
        executable.outputs = executable.count_outputs()?;
        Ok(executable)
    }

    /// Copies `data` (row-major, shape `dims`) into a new device buffer.
    pub fn buffer<T: Element>(&self, data: &[T], dims: &[i64]) -> Result<Buffer> {
        let count: i64 = dims.iter().product();
        if count < 0 || count as usize != data.len() {
            return Err(PjrtError::ours(format!(
                "{} values do not fill a buffer of shape {dims:?}",
                data.len()
            )));
        }
        let mut args = sys::PJRT_Client_BufferFromHostBuffer_Args {
            struct_size: sys::PJRT_Client_BufferFromHostBuffer_Args_STRUCT_SIZE as usize,
            client: self.inner.raw,
            data: data.as_ptr().cast::<c_void>(),
            type_: T::TYPE,
            dims: dims.as_ptr(),
            num_dims: dims.len(),
            // The runtime copies during the call, so `data` may change as soon as it returns.
            host_buffer_semantics:
                sys::PJRT_HostBufferSemantics_PJRT_HostBufferSemantics_kImmutableOnlyDuringCall,
            device: self.inner.device,
            ..Default::default()
        };
        let api = self.api();
        // SAFETY: valid args; `data` holds `count` elements of T and outlives the call.
        unsafe { api.call(api.raw.PJRT_Client_BufferFromHostBuffer, &mut args) }?;
        let buffer = Buffer {
            client: self.clone(),
            raw: args.buffer,
        };
        self.await_event(args.done_with_host_buffer)?;
        Ok(buffer)
    }

    /// Waits for an event (null: nothing to wait for) and frees it.
    fn await_event(&self, event: *mut sys::PJRT_Event) -> Result<()> {
        if event.is_null() {
            return Ok(());
        }
        let api = self.api();
        let mut wait = sys::PJRT_Event_Await_Args {
            struct_size: sys::PJRT_Event_Await_Args_STRUCT_SIZE as usize,
            event,
            ..Default::default()
        };
        let mut destroy = sys::PJRT_Event_Destroy_Args {
            struct_size: sys::PJRT_Event_Destroy_Args_STRUCT_SIZE as usize,
            event,
            ..Default::default()
        };
        // SAFETY: the event is live until destroyed here, once.
        unsafe {
            let waited = api.call(api.raw.PJRT_Event_Await, &mut wait);
            let _ = api.call(api.raw.PJRT_Event_Destroy, &mut destroy);
            waited
        }
    }
}

/// A compiled program, loaded on the client's device.
pub struct Executable {
    client: Client,
    raw: *mut sys::PJRT_LoadedExecutable,
    outputs: usize,
}

// SAFETY: PJRT executables may be executed from any thread.
unsafe impl Send for Executable {}

impl Executable {
    fn count_outputs(&self) -> Result<usize> {
        let api = self.client.api();
        let mut get = sys::PJRT_LoadedExecutable_GetExecutable_Args {
            struct_size: sys::PJRT_LoadedExecutable_GetExecutable_Args_STRUCT_SIZE as usize,
            loaded_executable: self.raw,
            ..Default::default()
        };
        // SAFETY: valid args; the returned executable is ours to destroy.
        unsafe { api.call(api.raw.PJRT_LoadedExecutable_GetExecutable, &mut get) }?;
        let mut count = sys::PJRT_Executable_NumOutputs_Args {
            struct_size: sys::PJRT_Executable_NumOutputs_Args_STRUCT_SIZE as usize,
            executable: get.executable,
            ..Default::default()
        };
        // SAFETY: as above.
        let counted = unsafe { api.call(api.raw.PJRT_Executable_NumOutputs, &mut count) };
        let mut destroy = sys::PJRT_Executable_Destroy_Args {
            struct_size: sys::PJRT_Executable_Destroy_Args_STRUCT_SIZE as usize,
            executable: get.executable,
            ..Default::default()
        };
        // SAFETY: destroyed once, after its last use.
        let _ = unsafe { api.call(api.raw.PJRT_Executable_Destroy, &mut destroy) };
        counted.map(|()| count.num_outputs)
    }

    /// Number of results the program returns (one buffer each).
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// Runs the program on `args` and waits until it has finished. Arguments that the program
    /// donates (`tf.aliasing_output`) are consumed: their buffers are deleted by the runtime,
    /// and using them again is an error (not undefined behaviour).
    pub fn execute(&self, args: &[&Buffer]) -> Result<Vec<Buffer>> {
        let api = self.client.api();
        let inputs: Vec<*mut sys::PJRT_Buffer> = args.iter().map(|b| b.raw).collect();
        let input_list: *const *mut sys::PJRT_Buffer = inputs.as_ptr();
        let mut outputs: Vec<*mut sys::PJRT_Buffer> = vec![std::ptr::null_mut(); self.outputs];
        let output_list: *mut *mut sys::PJRT_Buffer = outputs.as_mut_ptr();
        let mut done: *mut sys::PJRT_Event = std::ptr::null_mut();
        let mut options = sys::PJRT_ExecuteOptions {
            struct_size: sys::PJRT_ExecuteOptions_STRUCT_SIZE as usize,
            ..Default::default()
        };
        let mut call = sys::PJRT_LoadedExecutable_Execute_Args {
            struct_size: sys::PJRT_LoadedExecutable_Execute_Args_STRUCT_SIZE as usize,
            executable: self.raw,
            options: &mut options,
            argument_lists: &input_list,
            num_devices: 1,
            num_args: inputs.len(),
            output_lists: &output_list,
            device_complete_events: &mut done,
            ..Default::default()
        };
        // SAFETY: one device; `inputs` holds `num_args` live buffers and `outputs` has room
        // for every result; all of them outlive the call.
        unsafe { api.call(api.raw.PJRT_LoadedExecutable_Execute, &mut call) }?;
        // Owned from here on, so they are freed even when the run failed.
        let results: Vec<Buffer> = outputs
            .into_iter()
            .filter(|p| !p.is_null())
            .map(|raw| Buffer {
                client: self.client.clone(),
                raw,
            })
            .collect();
        self.client.await_event(done)?;
        if results.len() != self.outputs {
            return Err(PjrtError::ours(format!(
                "the program returned {} of its {} results",
                results.len(),
                self.outputs
            )));
        }
        Ok(results)
    }
}

impl Drop for Executable {
    fn drop(&mut self) {
        let api = self.client.api();
        let mut args = sys::PJRT_LoadedExecutable_Destroy_Args {
            struct_size: sys::PJRT_LoadedExecutable_Destroy_Args_STRUCT_SIZE as usize,
            executable: self.raw,
            ..Default::default()
        };
        // SAFETY: destroyed once; the client is still alive (we hold it).
        let _ = unsafe { api.call(api.raw.PJRT_LoadedExecutable_Destroy, &mut args) };
    }
}

/// A buffer on the client's device.
pub struct Buffer {
    client: Client,
    raw: *mut sys::PJRT_Buffer,
}

// SAFETY: PJRT buffers may be used from any thread.
unsafe impl Send for Buffer {}

impl Buffer {
    /// The buffer's shape.
    pub fn dims(&self) -> Result<Vec<i64>> {
        let api = self.client.api();
        let mut args = sys::PJRT_Buffer_Dimensions_Args {
            struct_size: sys::PJRT_Buffer_Dimensions_Args_STRUCT_SIZE as usize,
            buffer: self.raw,
            ..Default::default()
        };
        // SAFETY: valid args; the dims array belongs to the buffer.
        unsafe {
            api.call(api.raw.PJRT_Buffer_Dimensions, &mut args)?;
            if args.dims.is_null() {
                return Ok(Vec::new());
            }
            Ok(std::slice::from_raw_parts(args.dims, args.num_dims).to_vec())
        }
    }

    /// Copies the buffer to the host (row-major); waits for the copy.
    pub fn to_host<T: Element>(&self) -> Result<Vec<T>> {
        let count: i64 = self.dims()?.iter().product();
        let mut values = vec![T::default(); count.max(0) as usize];
        let api = self.client.api();
        let mut args = sys::PJRT_Buffer_ToHostBuffer_Args {
            struct_size: sys::PJRT_Buffer_ToHostBuffer_Args_STRUCT_SIZE as usize,
            src: self.raw,
            dst: values.as_mut_ptr().cast::<c_void>(),
            dst_size: std::mem::size_of_val(values.as_slice()),
            ..Default::default()
        };
        // SAFETY: `values` has room for the whole buffer and is not touched until the event
        // has completed (await_event below).
        unsafe { api.call(api.raw.PJRT_Buffer_ToHostBuffer, &mut args) }?;
        self.client.await_event(args.event)?;
        Ok(values)
    }

    /// The single value of a scalar buffer.
    pub fn scalar<T: Element>(&self) -> Result<T> {
        let values = self.to_host::<T>()?;
        match values.as_slice() {
            [v] => Ok(*v),
            _ => Err(PjrtError::ours(format!(
                "expected a scalar, got {} values",
                values.len()
            ))),
        }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        let api = self.client.api();
        let mut args = sys::PJRT_Buffer_Destroy_Args {
            struct_size: sys::PJRT_Buffer_Destroy_Args_STRUCT_SIZE as usize,
            buffer: self.raw,
            ..Default::default()
        };
        // SAFETY: destroyed once; valid also for buffers a program consumed (donated).
        let _ = unsafe { api.call(api.raw.PJRT_Buffer_Destroy, &mut args) };
    }
}

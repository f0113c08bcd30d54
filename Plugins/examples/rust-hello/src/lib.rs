// src/lib.rs -- a complete Steward plugin in Rust: `extern "C"` and #[repr(C)], no crates.
//
// Step "hello_rust.measure": a JSON object in, {"input_bytes": <its size>, "attempt": <n>} out.
// Adapter "hello-label@1.0.0" (classify): {"label": "greeting" | "other", "alternatives": [...]}.
//
// Build: steward plugins build Plugins/examples/rust-hello   (cargo build --release --offline)
//    or: rustc --edition 2021 -O --crate-type cdylib src/lib.rs -o libhello_rust.so
use std::os::raw::{c_char, c_void};
use std::ptr;

// ---- The ABI, transcribed from steward_abi.h (1.2): same fields, same order. ----

#[repr(C)]
pub struct Header { struct_size: u32, abi_major: u16, abi_minor: u16 }

const fn header<T>() -> Header {
    Header { struct_size: std::mem::size_of::<T>() as u32, abi_major: 1, abi_minor: 2 }
}

#[repr(C)]
pub struct Host {
    header: Header,
    context: *mut c_void,
    host_name: *const c_char,
    host_version: *const c_char,
    log: Option<extern "C" fn(*mut c_void, i32, *const c_char, usize)>,
    alloc: Option<extern "C" fn(*mut c_void, usize) -> *mut c_void>,
    free: Option<extern "C" fn(*mut c_void, *mut c_void)>,
    get_extension: Option<extern "C" fn(*mut c_void, *const c_char) -> *const c_void>,
}

#[repr(C)]
pub struct StepCall {
    header: Header,
    host: *const Host,
    plugin_state: *mut c_void,
    idempotency_key: *const c_char,
    idempotency_key_length: usize,
    attempt: u32,
    input: *const c_char,
    input_length: usize,
    config: *const c_char,
    config_length: usize,
    call_key: *const c_char, // since 1.1: read only when header.struct_size reaches it
    call_key_length: usize,
    deadline_ns: u64, // since 1.2
    cancel_flag: *const u32,
}

#[repr(C)]
pub struct StepResult {
    header: Header,
    output: *mut c_char,
    output_length: usize,
    error_message: *mut c_char,
    error_message_length: usize,
}

#[repr(C)]
pub struct Step {
    header: Header,
    name: *const c_char,
    version: *const c_char,
    description: *const c_char,
    flags: u32,
    invoke: Option<extern "C" fn(*const StepCall, *mut StepResult) -> i32>,
}

#[repr(C)]
pub struct ModelRequest {
    header: Header,
    host: *const Host,
    plugin_state: *mut c_void,
    idempotency_key: *const c_char,
    idempotency_key_length: usize,
    attempt: u32,
    task: i32,
    prompt: *const c_char,
    prompt_length: usize,
    parameters: *const c_char,
    parameters_length: usize,
    input: *const c_char,
    input_length: usize,
    call_key: *const c_char,
    call_key_length: usize,
    deadline_ns: u64,
    cancel_flag: *const u32,
}

#[repr(C)]
pub struct ModelResponse {
    header: Header,
    output: *mut c_char,
    output_length: usize,
    confidence: f64,
    input_tokens: u64,
    output_tokens: u64,
    latency_microseconds: u64,
    error_message: *mut c_char,
    error_message_length: usize,
}

#[repr(C)]
pub struct Adapter {
    header: Header,
    id: *const c_char,
    version: *const c_char,
    description: *const c_char,
    flags: u32,
    task_mask: u32,
    invoke: Option<extern "C" fn(*const ModelRequest, *mut ModelResponse) -> i32>,
}

#[repr(C)]
pub struct Plugin {
    header: Header,
    name: *const c_char,
    version: *const c_char,
    description: *const c_char,
    init: Option<extern "C" fn(*const Host, *mut *mut c_void) -> i32>,
    step_count: usize,
    steps: *const *const Step,
    adapter_count: usize,
    adapters: *const *const Adapter,
    get_extension: Option<extern "C" fn(*const c_char) -> *const c_void>,
    deinit: Option<extern "C" fn(*mut c_void)>, // since 1.2
    get_extension_with_state: Option<extern "C" fn(*mut c_void, *const c_char) -> *const c_void>,
}

const OK: i32 = 0;
const ERR_INVALID_INPUT: i32 = 1;
const ERR_INTERNAL: i32 = 4;
const ERR_INCOMPATIBLE: i32 = 5;
const THREAD_SAFE: u32 = 0x1;
const PURE: u32 = 0x2;
const TASK_CLASSIFY: i32 = 1;

/// The descriptors are [static] data holding raw pointers, which Rust does not let a static
/// share between threads unless told: they are never written, so sharing them is sound.
#[repr(transparent)]
pub struct Shared<T>(T);
unsafe impl<T> Sync for Shared<T> {}

// ---- Helpers: borrowed bytes in, host-allocated bytes out. ----

/// The `length` bytes at `pointer` (borrowed for the call); empty for NULL.
unsafe fn borrowed<'a>(pointer: *const c_char, length: usize) -> &'a [u8] {
    if pointer.is_null() || length == 0 { &[] } else { std::slice::from_raw_parts(pointer as *const u8, length) }
}

/// A copy of `bytes` in a block from the host's alloc (the host frees it once handed over).
unsafe fn host_copy(host: *const Host, bytes: &[u8]) -> Option<(*mut c_char, usize)> {
    let alloc = (*host).alloc?;
    let block = alloc((*host).context, bytes.len().max(1)) as *mut u8;
    if block.is_null() { return None; }
    ptr::copy_nonoverlapping(bytes.as_ptr(), block, bytes.len());
    Some((block as *mut c_char, bytes.len()))
}

/// A JSON object, judged by its outer braces: enough for this step, which reads no field.
fn looks_like_object(bytes: &[u8]) -> bool {
    let trimmed: Vec<u8> = bytes.iter().copied().filter(|b| !b" \t\r\n".contains(b)).collect();
    trimmed.first() == Some(&b'{') && trimmed.last() == Some(&b'}')
}

// ---- The step. ----

extern "C" fn measure(call: *const StepCall, result: *mut StepResult) -> i32 {
    // No panic may cross the boundary: catch it and answer STW_ERR_INTERNAL.
    std::panic::catch_unwind(|| unsafe {
        let call = &*call;
        let input = borrowed(call.input, call.input_length);
        let answer = if looks_like_object(input) {
            Ok(format!("{{\"input_bytes\":{},\"attempt\":{}}}", input.len(), call.attempt))
        } else {
            Err("hello_rust.measure: the input must be a JSON object")
        };
        match answer {
            Ok(json) => match host_copy(call.host, json.as_bytes()) {
                Some((block, length)) => { (*result).output = block; (*result).output_length = length; OK }
                None => ERR_INTERNAL,
            },
            Err(message) => {
                if let Some((block, length)) = host_copy(call.host, message.as_bytes()) {
                    (*result).error_message = block;
                    (*result).error_message_length = length;
                }
                ERR_INVALID_INPUT
            }
        }
    })
    .unwrap_or(ERR_INTERNAL)
}

// ---- The model adapter. ----

extern "C" fn label(request: *const ModelRequest, response: *mut ModelResponse) -> i32 {
    std::panic::catch_unwind(|| unsafe {
        let request = &*request;
        let input = borrowed(request.input, request.input_length);
        if request.task != TASK_CLASSIFY || !looks_like_object(input) {
            let message = "hello-label: classify a JSON object";
            if let Some((block, length)) = host_copy(request.host, message.as_bytes()) {
                (*response).error_message = block;
                (*response).error_message_length = length;
            }
            return ERR_INVALID_INPUT;
        }
        let greeting = input.windows(5).any(|w| w.eq_ignore_ascii_case(b"hello"));
        let (label, other, confidence) = if greeting { ("greeting", "other", 0.9) } else { ("other", "greeting", 0.6) };
        let json = format!(
            "{{\"label\":\"{}\",\"alternatives\":[{{\"label\":\"{}\",\"confidence\":{}}},{{\"label\":\"{}\",\"confidence\":{:.1}}}]}}",
            label, label, confidence, other, 1.0 - confidence);
        match host_copy(request.host, json.as_bytes()) {
            Some((block, length)) => {
                (*response).output = block;
                (*response).output_length = length;
                (*response).confidence = confidence;
                OK
            }
            None => ERR_INTERNAL,
        }
    })
    .unwrap_or(ERR_INTERNAL)
}

// ---- The descriptors ([static]: the host keeps these pointers forever). ----

static MEASURE: Shared<Step> = Shared(Step {
    header: header::<Step>(),
    name: b"measure\0".as_ptr() as *const c_char,
    version: b"1.0.0\0".as_ptr() as *const c_char,
    description: b"Counts the bytes of its input\0".as_ptr() as *const c_char,
    flags: THREAD_SAFE | PURE,
    invoke: Some(measure),
});
static STEPS: Shared<[*const Step; 1]> = Shared([&MEASURE.0 as *const Step]);

static LABEL: Shared<Adapter> = Shared(Adapter {
    header: header::<Adapter>(),
    id: b"hello-label\0".as_ptr() as *const c_char,
    version: b"1.0.0\0".as_ptr() as *const c_char,
    description: b"Says whether a text greets\0".as_ptr() as *const c_char,
    flags: THREAD_SAFE,
    task_mask: 1 << TASK_CLASSIFY,
    invoke: Some(label),
});
static ADAPTERS: Shared<[*const Adapter; 1]> = Shared([&LABEL.0 as *const Adapter]);

static PLUGIN: Shared<Plugin> = Shared(Plugin {
    header: header::<Plugin>(),
    name: b"hello_rust\0".as_ptr() as *const c_char,
    version: b"1.0.0\0".as_ptr() as *const c_char,
    description: b"The smallest useful Rust plugin\0".as_ptr() as *const c_char,
    init: None,
    step_count: 1,
    steps: &STEPS.0 as *const [*const Step; 1] as *const *const Step,
    adapter_count: 1,
    adapters: &ADAPTERS.0 as *const [*const Adapter; 1] as *const *const Adapter,
    get_extension: None,
    deinit: None,
    get_extension_with_state: None,
});

/// The one exported symbol: hand over the static descriptor, nothing else.
#[no_mangle]
pub extern "C" fn stw_plugin_entry(host: *const Host, out: *mut *const Plugin) -> i32 {
    if host.is_null() || out.is_null() || unsafe { (*host).header.abi_major } != 1 { return ERR_INCOMPATIBLE; }
    unsafe { *out = &PLUGIN.0 };
    OK
}

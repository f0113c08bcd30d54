/*
 * steward_abi.h -- the Steward plugin ABI, version 1.2.
 *
 * This header is the whole contract between the Steward engine (the "host") and a
 * plugin: a shared library that exposes workflow steps and model adapters. It is
 * plain C99, compiles cleanly as C11 and C++17, and depends on nothing but the C
 * standard library.
 *
 * Compatibility promise (see Docs/abi-compatibility.md):
 *   - A plugin built against ABI 1.x loads in every host of ABI 1.y, older or newer (since
 *     1.2 a host also accepts a newer minor: it reads only the fields it knows, and a
 *     plugin that needs a newer host checks host->header.abi_minor in its entry).
 *   - A minor version only appends fields at the END of structs and appends new
 *     constants. Nothing is removed, reordered or retyped within a major.
 *   - Every struct starts with a stw_struct_header (struct_size, abi_major,
 *     abi_minor). A reader treats every field that lies past struct_size as absent.
 *   - Optional capabilities are looked up by string id ("steward.metrics/1");
 *     NULL means absent.
 *
 * Versions:
 *   1.0  the first release.
 *   1.1  appends call_key / call_key_length to stw_step_call and stw_model_request.
 *        A plugin reads them only after checking the struct_size (STW_HAS_FIELD): a
 *        1.0 host's structs end before them.
 *   1.2  appends deadline_ns / cancel_flag to stw_step_call and stw_model_request
 *        (stw_call_cancelled reads them), and deinit / get_extension_with_state to
 *        stw_plugin; a host accepts plugins built for a newer minor.
 *
 * Every field appended after 1.0 sits below a "since 1.x" marker: a reader checks
 * STW_HAS_FIELD before touching it, because a struct from an older writer ends before it.
 *
 * Conventions written on every declaration below:
 *   [thread-safe]       may be called from any thread, concurrently.
 *   [main-thread]       is called from a single thread, never concurrently with itself.
 *   [borrowed]          the pointer is valid only for the duration of the call; copy what
 *                       you need to keep. The receiver must not free it.
 *   [host-allocated]    memory obtained from stw_host.alloc; ownership passes to the host,
 *                       which frees it. The plugin must not free it after handing it over.
 *   [static]            must stay valid for the life of the process (plugins are never
 *                       unloaded, so string literals and static data qualify).
 *
 * Text and payloads: every string is UTF-8. Payloads are JSON documents passed as
 * pointer + length; they are NOT NUL-terminated unless stated.
 *
 * Errors never unwind across this boundary: a plugin written in C++, Rust or Swift
 * must catch everything and return a stw_status.
 */
#ifndef STEWARD_ABI_H
#define STEWARD_ABI_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------------- */

/** ABI major version. A host refuses a plugin whose major differs from its own. */
#define STW_ABI_VERSION_MAJOR 1
/** ABI minor version. Hosts and plugins of different minors load each other (see above). */
#define STW_ABI_VERSION_MINOR 2

/** The one symbol a plugin exports. The host resolves it with dlsym. */
#define STW_PLUGIN_ENTRY_SYMBOL "stw_plugin_entry"

/** Marks the entry function as exported even when built with -fvisibility=hidden. */
#if defined(_WIN32)
#define STW_EXPORT __declspec(dllexport)
#else
#define STW_EXPORT __attribute__((visibility("default")))
#endif

/**
 * The head of every ABI struct. Whoever fills a struct sets struct_size to
 * sizeof(the struct) as compiled, and abi_major / abi_minor to the version of the
 * header it was compiled against (use STW_STRUCT_HEADER).
 */
typedef struct stw_struct_header {
    uint32_t struct_size; /**< sizeof the whole struct, as the writer compiled it. */
    uint16_t abi_major;   /**< STW_ABI_VERSION_MAJOR of the writer. */
    uint16_t abi_minor;   /**< STW_ABI_VERSION_MINOR of the writer. */
} stw_struct_header;

/** Initialiser for the header of a struct of type T: STW_STRUCT_HEADER(stw_step). */
#define STW_STRUCT_HEADER(T) { (uint32_t)sizeof(T), STW_ABI_VERSION_MAJOR, STW_ABI_VERSION_MINOR }

/**
 * Whether the struct that s points to, of type T, holds field: its writer's struct_size
 * reaches the end of the field. A field appended by a later minor is absent (and must not be
 * read) when this is 0, e.g. STW_HAS_FIELD(call, stw_step_call, call_key_length).   [since 1.1]
 */
#define STW_HAS_FIELD(s, T, field) ((size_t)(s)->header.struct_size >= offsetof(T, field) + sizeof((s)->field))

/* ---------------------------------------------------------------------------------
 * Status codes
 * ------------------------------------------------------------------------------- */

/** Result of every call across the boundary. Fixed-width so its size never changes. */
typedef int32_t stw_status;

/** Success. The output (if the call has one) is set. */
#define STW_OK 0
/** The input or configuration is wrong; retrying the same call cannot succeed. */
#define STW_ERR_INVALID_INPUT 1
/** A passing failure (timeout, rate limit, lock); the host retries with backoff. */
#define STW_ERR_TRANSIENT 2
/** The call failed for good for this input (e.g. a record does not exist). */
#define STW_ERR_PERMANENT 3
/** A bug or broken invariant inside the plugin. Treated as permanent. */
#define STW_ERR_INTERNAL 4
/** Returned by stw_plugin_entry when the host's ABI major is one the plugin cannot serve. */
#define STW_ERR_INCOMPATIBLE 5

/* ---------------------------------------------------------------------------------
 * Log levels for stw_host.log
 * ------------------------------------------------------------------------------- */
#define STW_LOG_DEBUG 0
#define STW_LOG_INFO 1
#define STW_LOG_WARNING 2
#define STW_LOG_ERROR 3

/* ---------------------------------------------------------------------------------
 * The host function table (host -> plugin)
 * ------------------------------------------------------------------------------- */

/**
 * Services the host offers a plugin. The host owns this table; it stays valid for
 * the life of the process [static], so a plugin may keep the pointer it receives.
 */
typedef struct stw_host {
    stw_struct_header header;

    /** Opaque host context; pass it back as the first argument of every function below. */
    void *context;

    /** Host name and version, e.g. "steward" / "0.1.0". [static] NUL-terminated. */
    const char *host_name;
    const char *host_version;

    /**
     * Writes one log line through the host's logger. [thread-safe]
     * message: [borrowed] UTF-8, message_length bytes, need not be NUL-terminated.
     */
    void (*log)(void *context, int32_t level, const char *message, size_t message_length);

    /**
     * Allocates size bytes for data the plugin hands to the host (step outputs, error
     * messages, model responses). [thread-safe] Returns NULL when out of memory, and during a
     * step or adapter call when size exceeds the host's output limit for that call (the host
     * then fails the call as invalid output). The host also refuses an output_length larger
     * than the limit or than the block, without reading it.
     * The block is [host-allocated]: once stored in a result struct the host frees it.
     */
    void *(*alloc)(void *context, size_t size);

    /**
     * Frees a block from alloc that the plugin decided not to hand over (e.g. on an
     * error path). [thread-safe] Never call it on a block already stored in a result.
     */
    void (*free)(void *context, void *block);

    /**
     * Looks up an optional host capability by id ("steward.metrics/1"). [thread-safe]
     * id: [borrowed] NUL-terminated. Returns a [static] pointer to the capability's own
     * struct, or NULL when the host does not offer it.
     */
    const void *(*get_extension)(void *context, const char *id);
} stw_host;

/* ---------------------------------------------------------------------------------
 * Steps
 * ------------------------------------------------------------------------------- */

/** Step flag: the step may be called concurrently from several threads. Without it the
 *  host serialises every call to the step. */
#define STW_STEP_THREAD_SAFE 0x1u
/** Step flag: the step has no side effects, so the host may re-run it freely. */
#define STW_STEP_PURE 0x2u
/** Step and adapter flag (since 1.2; a host that does not know it ignores it): the call only
 *  computes -- no file, network or other blocking I/O, no sleeping, no waiting on locks held
 *  elsewhere -- and returns within a millisecond. With STW_STEP_THREAD_SAFE, and when the state
 *  sets no timeout, the host may run it on the thread that asks instead of handing it to a
 *  plugin thread and back, which saves two thread wake-ups a call. `steward plugins validate`
 *  fails a step or adapter so flagged whose p99 latency is over 1 ms. Flag a call that may
 *  block, even rarely, and it holds one of the engine's own threads while it does. */
#define STW_STEP_NONBLOCKING 0x4u

/** One call of a step (host -> plugin). Every pointer is [borrowed]. */
typedef struct stw_step_call {
    stw_struct_header header;

    /** The host table (same pointer stw_plugin_entry received). */
    const stw_host *host;

    /** The plugin's own state from stw_plugin.init (NULL when it has no init). */
    void *plugin_state;

    /**
     * Idempotency key: "<instance id>/<state>/<attempt>". A side-effecting step uses it
     * to dedupe: the host runs a step at least once, so the same key may arrive twice.
     * NUL-terminated; key_length excludes the NUL. It changes with every attempt; to
     * dedupe across retries of one call, use call_key (since 1.1).
     */
    const char *idempotency_key;
    size_t idempotency_key_length;

    /** 1 for the first attempt, 2 for the first retry, ... */
    uint32_t attempt;

    /** The step's input: a UTF-8 JSON document (usually an object). Not NUL-terminated. */
    const char *input;
    size_t input_length;

    /** The step's configuration from the template (and customer overlay): UTF-8 JSON
     *  object, "{}" when none. Not NUL-terminated. */
    const char *config;
    size_t config_length;

    /* ---- since 1.1 ---------------------------------------------------------------- */

    /**
     * Call key: "<instance id>/<state>/<n>", where n identifies the visit of the state. It is
     * the SAME for every attempt of one logical call (unlike idempotency_key, which changes
     * with each retry), so a side-effecting step dedupes on it across transient retries: a
     * retry after STW_ERR_TRANSIENT, or a re-run after a crash, carries the call key of the
     * first attempt. A later visit of the state (a loop) is a new call with a new key.
     * [borrowed] NUL-terminated; call_key_length excludes the NUL.
     *
     * Absent in a struct from a 1.0 host: read it only when
     * STW_HAS_FIELD(call, stw_step_call, call_key_length) holds, and treat a NULL call_key
     * as absent too. Without it, fall back to idempotency_key.
     */
    const char *call_key;
    size_t call_key_length;

    /* ---- since 1.2 ---------------------------------------------------------------- */

    /**
     * The moment the host stops waiting for this call, in nanoseconds of CLOCK_MONOTONIC
     * (the state's timeout_ms from when the call was queued); 0 when the call has no
     * deadline. After it the host has already failed the attempt as transient and will
     * discard the answer, so a long call may check it between units of work and return
     * early (any status; STW_ERR_TRANSIENT is the honest one).
     */
    uint64_t deadline_ns;

    /**
     * Non-zero once the host has given up on the call: its deadline passed, or the engine is
     * shutting down. [borrowed] valid for the duration of the call; written by the host from
     * another thread, so read it with an atomic load (stw_call_cancelled does). NULL when the
     * host offers no flag.
     */
    const uint32_t *cancel_flag;
} stw_step_call;

/** Where a step puts its answer (plugin -> host). The host zeroes it before the call. */
typedef struct stw_step_result {
    stw_struct_header header;

    /** On STW_OK: the output, a UTF-8 JSON document. [host-allocated] Required. */
    char *output;
    size_t output_length;

    /** On an error status: a UTF-8 message for people. [host-allocated] Optional. */
    char *error_message;
    size_t error_message_length;
} stw_step_result;

/**
 * A step function. [thread-safe] only if the step declares STW_STEP_THREAD_SAFE,
 * otherwise the host never calls it concurrently with itself.
 * Returns STW_OK with result->output set, or an error status with an optional
 * result->error_message. Must not unwind, must not keep call's pointers.
 */
typedef stw_status (*stw_step_fn)(const stw_step_call *call, stw_step_result *result);

/** A step the plugin exposes. [static] */
typedef struct stw_step {
    stw_struct_header header;
    /** Step name within the plugin, e.g. "search"; templates call it "<plugin>.<name>".
     *  [static] NUL-terminated, [a-z0-9_-]+. */
    const char *name;
    /** Semantic version of the step's contract, e.g. "1.0.0". [static] */
    const char *version;
    /** One line for people. [static] May be NULL. */
    const char *description;
    /** STW_STEP_* flags. */
    uint32_t flags;
    /** The function. Must not be NULL. */
    stw_step_fn invoke;
} stw_step;

/* ---------------------------------------------------------------------------------
 * Model adapters (vendor-neutral model calls)
 * ------------------------------------------------------------------------------- */

/** What a model call is asked to do. */
typedef int32_t stw_task_kind;
#define STW_TASK_CLASSIFY 1 /**< pick a label; output {"label": ..., "alternatives": [...]} */
#define STW_TASK_EXTRACT 2  /**< pull fields out of text; output is a JSON object */
#define STW_TASK_GENERATE 3 /**< write text; output {"text": ...} */
#define STW_TASK_SCORE 4    /**< a number; output {"score": ...} */

/** Bit for stw_adapter.task_mask: STW_TASK_BIT(STW_TASK_CLASSIFY). */
#define STW_TASK_BIT(kind) (1u << (uint32_t)(kind))

/** One model call (host -> plugin). Every pointer is [borrowed]. */
typedef struct stw_model_request {
    stw_struct_header header;
    const stw_host *host;
    void *plugin_state;
    /** Same meaning as in stw_step_call. NUL-terminated. */
    const char *idempotency_key;
    size_t idempotency_key_length;
    uint32_t attempt;
    stw_task_kind task;
    /** The rendered prompt (UTF-8 text, may be empty). Not NUL-terminated. */
    const char *prompt;
    size_t prompt_length;
    /** Call parameters (temperature, max_tokens, labels, ...): UTF-8 JSON object. */
    const char *parameters;
    size_t parameters_length;
    /** The structured input: UTF-8 JSON document. */
    const char *input;
    size_t input_length;

    /* ---- since 1.1 ---------------------------------------------------------------- */

    /**
     * Same meaning as in stw_step_call: the same for every attempt of one logical call.
     * [borrowed] NUL-terminated. Absent in a struct from a 1.0 host: read it only when
     * STW_HAS_FIELD(request, stw_model_request, call_key_length) holds; NULL means absent.
     */
    const char *call_key;
    size_t call_key_length;

    /* ---- since 1.2 ---------------------------------------------------------------- */

    /** Same meaning as in stw_step_call. Read only when STW_HAS_FIELD holds. */
    uint64_t deadline_ns;
    /** Same meaning as in stw_step_call; stw_request_cancelled reads it. */
    const uint32_t *cancel_flag;
} stw_model_request;

/** A model call's answer (plugin -> host). The host zeroes it before the call. */
typedef struct stw_model_response {
    stw_struct_header header;
    /** On STW_OK: UTF-8 JSON output. [host-allocated] Required. */
    char *output;
    size_t output_length;
    /** Confidence in [0, 1]; a negative value means "not reported". */
    double confidence;
    /** Usage: tokens in and out (0 when unknown) and the adapter's own latency. */
    uint64_t input_tokens;
    uint64_t output_tokens;
    uint64_t latency_microseconds;
    /** On an error status: a UTF-8 message. [host-allocated] Optional. */
    char *error_message;
    size_t error_message_length;
} stw_model_response;

/** An adapter function. Thread rules as for stw_step_fn, using stw_adapter.flags. */
typedef stw_status (*stw_adapter_fn)(const stw_model_request *request, stw_model_response *response);

/** A model adapter the plugin exposes. [static] */
typedef struct stw_adapter {
    stw_struct_header header;
    /** Adapter id, e.g. "banking-intent"; templates bind a role to "<id>@<version>". [static] */
    const char *id;
    /** Adapter version, e.g. "2.0.0". [static] */
    const char *version;
    /** One line for people. [static] May be NULL. */
    const char *description;
    /** STW_STEP_THREAD_SAFE applies here too. */
    uint32_t flags;
    /** Which tasks it serves: OR of STW_TASK_BIT(kind). */
    uint32_t task_mask;
    /** The function. Must not be NULL. */
    stw_adapter_fn invoke;
} stw_adapter;

/* ---------------------------------------------------------------------------------
 * The plugin descriptor (plugin -> host)
 * ------------------------------------------------------------------------------- */

/** Everything a plugin exposes. [static]: the host keeps the pointer forever. */
typedef struct stw_plugin {
    stw_struct_header header;
    /** Plugin name, e.g. "kb"; its steps are called "kb.<step>". [static] [a-z0-9_-]+ */
    const char *name;
    /** Plugin version, e.g. "1.2.0". [static] */
    const char *version;
    /** One line for people. [static] May be NULL. */
    const char *description;

    /**
     * Optional (NULL = none). Called once, after the host accepted the versions and
     * before any step. [main-thread] Sets *state_out to the plugin's state, which every
     * call then receives as plugin_state. Returns STW_OK or an error status; on error
     * the plugin is refused and none of its steps is called.
     */
    stw_status (*init)(const stw_host *host, void **state_out);

    /** The steps: an array of step_count pointers. [static] Pointers, not structs, so each
     *  stw_step may grow on its own. */
    size_t step_count;
    const stw_step *const *steps;

    /** The model adapters: an array of adapter_count pointers. [static] */
    size_t adapter_count;
    const stw_adapter *const *adapters;

    /** Optional (NULL = none). Looks up an optional plugin capability by id. [thread-safe]
     *  Returns a [static] pointer or NULL when absent. */
    const void *(*get_extension)(const char *id);

    /* ---- since 1.2 ---------------------------------------------------------------- */

    /**
     * Optional (NULL = none). Called once at orderly shutdown (steward serve stopping on
     * SIGTERM or SIGINT, a command finishing), after every call of the plugin's steps and
     * adapters has returned, with the state init set (NULL without init). [main-thread]
     * Release what init acquired: flush, close connections, join threads. Not called when
     * the process crashes or is killed, nor while a call that outlived its deadline is still
     * running (the host then leaves the plugin as it is rather than pull its state away).
     */
    void (*deinit)(void *state);

    /**
     * Optional (NULL = none). get_extension with the plugin's state (from init), so an
     * extension can be per instance of the plugin rather than static. [thread-safe] When
     * both are set the host calls this one. Returns a pointer valid while the plugin is
     * loaded, or NULL when absent.
     */
    const void *(*get_extension_with_state)(void *state, const char *id);
} stw_plugin;

/**
 * The entry point, the only symbol a plugin exports:
 *
 *     STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out);
 *
 * host: [static] the host table; the plugin may keep it.
 * out:  set *out to a [static] stw_plugin.
 *
 * The entry must do nothing else: no allocation, no threads, no I/O. The host checks
 * the descriptor's header (struct_size, major, minor) before it calls any other plugin
 * code (init, steps). A plugin may itself refuse a host whose header.abi_major it does
 * not serve by returning STW_ERR_INCOMPATIBLE.
 */
typedef stw_status (*stw_plugin_entry_fn)(const stw_host *host, const stw_plugin **out);

/* ---------------------------------------------------------------------------------
 * Helpers for plugin authors (header-only; they call only the host table)
 * ------------------------------------------------------------------------------- */

/* Reads a cancel flag with an atomic load where the compiler has one. */
static inline int stw_flag_set(const uint32_t *flag) {
    if (flag == NULL) {
        return 0;
    }
#if defined(__GNUC__) || defined(__clang__)
    return __atomic_load_n(flag, __ATOMIC_RELAXED) != 0;
#else
    return *(const volatile uint32_t *)flag != 0;
#endif
}

/** Whether the host has given up on this step call (its deadline passed or the engine is
 *  stopping). 0 from a host older than 1.2, which offers no flag. [thread-safe] */
static inline int stw_call_cancelled(const stw_step_call *call) {
    return STW_HAS_FIELD(call, stw_step_call, cancel_flag) ? stw_flag_set(call->cancel_flag) : 0;
}

/** stw_call_cancelled for a model call. */
static inline int stw_request_cancelled(const stw_model_request *request) {
    return STW_HAS_FIELD(request, stw_model_request, cancel_flag) ? stw_flag_set(request->cancel_flag) : 0;
}

/** Copies length bytes into a fresh host block. Returns NULL when out of memory. */
static inline char *stw_host_copy(const stw_host *host, const char *bytes, size_t length) {
    char *block = (char *)host->alloc(host->context, length > 0 ? length : 1);
    if (block != NULL && length > 0) {
        memcpy(block, bytes, length);
    }
    return block;
}

/** Stores a copy of a JSON output in result and returns STW_OK (or STW_ERR_INTERNAL
 *  when out of memory). */
static inline stw_status stw_step_output(const stw_host *host, stw_step_result *result,
                                         const char *json, size_t length) {
    result->output = stw_host_copy(host, json, length);
    if (result->output == NULL) {
        return STW_ERR_INTERNAL;
    }
    result->output_length = length;
    return STW_OK;
}

/** Stores a copy of a NUL-terminated message in result and returns status. */
static inline stw_status stw_step_error(const stw_host *host, stw_step_result *result,
                                        stw_status status, const char *message) {
    size_t length = strlen(message);
    result->error_message = stw_host_copy(host, message, length);
    result->error_message_length = result->error_message != NULL ? length : 0;
    return status;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* STEWARD_ABI_H */

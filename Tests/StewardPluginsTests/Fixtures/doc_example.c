/*
 * hello.c -- a complete Steward step plugin in C.
 *
 * Step "hello.measure": any JSON input -> {"bytes": <input size>, "attempt": <n>}.
 *
 * Build:
 *   cc -std=c11 -O2 -Wall -Wextra -shared -fPIC -fvisibility=hidden \
 *      -I Sources/StewardABI/include hello.c -o libhello.so
 */
#include <stdio.h>

#include "steward_abi.h"

static stw_status measure(const stw_step_call *call, stw_step_result *result) {
    if (call->input_length == 0) {
        /* An error: a status plus a message the host copies into its error. */
        return stw_step_error(call->host, result, STW_ERR_INVALID_INPUT, "hello: the input is empty");
    }
    char json[64];
    int length = snprintf(json, sizeof json, "{\"bytes\":%zu,\"attempt\":%u}",
                          call->input_length, (unsigned)call->attempt);
    if (length < 0 || (size_t)length >= sizeof json) {
        return stw_step_error(call->host, result, STW_ERR_INTERNAL, "hello: output buffer too small");
    }
    /* The output goes into a block from host->alloc; the host frees it. */
    return stw_step_output(call->host, result, json, (size_t)length);
}

/* Everything below is [static]: the host keeps these pointers forever. */
static const stw_step measure_step = {
    STW_STRUCT_HEADER(stw_step),
    "measure",                              /* name: the template calls "hello.measure" */
    "1.0.0",                                /* version of the step's contract */
    "Counts the bytes of its input",        /* description (may be NULL) */
    STW_STEP_THREAD_SAFE | STW_STEP_PURE,   /* flags */
    measure,                                /* invoke */
};

static const stw_step *const steps[] = {&measure_step};

static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin),
    "hello",                                /* name */
    "1.0.0",                                /* version */
    "The smallest useful plugin",           /* description */
    NULL,                                   /* init: no state */
    1, steps,                               /* steps */
    0, NULL,                                /* adapters */
    NULL,                                   /* get_extension */
    NULL,                                   /* deinit (since 1.2) */
    NULL,                                   /* get_extension_with_state (since 1.2) */
};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host->header.abi_major != STW_ABI_VERSION_MAJOR) {
        return STW_ERR_INCOMPATIBLE;
    }
    *out = &plugin;
    return STW_OK;
}

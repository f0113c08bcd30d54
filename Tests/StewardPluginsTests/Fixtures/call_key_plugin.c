/*
 * call_key_plugin.c -- a plugin built against ABI 1.1 that reads the call key (since 1.1)
 * the way the header tells plugins to: only when struct_size says the field is there.
 *
 * Step "keys.echo" and adapter "keys-echo@1.0.0" both answer
 *   {"idempotency_key": "...", "attempt": n, "call_key": "..." or null, "terminated": bool}
 * where call_key is null when the host's struct is too short to hold it or leaves it NULL.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>

#include "steward_abi.h"

/* Writes the answer for one call into buffer; returns its length, or -1 when it does not fit. */
static int describe(char *buffer, size_t size, const char *key, size_t key_length, uint32_t attempt,
                    const char *call_key, size_t call_key_length) {
    if (call_key == NULL) {
        return snprintf(buffer, size, "{\"idempotency_key\":\"%.*s\",\"attempt\":%u,\"call_key\":null}",
                        (int)key_length, key, (unsigned)attempt);
    }
    return snprintf(buffer, size, "{\"idempotency_key\":\"%.*s\",\"attempt\":%u,\"call_key\":\"%.*s\",\"terminated\":%s}",
                    (int)key_length, key, (unsigned)attempt, (int)call_key_length, call_key,
                    call_key[call_key_length] == '\0' ? "true" : "false");
}

static stw_status echo_step(const stw_step_call *call, stw_step_result *result) {
    const char *call_key = STW_HAS_FIELD(call, stw_step_call, call_key_length) ? call->call_key : NULL;
    size_t call_key_length = call_key != NULL ? call->call_key_length : 0;
    char buffer[512];
    int length = describe(buffer, sizeof buffer, call->idempotency_key, call->idempotency_key_length, call->attempt,
                          call_key, call_key_length);
    if (length < 0 || (size_t)length >= sizeof buffer) {
        return stw_step_error(call->host, result, STW_ERR_INTERNAL, "keys: buffer too small");
    }
    return stw_step_output(call->host, result, buffer, (size_t)length);
}

static stw_status echo_adapter(const stw_model_request *request, stw_model_response *response) {
    const char *call_key = STW_HAS_FIELD(request, stw_model_request, call_key_length) ? request->call_key : NULL;
    size_t call_key_length = call_key != NULL ? request->call_key_length : 0;
    char buffer[512];
    int length = describe(buffer, sizeof buffer, request->idempotency_key, request->idempotency_key_length,
                          request->attempt, call_key, call_key_length);
    if (length < 0 || (size_t)length >= sizeof buffer) return STW_ERR_INTERNAL;
    response->output = stw_host_copy(request->host, buffer, (size_t)length);
    if (response->output == NULL) return STW_ERR_INTERNAL;
    response->output_length = (size_t)length;
    return STW_OK;
}

static const stw_step echo = {
    STW_STRUCT_HEADER(stw_step), "echo", "1.0.0", "Echoes the keys it was called with", STW_STEP_THREAD_SAFE, echo_step};
static const stw_step *const steps[] = {&echo};

static const stw_adapter adapter = {
    STW_STRUCT_HEADER(stw_adapter), "keys-echo", "1.0.0", "Echoes the keys it was called with",
    STW_STEP_THREAD_SAFE, STW_TASK_BIT(STW_TASK_GENERATE), echo_adapter};
static const stw_adapter *const adapters[] = {&adapter};

static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin), "keys", "1.0.0", "Reads the ABI 1.1 call key", NULL, 1, steps, 1, adapters, NULL,
#if STW_ABI_VERSION_MINOR >= 2
    NULL, NULL, /* deinit, get_extension_with_state: since 1.2 */
#endif
};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host == NULL || host->header.abi_major != STW_ABI_VERSION_MAJOR) return STW_ERR_INCOMPATIBLE;
    *out = &plugin;
    return STW_OK;
}

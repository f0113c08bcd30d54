/*
 * compat_plugin.c -- a plugin built against the FROZEN ABI 1.0 header (abi-1.0/ only).
 *
 * It stands for every binary plugin already shipped: each test run compiles it against the
 * frozen copy of steward_abi.h and checks that the current host loads it, runs its steps
 * and lists its adapter. It uses every part of the 1.0 host table and call structs.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "steward_abi.h"

typedef struct compat_state {
    unsigned magic;
    const stw_host *host;
} compat_state;

static compat_state state;

static stw_status compat_init(const stw_host *host, void **state_out) {
    static const char line[] = "compat plugin initialised";
    state.magic = 0xC0FFEEu;
    state.host = host;
    host->log(host->context, STW_LOG_INFO, line, sizeof(line) - 1);
    *state_out = &state;
    return STW_OK;
}

/* Returns the input unchanged. */
static stw_status echo(const stw_step_call *call, stw_step_result *result) {
    return stw_step_output(call->host, result, call->input, call->input_length);
}

/* Reports what the host passed in: key, attempt, config, state and host identity. */
static stw_status call_info(const stw_step_call *call, stw_step_result *result) {
    const compat_state *own = (const compat_state *)call->plugin_state;
    const void *missing = call->host->get_extension(call->host->context, "steward.no-such-extension/1");
    char buffer[1024];
    int length = snprintf(
        buffer, sizeof(buffer),
        "{\"key\":\"%.*s\",\"key_terminated\":%s,\"attempt\":%u,\"config\":%.*s,\"state_ok\":%s,"
        "\"same_host\":%s,\"host\":\"%s\",\"host_abi\":[%u,%u],\"missing_extension_is_null\":%s,"
        "\"call_struct_size\":%u}",
        (int)call->idempotency_key_length, call->idempotency_key,
        call->idempotency_key[call->idempotency_key_length] == '\0' ? "true" : "false", (unsigned)call->attempt,
        (int)call->config_length, call->config, own != NULL && own->magic == 0xC0FFEEu ? "true" : "false",
        own != NULL && own->host == call->host ? "true" : "false", call->host->host_name,
        (unsigned)call->host->header.abi_major, (unsigned)call->host->header.abi_minor,
        missing == NULL ? "true" : "false", (unsigned)call->header.struct_size);
    if (length <= 0 || (size_t)length >= sizeof(buffer)) {
        return stw_step_error(call->host, result, STW_ERR_INTERNAL, "compat: buffer too small");
    }
    return stw_step_output(call->host, result, buffer, (size_t)length);
}

/* Hands back an output block it allocated itself and one it freed: exercises alloc/free. */
static stw_status allocate(const stw_step_call *call, stw_step_result *result) {
    void *scratch = call->host->alloc(call->host->context, 64);
    if (scratch == NULL) return STW_ERR_TRANSIENT;
    call->host->free(call->host->context, scratch);
    char *output = (char *)call->host->alloc(call->host->context, 12);
    if (output == NULL) return STW_ERR_TRANSIENT;
    memcpy(output, "{\"alloc\":42}", 12);
    result->output = output;
    result->output_length = 12;
    return STW_OK;
}

static stw_status classify(const stw_model_request *request, stw_model_response *response) {
    static const char output[] = "{\"label\":\"compat\",\"alternatives\":[]}";
    response->output = stw_host_copy(request->host, output, sizeof(output) - 1);
    if (response->output == NULL) return STW_ERR_INTERNAL;
    response->output_length = sizeof(output) - 1;
    response->confidence = 1.0;
    return STW_OK;
}

static const stw_step echo_step = {
    STW_STRUCT_HEADER(stw_step), "echo", "1.0.0", "Returns its input", STW_STEP_THREAD_SAFE | STW_STEP_PURE, echo};
static const stw_step call_info_step = {
    STW_STRUCT_HEADER(stw_step), "call_info", "1.0.0", "Reports what the host passed", STW_STEP_THREAD_SAFE, call_info};
static const stw_step allocate_step = {
    STW_STRUCT_HEADER(stw_step), "allocate", "1.0.0", "Uses host alloc and free", 0, allocate};
static const stw_step *const steps[] = {&echo_step, &call_info_step, &allocate_step};

static const stw_adapter classifier = {
    STW_STRUCT_HEADER(stw_adapter), "compat-classifier", "1.0.0", "Always answers 'compat'",
    STW_STEP_THREAD_SAFE, STW_TASK_BIT(STW_TASK_CLASSIFY), classify};
static const stw_adapter *const adapters[] = {&classifier};

static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin), "compat", "1.0.0", "Built against the frozen ABI 1.0 header",
    compat_init, 3, steps, 1, adapters, NULL,
};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host == NULL || host->header.abi_major != STW_ABI_VERSION_MAJOR) return STW_ERR_INCOMPATIBLE;
    *out = &plugin;
    return STW_OK;
}

/*
 * output_limits.c -- steps whose outputs test the host's output size limit: one asks the host
 * for a 200 MB block (the host must refuse the allocation, not read 200 MB), one claims a
 * 64 MiB output_length in an 11-byte block, one claims 4 KiB in the same block (under the
 * limit, over its buffer), and one answers normally.
 */
#include "steward_abi.h"

static stw_status huge(const stw_step_call *call, stw_step_result *result) {
    size_t length = (size_t)200 * 1000 * 1000;
    char *block = (char *)call->host->alloc(call->host->context, length);
    if (block == NULL) {
        return stw_step_error(call->host, result, STW_ERR_INTERNAL, "limits: out of memory");
    }
    memset(block, ' ', length);
    block[0] = '"';
    block[length - 1] = '"';
    result->output = block;
    result->output_length = length;
    return STW_OK;
}

static stw_status claim(const stw_step_call *call, stw_step_result *result, size_t claimed) {
    static const char output[] = "{\"ok\":true}"; /* 11 bytes */
    stw_status status = stw_step_output(call->host, result, output, sizeof(output) - 1);
    result->output_length = claimed;
    return status;
}

static stw_status lying_huge(const stw_step_call *call, stw_step_result *result) {
    return claim(call, result, (size_t)64 << 20);
}

static stw_status lying_small(const stw_step_call *call, stw_step_result *result) {
    return claim(call, result, 4096);
}

static stw_status normal(const stw_step_call *call, stw_step_result *result) {
    static const char output[] = "{\"score\":0.25}";
    return stw_step_output(call->host, result, output, sizeof(output) - 1);
}

#define STEP(var, name, fn) \
    static const stw_step var = {STW_STRUCT_HEADER(stw_step), name, "1.0.0", NULL, STW_STEP_THREAD_SAFE, fn}

STEP(s_huge, "huge", huge);
STEP(s_lying_huge, "lying_huge", lying_huge);
STEP(s_lying_small, "lying_small", lying_small);
STEP(s_normal, "normal", normal);

static const stw_step *const steps[] = {&s_huge, &s_lying_huge, &s_lying_small, &s_normal};

static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin), "limits", "1.0.0", "Outputs at and past the host's size limit",
    NULL, sizeof(steps) / sizeof(steps[0]), steps, 0, NULL, NULL, NULL, NULL /* deinit, get_extension_with_state: since 1.2 */,
};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host == NULL || host->header.abi_major != STW_ABI_VERSION_MAJOR) return STW_ERR_INCOMPATIBLE;
    *out = &plugin;
    return STW_OK;
}

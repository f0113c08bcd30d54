/*
 * bench -- a benchmark-only plugin that measures the cost of calling a step through the
 * Steward C ABI. It is compiled by Benchmarks/run.sh with the same flags as a shipped C
 * plugin and is never installed.
 *
 *   bench.noop: any input -> {}            (the smallest valid output: dispatch cost only)
 *   bench.echo: any input -> the input     (payload work: one host allocation + memcpy)
 */
#include "steward_abi.h"

static stw_status noop(const stw_step_call *call, stw_step_result *result) {
    return stw_step_output(call->host, result, "{}", 2);
}

static stw_status echo(const stw_step_call *call, stw_step_result *result) {
    return stw_step_output(call->host, result, call->input, call->input_length);
}

static const stw_step noop_step = {
    STW_STRUCT_HEADER(stw_step), "noop", "1.0.0", "Return {} (benchmark)", STW_STEP_THREAD_SAFE | STW_STEP_PURE, noop,
};
static const stw_step echo_step = {
    STW_STRUCT_HEADER(stw_step), "echo", "1.0.0", "Return the input (benchmark)", STW_STEP_THREAD_SAFE | STW_STEP_PURE, echo,
};
static const stw_step *const steps[] = {&noop_step, &echo_step};
static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin), "bench", "1.0.0", "Benchmark-only steps", NULL, 2, steps, 0, NULL, NULL, NULL, NULL /* deinit, get_extension_with_state: since 1.2 */,
};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host == NULL || host->header.abi_major != STW_ABI_VERSION_MAJOR) return STW_ERR_INCOMPATIBLE;
    *out = &plugin;
    return STW_OK;
}

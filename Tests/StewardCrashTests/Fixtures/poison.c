/*
 * poison.c -- a poison pill: the step poison.work, and the plain C function poison_ffi for
 * ffi states, call abort() when their input says so and answer normally otherwise. The
 * engine must stop re-running such a call after it crashed the process K times.
 */
#include <stdlib.h>
#include <string.h>

#include "steward_abi.h"

static stw_status work(const stw_step_call *call, stw_step_result *result) {
    /* The host passes the input as compact JSON. */
    if (call->input != NULL && memmem(call->input, call->input_length, "\"crash\":true", 12) != NULL) {
        abort();
    }
    static const char output[] = "{\"worked\":true}";
    return stw_step_output(call->host, result, output, sizeof(output) - 1);
}

STW_EXPORT int32_t poison_ffi(int32_t crash) {
    if (crash != 0) abort();
    return 7;
}

static const stw_step s_work = {STW_STRUCT_HEADER(stw_step), "work", "1.0.0", NULL, STW_STEP_THREAD_SAFE, work};
static const stw_step *const steps[] = {&s_work};

static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin), "poison", "1.0.0", "A step and a C function that abort on demand",
    NULL, 1, steps, 0, NULL, NULL, NULL, NULL /* deinit, get_extension_with_state: since 1.2 */,
};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host == NULL || host->header.abi_major != STW_ABI_VERSION_MAJOR) return STW_ERR_INCOMPATIBLE;
    *out = &plugin;
    return STW_OK;
}

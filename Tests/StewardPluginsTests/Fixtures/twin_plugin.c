/*
 * twin_plugin.c -- a valid plugin whose name and step name come from the build
 * (-DTWIN_NAME="..." -DTWIN_STEP="..."), so the tests can build two different libraries
 * that claim the same plugin name or the same step, and check the registry refuses the
 * second one.
 */
#include "steward_abi.h"

#ifndef TWIN_NAME
#define TWIN_NAME "twin"
#endif
#ifndef TWIN_STEP
#define TWIN_STEP "hello"
#endif

static stw_status hello(const stw_step_call *call, stw_step_result *result) {
    static const char output[] = "{\"from\":\"" TWIN_NAME "." TWIN_STEP "\"}";
    return stw_step_output(call->host, result, output, sizeof(output) - 1);
}

static const stw_step step = {STW_STRUCT_HEADER(stw_step), TWIN_STEP, "1.0.0", NULL, STW_STEP_THREAD_SAFE, hello};
static const stw_step *const steps[] = {&step};
static const stw_plugin plugin = {STW_STRUCT_HEADER(stw_plugin), TWIN_NAME, "1.0.0", NULL, NULL, 1, steps, 0, NULL, NULL, NULL, NULL /* deinit, get_extension_with_state: since 1.2 */};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    (void)host;
    *out = &plugin;
    return STW_OK;
}

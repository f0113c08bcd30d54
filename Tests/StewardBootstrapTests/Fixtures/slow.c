/* A test plugin whose "nap" step sleeps for input.ms milliseconds (blocking its thread, as a
 * slow model adapter does) and whose "quick" step answers at once. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "steward_abi.h"

static long read_ms(const stw_step_call *call) {
    char buffer[256];
    size_t n = call->input_length < sizeof buffer - 1 ? call->input_length : sizeof buffer - 1;
    memcpy(buffer, call->input, n);
    buffer[n] = '\0';
    const char *field = strstr(buffer, "\"ms\":");
    long ms = 0;
    if (field) sscanf(field + 5, "%ld", &ms);
    return ms;
}

static stw_status nap(const stw_step_call *call, stw_step_result *result) {
    long ms = read_ms(call);
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    char out[64];
    int length = snprintf(out, sizeof out, "{\"slept_ms\":%ld}", ms);
    return stw_step_output(call->host, result, out, (size_t)length);
}

static stw_status quick(const stw_step_call *call, stw_step_result *result) {
    return stw_step_output(call->host, result, "{\"ok\":true}", 11);
}

static const stw_step nap_step = {STW_STRUCT_HEADER(stw_step), "nap", "1.0.0", "Sleep input.ms", STW_STEP_THREAD_SAFE, nap};
static const stw_step quick_step = {
    STW_STRUCT_HEADER(stw_step), "quick", "1.0.0", "Answer at once", STW_STEP_THREAD_SAFE | STW_STEP_PURE, quick};
static const stw_step *const steps[] = {&nap_step, &quick_step};
static const stw_plugin plugin = {STW_STRUCT_HEADER(stw_plugin), "slow", "1.0.0", "Slow and quick steps", NULL, 2, steps, 0, NULL, NULL};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host->header.abi_major != STW_ABI_VERSION_MAJOR) return STW_ERR_INCOMPATIBLE;
    *out = &plugin;
    return STW_OK;
}

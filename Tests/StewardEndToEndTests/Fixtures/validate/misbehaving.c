/* A plugin with one fault per step, for `steward plugins validate`: each must be found and named.
 *   impure   flagged PURE, answers with a counter
 *   racy     flagged THREAD_SAFE, shares one buffer between calls
 *   leaky    takes a block from the host's alloc and drops it
 *   crashy   dereferences NULL on every call
 *   hangs    never returns when the input is exactly {}
 *   silent   fails without an error message
 *   sleepy   flagged NONBLOCKING, sleeps 3 ms on every call
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "steward_abi.h"

static unsigned long counter;
static char shared[256];

static stw_status impure(const stw_step_call *call, stw_step_result *result) {
    char json[64];
    int length = snprintf(json, sizeof json, "{\"n\":%lu}", counter++);
    return stw_step_output(call->host, result, json, (size_t)length);
}

static stw_status racy(const stw_step_call *call, stw_step_result *result) {
    size_t length = call->input_length < sizeof shared ? call->input_length : sizeof shared - 1;
    memcpy(shared, call->input, length);
    struct timespec pause = {0, 200000};
    nanosleep(&pause, NULL);
    return stw_step_output(call->host, result, shared, length);
}

static stw_status leaky(const stw_step_call *call, stw_step_result *result) {
    void *dropped = call->host->alloc(call->host->context, 64);
    (void)dropped;
    return stw_step_output(call->host, result, "{}", 2);
}

static stw_status crashy(const stw_step_call *call, stw_step_result *result) {
    volatile int *nowhere = NULL;
    *nowhere = (int)call->input_length;
    return stw_step_output(call->host, result, "{}", 2);
}

static stw_status hangs(const stw_step_call *call, stw_step_result *result) {
    if (call->input_length == 2 && memcmp(call->input, "{}", 2) == 0) {
        for (;;) {
            struct timespec pause = {1, 0};
            nanosleep(&pause, NULL);
        }
    }
    return stw_step_error(call->host, result, STW_ERR_INVALID_INPUT, "hangs: only {} is interesting");
}

static stw_status silent(const stw_step_call *call, stw_step_result *result) {
    (void)call;
    (void)result;
    return STW_ERR_PERMANENT;
}

static stw_status sleepy(const stw_step_call *call, stw_step_result *result) {
    struct timespec pause = {0, 3000000};
    nanosleep(&pause, NULL);
    return stw_step_output(call->host, result, "{}", 2);
}

#define STEP(fn, flags) \
    static const stw_step fn##_step = {STW_STRUCT_HEADER(stw_step), #fn, "1.0.0", "a step with a fault", flags, fn};
STEP(impure, STW_STEP_PURE | STW_STEP_THREAD_SAFE)
STEP(racy, STW_STEP_THREAD_SAFE)
STEP(leaky, STW_STEP_THREAD_SAFE)
STEP(crashy, STW_STEP_THREAD_SAFE)
STEP(hangs, STW_STEP_THREAD_SAFE)
STEP(silent, STW_STEP_THREAD_SAFE)
STEP(sleepy, STW_STEP_THREAD_SAFE | STW_STEP_NONBLOCKING)

static const stw_step *const steps[] = {&impure_step, &racy_step, &leaky_step, &crashy_step, &hangs_step, &silent_step, &sleepy_step};
/* Plugin-level faults (ABI 1.2): an extension lookup that answers every id, even one no host
 * defines; a deinit that is sound (the validator calls it last). */
static int state_word = 42;
static stw_status start(const stw_host *host, void **state) {
    (void)host;
    *state = &state_word;
    return STW_OK;
}
static const void *any_extension(void *state, const char *id) {
    (void)id;
    return state;
}
static void finish(void *state) {
    (void)state;
}

static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin), "misbehaving", "1.0.0", "one fault per step", start, 7, steps, 0, NULL, NULL, finish, any_extension,
};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host->header.abi_major != STW_ABI_VERSION_MAJOR) return STW_ERR_INCOMPATIBLE;
    *out = &plugin;
    return STW_OK;
}

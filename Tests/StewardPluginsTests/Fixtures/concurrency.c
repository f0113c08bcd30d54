/*
 * concurrency.c -- measures how many threads are inside a step at once.
 *
 * "serial" is not flagged thread-safe, so the host must never enter it concurrently;
 * "parallel" is, so the host may. Each step counts the callers inside it with C11 atomics
 * and records the maximum. Both steps linger so that overlapping calls actually overlap:
 * "serial" for 2 ms, "parallel" until a second caller has been seen (or 10 s pass, so a
 * host that serialises it still finishes). "stats" reports the maxima.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "steward_abi.h"

typedef struct gauge {
    atomic_int inside;
    atomic_int most_inside;
    atomic_int calls;
} gauge;

static gauge serial_gauge;
static gauge parallel_gauge;

static void sleep_microseconds(long microseconds) {
    struct timespec pause = {microseconds / 1000000, (microseconds % 1000000) * 1000};
    nanosleep(&pause, NULL);
}

/* Enters the gauge, lingers until `until_overlap` callers were seen together or the time
 * runs out, then leaves. */
static void visit(gauge *g, int until_overlap, long max_microseconds) {
    int now = atomic_fetch_add(&g->inside, 1) + 1;
    int most = atomic_load(&g->most_inside);
    while (now > most && !atomic_compare_exchange_weak(&g->most_inside, &most, now)) {
    }
    atomic_fetch_add(&g->calls, 1);
    for (long waited = 0; waited < max_microseconds && atomic_load(&g->most_inside) < until_overlap; waited += 100) {
        sleep_microseconds(100);
    }
    atomic_fetch_sub(&g->inside, 1);
}

static stw_status serial(const stw_step_call *call, stw_step_result *result) {
    visit(&serial_gauge, 2, 2000);
    return stw_step_output(call->host, result, "{}", 2);
}

static stw_status parallel(const stw_step_call *call, stw_step_result *result) {
    visit(&parallel_gauge, 2, 10 * 1000000L);
    return stw_step_output(call->host, result, "{}", 2);
}

static stw_status stats(const stw_step_call *call, stw_step_result *result) {
    char buffer[256];
    int length = snprintf(buffer, sizeof(buffer),
                          "{\"serial_max\":%d,\"serial_calls\":%d,\"parallel_max\":%d,\"parallel_calls\":%d}",
                          atomic_load(&serial_gauge.most_inside), atomic_load(&serial_gauge.calls),
                          atomic_load(&parallel_gauge.most_inside), atomic_load(&parallel_gauge.calls));
    if (length <= 0 || (size_t)length >= sizeof(buffer)) {
        return stw_step_error(call->host, result, STW_ERR_INTERNAL, "stats buffer too small");
    }
    return stw_step_output(call->host, result, buffer, (size_t)length);
}

static const stw_step serial_step = {STW_STRUCT_HEADER(stw_step), "serial", "1.0.0", "Not thread-safe", 0, serial};
static const stw_step parallel_step = {
    STW_STRUCT_HEADER(stw_step), "parallel", "1.0.0", "Thread-safe", STW_STEP_THREAD_SAFE, parallel};
static const stw_step stats_step = {
    STW_STRUCT_HEADER(stw_step), "stats", "1.0.0", "Most callers seen inside each step", STW_STEP_THREAD_SAFE, stats};

static const stw_step *const steps[] = {&serial_step, &parallel_step, &stats_step};

static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin), "concurrency", "1.0.0", "Counts concurrent entries per step",
    NULL, 3, steps, 0, NULL, NULL, NULL, NULL /* deinit, get_extension_with_state: since 1.2 */,
};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host == NULL || host->header.abi_major != STW_ABI_VERSION_MAJOR) return STW_ERR_INCOMPATIBLE;
    *out = &plugin;
    return STW_OK;
}

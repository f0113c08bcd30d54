/*
 * isolation_faults.c -- a plugin whose steps misbehave the ways process isolation must
 * contain: segfault, hang, spin on the CPU, eat memory, answer garbage; plus well-behaved
 * steps (echo, noop, pid) to see the host survive or restart, and `chaos`, which segfaults or
 * hangs on a share of calls chosen from its key ({"crash_per_mille": N, "hang_per_mille": M}).
 * `env` reports $FAULTS_VARIABLE. Thread-safe, except `serial`, which counts concurrent entries like concurrency.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "steward_abi.h"

static stw_status echo(const stw_step_call *call, stw_step_result *result) {
    return stw_step_output(call->host, result, call->input, call->input_length);
}

static stw_status noop(const stw_step_call *call, stw_step_result *result) {
    return stw_step_output(call->host, result, "{}", 2);
}

static stw_status pid(const stw_step_call *call, stw_step_result *result) {
    char output[64];
    int length = snprintf(output, sizeof(output), "{\"pid\":%d}", (int)getpid());
    return stw_step_output(call->host, result, output, (size_t)length);
}

static stw_status crash(const stw_step_call *call, stw_step_result *result) {
    (void)call;
    (void)result;
    volatile int *nowhere = (int *)(uintptr_t)8;
    *nowhere = 1;
    return STW_OK;
}

static stw_status hang(const stw_step_call *call, stw_step_result *result) {
    (void)call;
    (void)result;
    for (;;) sleep(1);
    return STW_OK;
}

static stw_status spin(const stw_step_call *call, stw_step_result *result) {
    (void)call;
    (void)result;
    volatile uint64_t counter = 0;
    for (;;) counter++;
    return STW_OK;
}

static stw_status hog(const stw_step_call *call, stw_step_result *result) {
    /* 1 GiB, touched page by page: under a smaller RLIMIT_AS the allocation fails and the
     * step writes through the NULL it got, as careless code does. */
    size_t size = (size_t)1 << 30;
    char *block = malloc(size);
    if (block == NULL) {
        volatile char *nowhere = NULL;
        *nowhere = 1;
    }
    for (size_t offset = 0; offset < size; offset += 4096) block[offset] = 1;
    free(block);
    return stw_step_output(call->host, result, "{\"allocated\":true}", 18);
}

static stw_status garbage(const stw_step_call *call, stw_step_result *result) {
    static const char output[] = "{\"text\":\"" "\xff\xfe" "\"}";
    return stw_step_output(call->host, result, output, sizeof(output) - 1);
}

/* FNV-1a of the call key: the same logical call always draws the same number. */
static uint32_t draw(const stw_step_call *call) {
    uint32_t hash = 2166136261u;
    for (size_t index = 0; index < call->idempotency_key_length; index++) {
        hash ^= (uint8_t)call->idempotency_key[index];
        hash *= 16777619u;
    }
    return hash % 1000;
}

static long field(const stw_step_call *call, const char *name) {
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "\"%s\":", name);
    const char *found = NULL;
    size_t length = strlen(pattern);
    for (size_t index = 0; index + length <= call->input_length; index++) {
        if (memcmp(call->input + index, pattern, length) == 0) { found = call->input + index + length; break; }
    }
    return found ? strtol(found, NULL, 10) : 0;
}

static stw_status chaos(const stw_step_call *call, stw_step_result *result) {
    uint32_t number = draw(call);
    long crashes = field(call, "crash_per_mille");
    long hangs = field(call, "hang_per_mille");
    if ((long)number < crashes) return crash(call, result);
    if ((long)number < crashes + hangs) return hang(call, result);
    return noop(call, result);
}

/* {"value": $FAULTS_VARIABLE or null}: what the host's environment holds. */
static stw_status env(const stw_step_call *call, stw_step_result *result) {
    const char *value = getenv("FAULTS_VARIABLE");
    char output[300];
    int length = value ? snprintf(output, sizeof(output), "{\"value\":\"%.200s\"}", value) : snprintf(output, sizeof(output), "{\"value\":null}");
    return stw_step_output(call->host, result, output, (size_t)length);
}

static atomic_int inside = 0;
static atomic_int most = 0;

static stw_status serial(const stw_step_call *call, stw_step_result *result) {
    int now = atomic_fetch_add(&inside, 1) + 1;
    int seen = atomic_load(&most);
    while (now > seen && !atomic_compare_exchange_weak(&most, &seen, now)) {}
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
    atomic_fetch_sub(&inside, 1);
    char output[64];
    int length = snprintf(output, sizeof(output), "{\"most\":%d,\"pid\":%d}", atomic_load(&most), (int)getpid());
    return stw_step_output(call->host, result, output, (size_t)length);
}

#define SAFE STW_STEP_THREAD_SAFE
static const stw_step steps[] = {
    {STW_STRUCT_HEADER(stw_step), "echo", "1.0.0", "returns its input", SAFE, echo},
    {STW_STRUCT_HEADER(stw_step), "noop", "1.0.0", "returns {}", SAFE, noop},
    {STW_STRUCT_HEADER(stw_step), "pid", "1.0.0", "returns the process id", SAFE, pid},
    {STW_STRUCT_HEADER(stw_step), "crash", "1.0.0", "segfaults", SAFE, crash},
    {STW_STRUCT_HEADER(stw_step), "hang", "1.0.0", "never returns", SAFE, hang},
    {STW_STRUCT_HEADER(stw_step), "spin", "1.0.0", "burns CPU forever", SAFE, spin},
    {STW_STRUCT_HEADER(stw_step), "hog", "1.0.0", "allocates 1 GiB", SAFE, hog},
    {STW_STRUCT_HEADER(stw_step), "garbage", "1.0.0", "answers invalid UTF-8", SAFE, garbage},
    {STW_STRUCT_HEADER(stw_step), "chaos", "1.0.0", "crashes or hangs on a share of calls", SAFE, chaos},
    {STW_STRUCT_HEADER(stw_step), "serial", "1.0.0", "not thread-safe; reports the most concurrent entries", 0, serial},
    {STW_STRUCT_HEADER(stw_step), "env", "1.0.0", "reports $FAULTS_VARIABLE", SAFE, env},
};
static const stw_step *const step_list[] = {&steps[0], &steps[1], &steps[2], &steps[3], &steps[4], &steps[5], &steps[6], &steps[7], &steps[8], &steps[9], &steps[10]};
static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin), "faults", "1.0.0", "misbehaves for the isolation tests", NULL, 11, step_list, 0, NULL, NULL, NULL /* deinit */, NULL /* get_extension_with_state */,
};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    (void)host;
    *out = &plugin;
    return STW_OK;
}

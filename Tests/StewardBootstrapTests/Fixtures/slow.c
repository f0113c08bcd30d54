/* A test plugin whose "nap" step sleeps for input.ms milliseconds (blocking its thread, as a
 * slow model adapter does) and whose "quick" step answers at once. The nap stops early when
 * the host raises the call's cancel flag (ABI 1.2), unless input.stubborn, and then appends
 * what it saw to the file input.until names plus ".cancelled". The plugin's deinit appends
 * "deinit" to deinit.txt in the library's own folder. */
#define _GNU_SOURCE /* memmem */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* The file named by input.until, if any (the nap ends early once it exists). */
static int read_until(const stw_step_call *call, char *path, size_t size) {
    char buffer[512];
    size_t n = call->input_length < sizeof buffer - 1 ? call->input_length : sizeof buffer - 1;
    memcpy(buffer, call->input, n);
    buffer[n] = '\0';
    const char *field = strstr(buffer, "\"until\":\"");
    if (!field) return 0;
    field += 9;
    size_t length = 0;
    while (field[length] && field[length] != '"' && length + 1 < size) length++;
    memcpy(path, field, length);
    path[length] = '\0';
    return 1;
}

/* Sleeps input.ms milliseconds, in 10 ms slices, or until the file input.until exists. */
static stw_status nap(const stw_step_call *call, stw_step_result *result) {
    long ms = read_ms(call);
    char until[256];
    int waits = read_until(call, until, sizeof until);
    /* input.stubborn: ignore the cancel flag, as a plugin written for ABI 1.1 does. */
    int stubborn = call->input_length > 0 && memmem(call->input, call->input_length, "\"stubborn\":true", 15) != NULL;
    struct timespec slice = {0, 10 * 1000000L};
    for (long slept = 0; slept < ms; slept += 10) {
        if (waits && access(until, F_OK) == 0) break;
        if (!stubborn && stw_call_cancelled(call)) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            unsigned long long now_ns = (unsigned long long)now.tv_sec * 1000000000ULL + (unsigned long long)now.tv_nsec;
            if (waits) {
                char marker[300];
                snprintf(marker, sizeof marker, "%s.cancelled", until);
                FILE *file = fopen(marker, "a");
                if (file) {
                    fprintf(file, "cancelled after %ld ms, deadline %s\n", slept,
                            call->deadline_ns > 0 && call->deadline_ns <= now_ns ? "passed" : "not passed");
                    fclose(file);
                }
            }
            return stw_step_error(call->host, result, STW_ERR_TRANSIENT, "gave up: the host cancelled the call");
        }
        nanosleep(&slice, NULL);
    }
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
/* Appends "deinit" to deinit.txt beside this library (each test workspace has its own). */
static void finish(void *state) {
    (void)state;
    Dl_info info;
    if (!dladdr((void *)finish, &info) || !info.dli_fname) return;
    char path[4096];
    const char *slash = strrchr(info.dli_fname, '/');
    int length = slash ? (int)(slash - info.dli_fname) : 1;
    snprintf(path, sizeof path, "%.*s/deinit.txt", length, slash ? info.dli_fname : ".");
    FILE *file = fopen(path, "a");
    if (file) {
        fputs("deinit\n", file);
        fclose(file);
    }
}

static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin), "slow", "1.0.0", "Slow and quick steps", NULL, 2, steps, 0, NULL, NULL, finish, NULL};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host->header.abi_major != STW_ABI_VERSION_MAJOR) return STW_ERR_INCOMPATIBLE;
    *out = &plugin;
    return STW_OK;
}

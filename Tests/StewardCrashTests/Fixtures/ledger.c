/* A side-effecting step for the crash test: appends its idempotency key to the file named by
 * $LEDGER_PATH (O_APPEND, one write per call), then sleeps briefly so that kills land
 * mid-call (longer with $LEDGER_PAUSE_MS). Counting lines per key shows how often each step attempt really ran. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "steward_abi.h"

static stw_status record(const stw_step_call *call, stw_step_result *result) {
    const char *path = getenv("LEDGER_PATH");
    if (path == NULL) return stw_step_error(call->host, result, STW_ERR_PERMANENT, "LEDGER_PATH is not set");
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return stw_step_error(call->host, result, STW_ERR_TRANSIENT, "cannot open the ledger");
    char line[512];
    int length = snprintf(line, sizeof(line), "%.*s\n", (int)call->idempotency_key_length, call->idempotency_key);
    ssize_t written = write(fd, line, (size_t)length);
    close(fd);
    if (written != length) return stw_step_error(call->host, result, STW_ERR_TRANSIENT, "short write");
    /* $LEDGER_PAUSE_MS, when set, makes every call that long (a fan-out test needs kills to
     * land while branches are in flight). */
    const char *pause_ms = getenv("LEDGER_PAUSE_MS");
    long extra = pause_ms ? atol(pause_ms) * 1000000L : 0;
    struct timespec pause = {extra / 1000000000L, extra % 1000000000L + 1000000L + (long)(rand() % 2000000)};
    nanosleep(&pause, NULL);
    char output[600];
    int size = snprintf(output, sizeof(output), "{\"key\":\"%.*s\"}", (int)call->idempotency_key_length, call->idempotency_key);
    return stw_step_output(call->host, result, output, (size_t)size);
}

static const stw_step record_step = {STW_STRUCT_HEADER(stw_step), "record", "1.0.0", "append the key to the ledger", STW_STEP_THREAD_SAFE, record};
static const stw_step *const steps[] = {&record_step};
static const stw_plugin plugin = {STW_STRUCT_HEADER(stw_plugin), "ledger", "1.0.0", "crash-test ledger", NULL, 1, steps, 0, NULL, NULL, NULL, NULL /* deinit, get_extension_with_state: since 1.2 */};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    (void)host;
    *out = &plugin;
    return STW_OK;
}

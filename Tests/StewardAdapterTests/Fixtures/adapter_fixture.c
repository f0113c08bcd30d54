/*
 * A C plugin for the adapter host tests, compiled by the tests with the system C compiler.
 *
 * "fixture-output@1.0.0" answers according to input {"mode": ...}, so the tests can feed the
 * host every kind of bad answer an adapter could give; "banking-intent@2.0.0" exists only to
 * collide with the banking plugin's adapter of the same id and version.
 */
#include "steward_abi.h"

#include <math.h>
#include <string.h>

static int has(const stw_model_request *request, const char *needle) {
    /* The input is small JSON; a substring test is enough to pick the mode. */
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= request->input_length; i++) {
        if (memcmp(request->input + i, needle, n) == 0) return 1;
    }
    return 0;
}

static stw_status put(const stw_model_request *request, stw_model_response *response, const char *json, size_t length) {
    response->output = stw_host_copy(request->host, json, length);
    response->output_length = length;
    return response->output != NULL ? STW_OK : STW_ERR_INTERNAL;
}

static stw_status fixture_output(const stw_model_request *request, stw_model_response *response) {
    static const char ok[] = "{\"label\":\"fixture\"}";
    if (has(request, "\"nan\"")) {
        response->confidence = NAN;
    } else if (has(request, "\"above-one\"")) {
        response->confidence = 1.5;
    } else if (has(request, "\"negative\"")) {
        response->confidence = -1.0;
    } else if (has(request, "\"unset\"")) {
        /* leaves confidence as the host set it */
    } else if (has(request, "\"bad-utf8\"")) {
        static const char bad[] = "{\"label\":\"\xff\xfe\"}";
        response->confidence = 0.5;
        return put(request, response, bad, sizeof bad - 1);
    } else if (has(request, "\"bad-json\"")) {
        static const char bad[] = "{\"label\":";
        response->confidence = 0.5;
        return put(request, response, bad, sizeof bad - 1);
    } else if (has(request, "\"null-output\"")) {
        return STW_OK;
    } else if (has(request, "\"transient\"")) {
        static const char message[] = "rate limited";
        response->error_message = stw_host_copy(request->host, message, sizeof message - 1);
        response->error_message_length = sizeof message - 1;
        return STW_ERR_TRANSIENT;
    } else {
        response->confidence = 0.25;
    }
    response->input_tokens = 3;
    response->output_tokens = 1;
    response->latency_microseconds = 7;
    return put(request, response, ok, sizeof ok - 1);
}

static stw_status fixture_collide(const stw_model_request *request, stw_model_response *response) {
    static const char ok[] = "{\"label\":\"collision\"}";
    response->confidence = 1.0;
    return put(request, response, ok, sizeof ok - 1);
}

static const stw_adapter output_adapter = {
    STW_STRUCT_HEADER(stw_adapter), "fixture-output", "1.0.0", "answers per input mode", 0,
    STW_TASK_BIT(STW_TASK_CLASSIFY) | STW_TASK_BIT(STW_TASK_SCORE), fixture_output,
};
static const stw_adapter collide_adapter = {
    STW_STRUCT_HEADER(stw_adapter), "banking-intent", "2.0.0", "collides with the banking plugin", STW_STEP_THREAD_SAFE,
    STW_TASK_BIT(STW_TASK_CLASSIFY), fixture_collide,
};
static const stw_adapter *const adapters[] = {&output_adapter, &collide_adapter};

static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin), "adapter-fixture", "1.0.0", "adapter host test fixture",
    NULL, 0, NULL, 2, adapters, NULL, NULL, NULL /* deinit, get_extension_with_state: since 1.2 */,
};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host == NULL || out == NULL || host->header.abi_major != STW_ABI_VERSION_MAJOR) return STW_ERR_INCOMPATIBLE;
    *out = &plugin;
    return STW_OK;
}

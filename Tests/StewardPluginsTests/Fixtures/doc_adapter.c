/* hello_adapter.c -- a complete Steward model adapter in C: "hello-label@1.0.0" serves the
 * classify task, answering {"label": "greeting" | "other", "alternatives": [...]} with its
 * confidence. A real adapter calls a model here; the contract around the call is the same. */
#include <stdio.h>
#include <string.h>

#include "steward_abi.h"

/* Whether the text mentions "hello" (case-insensitively): the whole "model". */
static int greets(const char *text, size_t length) {
    for (size_t i = 0; i + 5 <= length; i++) {
        size_t j = 0;
        while (j < 5 && (text[i + j] | 0x20) == "hello"[j]) j++;
        if (j == 5) return 1;
    }
    return 0;
}

/* Thread-safe: no state. Every pointer in request is borrowed for the call. */
static stw_status classify(const stw_model_request *request, stw_model_response *response) {
    const stw_host *host = request->host;
    if (request->task != STW_TASK_CLASSIFY || request->input_length < 2 || request->input[0] != '{' ||
        request->input[request->input_length - 1] != '}') {
        const char *message = "hello-label: classify a JSON object";
        response->error_message = stw_host_copy(host, message, strlen(message));
        response->error_message_length = response->error_message ? strlen(message) : 0;
        return STW_ERR_INVALID_INPUT;
    }
    int greeting = greets(request->input, request->input_length);
    double confidence = greeting ? 0.9 : 0.6;
    char json[256];
    int length = snprintf(json, sizeof json,
                          "{\"label\":\"%s\",\"alternatives\":[{\"label\":\"%s\",\"confidence\":%.1f},"
                          "{\"label\":\"%s\",\"confidence\":%.1f}]}",
                          greeting ? "greeting" : "other", greeting ? "greeting" : "other", confidence,
                          greeting ? "other" : "greeting", 1.0 - confidence);
    response->output = stw_host_copy(host, json, (size_t)length); /* [host-allocated] */
    if (response->output == NULL) return STW_ERR_INTERNAL;
    response->output_length = (size_t)length;
    response->confidence = confidence; /* in [0, 1]; leave it negative when the model gives none */
    return STW_OK;
}

static const stw_adapter label_adapter = {
    STW_STRUCT_HEADER(stw_adapter),
    "hello-label",                          /* id: templates bind a role to "hello-label@1.0.0" */
    "1.0.0",                                /* version */
    "Says whether a text greets",           /* description */
    STW_STEP_THREAD_SAFE,                   /* flags */
    STW_TASK_BIT(STW_TASK_CLASSIFY),        /* the tasks it serves */
    classify,                               /* invoke */
};

static const stw_adapter *const adapters[] = {&label_adapter};

static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin),
    "hello_adapter",                        /* name */
    "1.0.0",                                /* version */
    "The smallest useful model adapter",    /* description */
    NULL,                                   /* init */
    0, NULL,                                /* steps: none */
    1, adapters,                            /* adapters */
    NULL,                                   /* get_extension */
    NULL,                                   /* deinit (since 1.2) */
    NULL,                                   /* get_extension_with_state (since 1.2) */
};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host->header.abi_major != STW_ABI_VERSION_MAJOR) {
        return STW_ERR_INCOMPATIBLE;
    }
    *out = &plugin;
    return STW_OK;
}

/*
 * step_faults.c -- a plugin that loads fine but whose steps answer badly, each in one way:
 * outputs that are not UTF-8, not JSON or missing, and every error status (plus codes the
 * ABI does not define for steps). The host must turn each into a typed StepCallError that
 * carries the plugin's own message.
 */
#include "steward_abi.h"

static stw_status invalid_utf8(const stw_step_call *call, stw_step_result *result) {
    /* "\xff\xfe" never occurs in UTF-8. Split literals end the hex escapes. */
    static const char output[] = "{\"text\":\"" "\xff\xfe" "\"}";
    return stw_step_output(call->host, result, output, sizeof(output) - 1);
}

static stw_status invalid_json(const stw_step_call *call, stw_step_result *result) {
    static const char output[] = "{\"unterminated\": [1, 2";
    return stw_step_output(call->host, result, output, sizeof(output) - 1);
}

static stw_status null_output(const stw_step_call *call, stw_step_result *result) {
    (void)call;
    (void)result;
    return STW_OK; /* forgot to set result->output */
}

static stw_status fail_invalid_input(const stw_step_call *call, stw_step_result *result) {
    return stw_step_error(call->host, result, STW_ERR_INVALID_INPUT, "faults: field 'x' must be a number");
}

static stw_status fail_transient(const stw_step_call *call, stw_step_result *result) {
    return stw_step_error(call->host, result, STW_ERR_TRANSIENT, "faults: upstream timed out after 30s");
}

static stw_status fail_permanent(const stw_step_call *call, stw_step_result *result) {
    return stw_step_error(call->host, result, STW_ERR_PERMANENT, "faults: record 42 does not exist");
}

static stw_status fail_internal(const stw_step_call *call, stw_step_result *result) {
    return stw_step_error(call->host, result, STW_ERR_INTERNAL, "faults: invariant broken in scorer");
}

static stw_status fail_unknown(const stw_step_call *call, stw_step_result *result) {
    return stw_step_error(call->host, result, 42, "faults: status from a future header");
}

static stw_status fail_incompatible(const stw_step_call *call, stw_step_result *result) {
    return stw_step_error(call->host, result, STW_ERR_INCOMPATIBLE, "faults: entry-only status from a step");
}

static stw_status fail_silently(const stw_step_call *call, stw_step_result *result) {
    (void)call;
    (void)result;
    return STW_ERR_TRANSIENT; /* no message */
}

/* An error status that also left an output behind: the host must free both, use neither. */
static stw_status fail_with_output(const stw_step_call *call, stw_step_result *result) {
    stw_step_output(call->host, result, "{}", 2);
    return stw_step_error(call->host, result, STW_ERR_PERMANENT, "faults: failed after writing output");
}

#define STEP(var, name, fn) \
    static const stw_step var = {STW_STRUCT_HEADER(stw_step), name, "1.0.0", NULL, STW_STEP_THREAD_SAFE, fn}

STEP(s_invalid_utf8, "invalid_utf8", invalid_utf8);
STEP(s_invalid_json, "invalid_json", invalid_json);
STEP(s_null_output, "null_output", null_output);
STEP(s_invalid_input, "invalid_input", fail_invalid_input);
STEP(s_transient, "transient", fail_transient);
STEP(s_permanent, "permanent", fail_permanent);
STEP(s_internal, "internal", fail_internal);
STEP(s_unknown, "unknown_status", fail_unknown);
STEP(s_incompatible, "incompatible_status", fail_incompatible);
STEP(s_silent, "silent_failure", fail_silently);
STEP(s_with_output, "failure_with_output", fail_with_output);

static const stw_step *const steps[] = {
    &s_invalid_utf8, &s_invalid_json, &s_null_output, &s_invalid_input, &s_transient, &s_permanent,
    &s_internal, &s_unknown, &s_incompatible, &s_silent, &s_with_output,
};

static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin), "faults", "1.0.0", "Steps that fail in every way the ABI allows",
    NULL, sizeof(steps) / sizeof(steps[0]), steps, 0, NULL, NULL, NULL, NULL /* deinit, get_extension_with_state: since 1.2 */,
};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host == NULL || host->header.abi_major != STW_ABI_VERSION_MAJOR) return STW_ERR_INCOMPATIBLE;
    *out = &plugin;
    return STW_OK;
}

/*
 * abi_layout.c -- prints the layout of every ABI 1.0 struct field and the value of every
 * 1.0 constant, one "name value" line each.
 *
 * The tests build it twice, against the frozen abi-1.0/steward_abi.h and against the
 * current header, and require identical output: a later minor may append fields and
 * constants, never move, retype or renumber these. The list below is the 1.0 surface
 * and is frozen with the header; do not add fields from later minors to it.
 */
#include <stdio.h>

#include "steward_abi.h"

#define FIELD(type, field) \
    printf("%s.%s offset=%zu size=%zu\n", #type, #field, offsetof(type, field), sizeof(((type *)0)->field))
#define CONSTANT(name) printf("%s %lld\n", #name, (long long)(name))

int main(void) {
    FIELD(stw_struct_header, struct_size);
    FIELD(stw_struct_header, abi_major);
    FIELD(stw_struct_header, abi_minor);
    printf("sizeof(stw_struct_header) %zu\n", sizeof(stw_struct_header));
    printf("sizeof(stw_status) %zu\n", sizeof(stw_status));
    printf("sizeof(stw_task_kind) %zu\n", sizeof(stw_task_kind));

    FIELD(stw_host, header);
    FIELD(stw_host, context);
    FIELD(stw_host, host_name);
    FIELD(stw_host, host_version);
    FIELD(stw_host, log);
    FIELD(stw_host, alloc);
    FIELD(stw_host, free);
    FIELD(stw_host, get_extension);

    FIELD(stw_step_call, header);
    FIELD(stw_step_call, host);
    FIELD(stw_step_call, plugin_state);
    FIELD(stw_step_call, idempotency_key);
    FIELD(stw_step_call, idempotency_key_length);
    FIELD(stw_step_call, attempt);
    FIELD(stw_step_call, input);
    FIELD(stw_step_call, input_length);
    FIELD(stw_step_call, config);
    FIELD(stw_step_call, config_length);

    FIELD(stw_step_result, header);
    FIELD(stw_step_result, output);
    FIELD(stw_step_result, output_length);
    FIELD(stw_step_result, error_message);
    FIELD(stw_step_result, error_message_length);

    FIELD(stw_step, header);
    FIELD(stw_step, name);
    FIELD(stw_step, version);
    FIELD(stw_step, description);
    FIELD(stw_step, flags);
    FIELD(stw_step, invoke);

    FIELD(stw_model_request, header);
    FIELD(stw_model_request, host);
    FIELD(stw_model_request, plugin_state);
    FIELD(stw_model_request, idempotency_key);
    FIELD(stw_model_request, idempotency_key_length);
    FIELD(stw_model_request, attempt);
    FIELD(stw_model_request, task);
    FIELD(stw_model_request, prompt);
    FIELD(stw_model_request, prompt_length);
    FIELD(stw_model_request, parameters);
    FIELD(stw_model_request, parameters_length);
    FIELD(stw_model_request, input);
    FIELD(stw_model_request, input_length);

    FIELD(stw_model_response, header);
    FIELD(stw_model_response, output);
    FIELD(stw_model_response, output_length);
    FIELD(stw_model_response, confidence);
    FIELD(stw_model_response, input_tokens);
    FIELD(stw_model_response, output_tokens);
    FIELD(stw_model_response, latency_microseconds);
    FIELD(stw_model_response, error_message);
    FIELD(stw_model_response, error_message_length);

    FIELD(stw_adapter, header);
    FIELD(stw_adapter, id);
    FIELD(stw_adapter, version);
    FIELD(stw_adapter, description);
    FIELD(stw_adapter, flags);
    FIELD(stw_adapter, task_mask);
    FIELD(stw_adapter, invoke);

    FIELD(stw_plugin, header);
    FIELD(stw_plugin, name);
    FIELD(stw_plugin, version);
    FIELD(stw_plugin, description);
    FIELD(stw_plugin, init);
    FIELD(stw_plugin, step_count);
    FIELD(stw_plugin, steps);
    FIELD(stw_plugin, adapter_count);
    FIELD(stw_plugin, adapters);
    FIELD(stw_plugin, get_extension);

    CONSTANT(STW_ABI_VERSION_MAJOR);
    printf("STW_PLUGIN_ENTRY_SYMBOL %s\n", STW_PLUGIN_ENTRY_SYMBOL);
    CONSTANT(STW_OK);
    CONSTANT(STW_ERR_INVALID_INPUT);
    CONSTANT(STW_ERR_TRANSIENT);
    CONSTANT(STW_ERR_PERMANENT);
    CONSTANT(STW_ERR_INTERNAL);
    CONSTANT(STW_ERR_INCOMPATIBLE);
    CONSTANT(STW_LOG_DEBUG);
    CONSTANT(STW_LOG_INFO);
    CONSTANT(STW_LOG_WARNING);
    CONSTANT(STW_LOG_ERROR);
    CONSTANT(STW_STEP_THREAD_SAFE);
    CONSTANT(STW_STEP_PURE);
    CONSTANT(STW_TASK_CLASSIFY);
    CONSTANT(STW_TASK_EXTRACT);
    CONSTANT(STW_TASK_GENERATE);
    CONSTANT(STW_TASK_SCORE);
    CONSTANT(STW_TASK_BIT(STW_TASK_SCORE));
    return 0;
}

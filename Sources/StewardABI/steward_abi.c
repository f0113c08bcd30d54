/* The StewardABI target is the header alone; this file only proves it compiles as C. */
#include "steward_abi.h"

_Static_assert(sizeof(stw_struct_header) == 8, "stw_struct_header must stay 8 bytes");
_Static_assert(STW_ABI_VERSION_MAJOR == 1, "this engine speaks ABI major 1");

/* 1.1 appended call_key right after the last 1.0 field of each struct, never into padding. */
_Static_assert(offsetof(stw_step_call, call_key) == offsetof(stw_step_call, config_length) + sizeof(size_t),
               "stw_step_call.call_key must follow the 1.0 fields");
_Static_assert(offsetof(stw_model_request, call_key) == offsetof(stw_model_request, input_length) + sizeof(size_t),
               "stw_model_request.call_key must follow the 1.0 fields");

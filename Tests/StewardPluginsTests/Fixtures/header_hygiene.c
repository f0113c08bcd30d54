/* header_hygiene.c -- includes the ABI header and nothing else. The tests compile it as
 * C99, C11 and C++17 with every warning an error, against the current and frozen headers. */
#include "steward_abi.h"

typedef int steward_abi_header_compiled;

#ifdef STW_HAS_FIELD
/* Since 1.1: the field test a plugin runs before reading an appended field. */
int steward_abi_has_call_key(const stw_step_call *call);
int steward_abi_has_call_key(const stw_step_call *call) {
    return STW_HAS_FIELD(call, stw_step_call, call_key_length) && call->call_key != NULL;
}
#endif

/* header_hygiene.c -- includes the ABI header and nothing else. The tests compile it as
 * C99, C11 and C++17 with every warning an error, against the current and frozen headers. */
#include "steward_abi.h"

typedef int steward_abi_header_compiled;

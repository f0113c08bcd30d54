/* The StewardABI target is the header alone; this file only proves it compiles as C. */
#include "steward_abi.h"

_Static_assert(sizeof(stw_struct_header) == 8, "stw_struct_header must stay 8 bytes");
_Static_assert(STW_ABI_VERSION_MAJOR == 1, "this engine speaks ABI major 1");

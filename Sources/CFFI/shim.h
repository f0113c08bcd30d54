/* libffi for Swift. Swift 6 refuses references to libffi's mutable ffi_type_* globals, so
 * they are exposed through small inline accessors. */
#ifndef STEWARD_CFFI_SHIM_H
#define STEWARD_CFFI_SHIM_H

#include <ffi.h>

static inline ffi_type *stw_ffi_type_void(void) { return &ffi_type_void; }
static inline ffi_type *stw_ffi_type_uint8(void) { return &ffi_type_uint8; }
static inline ffi_type *stw_ffi_type_sint8(void) { return &ffi_type_sint8; }
static inline ffi_type *stw_ffi_type_uint16(void) { return &ffi_type_uint16; }
static inline ffi_type *stw_ffi_type_sint16(void) { return &ffi_type_sint16; }
static inline ffi_type *stw_ffi_type_uint32(void) { return &ffi_type_uint32; }
static inline ffi_type *stw_ffi_type_sint32(void) { return &ffi_type_sint32; }
static inline ffi_type *stw_ffi_type_uint64(void) { return &ffi_type_uint64; }
static inline ffi_type *stw_ffi_type_sint64(void) { return &ffi_type_sint64; }
static inline ffi_type *stw_ffi_type_float(void) { return &ffi_type_float; }
static inline ffi_type *stw_ffi_type_double(void) { return &ffi_type_double; }
static inline ffi_type *stw_ffi_type_pointer(void) { return &ffi_type_pointer; }

/* FFI_DEFAULT_ABI is an enum value Swift can see, but keep the call shape in one place. */
static inline ffi_status stw_ffi_prep_cif(ffi_cif *cif, unsigned int count, ffi_type *result, ffi_type **arguments) {
    return ffi_prep_cif(cif, FFI_DEFAULT_ABI, count, result, arguments);
}

#endif

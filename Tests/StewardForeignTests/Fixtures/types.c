/* Functions of every supported C type, for the ffi tests. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int8_t neg8(int8_t x) { return (int8_t)-x; }
EXPORT int16_t add16(int16_t a, int16_t b) { return (int16_t)(a + b); }
EXPORT int32_t mul32(int32_t a, int32_t b) { return a * b; }
EXPORT int64_t big(int64_t a) { return a * 2; }
EXPORT uint8_t inc8(uint8_t x) { return (uint8_t)(x + 1); }
EXPORT uint16_t inc16(uint16_t x) { return (uint16_t)(x + 1); }
EXPORT uint32_t inc32(uint32_t x) { return x + 1; }
EXPORT uint64_t inc64(uint64_t x) { return x + 1; }
EXPORT float halff(float x) { return x / 2; }
EXPORT double mix(double a, float b, int64_t c, bool d) { return a + b + (double)c + (d ? 1000 : 0); }
EXPORT bool is_even(int32_t x) { return x % 2 == 0; }
EXPORT int32_t length(const char *text) { return (int32_t)strlen(text); }
EXPORT const char *greeting(bool formal) { return formal ? "Good day" : "hi"; }
EXPORT const char *nothing(void) { return 0; }
static int counter;
EXPORT void bump(void) { counter++; }
EXPORT int32_t bumped(void) { return counter; }

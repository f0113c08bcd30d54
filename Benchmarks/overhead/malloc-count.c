/* Counts heap allocations of the process it is preloaded into (LD_PRELOAD), for the
 * engine-overhead benchmark's allocations per transition. Every malloc, calloc, realloc,
 * posix_memalign, aligned_alloc and memalign is counted (one relaxed atomic add) and passed to
 * glibc's own allocator; `stw_bench_allocations` returns the count so far, found by the
 * benchmark with dlsym. Swift's runtime allocates through malloc, so its objects are counted.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static uint64_t allocations;

__attribute__((visibility("default"))) uint64_t stw_bench_allocations(void) {
    return __atomic_load_n(&allocations, __ATOMIC_RELAXED);
}

static inline void count(void) { __atomic_fetch_add(&allocations, 1, __ATOMIC_RELAXED); }

__attribute__((visibility("default"))) void *malloc(size_t size) { count(); return __libc_malloc(size); }
__attribute__((visibility("default"))) void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
__attribute__((visibility("default"))) void *realloc(void *block, size_t size) { count(); return __libc_realloc(block, size); }
__attribute__((visibility("default"))) void free(void *block) { __libc_free(block); }
__attribute__((visibility("default"))) void *memalign(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
__attribute__((visibility("default"))) void *aligned_alloc(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
__attribute__((visibility("default"))) int posix_memalign(void **out, size_t alignment, size_t size) {
    count();
    void *block = __libc_memalign(alignment, size);
    if (!block) return 12; /* ENOMEM */
    *out = block;
    return 0;
}

#define _GNU_SOURCE
#include "plugin_sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

int stw_sandbox_no_new_privileges(void) {
#ifdef __linux__
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : errno;
#else
    return ENOSYS;
#endif
}

int stw_sandbox_no_new_privileges_set(void) {
#ifdef __linux__
    int value = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    return value < 0 ? -1 : value;
#else
    return -1;
#endif
}

int stw_sandbox_close_from(int first) {
#if defined(__linux__) && defined(SYS_close_range)
    if (syscall(SYS_close_range, (unsigned)first, ~0u, 0) == 0) return 0;
#endif
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL) return errno;
    int own = dirfd(dir);
    int found[1024];
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL && count < 1024) {
        char *end = NULL;
        long fd = strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0') continue;
        if (fd >= first && fd != own) found[count++] = (int)fd;
    }
    closedir(dir);
    for (int index = 0; index < count; index++) close(found[index]);
    return 0;
}

int stw_sandbox_unshare_network(void) {
#ifdef __linux__
    return unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0 ? 0 : errno;
#else
    return ENOSYS;
#endif
}

uint64_t stw_sandbox_thread_cpu_ns(void) {
    struct timespec now;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) != 0) return 0;
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

uint64_t stw_sandbox_other_thread_cpu_ns(unsigned long thread) {
    clockid_t clock;
    if (pthread_getcpuclockid((pthread_t)thread, &clock) != 0) return 0;
    struct timespec now;
    if (clock_gettime(clock, &now) != 0) return 0;
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* What a plugin host process does to itself before it loads a plugin: the Linux calls Swift
 * cannot make directly (prctl and syscall are variadic in C), each returning 0 or an errno. */
#ifndef STEWARD_PLUGIN_SANDBOX_H
#define STEWARD_PLUGIN_SANDBOX_H

#include <stdint.h>

/* PR_SET_NO_NEW_PRIVS: neither this process nor anything it executes can gain privileges
 * (setuid binaries, file capabilities). Returns 0, or errno (ENOSYS off Linux). */
int stw_sandbox_no_new_privileges(void);

/* Closes every descriptor numbered `first` or above (close_range, else one by one through
 * /proc/self/fd). Returns 0 or errno. */
int stw_sandbox_close_from(int first);

/* Moves the process into a new user and network namespace, leaving it only a loopback
 * interface that is down: no network at all. Returns 0, or errno (EPERM where unprivileged
 * user namespaces are disabled, ENOSYS off Linux). */
int stw_sandbox_unshare_network(void);

/* Whether the process may still gain privileges (1), may not (0), or it is unknown (-1). */
int stw_sandbox_no_new_privileges_set(void);

/* The CPU time the calling thread has used, in nanoseconds (CLOCK_THREAD_CPUTIME_ID). */
uint64_t stw_sandbox_thread_cpu_ns(void);

/* The CPU time thread `thread` (a pthread_t) has used, in nanoseconds; 0 when unknown. */
uint64_t stw_sandbox_other_thread_cpu_ns(unsigned long thread);

#endif

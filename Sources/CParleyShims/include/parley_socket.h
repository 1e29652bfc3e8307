#ifndef PARLEY_SOCKET_H
#define PARLEY_SOCKET_H

// No system headers here: a header this module includes would own their declarations, and Swift code
// that imports only Glibc would stop seeing them (MSG_TRUNC and friends).
struct timespec;

/// recvmmsg(2), which glibc declares only under _GNU_SOURCE (so Swift's Glibc module leaves it out).
/// `messages` points to `count` C `struct mmsghdr` laid out by the caller.
int parley_recvmmsg(int descriptor, void *messages, unsigned int count, int flags, struct timespec *timeout);

/// sendmmsg(2), GNU-only like recvmmsg. `messages` points to `count` C `struct mmsghdr`; returns how
/// many were sent, or -1 with errno set when the first could not be.
int parley_sendmmsg(int descriptor, void *messages, unsigned int count, int flags);

/// Names the calling thread (pthread_setname_np, also GNU-only); names longer than 15 bytes are cut.
/// Returns 0 or an errno value.
int parley_set_thread_name(const char *name);

/// Asks the kernel to send the calling process `signal_number` when its parent dies
/// (prctl PR_SET_PDEATHSIG, variadic in C). Returns 0 or -1 with errno set.
int parley_signal_on_parent_death(int signal_number);

/// Sets the calling thread's nice value (setpriority on its thread id, which Linux applies to that
/// thread alone). Lowering it below 0 needs CAP_SYS_NICE (root). Returns 0 or -1 with errno set.
int parley_set_thread_nice(int nice_value);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* System call filters (seccomp-BPF, no libseccomp) for the two long-lived
 * cisresd processes. Deny-lists: a denied call fails with EPERM (ENOSYS for
 * clone3, so that glibc falls back to clone), it never kills the process,
 * so that a call missing from an allowed path shows up as a logged error.
 *
 *   both:  ptrace, process_vm_readv/writev, kexec_*, module loading, mount
 *          and the new mount API, umount2, pivot_root, chroot, swapon/off,
 *          reboot, bpf, perf_event_open, the kernel keyring, userfaultfd,
 *          personality, unshare, setns, open_by_handle_at, acct, setting
 *          the clock, iopl/ioperm (x86); system calls of a foreign ABI
 *          (i386 int 0x80, x32).
 *   HTTP:  also execve/execveat (it never forks or executes after the SAM
 *          monitor was started).
 *   monitor: also execve/execveat (it forks SAM processes, never executes);
 *          it stays root to start them as the SAM user, so the filter is
 *          what keeps it from ptrace, module loading, mount and the rest.
 *   SAM:   also execve/execveat, fork/vfork, clone without CLONE_THREAD
 *          (threads are still allowed), clone3 (ENOSYS), and socket() of
 *          any family but AF_UNIX (AF_INET/AF_INET6 stay allowed when the
 *          caller says the HSM or the store is reached over the network).
 *
 * The filter is installed on every thread of the process
 * (SECCOMP_FILTER_FLAG_TSYNC): the HTTP process already runs the
 * libmicrohttpd threads when it installs it. The caller must have set
 * PR_SET_NO_NEW_PRIVS first (privsep_harden). Filters are inherited by
 * children and cannot be removed. */
#ifndef CISRES_SECCOMP_H
#define CISRES_SECCOMP_H

#include <stdbool.h>

typedef enum { SECCOMP_PROFILE_HTTP, SECCOMP_PROFILE_SAM, SECCOMP_PROFILE_MONITOR } seccomp_profile;

/* --no-seccomp: off for this process and the children it forks later
 * (the SAM monitor and SAM processes). Default: on. */
void seccomp_set_enabled(bool on);
bool seccomp_enabled(void);
/* Install the filter of profile p. allow_inet (SAM only): socket() of
 * AF_INET and AF_INET6 stays allowed (a network HSM or store).
 * 0 installed; 1 not installed because seccomp_set_enabled(false);
 * -1 with errno set (ENOSYS: an architecture this code has no system
 * call table for, nothing installed; else the kernel's refusal). The
 * caller logs. */
int seccomp_install(seccomp_profile p, bool allow_inet);
/* allow_inet for the SAM process: true unless the HSM module is SoftHSM
 * (files only) and the store is SQLite; a vendor PKCS#11 module may talk
 * to a network HSM, a PostgreSQL store is reached over TCP. */
bool seccomp_sam_needs_inet(const char *hsm_module, const char *store_uri);
/* "x86_64", "aarch64" or NULL when not supported. */
const char *seccomp_arch(void);

#endif

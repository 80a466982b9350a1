/* SPDX-License-Identifier: Apache-2.0 */
/* Process hardening for the privilege-separated cisresd (HTTP process,
 * SAM monitor, SAM process): no new privileges, no core dumps, no ptrace
 * by the same user, and the switch from root to an unprivileged user. */
#ifndef CISRES_PRIVSEP_H
#define CISRES_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>

#define PRIVSEP_DEFAULT_USER "cisres"

/* PR_SET_NO_NEW_PRIVS and RLIMIT_CORE 0; with no_dump also
 * PR_SET_DUMPABLE 0 (no core, no ptrace/proc access by the same uid).
 * 0, or -1 when a step failed (logged). */
int privsep_harden(bool no_dump);
/* Drop root for user: setgroups(1, gid), setgid, setuid, and check that
 * root cannot be regained. user NULL: PRIVSEP_DEFAULT_USER when it exists;
 * user "": never switch.
 * Returns 1 when nothing was done (not root, or user NULL and no such
 * user), 0 when dropped, -1 on failure (or a named user that does not
 * exist). */
int privsep_drop(const char *user);
/* Close every descriptor >= 3 except those in keep and write-only
 * append-mode regular files (the log file). */
void privsep_close_fds(const int *keep, size_t nkeep);
/* Overwrite and remove an environment variable (e.g. the HSM PIN). */
void privsep_wipe_env(const char *name);

#endif

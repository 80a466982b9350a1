/* SPDX-License-Identifier: Apache-2.0 */
/* Process hardening for the privilege-separated cisresd (HTTP process,
 * SAM monitor, SAM process): no new privileges, no core dumps, no ptrace
 * by the same user, and the switch from root to an unprivileged user. */
#ifndef CISRES_PRIVSEP_H
#define CISRES_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define PRIVSEP_DEFAULT_USER "cisres"
/* The SAM process's own user, when it exists (a member of the group of the
 * HTTP process's user: both write the store). */
#define PRIVSEP_DEFAULT_SAM_USER "cisres-sam"

/* PR_SET_NO_NEW_PRIVS and RLIMIT_CORE 0; with no_dump also
 * PR_SET_DUMPABLE 0 (no core, no ptrace/proc access by the same uid).
 * 0, or -1 when a step failed (logged). */
int privsep_harden(bool no_dump);
/* Drop root for user: setgroups (the user's groups from the group
 * database, as initgroups), setgid, setuid, and check that root cannot be
 * regained. user NULL: PRIVSEP_DEFAULT_USER when it exists;
 * user "": never switch.
 * Returns 1 when nothing was done (not root, or user NULL and no such
 * user), 0 when dropped, -1 on failure (or a named user that does not
 * exist). */
int privsep_drop(const char *user);
/* Whether the user name exists (the password database). */
bool privsep_user_exists(const char *name);
/* Root only, before the SAM process is started: give the embedded state
 * directory (cfg->state_dir) to the two users, so that each process can
 * reach what it needs after the switch and nothing more:
 *   STATE          root:G 3770 (setgid: new files get group G; sticky: a
 *                  user removes or renames only its own entries)
 *   the SQLite store and its -wal/-shm (when inside STATE)   H:G 0660
 *   STATE/hsm/...  (token directory, softhsm2.conf, PIN files)  S:SG, no
 *                  access for group and others
 *   STATE/ca/...   root:SG, group read (certificates only, the keys are in
 *                  the HSM)
 *   STATE/tls/...  unchanged: root, read before the switch
 * where H/G is http_user and its group, S/SG sam_user and its group. When
 * sam_user differs from http_user it must be a member of G. Every
 * ancestor of STATE must be searchable by both users. Idempotent (run at
 * every start: re-owns a state directory created by root). 0 or -1
 * (logged). */
int privsep_own_state(const server_config *cfg, const char *http_user, const char *sam_user);
/* Close every descriptor >= 3 except those in keep and write-only
 * append-mode regular files (the log file). */
void privsep_close_fds(const int *keep, size_t nkeep);
/* Overwrite and remove an environment variable (e.g. the HSM PIN). */
void privsep_wipe_env(const char *name);

#endif

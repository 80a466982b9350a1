/* SPDX-License-Identifier: Apache-2.0 */
/* Privilege separation of cisresd (the OpenBSD relayd ca.c model): the SAM
 * — and with it every HSM session, the HSM PIN and every factor secret —
 * runs in its own process; the HTTP process talks to it by message
 * (sam_proto.h) through a sam* client (sam_client.h).
 *
 *   cisresd (HTTP)  --ctl-->  SAM monitor  --fork-->  SAM process
 *        \_______________ connections (SEQPACKET) ______/
 *
 * sam_spawn forks the SAM monitor, a small single-threaded process that
 * starts the SAM process, restarts it with backoff when it dies, and on
 * request hands the HTTP process a new connection to it (a socketpair,
 * one end passed to each side with SCM_RIGHTS). Forks happen only in the
 * monitor, never in the multi-threaded HTTP process. The SAM process
 * opens the HSM, store, CA and TSA, drops privileges and serves each
 * connection on its own thread. When the HTTP process exits (the control
 * socket closes) the monitor ends the SAM process and exits; when the
 * monitor dies, the SAM process exits.
 *
 * Call sam_spawn early: before starting threads, before opening the store
 * (SQLite keeps per-process lock state that a forked child must not
 * inherit: sam_spawn refuses to run when the store is open in the caller),
 * before loading the TLS key, and before any other secret is in memory
 * (the monitor is a fork of the caller). The monitor closes every
 * inherited descriptor but its own and the log file. sam_spawn also
 * hardens the caller: PR_SET_NO_NEW_PRIVS and RLIMIT_CORE 0; and removes
 * the HSM PIN variable ([hsm] pin_env) from the caller's environment. */
#ifndef CISRES_SAM_SPAWN_H
#define CISRES_SAM_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "sam.h"
#include "sam_main.h"

/* Default options: front-end operations, connections from cfg->threads,
 * not strict, no migration, user "cisres" when started as root. */
int sam_spawn(const server_config *cfg, sam **client, pid_t *pid);
int sam_spawn_ex(const server_config *cfg, const sam_spawn_opts *o, sam **client, pid_t *pid);
/* The SAM process currently serving client (as last reported by the
 * monitor; 0 before the first call). */
pid_t sam_spawn_server_pid(sam *client);
/* Reap the monitor after sam_free(client): waits up to timeout_ms, then
 * kills it. 0 when it exited on its own. */
int sam_spawn_wait(pid_t pid, int timeout_ms);
/* ctx_bootstrap in a child process, so that the caller never loads the
 * PKCS#11 module. 0 or -1. */
int sam_spawn_bootstrap(const server_config *cfg);

#endif

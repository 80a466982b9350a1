/* SPDX-License-Identifier: Apache-2.0 */
/* Starting the SAM process, and the monitor that keeps it running. */
#include "sam_spawn.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "context.h"
#include "log.h"
#include "privsep.h"
#include "sam_client.h"
#include "sam_proto.h"
#include "seccomp.h"

#define MON_BACKOFF_MIN_MS 100
#define MON_BACKOFF_MAX_MS 10000
#define MON_STABLE_MS 10000	   /* up this long: the next restart is quick again */
#define MON_START_TIMEOUT_MS 60000 /* open + drop must not take longer */
#define MON_STOP_WAIT_MS 3000
#define MON_PENDING_MAX 256
#define MON_BUF 256
#define SPAWN_CONNS_MIN 4

typedef struct {
	const server_config *cfg;
	const sam_spawn_opts *o;
	int ctl;
	pid_t server; /* 0: none running */
	int chan;
	bool ready;
	unsigned generation;
	int64_t start_at, started, ready_since;
	unsigned backoff;
	unsigned pending; /* CONNECTs waiting for READY */
} sam_mon;

static int64_t mon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Answer one CONNECT: ok with the descriptor, or "not available". */
static int mon_reply(sam_mon *m, bool ok, int fd)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	int rc = -1;

	if (sam_proto_enc_connect_res(ok ? 1 : 0, ok ? (int64_t)m->server : 0, &msg, &len) == 0)
		rc = sam_proto_send_fd(m->ctl, msg, len, ok ? fd : -1);
	sam_proto_free(msg, len);
	return rc;
}

static void mon_start(sam_mon *m)
{
	int sp[2];
	pid_t p;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
		log_err("sam monitor: socketpair: %s", strerror(errno));
		m->start_at = mon_now_ms() + MON_BACKOFF_MAX_MS;
		return;
	}
	p = fork();
	if (p < 0) {
		log_err("sam monitor: fork: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		m->start_at = mon_now_ms() + MON_BACKOFF_MAX_MS;
		return;
	}
	if (p == 0) {
		close(m->ctl);
		close(sp[0]);
		_exit(sam_main_run(m->cfg, m->o, sp[1], m->generation == 0));
	}
	close(sp[1]);
	m->chan = sp[0];
	m->server = p;
	m->ready = false;
	m->started = mon_now_ms();
	m->generation++;
	log_msg(LOG_LVL_INFO, LOG_CAT_SAM, "sam monitor: started the SAM process %ld", (long)p);
}

/* Wait for pid for up to ms, then kill it. Returns the wait status. */
static int mon_reap(pid_t pid, int ms)
{
	int status = 0;
	int64_t deadline = mon_now_ms() + ms;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			return status;
		if (mon_now_ms() >= deadline)
			break;
		usleep(10000);
	}
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/* The SAM process closed its channel: it died (or is dying). */
static void mon_lost(sam_mon *m)
{
	int64_t now;
	int status;

	close(m->chan);
	m->chan = -1;
	status = mon_reap(m->server, MON_STOP_WAIT_MS);
	now = mon_now_ms();
	if (WIFSIGNALED(status))
		log_err("sam monitor: the SAM process %ld died of signal %d", (long)m->server,
			WTERMSIG(status));
	else
		log_err("sam monitor: the SAM process %ld exited with status %d", (long)m->server,
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	if (m->ready && now - m->ready_since >= MON_STABLE_MS)
		m->backoff = MON_BACKOFF_MIN_MS;
	else
		m->backoff = m->backoff == 0
				 ? MON_BACKOFF_MIN_MS
				 : (m->backoff * 2 > MON_BACKOFF_MAX_MS ? MON_BACKOFF_MAX_MS
									: m->backoff * 2);
	m->start_at = now + m->backoff;
	m->server = 0;
	m->ready = false;
	for (; m->pending > 0; m->pending--)
		(void)mon_reply(m, false, -1);
}

/* A new connection: one end to the SAM process, the other to the caller. */
static void mon_connect(sam_mon *m)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	int sp[2];
	bool ok = false;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
		log_err("sam monitor: socketpair: %s", strerror(errno));
		(void)mon_reply(m, false, -1);
		return;
	}
	if (sam_proto_enc_empty(SAM_MSG_ADOPT, &msg, &len) == 0 &&
	    sam_proto_send_fd(m->chan, msg, len, sp[1]) == 0)
		ok = true;
	else
		log_err("sam monitor: cannot hand a connection to the SAM process");
	sam_proto_free(msg, len);
	close(sp[1]);
	(void)mon_reply(m, ok, sp[0]);
	close(sp[0]);
}

static void mon_from_sam(sam_mon *m)
{
	uint8_t buf[MON_BUF];
	size_t len = 0;
	int64_t pid = 0;
	int fd = -1;
	int v = sam_proto_recv_fd(m->chan, buf, sizeof(buf), &len, &fd);

	if (fd >= 0)
		close(fd);
	if (v < 0 && errno == EINTR)
		return;
	if (v <= 0) {
		mon_lost(m);
		return;
	}
	if (sam_proto_dec_ready(buf, len, &pid) != 0 || pid != (int64_t)m->server || m->ready) {
		log_err("sam monitor: unexpected message from the SAM process");
		(void)kill(m->server, SIGKILL);
		return;
	}
	m->ready = true;
	m->ready_since = mon_now_ms();
	for (; m->pending > 0; m->pending--)
		mon_connect(m);
}

static void mon_shutdown(sam_mon *m) __attribute__((noreturn));

static void mon_shutdown(sam_mon *m)
{
	if (m->server != 0) {
		close(m->chan); /* the SAM process sees EOF and exits */
		(void)mon_reap(m->server, MON_STOP_WAIT_MS);
	}
	_exit(0);
}

/* Returns false when the caller is gone. */
static bool mon_from_caller(sam_mon *m)
{
	uint8_t buf[MON_BUF];
	size_t len = 0;
	int fd = -1;
	int v = sam_proto_recv_fd(m->ctl, buf, sizeof(buf), &len, &fd);

	if (fd >= 0)
		close(fd);
	if (v < 0 && errno == EINTR)
		return true;
	if (v <= 0)
		return false;
	if (sam_proto_dec_empty(buf, len, SAM_MSG_CONNECT) != 0) {
		log_err("sam monitor: malformed request");
		return false;
	}
	if (m->ready)
		mon_connect(m);
	else if (m->server != 0 && m->pending < MON_PENDING_MAX)
		m->pending++; /* starting: answered on READY */
	else
		(void)mon_reply(m, false, -1);
	return true;
}

static void sam_monitor(const server_config *cfg, const sam_spawn_opts *o, int ctl)
    __attribute__((noreturn));

static void sam_monitor(const server_config *cfg, const sam_spawn_opts *o, int ctl)
{
	sam_mon m;
	int keep[1] = {ctl};

	(void)prctl(PR_SET_NAME, "cisres-sam-mon", 0, 0, 0);
	privsep_close_fds(keep, 1);
	(void)signal(SIGPIPE, SIG_IGN);
	if (privsep_harden(true) != 0)
		_exit(1);
	/* The SAM processes it forks inherit this filter under their own. */
	if (seccomp_install(SECCOMP_PROFILE_MONITOR, false) < 0)
		log_warn("sam: no system call filter for the monitor: %s", strerror(errno));
	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.o = o;
	m.ctl = ctl;
	m.chan = -1;
	for (;;) {
		struct pollfd pfd[2];
		int64_t now = mon_now_ms();
		int timeout = 1000, n;

		if (m.server == 0 && now >= m.start_at)
			mon_start(&m);
		if (m.server != 0 && !m.ready && now - m.started > MON_START_TIMEOUT_MS) {
			log_err("sam monitor: the SAM process did not start in time");
			(void)kill(m.server, SIGKILL);
		}
		if (m.server == 0)
			timeout = (int)(m.start_at - now > 0 ? m.start_at - now : 0);
		pfd[0].fd = ctl;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = m.server != 0 ? m.chan : -1;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		n = poll(pfd, 2, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("sam monitor: poll: %s", strerror(errno));
			mon_shutdown(&m);
		}
		if (m.server != 0 && pfd[1].revents != 0)
			mon_from_sam(&m);
		if (pfd[0].revents != 0 && !mon_from_caller(&m))
			mon_shutdown(&m);
	}
}

/* ---- the caller's side ---- */

/* Has this process the SQLite store open? Then SQLite's per-process lock
 * state (which it keeps across fork) would be inherited by every SAM
 * process, and the store would not work there. */
static bool spawn_store_open_here(const server_config *cfg)
{
	const char *path = strncmp(cfg->store_uri, "sqlite:", 7) == 0 ? cfg->store_uri + 7 : NULL;
	char link[64], target[CONFIG_PATH_MAX];
	size_t plen;
	DIR *d;
	struct dirent *e;
	bool found = false;

	if (path == NULL || path[0] == '\0')
		return false;
	plen = strlen(path);
	d = opendir("/proc/self/fd");
	if (d == NULL)
		return false;
	while ((e = readdir(d)) != NULL && !found) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%.32s", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		/* the database, its -wal or its -shm */
		if (strncmp(target, path, plen) == 0 &&
		    (target[plen] == '\0' || target[plen] == '-'))
			found = true;
	}
	closedir(d);
	return found;
}

static unsigned spawn_conns(const server_config *cfg, const sam_spawn_opts *o)
{
	long ncpu;
	unsigned n = o->max_conns;

	if (n == 0)
		n = cfg->threads;
	if (n == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		n = ncpu > 0 && ncpu < 128 ? 2 * (unsigned)ncpu : 8;
	}
	return n < SPAWN_CONNS_MIN ? SPAWN_CONNS_MIN : n;
}

int sam_spawn_ex(const server_config *cfg, const sam_spawn_opts *o, sam **client, pid_t *pid)
{
	static sam_spawn_opts opts; /* the monitor's copy lives in its memory */
	sam_client *c = NULL;
	int sp[2];
	pid_t p;

	if (client != NULL)
		*client = NULL;
	if (pid != NULL)
		*pid = 0;
	if (cfg == NULL || client == NULL || pid == NULL)
		return -1;
	if (spawn_store_open_here(cfg)) {
		log_err("sam: the store is open in this process: spawn the SAM before opening it");
		return -1;
	}
	memset(&opts, 0, sizeof(opts));
	if (o != NULL)
		opts = *o;
	if (opts.ops == 0)
		opts.ops = SAM_OPS_FRONT;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
		log_err("sam: socketpair: %s", strerror(errno));
		return -1;
	}
	p = fork();
	if (p < 0) {
		log_err("sam: fork: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (p == 0) {
		close(sp[0]);
		sam_monitor(cfg, &opts, sp[1]);
	}
	close(sp[1]);
	/* This process never needs the HSM PIN: only the monitor keeps the
	 * variable (for restarts). */
	privsep_wipe_env(cfg->hsm_pin_env);
	if (privsep_harden(true) != 0)
		log_warn("sam: this process could not be fully hardened");
	if (sam_client_new_monitor(sp[0], spawn_conns(cfg, &opts), &c) != 0) {
		close(sp[0]);
		goto fail;
	}
	if (sam_new_remote(c, client) != 0) {
		sam_client_free(c);
		goto fail;
	}
	*pid = p;
	return 0;
fail:
	(void)sam_spawn_wait(p, MON_STOP_WAIT_MS);
	return -1;
}

int sam_spawn(const server_config *cfg, sam **client, pid_t *pid)
{
	return sam_spawn_ex(cfg, NULL, client, pid);
}

pid_t sam_spawn_server_pid(sam *client)
{
	return sam_client_server_pid(sam_remote(client));
}

int sam_spawn_wait(pid_t pid, int timeout_ms)
{
	int status = 0;
	int64_t deadline = mon_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	if (pid <= 0)
		return -1;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (mon_now_ms() >= deadline)
			break;
		usleep(10000);
	}
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return -1;
}

int sam_spawn_bootstrap(const server_config *cfg)
{
	int status = 0;
	pid_t p;

	if (cfg == NULL)
		return -1;
	p = fork();
	if (p < 0) {
		log_err("sam: fork: %s", strerror(errno));
		return -1;
	}
	if (p == 0) {
		server_config copy = *cfg;

		_exit(ctx_bootstrap(&copy) == 0 ? 0 : 1);
	}
	while (waitpid(p, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* cisresd: the CISRES signing service (CSC API v2 over HTTPS). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "context.h"
#include "http.h"
#include "log.h"
#include "privsep.h"
#include "sam_spawn.h"
#include "seccomp.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cisresd --state-dir DIR [--listen HOST:PORT] [--config FILE] "
		"[--foreground]\n"
		"               [--user NAME [--sam-user NAME]] [--no-privsep] [--no-seccomp]\n"
		"       cisresd --config FILE [--listen HOST:PORT] [--foreground] ...\n"
		"\n"
		"  --state-dir DIR     embedded default: HSM token, store, CA and TLS files in\n"
		"                      DIR, created on first start\n"
		"  --config FILE       INI configuration (see cisresd(8)); overlays the defaults\n"
		"  --listen HOST:PORT  address to serve on (default 127.0.0.1:8443)\n"
		"  --foreground        stay attached to the terminal (for systemd and tests)\n"
		"  --user NAME         when started as root, run the HTTP process as NAME (e.g.\n"
		"                      \"" PRIVSEP_DEFAULT_USER "\"); without it, root stays root\n"
		"  --sam-user NAME     with --user: run the SAM process as NAME (default:\n"
		"                      \"" PRIVSEP_DEFAULT_SAM_USER
		"\" when that user exists, else the --user)\n"
		"  --no-privsep        run the SAM (HSM session, factor secrets) inside the HTTP\n"
		"                      process: for debugging only\n"
		"  --no-seccomp        do not install the system call filters: for debugging\n"
		"  --version           print the version\n");
}

/* Daemon mode: the parent waits for the child to be ready (or to fail) and
 * exits with its status; the child goes on in a new session. */
static int main_daemonize(int *notify_fd)
{
	int pfd[2];
	pid_t pid;
	char st = 1;

	if (pipe(pfd) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(pfd[1]);
		while (read(pfd[0], &st, 1) < 0 && errno == EINTR)
			;
		_exit(st == 0 ? 0 : 1);
	}
	close(pfd[0]);
	if (setsid() < 0)
		return -1;
	*notify_fd = pfd[1];
	return 0;
}

static void main_notify(int *fd, char st)
{
	int devnull;

	if (*fd < 0)
		return;
	while (write(*fd, &st, 1) < 0 && errno == EINTR)
		;
	close(*fd);
	*fd = -1;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		close(devnull);
	}
}

/* Privilege separation: the SAM — the HSM session, the HSM PIN and every
 * factor secret — runs in its own process (sam_spawn.h); this process opens
 * the store and a client of it, and the CA certificates only. Called before
 * any thread is started and before the store or the TLS key is opened. */
/* Who the processes become when started as root ("": nobody, stay). */
typedef struct {
	const char *http;
	const char *sam;
} main_users;

/* --user / --sam-user to the two user names. 0, or -1 (logged). */
static int main_resolve_users(const char *user, const char *sam_user, bool privsep, main_users *u)
{
	u->http = "";
	u->sam = "";
	if (sam_user != NULL && (user == NULL || !privsep)) {
		log_err("--sam-user needs --user and the SAM in its own process");
		return -1;
	}
	if ((geteuid() != 0 && getuid() != 0) || !privsep)
		return 0; /* nothing to switch from; --no-privsep: one process, as is */
	if (user == NULL) {
		log_warn("started as root without --user: every process stays root (use --user "
			 "%s)",
			 PRIVSEP_DEFAULT_USER);
		return 0;
	}
	if (!privsep_user_exists(user)) {
		log_err("--user: no such user \"%s\"", user);
		return -1;
	}
	u->http = user;
	if (sam_user != NULL)
		u->sam = sam_user;
	else if (privsep_user_exists(PRIVSEP_DEFAULT_SAM_USER))
		u->sam = PRIVSEP_DEFAULT_SAM_USER;
	else
		u->sam = user;
	if (!privsep_user_exists(u->sam)) {
		log_err("--sam-user: no such user \"%s\"", u->sam);
		return -1;
	}
	if (strcmp(u->sam, u->http) == 0)
		log_warn("the SAM process runs as the same user as the HTTP process (%s): the HTTP "
			 "process can read the token directory (use --sam-user)",
			 u->http);
	return 0;
}

static int main_open_privsep(server_config *cfg, const main_users *users, context *ctx, pid_t *mon)
{
	static const uint8_t probe[32];
	sam_spawn_opts so;
	sam *samc = NULL;
	uint8_t *tok = NULL;
	size_t toklen = 0;
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	*mon = 0;
	/* In a child: this process never loads the PKCS#11 module. */
	if (cfg->state_dir[0] != '\0' && sam_spawn_bootstrap(cfg) != 0) {
		log_err("cannot set up the state directory %s", cfg->state_dir);
		return -1;
	}
	if (users->http[0] != '\0' && privsep_own_state(cfg, users->http, users->sam) != 0) {
		log_err("cannot give the state directory %s to the service users", cfg->state_dir);
		return -1;
	}
	memset(&so, 0, sizeof(so));
	so.user = users->sam;
	so.seal_legacy = true;
	/* Unsealed factor secrets are sealed at the first start, then refused:
	 * the front end can write the database, and a plain verifier or seed it
	 * wrote would be a PIN or seed of its choosing. */
	so.strict = true;
	if (sam_spawn_ex(cfg, &so, &samc, mon) != 0) {
		log_err("cannot start the SAM process");
		return -1;
	}
	/* Start-up check, end to end: a time-stamp from the SAM process (HSM
	 * session and TSA key). Fails when the SAM process cannot start. */
	rc = sam_tsa_stamp(samc, HASH_SHA256, probe, sizeof(probe), NULL, &tok, &toklen);
	free(tok);
	if (rc != 0) {
		log_err("the SAM process is not working (see its messages above)");
		goto fail;
	}
	if (sam_main_front_open(cfg, samc, ctx) != 0)
		goto fail;
	samc = NULL; /* owned by ctx now */
	if (ca_open(NULL, cfg->ca_dir, &ctx->ca) != 0) {
		log_err("cannot load the CA certificates from %s", cfg->ca_dir);
		goto fail;
	}
	log_info("SAM process %ld started", (long)sam_spawn_server_pid(ctx->sam));
	return 0;
fail:
	if (samc != NULL)
		sam_free(samc);
	ctx_close(ctx);
	(void)sam_spawn_wait(*mon, 5000);
	*mon = 0;
	return -1;
}

static int main_open(server_config *cfg, bool privsep, const main_users *users, context *ctx,
		     pid_t *mon)
{
	*mon = 0;
	if (privsep) {
		if (main_open_privsep(cfg, users, ctx, mon) != 0)
			return -1;
	} else {
		log_warn("--no-privsep: the HSM session and the factor secrets are in the HTTP "
			 "process");
		if (cfg->state_dir[0] != '\0' && ctx_bootstrap(cfg) != 0) {
			log_err("cannot set up the state directory %s", cfg->state_dir);
			return -1;
		}
		if (ctx_open(ctx, cfg) != 0)
			return -1;
	}
	auth_set_sam(ctx->sam);
	return 0;
}

static void main_close(context *ctx, pid_t mon)
{
	auth_set_sam(NULL);
	ctx_close(ctx); /* frees the SAM client: the monitor ends the SAM process */
	if (mon > 0)
		(void)sam_spawn_wait(mon, 5000);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"state-dir", required_argument, NULL, 's'},
						 {"listen", required_argument, NULL, 'l'},
						 {"config", required_argument, NULL, 'c'},
						 {"foreground", no_argument, NULL, 'f'},
						 {"user", required_argument, NULL, 'u'},
						 {"sam-user", required_argument, NULL, 'S'},
						 {"no-privsep", no_argument, NULL, 'P'},
						 {"no-seccomp", no_argument, NULL, 'N'},
						 {"help", no_argument, NULL, 'h'},
						 {"version", no_argument, NULL, 'V'},
						 {NULL, 0, NULL, 0}};
	const char *state_dir = NULL, *listen = NULL, *config = NULL;
	const char *dbg = getenv("CISRES_DEBUG");
	const char *user = NULL, *sam_user = NULL;
	main_users users;
	bool foreground = false, privsep = true;
	pid_t sam_mon = 0;
	server_config cfg;
	context ctx;
	http_server *srv = NULL;
	sigset_t sigs;
	int opt, sig = 0, notify_fd = -1;
	char err[512];

	while ((opt = getopt_long(argc, argv, "s:l:c:fu:S:PNhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			state_dir = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'u':
			user = optarg;
			break;
		case 'S':
			sam_user = optarg;
			break;
		case 'P':
			privsep = false;
			break;
		case 'N':
			seccomp_set_enabled(false);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("cisresd %s\n", CISRES_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (state_dir == NULL && config == NULL)) {
		usage(stderr);
		return 2;
	}
	log_init("cisresd", dbg != NULL && dbg[0] != '\0' ? LOG_LVL_DEBUG : LOG_LVL_INFO, dbg);
	umask(077);
	if (main_resolve_users(user, sam_user, privsep, &users) != 0)
		return 2;

	config_defaults(&cfg, state_dir);
	if (config != NULL && config_load(&cfg, config, err, sizeof(err)) != 0) {
		log_err("configuration: %s", err);
		return 2;
	}
	if (listen != NULL) {
		if (strlen(listen) >= sizeof(cfg.listen) || listen[0] == '\0') {
			log_err("--listen: bad address");
			return 2;
		}
		memcpy(cfg.listen, listen, strlen(listen) + 1);
	}
	if (cfg.store_uri[0] == '\0' || cfg.ca_dir[0] == '\0' || cfg.tls_cert[0] == '\0') {
		log_err("without --state-dir the configuration must set [store] uri, [ca] dir and "
			"[server] tls_cert / tls_key");
		return 2;
	}

	if (!foreground && main_daemonize(&notify_fd) != 0) {
		log_err("cannot detach: %s", strerror(errno));
		return 1;
	}
	/* Signals are taken synchronously by this thread; every thread started
	 * from here on inherits the mask. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (main_open(&cfg, privsep, &users, &ctx, &sam_mon) != 0) {
		log_err("cannot open the service");
		main_notify(&notify_fd, 1);
		return 1;
	}
	if (http_start(&ctx, &srv) != 0) {
		main_close(&ctx, sam_mon);
		main_notify(&notify_fd, 1);
		return 1;
	}
	/* Listeners bound and the TLS key loaded: root is not needed any more. */
	if (privsep_drop(users.http) < 0) {
		log_err("cannot switch to the user %s", users.http);
		http_stop(srv);
		main_close(&ctx, sam_mon);
		main_notify(&notify_fd, 1);
		return 1;
	}
	/* The SAM is running and will not be forked from here: no exec, no
	 * debugging, no kernel administration (seccomp.h), on every thread. */
	(void)privsep_harden(true); /* --no-privsep: not done by sam_spawn */
	if (seccomp_install(SECCOMP_PROFILE_HTTP, false) < 0)
		log_err("the system call filter is not installed: %s (seccomp on %s)",
			strerror(errno), seccomp_arch() != NULL ? seccomp_arch() : "this machine");
	printf("cisresd: serving %s/csc/v2/\n", http_base_url(srv));
	printf("cisresd: CA certificate: %s\n", ca_chain_path(ctx.ca));
	fflush(stdout);
	main_notify(&notify_fd, 0);

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info(
			    "SIGHUP ignored (restart the service to reload its configuration)");
			continue;
		}
		break;
	}
	log_info("signal %d: stopping", sig);
	http_stop(srv);
	main_close(&ctx, sam_mon);
	log_info("stopped");
	return 0;
}

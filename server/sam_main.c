/* SPDX-License-Identifier: Apache-2.0 */
/* The SAM process: open, drop, serve. */
#include "sam_main.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "privsep.h"
#include "sam_proto.h"
#include "sam_server.h"
#include "seccomp.h"
#include "secmem.h"

#define SAM_MAIN_PIN_MAX 256
#define SAM_MAIN_CTL_BUF 256

/* The token PIN from a file that others cannot read (trailing newline
 * stripped). 0 or -1. */
int sam_main_open(const server_config *cfg, context *ctx)
{
	char *pin = NULL;
	size_t pinlen = 0;
	hsm_config hc;
	sam_deps deps;
	int v;

	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = *cfg;
	if (cfg->softhsm_conf[0] != '\0' && setenv("SOFTHSM2_CONF", cfg->softhsm_conf, 1) != 0) {
		log_err("sam: setenv SOFTHSM2_CONF failed");
		return -1;
	}
	pin = sec_locked_alloc(SAM_MAIN_PIN_MAX);
	if (pin == NULL || ctx_get_pin(&ctx->cfg, pin, SAM_MAIN_PIN_MAX, &pinlen) != 0) {
		sec_unlock_free(pin, SAM_MAIN_PIN_MAX);
		return -1;
	}
	memset(&hc, 0, sizeof(hc));
	hc.module_path = ctx->cfg.hsm_module;
	hc.token_label = ctx->cfg.hsm_token;
	hc.pin = pin;
	hc.pin_len = pinlen;
	hc.pool_size = ctx->cfg.hsm_pool;
	v = hsm_open(&hc, &ctx->hsm);
	sec_unlock_free(pin, SAM_MAIN_PIN_MAX);
	if (v != HSM_OK) {
		log_err("sam: cannot open the HSM token '%s' through %s", ctx->cfg.hsm_token,
			ctx->cfg.hsm_module);
		goto fail;
	}
	if (store_open(ctx->cfg.store_uri, &ctx->store) != STORE_OK) {
		log_err("sam: cannot open the store %s", ctx->cfg.store_uri);
		goto fail;
	}
	if (ca_open(ctx->hsm, ctx->cfg.ca_dir, &ctx->ca) != 0) {
		log_err("sam: cannot open the CA in %s", ctx->cfg.ca_dir);
		goto fail;
	}
	if (tsa_new(ctx->ca, ctx->cfg.tsa_policy, &ctx->tsa) != 0) {
		log_err("sam: cannot set up the TSA");
		goto fail;
	}
	deps.hsm = ctx->hsm;
	deps.store = ctx->store;
	deps.policy = &ctx->cfg.pol;
	if (sam_new(&deps, &ctx->sam) != 0) {
		log_err("sam: cannot set up the SAM");
		goto fail;
	}
	sam_set_tsa(ctx->sam, ctx->tsa);
	return 0;
fail:
	ctx_close(ctx);
	return -1;
}

int sam_main_front_open(const server_config *cfg, sam *client, context *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = *cfg;
	if (client == NULL || !sam_is_remote(client))
		return -1;
	if (store_open(ctx->cfg.store_uri, &ctx->store) != STORE_OK) {
		log_err("cannot open the store %s", ctx->cfg.store_uri);
		return -1;
	}
	ctx->sam = client;
	return 0;
}

static int sam_main_ready(int chan)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	int rc = -1;

	if (sam_proto_enc_ready((int64_t)getpid(), &msg, &len) == 0)
		rc = sam_proto_send(chan, msg, len);
	sam_proto_free(msg, len);
	return rc;
}

int sam_main_run(const server_config *cfg, const sam_spawn_opts *o, int chan, bool first)
{
	context ctx;
	unsigned ops = o->ops != 0 ? o->ops : SAM_OPS_FRONT;

	(void)prctl(PR_SET_NAME, "cisres-sam", 0, 0, 0);
	if (privsep_harden(true) != 0)
		return 1;
	if (sam_main_open(cfg, &ctx) != 0)
		return 1;
	/* The PIN is in the HSM session now; the variable goes. */
	privsep_wipe_env(cfg->hsm_pin_env);
	sam_set_strict(ctx.sam, o->strict);
	if (first && o->seal_legacy) {
		size_t n = 0;

		if (sam_seal_legacy(ctx.sam, &n) != 0) {
			log_err("sam: sealing the unsealed factor secrets failed");
			return 1;
		}
		if (n > 0)
			log_info("sam: sealed %zu factor secrets under the HSM key", n);
	}
	/* A changed policy is audited once (T16 "config change"). */
	if (first && sam_record_policy(ctx.sam, "system") != 0) {
		log_err("sam: cannot record the policy in force");
		return 1;
	}
	if (privsep_drop(o->user) < 0)
		return 1;
	/* A uid change resets the dumpable flag: set it again. */
	if (privsep_harden(true) != 0)
		return 1;
	/* Everything is open: no exec, no fork, no network (seccomp.h). */
	if (seccomp_install(SECCOMP_PROFILE_SAM,
			    seccomp_sam_needs_inet(cfg->hsm_module, cfg->store_uri)) < 0)
		log_err("sam: the system call filter is not installed: %s", strerror(errno));
	if (sam_main_ready(chan) != 0) {
		log_err("sam: cannot report to the monitor");
		return 1;
	}
	log_msg(LOG_LVL_INFO, LOG_CAT_SAM, "sam: serving (pid %ld)", (long)getpid());
	for (;;) {
		uint8_t buf[SAM_MAIN_CTL_BUF];
		size_t len = 0;
		int fd = -1;
		int v = sam_proto_recv_fd(chan, buf, sizeof(buf), &len, &fd);

		if (v == 0)
			break; /* the monitor is gone: so are we */
		if (v < 0) {
			if (errno == EINTR)
				continue;
			log_err("sam: monitor channel: %s", strerror(errno));
			break;
		}
		if (sam_proto_dec_empty(buf, len, SAM_MSG_ADOPT) != 0 || fd < 0) {
			log_err("sam: unexpected message from the monitor");
			if (fd >= 0)
				close(fd);
			continue;
		}
		(void)sam_serve_thread(ctx.sam, ctx.tsa, fd, ops);
	}
	/* Connection threads may be inside the HSM or the store: do not tear
	 * down under them; the process ends here (the store commits durably,
	 * the HSM keeps no half state). */
	return 0;
}

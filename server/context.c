/* SPDX-License-Identifier: Apache-2.0 */
/* Opening the service's parts from a configuration, and creating them on a
 * fresh embedded state directory. */
#include "context.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "log.h"
#include "secmem.h"

#define CTX_PIN_MAX 256

/* ---- small file helpers ---- */

static bool ctx_exists(const char *path)
{
	struct stat st;

	return path[0] != '\0' && stat(path, &st) == 0;
}

/* mkdir -p with mode 0700 for every component we create. */
static int ctx_mkdirs(const char *path)
{
	char buf[CONFIG_PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char saved = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
			log_err("cannot create directory %s: %s", buf, strerror(errno));
			return -1;
		}
		buf[i] = saved;
	}
	return 0;
}

/* The directory part of path into out (cap). */
static int ctx_dirname(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		if (cap < 2)
			return -1;
		memcpy(out, ".", 2);
		return 0;
	}
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1;
	if (n >= cap)
		return -1;
	memcpy(out, path, n);
	out[n] = '\0';
	return 0;
}

static int ctx_mkparent(const char *path)
{
	char dir[CONFIG_PATH_MAX];

	if (ctx_dirname(path, dir, sizeof(dir)) != 0)
		return -1;
	return ctx_mkdirs(dir);
}

/* Create a new file (must not exist) with mode 0600 holding data. */
static int ctx_write_new(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	size_t off = 0;

	if (fd < 0) {
		log_err("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			log_err("cannot write %s: %s", path, strerror(errno));
			close(fd);
			unlink(path);
			return -1;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		log_err("cannot write %s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

/* Read a secret file (at most cap-1 bytes, trailing newline stripped) into
 * out. Refuses files others can read or write. */
static int ctx_read_secret(const char *path, char *out, size_t cap, size_t *outlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = 0;

	if (fd < 0) {
		log_err("cannot open the PIN file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		log_err("%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & S_IRWXO) != 0) {
		log_err("%s: the PIN file must not be accessible by others (mode %03o)", path,
			(unsigned)(st.st_mode & 0777));
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t r;

		if (len >= cap - 1) {
			log_err("%s: the PIN file is too long", path);
			close(fd);
			sec_zero(out, cap);
			return -1;
		}
		r = read(fd, out + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_err("cannot read %s: %s", path, strerror(errno));
			close(fd);
			sec_zero(out, cap);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		len--;
	out[len] = '\0';
	if (len == 0) {
		log_err("%s: the PIN file is empty", path);
		return -1;
	}
	*outlen = len;
	return 0;
}

int ctx_get_pin(const server_config *cfg, char *out, size_t cap, size_t *outlen)
{
	if (cfg->hsm_pin_env[0] != '\0') {
		const char *v = getenv(cfg->hsm_pin_env);
		size_t n;

		if (v == NULL || v[0] == '\0') {
			log_err("the HSM PIN variable %s is not set", cfg->hsm_pin_env);
			return -1;
		}
		n = strlen(v);
		if (n >= cap) {
			log_err("the HSM PIN in %s is too long", cfg->hsm_pin_env);
			return -1;
		}
		memcpy(out, v, n + 1);
		*outlen = n;
		return 0;
	}
	if (cfg->hsm_pin_file[0] == '\0') {
		log_err("no HSM PIN configured ([hsm] pin_file or pin_env)");
		return -1;
	}
	return ctx_read_secret(cfg->hsm_pin_file, out, cap, outlen);
}

static int ctx_softhsm_env(const server_config *cfg)
{
	if (cfg->softhsm_conf[0] == '\0')
		return 0;
	if (setenv("SOFTHSM2_CONF", cfg->softhsm_conf, 1) != 0) {
		log_err("setenv SOFTHSM2_CONF failed");
		return -1;
	}
	return 0;
}

/* ---- bootstrap ---- */

static bool ctx_dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;

	if (d == NULL)
		return true;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = false;
			break;
		}
	}
	closedir(d);
	return empty;
}

/* 32 hex characters from the CSPRNG. */
static int ctx_random_pin(char out[33])
{
	uint8_t raw[16];
	int rc = -1;

	if (sec_random(raw, sizeof(raw)) == 0 && hex_encode(raw, sizeof(raw), out, 33) == 0)
		rc = 0;
	sec_zero(raw, sizeof(raw));
	return rc;
}

/* A new 0600 file holding a fresh random PIN. */
static int ctx_new_pin_file(const char *path)
{
	char fresh[33];
	int rc = -1;

	if (ctx_random_pin(fresh) == 0)
		rc = ctx_write_new(path, fresh, 32);
	sec_zero(fresh, sizeof(fresh));
	return rc;
}

static int ctx_bootstrap_softhsm(const server_config *cfg, char *tokendir, size_t cap)
{
	char buf[CONFIG_PATH_MAX * 2];
	int n;

	if (snprintf(tokendir, cap, "%s/hsm/tokens", cfg->state_dir) >= (int)cap)
		return -1;
	if (ctx_mkparent(cfg->softhsm_conf) != 0 || ctx_mkdirs(tokendir) != 0)
		return -1;
	if (!ctx_exists(cfg->softhsm_conf)) {
		n = snprintf(buf, sizeof(buf),
			     "# SoftHSMv2 configuration of the CISRES embedded HSM\n"
			     "directories.tokendir = %s\n"
			     "objectstore.backend = file\n"
			     "log.level = ERROR\n"
			     "slots.removable = false\n",
			     tokendir);
		if (n < 0 || (size_t)n >= sizeof(buf))
			return -1;
		if (ctx_write_new(cfg->softhsm_conf, buf, (size_t)n) != 0)
			return -1;
		log_info("created %s", cfg->softhsm_conf);
	}
	return ctx_softhsm_env(cfg);
}

/* Create the PIN files when missing, and the token when the token directory
 * is still empty. */
static int ctx_bootstrap_token(const server_config *cfg, const char *tokendir)
{
	char so_path[CONFIG_PATH_MAX];
	char pin[CTX_PIN_MAX], so_pin[CTX_PIN_MAX];
	size_t pinlen = 0, solen = 0;
	int rc = -1;

	if (snprintf(so_path, sizeof(so_path), "%s/hsm/so-pin", cfg->state_dir) >=
	    (int)sizeof(so_path))
		return -1;
	if (cfg->hsm_pin_env[0] == '\0' && !ctx_exists(cfg->hsm_pin_file)) {
		if (ctx_mkparent(cfg->hsm_pin_file) != 0 ||
		    ctx_new_pin_file(cfg->hsm_pin_file) != 0)
			return -1;
		log_info("created the HSM user PIN file %s", cfg->hsm_pin_file);
	}
	if (!ctx_exists(so_path) && ctx_new_pin_file(so_path) != 0)
		return -1;
	if (!ctx_dir_empty(tokendir))
		return 0;

	if (ctx_get_pin(cfg, pin, sizeof(pin), &pinlen) != 0)
		goto out;
	if (ctx_read_secret(so_path, so_pin, sizeof(so_pin), &solen) != 0)
		goto out;
	if (hsm_create_token(cfg->hsm_module, cfg->hsm_token, so_pin, pin) != 0) {
		log_err("cannot create the HSM token '%s'", cfg->hsm_token);
		goto out;
	}
	log_info("created the HSM token '%s'", cfg->hsm_token);
	rc = 0;
out:
	sec_zero(pin, sizeof(pin));
	sec_zero(so_pin, sizeof(so_pin));
	return rc;
}

static int ctx_hsm_open(const server_config *cfg, hsm **out)
{
	char pin[CTX_PIN_MAX];
	size_t pinlen = 0;
	hsm_config hc;
	int rc;

	if (ctx_get_pin(cfg, pin, sizeof(pin), &pinlen) != 0) {
		sec_zero(pin, sizeof(pin));
		return -1;
	}
	memset(&hc, 0, sizeof(hc));
	hc.module_path = cfg->hsm_module;
	hc.token_label = cfg->hsm_token;
	hc.pin = pin;
	hc.pin_len = pinlen;
	hc.pool_size = cfg->hsm_pool;
	rc = hsm_open(&hc, out);
	sec_zero(pin, sizeof(pin));
	if (rc != HSM_OK) {
		log_err("cannot open the HSM token '%s' through %s", cfg->hsm_token,
			cfg->hsm_module);
		return -1;
	}
	return 0;
}

/* Host part of one "host:port" / "[v6]:port" listen entry. */
static int ctx_listen_host(const char *entry, size_t len, char *host, size_t cap)
{
	const char *end;
	size_t n;

	if (len > 0 && entry[0] == '[') {
		end = memchr(entry, ']', len);
		if (end == NULL)
			return -1;
		entry++;
		n = (size_t)(end - entry);
	} else {
		end = NULL;
		for (size_t i = len; i > 0; i--) {
			if (entry[i - 1] == ':') {
				end = entry + i - 1;
				break;
			}
		}
		n = end != NULL ? (size_t)(end - entry) : len;
	}
	if (n == 0 || n >= cap)
		return -1;
	memcpy(host, entry, n);
	host[n] = '\0';
	return 0;
}

static void ctx_add_san(char *sans, size_t cap, const char *name)
{
	size_t nlen = strlen(name), cur = strlen(sans);
	const char *p = sans;

	if (strcmp(name, "0.0.0.0") == 0 || strcmp(name, "::") == 0 || nlen == 0)
		return;
	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		size_t l = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (l == nlen && strncmp(p, name, nlen) == 0)
			return;
		p += l;
		if (*p == ',')
			p++;
	}
	if (cur + nlen + 2 > cap)
		return;
	if (cur > 0)
		sans[cur++] = ',';
	memcpy(sans + cur, name, nlen + 1);
}

static int ctx_bootstrap_tls(const server_config *cfg, hsm *h)
{
	char sans[1024] = "";
	char host[256];
	const char *p = cfg->listen;
	ca *c = NULL;
	int rc;

	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		size_t l = comma != NULL ? (size_t)(comma - p) : strlen(p);

		while (l > 0 && *p == ' ') {
			p++;
			l--;
		}
		if (ctx_listen_host(p, l, host, sizeof(host)) == 0)
			ctx_add_san(sans, sizeof(sans), host);
		p += l;
		if (*p == ',')
			p++;
	}
	ctx_add_san(sans, sizeof(sans), "127.0.0.1");
	ctx_add_san(sans, sizeof(sans), "localhost");
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		ctx_add_san(sans, sizeof(sans), host);
	}
	if (ctx_mkparent(cfg->tls_cert) != 0 || ctx_mkparent(cfg->tls_key) != 0)
		return -1;
	if (ca_open(h, cfg->ca_dir, &c) != 0) {
		log_err("cannot open the CA in %s", cfg->ca_dir);
		return -1;
	}
	rc = ca_issue_tls_server(c, sans, cfg->tls_cert, cfg->tls_key);
	ca_free(c);
	if (rc != 0) {
		log_err("cannot issue the TLS server certificate");
		return -1;
	}
	log_info("issued the TLS server certificate %s for %s", cfg->tls_cert, sans);
	return 0;
}

int ctx_bootstrap(server_config *cfg)
{
	char tokendir[CONFIG_PATH_MAX];
	hsm *h = NULL;
	store *st = NULL;
	int rc = -1;

	if (cfg->state_dir[0] == '\0') {
		log_err("bootstrap needs a state directory");
		return -1;
	}
	if (ctx_mkdirs(cfg->state_dir) != 0)
		return -1;
	if (cfg->softhsm_conf[0] != '\0') {
		if (ctx_bootstrap_softhsm(cfg, tokendir, sizeof(tokendir)) != 0)
			return -1;
		if (ctx_bootstrap_token(cfg, tokendir) != 0)
			return -1;
	}
	if (ctx_hsm_open(cfg, &h) != 0)
		return -1;
	if (strncmp(cfg->store_uri, "sqlite:", 7) == 0 && ctx_mkparent(cfg->store_uri + 7) != 0)
		goto out;
	if (store_open(cfg->store_uri, &st) != STORE_OK) {
		log_err("cannot open the store %s", cfg->store_uri);
		goto out;
	}
	if (ctx_mkdirs(cfg->ca_dir) != 0)
		goto out;
	if (ca_bootstrap(h, cfg->ca_dir, cfg->ca_org) != 0) {
		log_err("cannot set up the CA in %s", cfg->ca_dir);
		goto out;
	}
	if (cfg->tls_cert[0] == '\0' || cfg->tls_key[0] == '\0') {
		log_err("no TLS certificate configured");
		goto out;
	}
	if (!ctx_exists(cfg->tls_cert) || !ctx_exists(cfg->tls_key)) {
		if (ctx_bootstrap_tls(cfg, h) != 0)
			goto out;
	}
	rc = 0;
out:
	if (st != NULL)
		store_close(st);
	hsm_close(h);
	return rc;
}

/* ---- open / close ---- */

int ctx_open(context *ctx, const server_config *cfg)
{
	sam_deps deps;

	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = *cfg;
	if (ctx_softhsm_env(&ctx->cfg) != 0)
		return -1;
	if (ctx_hsm_open(&ctx->cfg, &ctx->hsm) != 0)
		goto fail;
	if (store_open(ctx->cfg.store_uri, &ctx->store) != STORE_OK) {
		log_err("cannot open the store %s", ctx->cfg.store_uri);
		goto fail;
	}
	if (ca_open(ctx->hsm, ctx->cfg.ca_dir, &ctx->ca) != 0) {
		log_err("cannot open the CA in %s", ctx->cfg.ca_dir);
		goto fail;
	}
	if (tsa_new(ctx->ca, ctx->cfg.tsa_policy, &ctx->tsa) != 0) {
		log_err("cannot set up the TSA");
		goto fail;
	}
	deps.hsm = ctx->hsm;
	deps.store = ctx->store;
	deps.policy = &ctx->cfg.pol;
	if (sam_new(&deps, &ctx->sam) != 0) {
		log_err("cannot set up the SAM");
		goto fail;
	}
	sam_set_tsa(ctx->sam, ctx->tsa);
	return 0;
fail:
	ctx_close(ctx);
	return -1;
}

void ctx_close(context *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->sam != NULL)
		sam_free(ctx->sam);
	if (ctx->tsa != NULL)
		tsa_free(ctx->tsa);
	if (ctx->ca != NULL)
		ca_free(ctx->ca);
	if (ctx->store != NULL)
		store_close(ctx->store);
	if (ctx->hsm != NULL)
		hsm_close(ctx->hsm);
	ctx->sam = NULL;
	ctx->tsa = NULL;
	ctx->ca = NULL;
	ctx->store = NULL;
	ctx->hsm = NULL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* cisres login / logout: obtain a refresh token with auth/login (HTTP
 * Basic, rememberMe) and keep it for the PKCS#11 module; revoke it with
 * auth/revoke. */
#include "cisres.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csc_client.h"
#include "secmem.h"

#define PW_CAP 1024
#define OTP_CAP 65
#define TOKEN_CAP 4097

/* The password from --password-env, --password-file or the terminal. */
static char *get_password(const char *env, const char *file, const char *user, const char *url,
			  size_t *len, bool *interactive)
{
	char prompt[700];
	char *pw;

	*interactive = false;
	if (env != NULL) {
		const char *v = getenv(env);
		size_t n;
		if (v == NULL) {
			cisres_err("environment variable %s is not set", env);
			return NULL;
		}
		n = strlen(v);
		if (n + 1 > PW_CAP) {
			cisres_err("password too long");
			return NULL;
		}
		pw = sec_locked_alloc(PW_CAP);
		if (pw != NULL) {
			memcpy(pw, v, n);
			*len = n;
		}
		return pw;
	}
	if (file != NULL)
		return cisres_read_secret_file(file, PW_CAP, len);
	snprintf(prompt, sizeof(prompt), "Password for %s at %s: ", user, url);
	pw = cisres_tty_read(prompt, true, PW_CAP, len);
	if (pw == NULL)
		cisres_err("no terminal to ask the password (use --password-env or "
			   "--password-file)");
	*interactive = true;
	return pw;
}

/* The OTP from --otp, --otp-command or (interactive only) the terminal.
 * *len = 0 and a non-NULL buffer when there is none. */
static char *get_otp(const char *otp, const char *cmd, bool interactive, size_t *len)
{
	char *o;

	*len = 0;
	if (otp != NULL) {
		size_t n = strlen(otp);
		if (n + 1 > OTP_CAP) {
			cisres_err("one-time code too long");
			return NULL;
		}
		o = sec_locked_alloc(OTP_CAP);
		if (o != NULL) {
			memcpy(o, otp, n);
			*len = n;
		}
		return o;
	}
	if (cmd != NULL)
		return cisres_run_command(cmd, OTP_CAP, len);
	if (interactive) {
		o = cisres_tty_read("One-time code (empty if your account needs none): ", false,
				    OTP_CAP, len);
		if (o != NULL)
			return o;
	}
	return sec_locked_alloc(OTP_CAP);
}

/* Read a stored refresh token (first line). NULL when absent. */
static char *read_token(const char *path, size_t *len)
{
	char *t;

	if (access(path, F_OK) != 0)
		return NULL;
	t = cisres_read_secret_file(path, TOKEN_CAP, len);
	if (t != NULL && *len == 0) {
		sec_unlock_free(t, TOKEN_CAP);
		return NULL;
	}
	return t;
}

int cisres_login_main(int argc, char **argv)
{
	const char *server = NULL, *user = NULL, *ca = NULL, *account = NULL;
	const char *pw_env = NULL, *pw_file = NULL, *otp_arg = NULL, *otp_cmd = NULL;
	bool help = false, interactive = false;
	const cisres_opt opts[] = {
	    {"--server", true, &server, NULL},	     {"--user", true, &user, NULL},
	    {"--ca-file", true, &ca, NULL},	     {"--account", true, &account, NULL},
	    {"--password-env", true, &pw_env, NULL}, {"--password-file", true, &pw_file, NULL},
	    {"--otp", true, &otp_arg, NULL},	     {"--otp-command", true, &otp_cmd, NULL},
	    {"--help", false, NULL, &help},	     {NULL, false, NULL, NULL},
	};
	cisres_config cfg;
	const cisres_account *old;
	char *pw = NULL, *otp = NULL, *both = NULL, *ca_abs = NULL, *token_file = NULL;
	char *old_tok = NULL, *url = NULL;
	size_t pw_len = 0, otp_len = 0, both_len = 0, old_len = 0;
	csc_client *cli = NULL;
	csc_tokens tok = {0};
	csc_status st;
	char why[400];
	int rc;

	rc = cisres_parse_opts(argc, argv, opts);
	if (rc != CISRES_OK)
		return rc;
	if (help)
		return cisres_usage_err("login: help");
	if (pw_env != NULL && pw_file != NULL)
		return cisres_usage_err("--password-env and --password-file exclude each other");
	if (otp_arg != NULL && otp_cmd != NULL)
		return cisres_usage_err("--otp and --otp-command exclude each other");
	if (cisres_conf_read(&cfg) != 0)
		return CISRES_FAIL;
	rc = CISRES_FAIL;
	if (account == NULL)
		account = user;
	old = cisres_conf_find(&cfg, account);
	if (server == NULL && old != NULL)
		server = old->url;
	if (user == NULL && old != NULL)
		user = old->user;
	if (account == NULL)
		account = user;
	if (server == NULL || user == NULL) {
		cisres_conf_free(&cfg);
		return cisres_usage_err("login needs --server URL and --user USER");
	}
	if (!cisres_conf_name_ok(account)) {
		cisres_conf_free(&cfg);
		return cisres_usage_err("invalid account name '%s' (letters, digits, _ . -)",
					account);
	}
	if (ca != NULL) {
		ca_abs = realpath(ca, NULL);
		if (ca_abs == NULL) {
			cisres_err("CA file %s: %s", ca, strerror(errno));
			goto out;
		}
	} else if (old != NULL && old->ca_file != NULL) {
		ca_abs = strdup(old->ca_file);
	}
	url = strdup(server);
	if (url == NULL)
		goto out;
	while (strlen(url) > 0 && url[strlen(url) - 1] == '/')
		url[strlen(url) - 1] = '\0';
	cli = csc_client_new(url, ca_abs, 0);
	if (cli == NULL) {
		cisres_err("invalid service URL '%s' (https://host:port expected)", url);
		goto out;
	}
	pw = get_password(pw_env, pw_file, user, url, &pw_len, &interactive);
	if (pw == NULL)
		goto out;
	otp = get_otp(otp_arg, otp_cmd, interactive, &otp_len);
	if (otp == NULL)
		goto out;
	/* An account that needs an OTP at login takes it appended to the password. */
	both_len = pw_len + otp_len;
	both = sec_locked_alloc(both_len + 1);
	if (both == NULL)
		goto out;
	memcpy(both, pw, pw_len);
	memcpy(both + pw_len, otp, otp_len);
	if (csc_auth_login_password(cli, user, both, both_len, true, &tok, &st) != CSC_OK) {
		cisres_err("login to %s failed: %s", url, csc_status_str(&st, why, sizeof(why)));
		goto out;
	}
	if (tok.refresh_token == NULL) {
		cisres_err("the service issued no refresh token (rememberMe refused)");
		goto out;
	}
	token_file =
	    old != NULL ? strdup(old->token_file) : cisres_conf_default_token_file(account);
	if (token_file == NULL)
		goto out;
	old_tok = read_token(token_file, &old_len);
	{
		char *data = sec_locked_alloc(tok.refresh_len + 2);
		int w;
		if (data == NULL)
			goto out;
		memcpy(data, tok.refresh_token, tok.refresh_len);
		data[tok.refresh_len] = '\n';
		w = cisres_conf_write_atomic(token_file, data, tok.refresh_len + 1);
		sec_unlock_free(data, tok.refresh_len + 2);
		if (w != 0)
			goto out;
	}
	if (cisres_conf_update_account(NULL, account, url, user, ca_abs) != 0)
		goto out;
	/* Best effort: the previous refresh token of this account is no longer used. */
	if (old_tok != NULL && !sec_streq(old_tok, old_len, tok.refresh_token, tok.refresh_len))
		(void)csc_auth_revoke(cli, old_tok, old_len, "refresh_token", &st);
	printf("Logged in as %s at %s.\n", user, url);
	printf("Account '%s': refresh token stored in %s.\n", account, token_file);
	rc = CISRES_OK;
out:
	if (pw != NULL)
		sec_unlock_free(pw, PW_CAP);
	if (otp != NULL)
		sec_unlock_free(otp, OTP_CAP);
	if (both != NULL)
		sec_unlock_free(both, both_len + 1);
	if (old_tok != NULL)
		sec_unlock_free(old_tok, TOKEN_CAP);
	csc_tokens_free(&tok);
	csc_client_free(cli);
	free(ca_abs);
	free(url);
	free(token_file);
	cisres_conf_free(&cfg);
	return rc;
}

static const cisres_account *pick_account(const cisres_config *cfg, const char *name)
{
	const cisres_account *a;

	if (name != NULL) {
		a = cisres_conf_find(cfg, name);
		if (a == NULL)
			cisres_err("no account '%s' in %s", name, cfg->path);
		return a;
	}
	if (cfg->n == 1)
		return &cfg->acc[0];
	if (cfg->n == 0)
		cisres_err("no account configured in %s", cfg->path);
	else
		cisres_err("several accounts configured: choose one with --account NAME");
	return NULL;
}

int cisres_logout_main(int argc, char **argv)
{
	const char *account = NULL;
	bool help = false;
	const cisres_opt opts[] = {
	    {"--account", true, &account, NULL},
	    {"--help", false, NULL, &help},
	    {NULL, false, NULL, NULL},
	};
	cisres_config cfg;
	const cisres_account *a;
	csc_client *cli = NULL;
	csc_status st;
	char why[400];
	char *tok = NULL, *cache = NULL;
	size_t tok_len = 0;
	int rc;

	rc = cisres_parse_opts(argc, argv, opts);
	if (rc != CISRES_OK)
		return rc;
	if (help)
		return cisres_usage_err("logout: help");
	if (cisres_conf_read(&cfg) != 0)
		return CISRES_FAIL;
	a = pick_account(&cfg, account);
	if (a == NULL) {
		cisres_conf_free(&cfg);
		return CISRES_FAIL;
	}
	rc = CISRES_OK;
	tok = read_token(a->token_file, &tok_len);
	if (tok == NULL) {
		printf("Account '%s' is not logged in (no %s).\n", a->name, a->token_file);
	} else {
		cli = a->url != NULL ? csc_client_new(a->url, a->ca_file, 0) : NULL;
		if (cli == NULL || csc_client_set_refresh_token(cli, tok, tok_len) != 0) {
			cisres_err("account '%s': invalid url in the configuration", a->name);
			rc = CISRES_FAIL;
		} else if (csc_auth_revoke(cli, tok, tok_len, "refresh_token", &st) != CSC_OK) {
			if (st.rc == CSC_ERR_NOAUTH || (st.rc == CSC_ERR_HTTP && st.http < 500)) {
				/* Already invalid at the service: nothing left to revoke. */
				printf("The refresh token was no longer valid at the service.\n");
			} else {
				cisres_err(
				    "could not revoke the refresh token at %s: %s; deleting it "
				    "locally anyway",
				    a->url, csc_status_str(&st, why, sizeof(why)));
				rc = CISRES_FAIL;
			}
		}
		if (unlink(a->token_file) != 0 && errno != ENOENT) {
			cisres_err("cannot delete %s: %s", a->token_file, strerror(errno));
			rc = CISRES_FAIL;
		}
	}
	/* The module's cached credential list of this account goes too. */
	if (asprintf(&cache, "%s/%s.json", cfg.cache_dir, a->name) > 0) {
		(void)unlink(cache);
		free(cache);
	}
	if (rc == CISRES_OK && tok != NULL)
		printf("Logged out of account '%s'.\n", a->name);
	if (tok != NULL)
		sec_unlock_free(tok, TOKEN_CAP);
	csc_client_free(cli);
	cisres_conf_free(&cfg);
	return rc;
}

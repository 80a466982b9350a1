/* SPDX-License-Identifier: Apache-2.0 */
/* cisres: the user CLI. Private interface between main/dispatch (cisres.c)
 * and the commands (cisres_login.c: login, logout; cisres_status.c: status),
 * the configuration file (cisres_conf.c) and secret input/storage
 * (cisres_secret.c). */
#ifndef CISRES_CISRES_H
#define CISRES_CISRES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Exit codes. */
#define CISRES_OK 0
#define CISRES_FAIL 1
#define CISRES_USAGE 2

/* ---- cisres.c ---- */
void cisres_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cisres_usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

typedef struct {
	const char *name; /* "--user" */
	bool takes_value;
	const char **value; /* takes_value: "--x v" or "--x=v" */
	bool *flag;	    /* !takes_value */
} cisres_opt;

/* Options only (no positional words). CISRES_OK or CISRES_USAGE (printed). */
int cisres_parse_opts(int argc, char **argv, const cisres_opt *opts);

/* ---- cisres_conf.c: ~/.config/cisres/pkcs11.conf ---- */
typedef struct {
	char *name;
	char *url;
	char *user;
	char *ca_file;
	char *token_file; /* configured, or the default */
} cisres_account;

typedef struct {
	char *path; /* the file used (may not exist yet) */
	bool exists;
	char *cache_dir;
	cisres_account *acc;
	size_t n;
} cisres_config;

/* Read the configuration the module would read (same search order). A
 * missing file gives zero accounts. 0, or -1 (message printed). */
int cisres_conf_read(cisres_config *out);
void cisres_conf_free(cisres_config *c);
const cisres_account *cisres_conf_find(const cisres_config *c, const char *name);
/* Create or update the [account NAME] section (url, user and ca_file when
 * not NULL; other keys and comments kept) of path, or when path is NULL of
 * $CISRES_PKCS11_CONF, else $XDG_CONFIG_HOME/cisres/pkcs11.conf; atomically,
 * mode 0600, parent directory created 0700. 0 or -1 (message printed). */
int cisres_conf_update_account(const char *path, const char *name, const char *url,
			       const char *user, const char *ca_file);
/* $XDG_CONFIG_HOME/cisres/tokens/NAME.token (malloc'd). */
char *cisres_conf_default_token_file(const char *name);
/* Account names: [A-Za-z0-9_.-]{1,63}. */
bool cisres_conf_name_ok(const char *name);
/* mkdir -p with mode 0700 for created directories, of the parent of path. */
int cisres_conf_mkdir_parent(const char *path);
/* Write data to path atomically (temporary file + rename), mode 0600. */
int cisres_conf_write_atomic(const char *path, const char *data, size_t len);

/* ---- cisres_secret.c ---- */
/* Read a line from the terminal, echo off when secret. The answer is
 * locked memory of cap bytes (free with sec_unlock_free(p, cap)); NULL when
 * there is no terminal or on EOF. */
char *cisres_tty_read(const char *prompt, bool secret, size_t cap, size_t *len);
bool cisres_have_tty(void);
/* The first line of a file (without the newline), locked memory of cap
 * bytes. NULL on error (printed). */
char *cisres_read_secret_file(const char *path, size_t cap, size_t *len);
/* Run "/bin/sh -c cmd" and take the first line of its output (<= 64 bytes). */
char *cisres_run_command(const char *cmd, size_t cap, size_t *len);

/* ---- commands ---- */
int cisres_login_main(int argc, char **argv);
int cisres_logout_main(int argc, char **argv);
int cisres_status_main(int argc, char **argv);

#endif

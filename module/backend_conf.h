/* SPDX-License-Identifier: Apache-2.0 */
/* The module configuration file: [module] settings and one [account NAME]
 * per slot. See docs/module-config.md. */
#ifndef CISRES_BACKEND_CONF_H
#define CISRES_BACKEND_CONF_H

#include <stdbool.h>
#include <stddef.h>

#define BACKEND_CONF_NAME_MAX 64

typedef struct {
	char name[BACKEND_CONF_NAME_MAX]; /* NAME of [account NAME] */
	char url[512];			  /* service base, no trailing '/' */
	char user[128];
	char label[33];	 /* token label (default "CISRES <user>") */
	char serial[17]; /* first 16 hex of SHA-256(url "\n" user) */
	char *ca_file;	 /* NULL: system store */
	char *token_file;
	char *otp_command;
	char *pin_command;
	char *prompt; /* pinentry-protocol program (+ arguments) */
	bool module_prompt;
} backend_conf_account;

typedef struct {
	char *path; /* the file read, NULL when none */
	bool debug;
	char *debug_categories; /* NULL: none */
	char *log_file;
	char *cache_dir;
	long refresh_interval; /* seconds */
	long timeout;	       /* seconds */
	backend_conf_account *accounts;
	size_t n_accounts;
} backend_conf;

/* Find and read the configuration. A missing file, or one refused
 * (writable by group/others, not ours) gives zero accounts and 0 (logged).
 * -1 only on allocation failure or a file that cannot be parsed. */
int backend_conf_load(backend_conf *out);
void backend_conf_free(backend_conf *c);

/* The configuration file path that would be used (malloc'd), following
 * $CISRES_PKCS11_CONF, $XDG_CONFIG_HOME/cisres/pkcs11.conf (~/.config),
 * /etc/cisres/pkcs11.conf: the first that exists, else the user one. */
char *backend_conf_path(void);
/* Token serial: first 16 hex characters of SHA-256(url "\n" user). */
void backend_conf_serial(const char *url, const char *user, char out[17]);

#endif

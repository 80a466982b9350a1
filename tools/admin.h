/* SPDX-License-Identifier: Apache-2.0 */
/* cisres-admin: the operator CLI. Private interface between main/dispatch
 * (admin.c) and the command groups (admin_user.c, admin_credential.c,
 * admin_audit.c), the option parser (admin_opt.c), secret input
 * (admin_secret.c) and the terminal QR code (admin_qr.c). */
#ifndef CISRES_ADMIN_H
#define CISRES_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "context.h"
#include "store/store.h"

/* Exit codes. */
#define ADMIN_OK 0
#define ADMIN_FAIL 1
#define ADMIN_USAGE 2

#define ADMIN_ACTOR_MAX 128

/* What every command gets: the configuration (defaults + --config), the
 * audit actor "admin:<OS login name>" and, once opened, the service state. */
typedef struct {
	server_config cfg;
	char actor[ADMIN_ACTOR_MAX];
	const char *config_path; /* NULL unless --config */
	context ctx;		 /* ctx_open'ed by admin_open_full */
	bool ctx_open;
	store *store; /* store alone (admin_open_store) or ctx.store */
	bool store_owned;
} admin_env;

/* ---- state access (admin.c) ---- */
/* Open the store only (users, audit). 0 or -1 (message printed). */
int admin_open_store(admin_env *env);
/* Open store, HSM, CA and SAM (credentials). 0 or -1 (message printed). */
int admin_open_full(admin_env *env);
void admin_close(admin_env *env);
/* Print "cisres-admin: <message>" on stderr. */
void admin_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a usage error and the usage of the given command group; returns
 * ADMIN_USAGE. */
int admin_usage_err(const char *group, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- option parsing (admin_opt.c) ---- */
typedef enum { ADMIN_OPT_FLAG, ADMIN_OPT_STR } admin_opt_kind;

typedef struct {
	const char *name; /* "--display" */
	admin_opt_kind kind;
	bool *flag;	  /* ADMIN_OPT_FLAG: set to true */
	const char **str; /* ADMIN_OPT_STR: the value ("--x v" or "--x=v") */
} admin_opt;

/* Parse argv[0..argc) against opts (terminated by a NULL name): options may
 * come anywhere, "--" ends them; the remaining words go to pos[] (at most
 * npos_max, counted in *npos). An unknown option, a missing value, a repeated
 * value option or too many words prints a message and returns -1. */
int admin_opt_parse(int argc, char **argv, const admin_opt *opts, const char **pos, size_t npos_max,
		    size_t *npos);
/* Parse a decimal integer in [min, max]; 0 or -1. */
int admin_opt_int(const char *s, long min, long max, long *out);

/* ---- secrets (admin_secret.c) ---- */
typedef struct {
	char *buf; /* locked memory, NUL-terminated */
	size_t len;
	size_t cap;
	bool generated; /* made up here: the operator must hand it over */
} admin_secret;

/* Read a secret from exactly one of file (first line), environment variable
 * or standard input (first line). All NULL/false: *given = false and
 * nothing is read. 0 or -1 (message printed). Lengths outside
 * [min_len, max_len] are refused. */
int admin_secret_read(admin_secret *s, const char *what, const char *file, const char *env,
		      bool use_stdin, size_t min_len, size_t max_len, bool *given);
/* Prompt twice on the terminal with echo off (stdin must be a tty). */
int admin_secret_prompt(admin_secret *s, const char *what, size_t min_len, size_t max_len);
/* A random password: 20 characters from an unambiguous alphabet. */
int admin_secret_gen_password(admin_secret *s);
/* A random numeric PIN of n digits. */
int admin_secret_gen_pin(admin_secret *s, size_t n);
/* Zero and free. Safe on a zeroed struct. */
void admin_secret_clear(admin_secret *s);

/* ---- QR code (admin_qr.c) ---- */
/* Draw text as a QR code on f with UTF-8 half blocks and a quiet zone;
 * ANSI colours (black on white) when color is true. 0 or -1. */
int admin_qr_print(FILE *f, const char *text, bool color);

/* ---- audit (admin_audit.c) ---- */
/* audit_log with the operator as actor; prints a message on failure.
 * 0 or -1 (the caller must then fail the command). */
int admin_audit_record(admin_env *env, const char *action, const char *object, const char *outcome,
		       const char *detail);
/* UTC time of a unix timestamp in microseconds: 2024-05-01T12:00:00.000000Z */
void admin_audit_fmt_time(int64_t time_us, char *out, size_t cap);

/* ---- users (admin_user.c) ---- */
/* A valid login name: 1..63 of [A-Za-z0-9._@-], starting with a letter or
 * digit. */
bool admin_user_name_ok(const char *name);
/* Look a user up by name (store open); 0, or -1 with a message. The caller
 * zeroes *u with admin_user_wipe when done (it holds the password hash and
 * the TOTP seed). */
int admin_user_find(admin_env *env, const char *name, store_user *u);
void admin_user_wipe(store_user *u);

/* ---- command groups ---- */
int admin_user_main(admin_env *env, int argc, char **argv);
int admin_credential_main(admin_env *env, int argc, char **argv);
int admin_audit_main(admin_env *env, int argc, char **argv);

/* Usage texts (admin.c). */
void admin_usage(FILE *f, const char *group);

#endif

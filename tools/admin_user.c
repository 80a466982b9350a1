/* SPDX-License-Identifier: Apache-2.0 */
/* cisres-admin user: signers — add (password + TOTP enrolment), list, del,
 * passwd, unlock. Every change is written to the audit log. */
#include "admin.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "b64.h"
#include "json.h"
#include "kdf.h"
#include "sam.h"
#include "secmem.h"
#include "totp.h"

#define PASSWORD_MIN 8
#define PASSWORD_MAX 256
#define TOTP_KEY_LEN 20
#define TOTP_ISSUER "CISRES"

bool admin_user_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= STORE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-' && c != '@')))
			return false;
	}
	return true;
}

/* Display name: 1..255 bytes, no control characters (UTF-8 allowed). */
static bool display_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= STORE_TEXT_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return s[0] != ' ' && s[n - 1] != ' ';
}

/* E-mail address (IA5String in the certificate): printable ASCII without
 * spaces or <>", one '@' with text on both sides. */
static bool email_ok(const char *s)
{
	size_t n = strlen(s), at = 0, nat = 0;

	if (n < 3 || n >= STORE_TEXT_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '\\' ||
		    c == ',')
			return false;
		if (c == '@') {
			at = i;
			nat++;
		}
	}
	return nat == 1 && at > 0 && at < n - 1;
}

void admin_user_wipe(store_user *u)
{
	sec_zero(u, sizeof(*u));
}

int admin_user_find(admin_env *env, const char *name, store_user *u)
{
	memset(u, 0, sizeof(*u));
	if (!admin_user_name_ok(name)) {
		admin_err("invalid user name '%s'", name);
		return -1;
	}
	int rc = store_user_get(env->store, name, u);
	if (rc == STORE_NOTFOUND) {
		admin_err("no user '%s'", name);
		return -1;
	}
	if (rc != STORE_OK) {
		admin_err("cannot read user '%s' from the store", name);
		return -1;
	}
	return 0;
}

static void user_object(const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "user:%s", name);
}

/* Read the password from the given source; none given: generate one, or
 * with prompt_tty prompt for it when stdin is a terminal. */
static int password_get(admin_secret *pw, const char *file, const char *env_var, bool use_stdin,
			bool prompt_tty)
{
	bool given = false;

	if (admin_secret_read(pw, "password", file, env_var, use_stdin, PASSWORD_MIN, PASSWORD_MAX,
			      &given) != 0)
		return -1;
	if (given)
		return 0;
	if (prompt_tty && isatty(STDIN_FILENO))
		return admin_secret_prompt(pw, "password", PASSWORD_MIN, PASSWORD_MAX);
	return admin_secret_gen_password(pw);
}

/* ---- user add ---- */

static char *add_detail(const store_user *u, bool totp, bool generated)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o != NULL && json_add_string(o, "display", u->display) &&
	    (u->email[0] == '\0' || json_add_string(o, "email", u->email)) &&
	    json_add_bool(o, "totp", totp) && json_add_bool(o, "login_otp", u->login_otp) &&
	    json_add_string(o, "password", generated ? "generated" : "set"))
		s = json_print(o);
	cJSON_Delete(o);
	return s;
}

static int cmd_add(admin_env *env, int argc, char **argv)
{
	const char *display = NULL, *email = NULL, *pw_file = NULL, *pw_env = NULL;
	bool pw_stdin = false, login_otp = false, no_otp = false, qr = false, help = false;
	const admin_opt opts[] = {
	    {"--display", ADMIN_OPT_STR, NULL, &display},
	    {"--email", ADMIN_OPT_STR, NULL, &email},
	    {"--password-file", ADMIN_OPT_STR, NULL, &pw_file},
	    {"--password-env", ADMIN_OPT_STR, NULL, &pw_env},
	    {"--password-stdin", ADMIN_OPT_FLAG, &pw_stdin, NULL},
	    {"--login-otp", ADMIN_OPT_FLAG, &login_otp, NULL},
	    {"--no-otp", ADMIN_OPT_FLAG, &no_otp, NULL},
	    {"--qr", ADMIN_OPT_FLAG, &qr, NULL},
	    {"--help", ADMIN_OPT_FLAG, &help, NULL},
	    {NULL, ADMIN_OPT_FLAG, NULL, NULL},
	};
	const char *pos[1];
	size_t npos;
	admin_secret pw = {0};
	store_user u;
	char object[STORE_TEXT_MAX];
	char *b32 = NULL, *uri = NULL, *detail = NULL;
	uint8_t seed[TOTP_KEY_LEN] = {0};
	size_t seedlen = 0;
	int ret = ADMIN_FAIL;

	if (admin_opt_parse(argc, argv, opts, pos, 1, &npos) != 0)
		return admin_usage_err("user", "bad arguments to 'user add'");
	if (help) {
		admin_usage(stdout, "user");
		return ADMIN_OK;
	}
	if (npos != 1)
		return admin_usage_err("user", "user add: NAME required");
	if (display == NULL)
		return admin_usage_err("user", "user add: --display required");
	if (login_otp && no_otp)
		return admin_usage_err("user", "--login-otp needs a TOTP secret (not --no-otp)");
	const char *name = pos[0];
	if (!admin_user_name_ok(name)) {
		admin_err("invalid user name '%s' (1-63 of A-Z a-z 0-9 . _ - @, starting with a "
			  "letter or digit)",
			  name);
		return ADMIN_USAGE;
	}
	if (!display_ok(display)) {
		admin_err("invalid display name (1-255 bytes, no control characters, no "
			  "leading or trailing space)");
		return ADMIN_USAGE;
	}
	if (email != NULL && !email_ok(email)) {
		admin_err("invalid e-mail address '%s'", email);
		return ADMIN_USAGE;
	}

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	snprintf(u.display, sizeof(u.display), "%s", display);
	if (email != NULL)
		snprintf(u.email, sizeof(u.email), "%s", email);
	u.login_otp = login_otp;
	u.created = (int64_t)time(NULL);
	user_object(name, object, sizeof(object));

	if (password_get(&pw, pw_file, pw_env, pw_stdin, false) != 0)
		goto out;
	/* A TOTP seed is sealed under the HSM factor key by the SAM: that needs
	 * the HSM (a local SAM, ctx_open). */
	if ((no_otp ? admin_open_store(env) : admin_open_full(env)) != 0)
		goto out;
	store_user existing;
	int grc = store_user_get(env->store, name, &existing);
	admin_user_wipe(&existing);
	if (grc == STORE_OK) {
		admin_err("user '%s' exists already", name);
		goto out;
	}
	if (kdf_hash(pw.buf, pw.len, env->cfg.pol.kdf_log_n, u.pw_hash, sizeof(u.pw_hash)) != 0) {
		admin_err("cannot hash the password");
		goto out;
	}
	if (!no_otp) {
		if (sec_random(seed, TOTP_KEY_LEN) != 0) {
			admin_err("random generator failure");
			goto out;
		}
		seedlen = TOTP_KEY_LEN;
		b32 = b32_encode(seed, seedlen);
		uri = totp_uri(TOTP_ISSUER, name, seed, seedlen);
		if (b32 == NULL || uri == NULL) {
			admin_err("cannot encode the TOTP secret");
			goto out;
		}
	}
	detail = add_detail(&u, seedlen > 0, pw.generated);
	int rc = store_user_add(env->store, &u);
	if (rc != STORE_OK) {
		admin_err(rc == STORE_EXISTS ? "user '%s' exists already"
					     : "cannot store user '%s'",
			  name);
		admin_audit_record(env, "user.add", object, "failure",
				   rc == STORE_EXISTS ? "exists" : "store error");
		goto out;
	}
	if (seedlen > 0) {
		sam_status st = sam_user_set_otp(env->ctx.sam, u.id, seed, seedlen, env->actor);

		if (st != SAM_OK) {
			admin_err("cannot store the TOTP secret of '%s' (%s)", name,
				  sam_status_name(st));
			(void)store_user_del(env->store, u.id);
			admin_audit_record(env, "user.add", object, "failure", "otp sealing");
			goto out;
		}
	}
	if (admin_audit_record(env, "user.add", object, "success", detail) != 0)
		goto out;

	printf("user: %s\n", name);
	if (pw.generated)
		printf("password: %s\n", pw.buf);
	if (uri != NULL) {
		printf("totp-secret: %s\n", b32);
		printf("otpauth: %s\n", uri);
		bool tty = isatty(STDOUT_FILENO) != 0;
		if (tty || qr) {
			fflush(stdout);
			if (admin_qr_print(stdout, uri, tty) != 0)
				goto out;
		}
	}
	ret = ADMIN_OK;
out:
	fflush(stdout);
	admin_secret_clear(&pw);
	admin_user_wipe(&u);
	sec_zero(seed, sizeof(seed));
	sec_strfree(b32);
	sec_strfree(uri);
	cJSON_free(detail);
	return ret;
}

/* ---- user list ---- */

static int cmd_list(admin_env *env, int argc, char **argv)
{
	const char *pos[1];
	size_t npos, nu = 0, nc = 0;
	bool help = false;
	const admin_opt opts[] = {
	    {"--help", ADMIN_OPT_FLAG, &help, NULL},
	    {NULL, ADMIN_OPT_FLAG, NULL, NULL},
	};
	store_user *users = NULL;
	store_credential *creds = NULL;
	int ret = ADMIN_FAIL;

	if (admin_opt_parse(argc, argv, opts, pos, 0, &npos) != 0)
		return admin_usage_err("user", "'user list' takes no arguments");
	if (help) {
		admin_usage(stdout, "user");
		return ADMIN_OK;
	}
	if (admin_open_store(env) != 0)
		return ADMIN_FAIL;
	if (store_user_list(env->store, &users, &nu) != STORE_OK) {
		admin_err("cannot list the users");
		return ADMIN_FAIL;
	}
	if (store_cred_list(env->store, 0, &creds, &nc) != STORE_OK) {
		admin_err("cannot list the credentials");
		goto out;
	}
	if (isatty(STDOUT_FILENO))
		printf("NAME\tDISPLAY\tSTATE\tCREDENTIALS\n");
	for (size_t i = 0; i < nu; i++) {
		size_t count = 0;
		for (size_t j = 0; j < nc; j++)
			count += creds[j].user_id == users[i].id;
		printf("%s\t%s\t%s\t%zu\n", users[i].name, users[i].display,
		       users[i].locked ? "locked" : "unlocked", count);
	}
	ret = ADMIN_OK;
out:
	if (users != NULL)
		sec_free(users, nu * sizeof(*users));
	store_cred_list_free(creds, nc);
	return ret;
}

/* ---- user del ---- */

static int cmd_del(admin_env *env, int argc, char **argv)
{
	const char *pos[1];
	size_t npos, nc = 0;
	bool force = false, help = false;
	const admin_opt opts[] = {
	    {"--force", ADMIN_OPT_FLAG, &force, NULL},
	    {"--help", ADMIN_OPT_FLAG, &help, NULL},
	    {NULL, ADMIN_OPT_FLAG, NULL, NULL},
	};
	store_user u;
	store_credential *creds = NULL;
	char object[STORE_TEXT_MAX];
	int ret = ADMIN_FAIL;

	if (admin_opt_parse(argc, argv, opts, pos, 1, &npos) != 0)
		return admin_usage_err("user", "bad arguments to 'user del'");
	if (help) {
		admin_usage(stdout, "user");
		return ADMIN_OK;
	}
	if (npos != 1)
		return admin_usage_err("user", "user del: NAME required");
	if (admin_open_store(env) != 0 || admin_user_find(env, pos[0], &u) != 0)
		return ADMIN_FAIL;
	user_object(u.name, object, sizeof(object));
	if (store_cred_list(env->store, u.id, &creds, &nc) != STORE_OK) {
		admin_err("cannot list the credentials of '%s'", u.name);
		goto out;
	}
	if (nc > 0 && !force) {
		admin_err("user '%s' has %zu credential(s); delete them first or use --force",
			  u.name, nc);
		goto out;
	}
	if (nc > 0) {
		/* The SAM destroys the keys in the HSM and audits each. */
		if (admin_open_full(env) != 0)
			goto out;
		for (size_t i = 0; i < nc; i++) {
			sam_status st = sam_key_destroy(env->ctx.sam, creds[i].id, env->actor);
			if (st != SAM_OK) {
				admin_err("cannot destroy credential %s: %s", creds[i].id,
					  sam_status_name(st));
				goto out;
			}
			printf("destroyed: %s\n", creds[i].id);
		}
	}
	int rc = store_user_del(env->store, u.id);
	if (rc != STORE_OK) {
		admin_err("cannot delete user '%s'", u.name);
		admin_audit_record(env, "user.del", object, "failure", "store error");
		goto out;
	}
	char detail[64];
	snprintf(detail, sizeof(detail), "{\"credentials_destroyed\":%zu}", nc);
	if (admin_audit_record(env, "user.del", object, "success", detail) != 0)
		goto out;
	printf("deleted: %s\n", u.name);
	ret = ADMIN_OK;
out:
	store_cred_list_free(creds, nc);
	admin_user_wipe(&u);
	return ret;
}

/* ---- user passwd ---- */

static int cmd_passwd(admin_env *env, int argc, char **argv)
{
	const char *pw_file = NULL, *pw_env = NULL;
	bool pw_stdin = false, help = false;
	const admin_opt opts[] = {
	    {"--password-file", ADMIN_OPT_STR, NULL, &pw_file},
	    {"--password-env", ADMIN_OPT_STR, NULL, &pw_env},
	    {"--password-stdin", ADMIN_OPT_FLAG, &pw_stdin, NULL},
	    {"--help", ADMIN_OPT_FLAG, &help, NULL},
	    {NULL, ADMIN_OPT_FLAG, NULL, NULL},
	};
	const char *pos[1];
	size_t npos;
	admin_secret pw = {0};
	store_user u;
	char object[STORE_TEXT_MAX];
	char hash[STORE_HASH_MAX];
	int ret = ADMIN_FAIL;

	if (admin_opt_parse(argc, argv, opts, pos, 1, &npos) != 0)
		return admin_usage_err("user", "bad arguments to 'user passwd'");
	if (help) {
		admin_usage(stdout, "user");
		return ADMIN_OK;
	}
	if (npos != 1)
		return admin_usage_err("user", "user passwd: NAME required");
	memset(&u, 0, sizeof(u));
	/* Full: a new password also clears the failure count, kept in the HSM. */
	if (admin_open_full(env) != 0 || admin_user_find(env, pos[0], &u) != 0)
		goto out;
	if (password_get(&pw, pw_file, pw_env, pw_stdin, true) != 0)
		goto out;
	user_object(u.name, object, sizeof(object));
	if (kdf_hash(pw.buf, pw.len, env->cfg.pol.kdf_log_n, hash, sizeof(hash)) != 0) {
		admin_err("cannot hash the password");
		goto out;
	}
	if (store_user_set_password(env->store, u.id, hash) != STORE_OK ||
	    store_user_reset_failures(env->store, u.id) != STORE_OK ||
	    sam_user_unblock(env->ctx.sam, u.id) != SAM_OK) {
		admin_err("cannot store the new password of '%s'", u.name);
		admin_audit_record(env, "user.passwd", object, "failure", "store error");
		goto out;
	}
	if (admin_audit_record(env, "user.passwd", object, "success",
			       pw.generated ? "generated" : "set") != 0)
		goto out;
	printf("user: %s\n", u.name);
	if (pw.generated)
		printf("password: %s\n", pw.buf);
	ret = ADMIN_OK;
out:
	fflush(stdout);
	sec_zero(hash, sizeof(hash));
	admin_secret_clear(&pw);
	admin_user_wipe(&u);
	return ret;
}

/* ---- user unlock ---- */

static int cmd_unlock(admin_env *env, int argc, char **argv)
{
	const char *pos[1];
	size_t npos;
	bool help = false;
	const admin_opt opts[] = {
	    {"--help", ADMIN_OPT_FLAG, &help, NULL},
	    {NULL, ADMIN_OPT_FLAG, NULL, NULL},
	};
	store_user u;
	char object[STORE_TEXT_MAX];
	int ret = ADMIN_FAIL;

	if (admin_opt_parse(argc, argv, opts, pos, 1, &npos) != 0)
		return admin_usage_err("user", "bad arguments to 'user unlock'");
	if (help) {
		admin_usage(stdout, "user");
		return ADMIN_OK;
	}
	if (npos != 1)
		return admin_usage_err("user", "user unlock: NAME required");
	if (admin_open_full(env) != 0 || admin_user_find(env, pos[0], &u) != 0)
		return ADMIN_FAIL;
	user_object(u.name, object, sizeof(object));
	bool was_locked = u.locked;
	/* The count lives in the HSM: the SAM resets it. */
	if (sam_user_unblock(env->ctx.sam, u.id) != SAM_OK) {
		admin_err("cannot unlock user '%s'", u.name);
		admin_audit_record(env, "user.unlock", object, "failure", "store error");
		goto out;
	}
	if (admin_audit_record(env, "user.unlock", object, "success",
			       was_locked ? "was locked" : "was not locked") != 0)
		goto out;
	printf("unlocked: %s\n", u.name);
	ret = ADMIN_OK;
out:
	admin_user_wipe(&u);
	return ret;
}

int admin_user_main(admin_env *env, int argc, char **argv)
{
	if (argc < 1)
		return admin_usage_err("user", "user: which command?");
	const char *cmd = argv[0];
	argc--;
	argv++;
	if (strcmp(cmd, "add") == 0)
		return cmd_add(env, argc, argv);
	if (strcmp(cmd, "list") == 0)
		return cmd_list(env, argc, argv);
	if (strcmp(cmd, "del") == 0)
		return cmd_del(env, argc, argv);
	if (strcmp(cmd, "passwd") == 0)
		return cmd_passwd(env, argc, argv);
	if (strcmp(cmd, "unlock") == 0)
		return cmd_unlock(env, argc, argv);
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		admin_usage(stdout, "user");
		return ADMIN_OK;
	}
	return admin_usage_err("user", "unknown user command '%s'", cmd);
}

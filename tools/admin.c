/* SPDX-License-Identifier: Apache-2.0 */
/* cisres-admin: the operator CLI of the CISRES signing service. It works
 * directly on the service's state (store + HSM) through context.h. This
 * file holds main, the global options, the dispatch to the command groups,
 * `init` and the usage texts. */
#include "admin.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"

#define ADMIN_DEFAULT_STATE_DIR "/var/lib/cisres"

void admin_err(const char *fmt, ...)
{
	va_list ap;

	fputs("cisres-admin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char usage_global[] =
    "usage: cisres-admin [--state-dir DIR | --config FILE] COMMAND ...\n"
    "\n"
    "  init                       create an empty state directory (CA, HSM token, store)\n"
    "  user ...                   manage signers (add, list, del, passwd, unlock)\n"
    "  credential ...             manage signing credentials (add, list, info, disable,\n"
    "                             enable, unlock, del, passwd)\n"
    "  audit ...                  read and verify the audit log (show, verify)\n"
    "\n"
    "Without --state-dir or --config, the state directory is $CISRES_STATE_DIR or\n"
    "" ADMIN_DEFAULT_STATE_DIR ". 'cisres-admin COMMAND --help' shows a command's options.\n";

static const char usage_user[] =
    "usage: cisres-admin user add NAME --display \"Full Name\" [--email E]\n"
    "           [--password-file F | --password-env VAR | --password-stdin]\n"
    "           [--login-otp] [--no-otp] [--qr]\n"
    "       cisres-admin user list\n"
    "       cisres-admin user del NAME [--force]\n"
    "       cisres-admin user passwd NAME [--password-file F | --password-env VAR |\n"
    "           --password-stdin]\n"
    "       cisres-admin user unlock NAME\n";

static const char usage_credential[] =
    "usage: cisres-admin credential add NAME --key ec-p256|ec-p384|rsa-2048|rsa-3072|rsa-4096\n"
    "           [--scal 1|2] [--auth pin|pin+otp] [--multisign N]\n"
    "           [--pin-file F | --pin-env VAR | --pin-stdin] [--description T] [--days N]\n"
    "       cisres-admin credential list [NAME]\n"
    "       cisres-admin credential info ID\n"
    "       cisres-admin credential disable|enable|unlock|del ID\n"
    "       cisres-admin credential passwd ID [--pin-file F | --pin-env VAR | --pin-stdin]\n";

static const char usage_audit[] = "usage: cisres-admin audit show [--from SEQ] [--json]\n"
				  "       cisres-admin audit verify\n";

void admin_usage(FILE *f, const char *group)
{
	if (group != NULL && strcmp(group, "user") == 0)
		fputs(usage_user, f);
	else if (group != NULL && strcmp(group, "credential") == 0)
		fputs(usage_credential, f);
	else if (group != NULL && strcmp(group, "audit") == 0)
		fputs(usage_audit, f);
	else
		fputs(usage_global, f);
}

int admin_usage_err(const char *group, const char *fmt, ...)
{
	va_list ap;

	fputs("cisres-admin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	admin_usage(stderr, group);
	return ADMIN_USAGE;
}

/* ---- state ---- */

/* For the SQLite store: refuse to create a fresh database by accident when
 * the state directory has not been initialised. */
static int store_present(const server_config *cfg)
{
	static const char prefix[] = "sqlite:";
	struct stat st;

	if (strncmp(cfg->store_uri, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	const char *path = cfg->store_uri + sizeof(prefix) - 1;
	if (stat(path, &st) != 0) {
		admin_err("no store at %s (%s); run 'cisres-admin init' first", path,
			  strerror(errno));
		return -1;
	}
	return 0;
}

int admin_open_store(admin_env *env)
{
	if (env->store != NULL)
		return 0;
	if (store_present(&env->cfg) != 0)
		return -1;
	if (store_open(env->cfg.store_uri, &env->store) != STORE_OK) {
		admin_err("cannot open the store %s", env->cfg.store_uri);
		env->store = NULL;
		return -1;
	}
	env->store_owned = true;
	return 0;
}

int admin_open_full(admin_env *env)
{
	if (env->ctx_open)
		return 0;
	if (env->store != NULL && env->store_owned) {
		store_close(env->store);
		env->store = NULL;
		env->store_owned = false;
	}
	if (store_present(&env->cfg) != 0)
		return -1;
	memset(&env->ctx, 0, sizeof(env->ctx));
	if (ctx_open(&env->ctx, &env->cfg) != 0) {
		admin_err("cannot open the service state (store, HSM, CA)");
		return -1;
	}
	env->ctx_open = true;
	env->store = env->ctx.store;
	env->store_owned = false;
	return 0;
}

void admin_close(admin_env *env)
{
	if (env->store != NULL && env->store_owned)
		store_close(env->store);
	env->store = NULL;
	env->store_owned = false;
	if (env->ctx_open)
		ctx_close(&env->ctx);
	env->ctx_open = false;
}

/* "admin:<login name>" of the real user running the tool. */
static void actor_init(admin_env *env)
{
	struct passwd *pw = getpwuid(getuid());

	if (pw != NULL && pw->pw_name != NULL && pw->pw_name[0] != '\0')
		snprintf(env->actor, sizeof(env->actor), "admin:%s", pw->pw_name);
	else
		snprintf(env->actor, sizeof(env->actor), "admin:uid%lu", (unsigned long)getuid());
}

/* ---- init ---- */

static int cmd_init(admin_env *env, int argc, char **argv)
{
	const char *pos[1];
	size_t npos;
	bool help = false;
	const admin_opt opts[] = {
	    {"--help", ADMIN_OPT_FLAG, &help, NULL},
	    {NULL, ADMIN_OPT_FLAG, NULL, NULL},
	};

	if (admin_opt_parse(argc, argv, opts, pos, 0, &npos) != 0)
		return admin_usage_err(NULL, "init takes no arguments");
	if (help) {
		fputs("usage: cisres-admin [--state-dir DIR | --config FILE] init\n", stdout);
		return ADMIN_OK;
	}
	if (env->cfg.state_dir[0] == '\0') {
		admin_err("init needs a state directory (--state-dir, or state_dir in the config)");
		return ADMIN_FAIL;
	}
	if (ctx_bootstrap(&env->cfg) != 0) {
		admin_err("cannot initialise %s", env->cfg.state_dir);
		return ADMIN_FAIL;
	}
	if (admin_open_store(env) != 0)
		return ADMIN_FAIL;
	if (audit_log(env->store, env->actor, "init", "state", "success", env->cfg.state_dir) !=
	    0) {
		admin_err("cannot write the audit record");
		return ADMIN_FAIL;
	}
	printf("state: %s\n", env->cfg.state_dir);
	printf("ca-chain: %s/chain.pem\n", env->cfg.ca_dir);
	return ADMIN_OK;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	admin_env env;
	const char *state_dir = NULL;
	int i = 1;
	int rc;

	memset(&env, 0, sizeof(env));
	log_init("cisres-admin", LOG_LVL_WARN, NULL);
	umask(077);

	for (; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;
		const char *val = NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			admin_usage(stdout, NULL);
			return ADMIN_OK;
		}
		if (strcmp(a, "--version") == 0) {
			printf("cisres-admin %s\n", CISRES_VERSION);
			return ADMIN_OK;
		}
		if (strncmp(a, "--state-dir", 11) == 0 && (a[11] == '\0' || a[11] == '='))
			dst = &state_dir;
		else if (strncmp(a, "--config", 8) == 0 && (a[8] == '\0' || a[8] == '='))
			dst = &env.config_path;
		else if (a[0] == '-')
			return admin_usage_err(NULL, "unknown option '%s'", a);
		else
			break;
		const char *eq = strchr(a, '=');
		if (eq != NULL) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return admin_usage_err(NULL, "option '%s' needs a value", a);
		}
		if (*dst != NULL || val[0] == '\0')
			return admin_usage_err(NULL, "option '%.*s' given twice or empty",
					       (int)(eq != NULL ? (size_t)(eq - a) : strlen(a)), a);
		*dst = val;
	}
	if (i >= argc)
		return admin_usage_err(NULL, "no command given");

	if (state_dir == NULL && env.config_path == NULL) {
		state_dir = getenv("CISRES_STATE_DIR");
		if (state_dir == NULL || state_dir[0] == '\0')
			state_dir = ADMIN_DEFAULT_STATE_DIR;
	}
	if (state_dir != NULL && strlen(state_dir) >= sizeof(env.cfg.state_dir))
		return admin_usage_err(NULL, "state directory path too long");
	config_defaults(&env.cfg, state_dir);
	if (env.config_path != NULL) {
		char err[256] = "";
		if (config_load(&env.cfg, env.config_path, err, sizeof(err)) != 0) {
			admin_err("%s: %s", env.config_path, err);
			return ADMIN_FAIL;
		}
	}
	actor_init(&env);

	const char *cmd = argv[i];
	int sub_argc = argc - i - 1;
	char **sub_argv = argv + i + 1;

	if (strcmp(cmd, "init") == 0)
		rc = cmd_init(&env, sub_argc, sub_argv);
	else if (strcmp(cmd, "user") == 0)
		rc = admin_user_main(&env, sub_argc, sub_argv);
	else if (strcmp(cmd, "credential") == 0)
		rc = admin_credential_main(&env, sub_argc, sub_argv);
	else if (strcmp(cmd, "audit") == 0)
		rc = admin_audit_main(&env, sub_argc, sub_argv);
	else if (strcmp(cmd, "help") == 0) {
		admin_usage(stdout, sub_argc > 0 ? sub_argv[0] : NULL);
		rc = ADMIN_OK;
	} else
		rc = admin_usage_err(NULL, "unknown command '%s'", cmd);

	admin_close(&env);
	if (fflush(stdout) != 0 && rc == ADMIN_OK) {
		admin_err("writing the output failed");
		rc = ADMIN_FAIL;
	}
	return rc;
}

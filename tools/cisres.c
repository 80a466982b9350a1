/* SPDX-License-Identifier: Apache-2.0 */
/* cisres: the user CLI of CISRES. Logs in to a CSC service once (password +
 * OTP) and stores a refresh token for the PKCS#11 module; shows the status
 * of the configured accounts; logs out. This file holds main, the usage,
 * option parsing and the dispatch. */
#include "cisres.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "csc_client.h"
#include "log.h"

void cisres_err(const char *fmt, ...)
{
	va_list ap;

	fputs("cisres: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char usage_text[] =
    "usage: cisres login --server URL --user USER [--ca-file FILE] [--account NAME]\n"
    "                    [--password-env VAR | --password-file FILE]\n"
    "                    [--otp CODE | --otp-command CMD]\n"
    "       cisres logout [--account NAME]\n"
    "       cisres status [--account NAME]\n"
    "       cisres --version | --help\n"
    "\n"
    "  login    authenticate to the CSC service (password, plus the one-time code of\n"
    "           your authenticator app when the account needs one), store a refresh\n"
    "           token (0600) and add the account to the PKCS#11 module configuration\n"
    "  logout   revoke the refresh token at the service and delete it\n"
    "  status   accounts, whether the service answers, and the signing credentials\n"
    "\n"
    "Without --password-env/--password-file and --otp/--otp-command, login asks on\n"
    "the terminal. Configuration: $CISRES_PKCS11_CONF, else\n"
    "$XDG_CONFIG_HOME/cisres/pkcs11.conf (see cisres(1), cisres-pkcs11.conf(5)).\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

int cisres_usage_err(const char *fmt, ...)
{
	va_list ap;

	fputs("cisres: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(usage_text, stderr);
	return CISRES_USAGE;
}

int cisres_parse_opts(int argc, char **argv, const cisres_opt *opts)
{
	int i;

	for (i = 0; i < argc; i++) {
		const char *arg = argv[i], *eq;
		const cisres_opt *o;
		size_t n;

		if (strncmp(arg, "--", 2) != 0)
			return cisres_usage_err("unexpected argument '%s'", arg);
		eq = strchr(arg, '=');
		n = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		for (o = opts; o->name != NULL; o++) {
			if (strlen(o->name) == n && strncmp(o->name, arg, n) == 0)
				break;
		}
		if (o->name == NULL)
			return cisres_usage_err("unknown option '%.*s'", (int)n, arg);
		if (!o->takes_value) {
			if (eq != NULL)
				return cisres_usage_err("option %s takes no value", o->name);
			*o->flag = true;
			continue;
		}
		if (eq != NULL) {
			*o->value = eq + 1;
		} else {
			if (i + 1 >= argc)
				return cisres_usage_err("option %s needs a value", o->name);
			*o->value = argv[++i];
		}
	}
	return CISRES_OK;
}

int main(int argc, char **argv)
{
	const char *cmd;
	const char *dbg = getenv("CISRES_DEBUG");

	log_init("cisres", dbg != NULL && dbg[0] != '\0' ? LOG_LVL_DEBUG : LOG_LVL_WARN,
		 dbg != NULL ? dbg : "");
	if (argc < 2)
		return cisres_usage_err("no command given");
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return CISRES_OK;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("cisres %s\n", CISRES_VERSION);
		return CISRES_OK;
	}
	if (csc_global_init() != 0) {
		cisres_err("libcurl initialisation failed");
		return CISRES_FAIL;
	}
	if (strcmp(cmd, "login") == 0)
		return cisres_login_main(argc - 2, argv + 2);
	if (strcmp(cmd, "logout") == 0)
		return cisres_logout_main(argc - 2, argv + 2);
	if (strcmp(cmd, "status") == 0)
		return cisres_status_main(argc - 2, argv + 2);
	return cisres_usage_err("unknown command '%s'", cmd);
}

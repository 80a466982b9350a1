/* SPDX-License-Identifier: Apache-2.0 */
/* cisres-admin audit: show and verify the hash-chained audit log; the
 * helper that audits the operator's own actions. */
#include "admin.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "b64.h"
#include "json.h"

int admin_audit_record(admin_env *env, const char *action, const char *object, const char *outcome,
		       const char *detail)
{
	if (audit_log(env->store, env->actor, action, object, outcome, detail) != 0) {
		admin_err("cannot write the audit record (%s %s)", action, object);
		return -1;
	}
	return 0;
}

void admin_audit_fmt_time(int64_t time_us, char *out, size_t cap)
{
	int64_t sec = time_us / 1000000;
	int64_t us = time_us % 1000000;
	struct tm tm;
	char date[32];

	if (us < 0) {
		us += 1000000;
		sec -= 1;
	}
	time_t t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(date, sizeof(date), "@%" PRId64, sec);
	snprintf(out, cap, "%s.%06" PRId64 "Z", date, us);
}

/* Print a field on one line: control characters, tabs and backslashes are
 * escaped so that each record stays on one tab-separated line. */
static void print_clean(FILE *f, const char *s)
{
	if (s == NULL || s[0] == '\0') {
		fputc('-', f);
		return;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p == '\r')
			fputs("\\r", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

typedef struct {
	bool json;
	int64_t count;
	bool failed;
} show_ctx;

static int show_json(const store_audit *rec)
{
	char t[48], prev[65], hash[65];
	cJSON *o = cJSON_CreateObject();
	char *line = NULL;
	bool ok;

	admin_audit_fmt_time(rec->time_us, t, sizeof(t));
	ok = o != NULL && hex_encode(rec->prev, sizeof(rec->prev), prev, sizeof(prev)) == 0 &&
	     hex_encode(rec->hash, sizeof(rec->hash), hash, sizeof(hash)) == 0 &&
	     json_add_int(o, "seq", rec->seq) && json_add_string(o, "time", t) &&
	     json_add_int(o, "time_us", rec->time_us) && json_add_string(o, "actor", rec->actor) &&
	     json_add_string(o, "action", rec->action) &&
	     json_add_string(o, "object", rec->object) &&
	     json_add_string(o, "outcome", rec->outcome) &&
	     (rec->detail != NULL ? json_add_string(o, "detail", rec->detail)
				  : cJSON_AddNullToObject(o, "detail") != NULL) &&
	     json_add_string(o, "prev", prev) && json_add_string(o, "hash", hash);
	if (ok)
		line = json_print(o);
	cJSON_Delete(o);
	if (line == NULL) {
		admin_err("out of memory");
		return -1;
	}
	puts(line);
	cJSON_free(line);
	return 0;
}

static int show_cb(const store_audit *rec, void *arg)
{
	show_ctx *sc = arg;

	if (sc->json) {
		if (show_json(rec) != 0) {
			sc->failed = true;
			return 1;
		}
	} else {
		char t[48];
		admin_audit_fmt_time(rec->time_us, t, sizeof(t));
		printf("%" PRId64 "\t%s\t", rec->seq, t);
		print_clean(stdout, rec->actor);
		fputc('\t', stdout);
		print_clean(stdout, rec->action);
		fputc('\t', stdout);
		print_clean(stdout, rec->object);
		fputc('\t', stdout);
		print_clean(stdout, rec->outcome);
		fputc('\t', stdout);
		print_clean(stdout, rec->detail);
		fputc('\n', stdout);
	}
	sc->count++;
	if (ferror(stdout)) {
		sc->failed = true;
		return 1;
	}
	return 0;
}

static int cmd_show(admin_env *env, int argc, char **argv)
{
	const char *from = NULL;
	bool json = false, help = false;
	const char *pos[1];
	size_t npos;
	long from_seq = 1;
	const admin_opt opts[] = {
	    {"--from", ADMIN_OPT_STR, NULL, &from},
	    {"--json", ADMIN_OPT_FLAG, &json, NULL},
	    {"--help", ADMIN_OPT_FLAG, &help, NULL},
	    {NULL, ADMIN_OPT_FLAG, NULL, NULL},
	};

	if (admin_opt_parse(argc, argv, opts, pos, 0, &npos) != 0)
		return admin_usage_err("audit", "bad arguments to 'audit show'");
	if (help) {
		admin_usage(stdout, "audit");
		return ADMIN_OK;
	}
	if (from != NULL && admin_opt_int(from, 1, LONG_MAX, &from_seq) != 0)
		return admin_usage_err("audit", "--from needs a record number >= 1");
	if (admin_open_store(env) != 0)
		return ADMIN_FAIL;

	show_ctx sc = {.json = json};
	if (store_audit_iter(env->store, from_seq, show_cb, &sc) != STORE_OK || sc.failed) {
		admin_err("cannot read the audit log");
		return ADMIN_FAIL;
	}
	return ADMIN_OK;
}

static int cmd_verify(admin_env *env, int argc, char **argv)
{
	const char *pos[1];
	size_t npos;
	bool help = false;
	const admin_opt opts[] = {
	    {"--help", ADMIN_OPT_FLAG, &help, NULL},
	    {NULL, ADMIN_OPT_FLAG, NULL, NULL},
	};
	audit_report rep;

	if (admin_opt_parse(argc, argv, opts, pos, 0, &npos) != 0)
		return admin_usage_err("audit", "'audit verify' takes no arguments");
	if (help) {
		admin_usage(stdout, "audit");
		return ADMIN_OK;
	}
	if (admin_open_store(env) != 0)
		return ADMIN_FAIL;
	memset(&rep, 0, sizeof(rep));
	int rc = audit_verify(env->store, &rep);
	if (rc == 1) {
		printf("audit: %" PRId64 " records, chain intact\n", rep.records);
		return ADMIN_OK;
	}
	if (rc == 0) {
		rep.reason[sizeof(rep.reason) - 1] = '\0';
		printf("audit: BROKEN at record %" PRId64 ": %s\n", rep.first_bad,
		       rep.reason[0] != '\0' ? rep.reason : "unknown");
		return ADMIN_FAIL;
	}
	admin_err("cannot verify the audit log");
	return ADMIN_FAIL;
}

int admin_audit_main(admin_env *env, int argc, char **argv)
{
	if (argc < 1)
		return admin_usage_err("audit", "audit: which command?");
	const char *cmd = argv[0];
	if (strcmp(cmd, "show") == 0)
		return cmd_show(env, argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(env, argc - 1, argv + 1);
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		admin_usage(stdout, "audit");
		return ADMIN_OK;
	}
	return admin_usage_err("audit", "unknown audit command '%s'", cmd);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* cisres status: the configured accounts, whether their service answers
 * with the stored refresh token, and their signing credentials. */
#include "cisres.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "csc_client.h"
#include "oid.h"
#include "secmem.h"

#define TOKEN_CAP 4097

/* "20250101120000Z" -> "2025-01-01 12:00:00 UTC" */
static void fmt_gt(const char *gt, char *out, size_t cap)
{
	if (strlen(gt) == 15 && gt[14] == 'Z')
		snprintf(out, cap, "%.4s-%.2s-%.2s %.2s:%.2s:%.2s UTC", gt, gt + 4, gt + 6, gt + 8,
			 gt + 10, gt + 12);
	else
		snprintf(out, cap, "%s", gt[0] ? gt : "?");
}

static void asn1_time_str(const ASN1_TIME *t, char *out, size_t cap)
{
	struct tm tm;

	if (t != NULL && ASN1_TIME_to_tm(t, &tm) == 1)
		strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
	else
		snprintf(out, cap, "?");
}

static void print_key(const csc_credential *cr)
{
	key_kind k = csc_credential_key_kind(cr);
	const curve_info *ci = cr->curve[0] ? curve_by_oid(cr->curve) : NULL;

	if (k == KEY_RSA)
		printf("    key:        RSA %u bits", cr->key_len);
	else if (k == KEY_EC)
		printf("    key:        EC %s", ci != NULL ? ci->name : cr->curve);
	else
		printf("    key:        unknown (%u bits)", cr->key_len);
	printf(", %s\n", cr->key_enabled ? "enabled" : "disabled");
}

static void print_cred(const csc_credential *cr)
{
	char from[64], to[64];
	const char *subject = cr->subject_dn;
	char *subj_buf = NULL;
	X509 *x = NULL;

	printf("  credential %s\n", cr->id != NULL ? cr->id : "?");
	if (cr->description[0])
		printf("    about:      %s\n", cr->description);
	print_key(cr);
	printf("    SCAL:       %d   multisign: %d   auth: %s%s%s\n", cr->scal, cr->multisign,
	       cr->auth_mode, cr->auth_expression[0] ? ", " : "", cr->auth_expression);
	if (cr->n_certs > 0) {
		const unsigned char *p = cr->certs[0];
		x = d2i_X509(NULL, &p, (long)cr->cert_lens[0]);
	}
	if (subject[0] == '\0' && x != NULL) {
		subj_buf = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
		subject = subj_buf != NULL ? subj_buf : "?";
	}
	printf("    subject:    %s\n", subject[0] ? subject : "(no certificate)");
	if (cr->issuer_dn[0])
		printf("    issuer:     %s\n", cr->issuer_dn);
	if (cr->valid_from[0] || cr->valid_to[0]) {
		fmt_gt(cr->valid_from, from, sizeof(from));
		fmt_gt(cr->valid_to, to, sizeof(to));
	} else if (x != NULL) {
		asn1_time_str(X509_get0_notBefore(x), from, sizeof(from));
		asn1_time_str(X509_get0_notAfter(x), to, sizeof(to));
	} else {
		snprintf(from, sizeof(from), "?");
		snprintf(to, sizeof(to), "?");
	}
	printf("    valid:      %s .. %s%s%s%s\n", from, to, cr->cert_status[0] ? " (" : "",
	       cr->cert_status, cr->cert_status[0] ? ")" : "");
	printf("    chain:      %zu certificate(s)\n", cr->n_certs);
	OPENSSL_free(subj_buf);
	X509_free(x);
}

static int status_account(const cisres_account *a)
{
	csc_client *cli;
	csc_credential_list l;
	csc_info_result info;
	csc_status st;
	char why[400];
	char *tok;
	size_t tok_len = 0, i;
	int rc = CISRES_OK;

	printf("account %s\n", a->name);
	printf("  service:      %s\n", a->url != NULL ? a->url : "(no url)");
	printf("  user:         %s\n", a->user != NULL ? a->user : "(no user)");
	if (a->url == NULL || a->user == NULL) {
		printf("  status:       misconfigured\n");
		return CISRES_FAIL;
	}
	cli = csc_client_new(a->url, a->ca_file, 0);
	if (cli == NULL) {
		printf("  status:       invalid url\n");
		return CISRES_FAIL;
	}
	if (csc_info(cli, &info, &st) == CSC_OK) {
		printf("  server:       %s (CSC %s)\n", info.name, info.specs);
		csc_info_result_free(&info);
	}
	tok = access(a->token_file, F_OK) == 0
		  ? cisres_read_secret_file(a->token_file, TOKEN_CAP, &tok_len)
		  : NULL;
	if (tok == NULL || tok_len == 0) {
		printf("  status:       not logged in (run: cisres login --account %s)\n", a->name);
		if (tok != NULL)
			sec_unlock_free(tok, TOKEN_CAP);
		csc_client_free(cli);
		return CISRES_FAIL;
	}
	printf("  token file:   %s\n", a->token_file);
	csc_client_set_refresh_token(cli, tok, tok_len);
	sec_unlock_free(tok, TOKEN_CAP);
	if (csc_credentials_list(cli, &l, &st) != CSC_OK) {
		csc_status_str(&st, why, sizeof(why));
		printf("  status:       %s (%s)\n", st.rc == CSC_ERR_NETWORK ? "offline" : "error",
		       why);
		csc_client_free(cli);
		return CISRES_FAIL;
	}
	printf("  status:       online, %zu credential(s)\n", l.n_creds);
	for (i = 0; i < l.n_creds; i++)
		print_cred(&l.creds[i]);
	csc_credential_list_free(&l);
	csc_client_free(cli);
	return rc;
}

int cisres_status_main(int argc, char **argv)
{
	const char *account = NULL;
	bool help = false;
	const cisres_opt opts[] = {
	    {"--account", true, &account, NULL},
	    {"--help", false, NULL, &help},
	    {NULL, false, NULL, NULL},
	};
	cisres_config cfg;
	size_t i;
	int rc;

	rc = cisres_parse_opts(argc, argv, opts);
	if (rc != CISRES_OK)
		return rc;
	if (help)
		return cisres_usage_err("status: help");
	if (cisres_conf_read(&cfg) != 0)
		return CISRES_FAIL;
	printf("configuration: %s%s\n", cfg.path, cfg.exists ? "" : " (absent)");
	if (account != NULL && cisres_conf_find(&cfg, account) == NULL) {
		cisres_err("no account '%s'", account);
		cisres_conf_free(&cfg);
		return CISRES_FAIL;
	}
	if (cfg.n == 0) {
		printf("no account configured (cisres login --server URL --user USER)\n");
		cisres_conf_free(&cfg);
		return CISRES_FAIL;
	}
	rc = CISRES_OK;
	for (i = 0; i < cfg.n; i++) {
		if (account != NULL && strcmp(cfg.acc[i].name, account) != 0)
			continue;
		if (status_account(&cfg.acc[i]) != CISRES_OK)
			rc = CISRES_FAIL;
	}
	cisres_conf_free(&cfg);
	return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* cisres-admin credential: signing credentials — a key pair generated in
 * the HSM (through the SAM), a certificate from the built-in CA, a signing
 * PIN, SCAL level, auth expression and multisign. add, list, info, disable,
 * enable, unlock, del, passwd. */
#include "admin.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit.h"
#include "ca.h"
#include "sam.h"
#include "secmem.h"

#define PIN_MIN 4
#define PIN_MAX 64
#define PIN_GEN_DIGITS 6

typedef struct {
	const char *name;
	key_kind kind;
	unsigned bits;
	int nid;
} key_type;

static const key_type key_types[] = {
    {"ec-p256", KEY_EC, 256, NID_X9_62_prime256v1},
    {"ec-p384", KEY_EC, 384, NID_secp384r1},
    {"rsa-2048", KEY_RSA, 2048, 0},
    {"rsa-3072", KEY_RSA, 3072, 0},
    {"rsa-4096", KEY_RSA, 4096, 0},
};

#define N_KEY_TYPES (sizeof(key_types) / sizeof(key_types[0]))

static const key_type *key_type_by_name(const char *name)
{
	for (size_t i = 0; i < N_KEY_TYPES; i++) {
		if (strcmp(key_types[i].name, name) == 0)
			return &key_types[i];
	}
	return NULL;
}

/* "ec-p256", "rsa-3072", ... for a stored credential. */
static void key_name(const store_credential *c, char *out, size_t cap)
{
	if (c->key_kind == KEY_EC) {
		for (size_t i = 0; i < N_KEY_TYPES; i++) {
			if (key_types[i].kind == KEY_EC && key_types[i].nid == c->curve_nid) {
				snprintf(out, cap, "%s", key_types[i].name);
				return;
			}
		}
		const char *sn = OBJ_nid2sn(c->curve_nid);
		snprintf(out, cap, "ec-%s", sn != NULL ? sn : "unknown");
	} else if (c->key_kind == KEY_RSA) {
		snprintf(out, cap, "rsa-%d", c->key_bits);
	} else {
		snprintf(out, cap, "unknown");
	}
}

static const char *cred_status(const store_credential *c)
{
	if (!c->enabled && c->pin_locked)
		return "disabled,locked";
	if (!c->enabled)
		return "disabled";
	if (c->pin_locked)
		return "locked";
	return "active";
}

static bool cred_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= STORE_CRED_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

static bool text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n >= max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static void cred_object(const char *id, char *out, size_t cap)
{
	snprintf(out, cap, "credential:%s", id);
}

/* Format an ASN1_TIME as 2026-05-01T12:00:00Z; "-" when absent. */
static void fmt_asn1_time(const ASN1_TIME *t, char *out, size_t cap)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "-");
}

static X509 *cred_cert(const store_credential *c)
{
	if (c->cert_der == NULL || c->cert_len == 0 || c->cert_len > 65536)
		return NULL;
	const unsigned char *p = c->cert_der;
	X509 *x = d2i_X509(NULL, &p, (long)c->cert_len);
	if (x != NULL && p != c->cert_der + c->cert_len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static void cert_expiry(const store_credential *c, char *out, size_t cap)
{
	X509 *x = cred_cert(c);

	fmt_asn1_time(x != NULL ? X509_get0_notAfter(x) : NULL, out, cap);
	X509_free(x);
}

/* Read the PIN: from file / env / stdin when given; otherwise prompt on a
 * terminal when prompt_tty, else generate a numeric PIN. */
static int pin_get(admin_secret *pin, const char *file, const char *env_var, bool use_stdin,
		   bool prompt_tty)
{
	bool given = false;

	if (admin_secret_read(pin, "PIN", file, env_var, use_stdin, PIN_MIN, PIN_MAX, &given) != 0)
		return -1;
	if (given)
		return 0;
	if (prompt_tty && isatty(STDIN_FILENO))
		return admin_secret_prompt(pin, "PIN", PIN_MIN, PIN_MAX);
	return admin_secret_gen_pin(pin, PIN_GEN_DIGITS);
}

/* Load a credential by id (store open); 0 or -1 with a message. */
static int cred_find(admin_env *env, const char *id, store_credential *c)
{
	memset(c, 0, sizeof(*c));
	if (!cred_id_ok(id)) {
		admin_err("invalid credential id '%s'", id);
		return -1;
	}
	int rc = store_cred_get(env->store, id, c);
	if (rc == STORE_NOTFOUND) {
		admin_err("no credential '%s'", id);
		return -1;
	}
	if (rc != STORE_OK) {
		admin_err("cannot read credential '%s'", id);
		return -1;
	}
	return 0;
}

static void cred_wipe(store_credential *c)
{
	sec_zero(c->pin_hash, sizeof(c->pin_hash));
	store_credential_clear(c);
}

/* ---- credential add ---- */

static int cmd_add(admin_env *env, int argc, char **argv)
{
	const char *key = NULL, *scal_s = NULL, *auth_s = NULL, *multi_s = NULL, *pin_file = NULL,
		   *pin_env = NULL, *descr = NULL, *days_s = NULL;
	bool pin_stdin = false, help = false;
	const admin_opt opts[] = {
	    {"--key", ADMIN_OPT_STR, NULL, &key},
	    {"--scal", ADMIN_OPT_STR, NULL, &scal_s},
	    {"--auth", ADMIN_OPT_STR, NULL, &auth_s},
	    {"--multisign", ADMIN_OPT_STR, NULL, &multi_s},
	    {"--pin-file", ADMIN_OPT_STR, NULL, &pin_file},
	    {"--pin-env", ADMIN_OPT_STR, NULL, &pin_env},
	    {"--pin-stdin", ADMIN_OPT_FLAG, &pin_stdin, NULL},
	    {"--description", ADMIN_OPT_STR, NULL, &descr},
	    {"--days", ADMIN_OPT_STR, NULL, &days_s},
	    {"--help", ADMIN_OPT_FLAG, &help, NULL},
	    {NULL, ADMIN_OPT_FLAG, NULL, NULL},
	};
	const char *pos[1];
	size_t npos;
	long scal = 2, multisign, days;
	bool auth_otp;
	admin_secret pin = {0};
	store_user u;
	sam_keygen_res kres;
	uint8_t *der = NULL;
	size_t derlen = 0;
	bool created = false;
	int ret = ADMIN_FAIL;

	memset(&u, 0, sizeof(u));
	memset(&kres, 0, sizeof(kres));
	if (admin_opt_parse(argc, argv, opts, pos, 1, &npos) != 0)
		return admin_usage_err("credential", "bad arguments to 'credential add'");
	if (help) {
		admin_usage(stdout, "credential");
		return ADMIN_OK;
	}
	if (npos != 1)
		return admin_usage_err("credential", "credential add: NAME required");
	if (key == NULL)
		return admin_usage_err("credential", "credential add: --key required");
	const key_type *kt = key_type_by_name(key);
	if (kt == NULL)
		return admin_usage_err("credential", "unknown key type '%s'", key);
	if (scal_s != NULL && admin_opt_int(scal_s, 1, 2, &scal) != 0)
		return admin_usage_err("credential", "--scal must be 1 or 2");
	if (auth_s == NULL)
		auth_otp = scal == 2;
	else if (strcmp(auth_s, "pin") == 0)
		auth_otp = false;
	else if (strcmp(auth_s, "pin+otp") == 0)
		auth_otp = true;
	else
		return admin_usage_err("credential", "--auth must be pin or pin+otp");
	if (scal == 2 && !auth_otp)
		return admin_usage_err("credential",
				       "SCAL2 needs two factors: use --auth pin+otp (or --scal 1)");
	long max_multi = env->cfg.pol.max_multisign > 0 ? env->cfg.pol.max_multisign : 1;
	multisign = scal == 2 ? 1 : (max_multi < 100 ? max_multi : 100);
	if (multi_s != NULL && admin_opt_int(multi_s, 1, max_multi, &multisign) != 0)
		return admin_usage_err("credential", "--multisign must be 1..%ld", max_multi);
	days = env->cfg.cert_days > 0 ? env->cfg.cert_days : 730;
	if (days_s != NULL && admin_opt_int(days_s, 1, 36500, &days) != 0)
		return admin_usage_err("credential", "--days must be 1..36500");
	if (descr != NULL && !text_ok(descr, STORE_TEXT_MAX))
		return admin_usage_err("credential",
				       "--description: at most %d characters, "
				       "no control characters",
				       STORE_TEXT_MAX - 1);

	if (pin_get(&pin, pin_file, pin_env, pin_stdin, false) != 0)
		goto out;
	if (admin_open_full(env) != 0 || admin_user_find(env, pos[0], &u) != 0)
		goto out;
	if (auth_otp && u.otp_key_len == 0) {
		admin_err("user '%s' has no TOTP secret: use --auth pin with --scal 1", u.name);
		goto out;
	}

	sam_keygen_req req = {
	    .user_id = u.id,
	    .kind = kt->kind,
	    .bits = kt->kind == KEY_RSA ? kt->bits : 0,
	    .curve_nid = kt->nid,
	    .scal = (int)scal,
	    .auth_otp = auth_otp,
	    .multisign = (int)multisign,
	    .pin = pin.buf,
	    .pin_len = pin.len,
	    .description = descr,
	    .actor = env->actor,
	};
	sam_status st = sam_keygen(env->ctx.sam, &req, &kres);
	if (st != SAM_OK || kres.status != SAM_OK || kres.pub == NULL) {
		admin_err("key generation failed: %s",
			  sam_status_name(st != SAM_OK ? st : kres.status));
		goto out;
	}
	created = true;
	if (ca_issue_signer(env->ctx.ca, kres.pub, u.display, u.email[0] != '\0' ? u.email : NULL,
			    (int)days, &der, &derlen) != 0) {
		admin_err("the CA could not issue the certificate");
		goto out;
	}
	st = sam_key_set_cert(env->ctx.sam, kres.credential_id, der, derlen, env->actor);
	if (st != SAM_OK) {
		admin_err("cannot store the certificate: %s", sam_status_name(st));
		goto out;
	}

	store_credential c = {.cert_der = der, .cert_len = derlen};
	char expires[40];
	cert_expiry(&c, expires, sizeof(expires));
	printf("user: %s\n", u.name);
	printf("key: %s\n", kt->name);
	printf("scal: %ld\n", scal);
	printf("auth: %s\n", auth_otp ? "pin+otp" : "pin");
	printf("multisign: %ld\n", multisign);
	printf("expires: %s\n", expires);
	if (pin.generated)
		printf("pin: %s\n", pin.buf);
	printf("credential: %s\n", kres.credential_id);
	ret = ADMIN_OK;
out:
	if (ret != ADMIN_OK && created) {
		/* Do not leave a key without a certificate behind. */
		sam_status dst = sam_key_destroy(env->ctx.sam, kres.credential_id, env->actor);
		if (dst != SAM_OK)
			admin_err("could not remove the half-made credential %s: %s",
				  kres.credential_id, sam_status_name(dst));
	}
	fflush(stdout);
	EVP_PKEY_free(kres.pub);
	free(der);
	admin_secret_clear(&pin);
	admin_user_wipe(&u);
	return ret;
}

/* ---- credential list ---- */

static const char *user_name_of(const store_user *users, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++) {
		if (users[i].id == id)
			return users[i].name;
	}
	return "?";
}

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
	int64_t uid = 0;
	int ret = ADMIN_FAIL;

	if (admin_opt_parse(argc, argv, opts, pos, 1, &npos) != 0)
		return admin_usage_err("credential", "bad arguments to 'credential list'");
	if (help) {
		admin_usage(stdout, "credential");
		return ADMIN_OK;
	}
	if (admin_open_store(env) != 0)
		return ADMIN_FAIL;
	if (npos == 1) {
		store_user u;
		if (admin_user_find(env, pos[0], &u) != 0)
			return ADMIN_FAIL;
		uid = u.id;
		admin_user_wipe(&u);
	}
	if (store_user_list(env->store, &users, &nu) != STORE_OK) {
		admin_err("cannot list the users");
		return ADMIN_FAIL;
	}
	if (store_cred_list(env->store, uid, &creds, &nc) != STORE_OK) {
		admin_err("cannot list the credentials");
		goto out;
	}
	if (isatty(STDOUT_FILENO))
		printf("ID\tUSER\tKEY\tSCAL\tAUTH\tMULTISIGN\tSTATUS\tEXPIRES\n");
	for (size_t i = 0; i < nc; i++) {
		char kn[32], exp[40];
		key_name(&creds[i], kn, sizeof(kn));
		cert_expiry(&creds[i], exp, sizeof(exp));
		printf("%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\n", creds[i].id,
		       user_name_of(users, nu, creds[i].user_id), kn, creds[i].scal,
		       creds[i].auth_otp ? "pin+otp" : "pin", creds[i].multisign,
		       cred_status(&creds[i]), exp);
	}
	ret = ADMIN_OK;
out:
	if (users != NULL)
		sec_free(users, nu * sizeof(*users));
	for (size_t i = 0; i < nc; i++)
		sec_zero(creds[i].pin_hash, sizeof(creds[i].pin_hash));
	store_cred_list_free(creds, nc);
	return ret;
}

/* ---- credential info ---- */

static void print_name(const char *label, const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;

	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(b, &p)) > 0)
		printf("%s: %.*s\n", label, (int)n, p);
	BIO_free(b);
}

static void print_serial(const X509 *x)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	if (hex != NULL)
		printf("serial: %s\n", hex);
	OPENSSL_free(hex);
	BN_free(bn);
}

static int cmd_info(admin_env *env, int argc, char **argv)
{
	const char *pos[1];
	size_t npos;
	bool help = false;
	const admin_opt opts[] = {
	    {"--help", ADMIN_OPT_FLAG, &help, NULL},
	    {NULL, ADMIN_OPT_FLAG, NULL, NULL},
	};
	store_credential c;
	store_user u;
	char kn[32], t[48];

	if (admin_opt_parse(argc, argv, opts, pos, 1, &npos) != 0)
		return admin_usage_err("credential", "bad arguments to 'credential info'");
	if (help) {
		admin_usage(stdout, "credential");
		return ADMIN_OK;
	}
	if (npos != 1)
		return admin_usage_err("credential", "credential info: ID required");
	if (admin_open_store(env) != 0 || cred_find(env, pos[0], &c) != 0)
		return ADMIN_FAIL;
	memset(&u, 0, sizeof(u));
	if (store_user_get_id(env->store, c.user_id, &u) != STORE_OK)
		snprintf(u.name, sizeof(u.name), "?");
	key_name(&c, kn, sizeof(kn));
	printf("credential: %s\n", c.id);
	printf("user: %s\n", u.name);
	printf("key: %s\n", kn);
	printf("scal: %d\n", c.scal);
	printf("auth: %s\n", c.auth_otp ? "pin+otp" : "pin");
	printf("multisign: %d\n", c.multisign);
	printf("status: %s\n", cred_status(&c));
	printf("pin-failures: %d\n", c.pin_failures);
	printf("description: %s\n", c.description[0] != '\0' ? c.description : "-");
	admin_audit_fmt_time(c.created * 1000000, t, sizeof(t));
	printf("created: %.19sZ\n", t);
	admin_user_wipe(&u);

	X509 *x = cred_cert(&c);
	if (x == NULL) {
		printf("certificate: none\n");
	} else {
		print_name("subject", X509_get_subject_name(x));
		print_name("issuer", X509_get_issuer_name(x));
		print_serial(x);
		fmt_asn1_time(X509_get0_notBefore(x), t, sizeof(t));
		printf("not-before: %s\n", t);
		fmt_asn1_time(X509_get0_notAfter(x), t, sizeof(t));
		printf("not-after: %s\n", t);
		fflush(stdout);
		BIO *out = BIO_new_fp(stdout, BIO_NOCLOSE);
		if (out == NULL || PEM_write_bio_X509(out, x) != 1) {
			admin_err("cannot print the certificate");
			BIO_free(out);
			X509_free(x);
			cred_wipe(&c);
			return ADMIN_FAIL;
		}
		BIO_free(out);
		X509_free(x);
	}
	cred_wipe(&c);
	return ADMIN_OK;
}

/* ---- disable, enable, unlock, del, passwd ---- */

typedef enum { OP_DISABLE, OP_ENABLE, OP_UNLOCK, OP_DEL, OP_PASSWD } cred_op;

static int cmd_change(admin_env *env, cred_op op, const char *opname, int argc, char **argv)
{
	const char *pin_file = NULL, *pin_env = NULL;
	bool pin_stdin = false, help = false;
	const admin_opt opts_plain[] = {
	    {"--help", ADMIN_OPT_FLAG, &help, NULL},
	    {NULL, ADMIN_OPT_FLAG, NULL, NULL},
	};
	const admin_opt opts_pin[] = {
	    {"--pin-file", ADMIN_OPT_STR, NULL, &pin_file},
	    {"--pin-env", ADMIN_OPT_STR, NULL, &pin_env},
	    {"--pin-stdin", ADMIN_OPT_FLAG, &pin_stdin, NULL},
	    {"--help", ADMIN_OPT_FLAG, &help, NULL},
	    {NULL, ADMIN_OPT_FLAG, NULL, NULL},
	};
	const char *pos[1];
	size_t npos;
	store_credential c;
	char object[STORE_TEXT_MAX], action[STORE_NAME_MAX];
	admin_secret pin = {0};
	int ret = ADMIN_FAIL;
	int rc;

	if (admin_opt_parse(argc, argv, op == OP_PASSWD ? opts_pin : opts_plain, pos, 1, &npos) !=
	    0)
		return admin_usage_err("credential", "bad arguments to 'credential %s'", opname);
	if (help) {
		admin_usage(stdout, "credential");
		return ADMIN_OK;
	}
	if (npos != 1)
		return admin_usage_err("credential", "credential %s: ID required", opname);
	if (op == OP_PASSWD && pin_get(&pin, pin_file, pin_env, pin_stdin, true) != 0)
		return ADMIN_FAIL;
	/* Every one of these changes the credential's binding or its HSM state:
	 * a local SAM with the HSM does it. */
	if (admin_open_full(env) != 0 || cred_find(env, pos[0], &c) != 0) {
		admin_secret_clear(&pin);
		return ADMIN_FAIL;
	}
	cred_object(c.id, object, sizeof(object));
	snprintf(action, sizeof(action), "credential.%s", opname);

	switch (op) {
	case OP_DEL: {
		sam_status st = sam_key_destroy(env->ctx.sam, c.id, env->actor);
		if (st != SAM_OK) {
			admin_err("cannot delete credential %s: %s", c.id, sam_status_name(st));
			goto out;
		}
		printf("deleted: %s\n", c.id);
		break;
	}
	case OP_PASSWD: {
		sam_status st = sam_set_pin(env->ctx.sam, c.id, pin.buf, pin.len, env->actor);
		if (st != SAM_OK) {
			admin_err("cannot set the PIN of %s: %s", c.id, sam_status_name(st));
			goto out;
		}
		printf("credential: %s\n", c.id);
		if (pin.generated)
			printf("pin: %s\n", pin.buf);
		break;
	}
	case OP_DISABLE:
	case OP_ENABLE:
	case OP_UNLOCK: {
		const char *detail = NULL;
		if (op == OP_UNLOCK) {
			/* The count lives in the HSM: the SAM resets it. */
			rc = sam_cred_unblock(env->ctx.sam, c.id) == SAM_OK ? STORE_OK : STORE_ERR;
			detail = c.pin_locked ? "was locked" : "was not locked";
		} else {
			/* Part of the credential's binding: the SAM re-seals. */
			rc = sam_cred_set_enabled(env->ctx.sam, c.id, op == OP_ENABLE) == SAM_OK
				 ? STORE_OK
				 : STORE_ERR;
			detail = c.enabled ? "was enabled" : "was disabled";
		}
		if (rc != STORE_OK) {
			admin_err("cannot %s credential %s", opname, c.id);
			admin_audit_record(env, action, object, "failure", "store error");
			goto out;
		}
		if (admin_audit_record(env, action, object, "success", detail) != 0)
			goto out;
		printf("%s: %s\n",
		       op == OP_UNLOCK ? "unlocked" : (op == OP_ENABLE ? "enabled" : "disabled"),
		       c.id);
		break;
	}
	}
	ret = ADMIN_OK;
out:
	fflush(stdout);
	admin_secret_clear(&pin);
	cred_wipe(&c);
	return ret;
}

int admin_credential_main(admin_env *env, int argc, char **argv)
{
	static const struct {
		const char *name;
		cred_op op;
	} ops[] = {
	    {"disable", OP_DISABLE}, {"enable", OP_ENABLE}, {"unlock", OP_UNLOCK},
	    {"del", OP_DEL},	     {"passwd", OP_PASSWD},
	};

	if (argc < 1)
		return admin_usage_err("credential", "credential: which command?");
	const char *cmd = argv[0];
	argc--;
	argv++;
	if (strcmp(cmd, "add") == 0)
		return cmd_add(env, argc, argv);
	if (strcmp(cmd, "list") == 0)
		return cmd_list(env, argc, argv);
	if (strcmp(cmd, "info") == 0)
		return cmd_info(env, argc, argv);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(cmd, ops[i].name) == 0)
			return cmd_change(env, ops[i].op, ops[i].name, argc, argv);
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		admin_usage(stdout, "credential");
		return ADMIN_OK;
	}
	return admin_usage_err("credential", "unknown credential command '%s'", cmd);
}

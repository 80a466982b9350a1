/* SPDX-License-Identifier: Apache-2.0 */
/* The built-in CA: root and issuing CA keys in the HSM, certificates as PEM
 * files in the CA directory; issues signer, TSA and TLS server certificates. */
#include "ca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "secmem.h"

#define CA_ROOT_DAYS (20 * 365 + 5)
#define CA_ISSUING_DAYS (10 * 365 + 3)
#define CA_TSA_DAYS (5 * 365 + 2)
#define CA_TLS_DAYS 825
#define CA_SIGNER_DAYS_MAX 3650
#define CA_BACKDATE_SECONDS 300 /* tolerate small clock differences */
#define CA_SERIAL_LEN 16
#define CA_ORG_MAX 52 /* "<org> Issuing CA" fits ub-common-name (64) */
#define CA_CN_MAX 64
#define CA_EMAIL_MAX 128
#define CA_SANS_MAX 4096
#define CA_SAN_ITEM_MAX 253
#define CA_SAN_COUNT_MAX 64
#define CA_FILE_MAX (1024 * 1024)

struct ca {
	hsm *h;
	char *org;
	X509 *root, *issuing, *tsa;
	EVP_PKEY *issuing_key; /* signs in the HSM */
	EVP_PKEY *tsa_key;     /* signs in the HSM */
	char *root_path, *issuing_path, *chain_path, *tsa_path;
};

#define KEYID(s) (const uint8_t *)(s), strlen(s)

static void log_ossl(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_err("ca: %s: %s", what, buf);
	} else {
		log_err("ca: %s failed", what);
	}
	ERR_clear_error();
}

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* mkdir -p with mode 0700 for the components created. */
static int mkdir_p(const char *path)
{
	char *p = strdup(path);
	struct stat st;
	int ret = -1;

	if (p == NULL || *p == '\0')
		goto out;
	for (char *q = p + 1;; q++) {
		if (*q == '/' || *q == '\0') {
			char c = *q;

			*q = '\0';
			if (mkdir(p, 0700) != 0 && errno != EEXIST) {
				log_err("ca: mkdir %s: %s", p, strerror(errno));
				goto out;
			}
			*q = c;
			if (c == '\0')
				break;
		}
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_err("ca: %s is not a directory", path);
		goto out;
	}
	ret = 0;
out:
	free(p);
	return ret;
}

static int mkdir_parent(const char *path)
{
	char *p = strdup(path);
	char *slash;
	int ret = 0;

	if (p == NULL)
		return -1;
	slash = strrchr(p, '/');
	if (slash != NULL && slash != p) {
		*slash = '\0';
		ret = mkdir_p(p);
	}
	free(p);
	return ret;
}

/* Write a file atomically: temp file in the same directory, fsync, rename. */
static int write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	size_t n = strlen(path) + sizeof(".tmp.XXXXXX");
	char *tmp = malloc(n);
	const uint8_t *p = data;
	int fd = -1, ret = -1;

	if (tmp == NULL)
		return -1;
	snprintf(tmp, n, "%s.tmp.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		log_err("ca: cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (fchmod(fd, mode) != 0)
		goto out;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	ret = 0;
out:
	if (ret != 0) {
		log_err("ca: cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	free(tmp);
	return ret;
}

/* PEM of the certificates (NULL-terminated list) into a file. */
static int write_certs(const char *path, X509 *const *certs)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int ret = -1;

	if (b == NULL)
		return -1;
	for (size_t i = 0; certs[i] != NULL; i++)
		if (!PEM_write_bio_X509(b, certs[i]))
			goto out;
	len = BIO_get_mem_data(b, &data);
	if (len > 0)
		ret = write_atomic(path, data, (size_t)len, 0644);
out:
	BIO_free(b);
	return ret;
}

static X509 *load_cert(const char *path)
{
	BIO *b;
	X509 *x;
	struct stat st;

	if (stat(path, &st) != 0 || st.st_size <= 0 || st.st_size > CA_FILE_MAX)
		return NULL;
	b = BIO_new_file(path, "r");
	if (b == NULL)
		return NULL;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (x == NULL)
		log_ossl(path);
	return x;
}

static bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static int set_serial(X509 *x)
{
	uint8_t b[CA_SERIAL_LEN];
	BIGNUM *bn;
	int ok;

	if (sec_random(b, sizeof(b)) != 0)
		return -1;
	b[0] &= 0x7f; /* positive */
	b[0] |= 0x40; /* and exactly 16 bytes long */
	bn = BN_bin2bn(b, sizeof(b), NULL);
	ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

static int name_add(X509_NAME *n, int nid, const char *v)
{
	return X509_NAME_add_entry_by_NID(n, nid, MBSTRING_UTF8, (const unsigned char *)v, -1, -1,
					  0)
		   ? 0
		   : -1;
}

/* O=org, CN=cn (, emailAddress=email) */
static X509_NAME *make_name(const char *org, const char *cn, const char *email)
{
	X509_NAME *n = X509_NAME_new();

	if (n == NULL)
		return NULL;
	if ((org != NULL && name_add(n, NID_organizationName, org) != 0) ||
	    name_add(n, NID_commonName, cn) != 0 ||
	    (email != NULL &&
	     X509_NAME_add_entry_by_NID(n, NID_pkcs9_emailAddress, MBSTRING_ASC,
					(const unsigned char *)email, -1, -1, 0) != 1)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (ext == NULL) {
		log_ossl(OBJ_nid2sn(nid));
		return -1;
	}
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

typedef struct {
	int nid;
	const char *value;
} ext_spec;

/* A certificate for pub named subject, issued by issuer (NULL: self-signed)
 * and signed by key with SHA-384. notAfter is capped at the issuer's. */
static X509 *make_cert(EVP_PKEY *pub, const X509_NAME *subject, X509 *issuer, EVP_PKEY *key,
		       int days, const ext_spec *exts, size_t nexts, const GENERAL_NAMES *san)
{
	X509 *x = X509_new();
	time_t now = time(NULL);

	if (x == NULL || !X509_set_version(x, X509_VERSION_3) || set_serial(x) != 0 ||
	    !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : subject) ||
	    !X509_set_pubkey(x, pub))
		goto fail;
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, -CA_BACKDATE_SECONDS, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &now) == NULL)
		goto fail;
	if (issuer != NULL &&
	    ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(issuer)) > 0 &&
	    !X509_set1_notAfter(x, X509_get0_notAfter(issuer)))
		goto fail;
	for (size_t i = 0; i < nexts; i++)
		if (add_ext(x, issuer, exts[i].nid, exts[i].value) != 0)
			goto fail;
	if (san != NULL && !X509_add1_ext_i2d(x, NID_subject_alt_name, (void *)san, 0, 0))
		goto fail;
	if (X509_sign(x, key, EVP_sha384()) <= 0) {
		log_ossl("X509_sign");
		goto fail;
	}
	return x;
fail:
	log_ossl("certificate");
	X509_free(x);
	return NULL;
}

/* The public key of an HSM key pair, generated (EC, curve) when absent. */
static EVP_PKEY *ensure_key(hsm *h, const char *id, int curve)
{
	hsm_key_spec spec = {KEY_EC, 0, curve};
	EVP_PKEY *pub = NULL;
	int rc;

	rc = hsm_get_public(h, KEYID(id), &pub);
	if (rc == HSM_ERR_NOKEY) {
		rc = hsm_generate_keypair(h, &spec, KEYID(id), id, &pub);
		if (rc == HSM_OK)
			log_info("ca: generated HSM key %s", id);
	}
	if (rc != HSM_OK) {
		log_err("ca: no HSM key %s", id);
		EVP_PKEY_free(pub);
		return NULL;
	}
	return pub;
}

/* Does cert carry the public key of HSM pair id? */
static bool cert_matches_key(hsm *h, X509 *cert, const char *id)
{
	EVP_PKEY *pub = NULL;
	bool ok;

	if (hsm_get_public(h, KEYID(id), &pub) != HSM_OK) {
		log_err("ca: HSM key %s is missing", id);
		return false;
	}
	ok = EVP_PKEY_eq(pub, X509_get0_pubkey(cert)) == 1;
	EVP_PKEY_free(pub);
	if (!ok)
		log_err("ca: the certificate does not match HSM key %s", id);
	return ok;
}

static bool issued_by(X509 *cert, X509 *issuer)
{
	return X509_check_issued(issuer, cert) == X509_V_OK &&
	       X509_verify(cert, X509_get0_pubkey(issuer)) == 1;
}

static bool org_ok(const char *org)
{
	size_t n;

	if (org == NULL)
		return false;
	n = strlen(org);
	return n > 0 && n <= CA_ORG_MAX;
}

static X509 *make_root(hsm *h, const char *org)
{
	static const ext_spec exts[] = {
	    {NID_basic_constraints, "critical,CA:TRUE"},
	    {NID_key_usage, "critical,keyCertSign,cRLSign"},
	    {NID_subject_key_identifier, "hash"},
	};
	char cn[CA_CN_MAX + 1];
	EVP_PKEY *pub = ensure_key(h, CA_ROOT_KEY_ID, NID_secp384r1);
	EVP_PKEY *key = pub != NULL ? hsm_pkey_new(h, KEYID(CA_ROOT_KEY_ID)) : NULL;
	X509_NAME *name;
	X509 *x = NULL;

	snprintf(cn, sizeof(cn), "%s Root CA", org);
	name = make_name(org, cn, NULL);
	if (pub != NULL && key != NULL && name != NULL)
		x = make_cert(pub, name, NULL, key, CA_ROOT_DAYS, exts, 3, NULL);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
	return x;
}

static X509 *make_issuing(hsm *h, const char *org, X509 *root)
{
	static const ext_spec exts[] = {
	    {NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
	    {NID_key_usage, "critical,keyCertSign,cRLSign"},
	    {NID_subject_key_identifier, "hash"},
	    {NID_authority_key_identifier, "keyid:always"},
	};
	char cn[CA_CN_MAX + 1];
	EVP_PKEY *pub = ensure_key(h, CA_ISSUING_KEY_ID, NID_secp384r1);
	EVP_PKEY *key = pub != NULL ? hsm_pkey_new(h, KEYID(CA_ROOT_KEY_ID)) : NULL;
	X509_NAME *name;
	X509 *x = NULL;

	snprintf(cn, sizeof(cn), "%s Issuing CA", org);
	name = make_name(org, cn, NULL);
	if (pub != NULL && key != NULL && name != NULL)
		x = make_cert(pub, name, root, key, CA_ISSUING_DAYS, exts, 4, NULL);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
	return x;
}

static X509 *make_tsa(hsm *h, const char *org, X509 *issuing)
{
	static const ext_spec exts[] = {
	    {NID_basic_constraints, "CA:FALSE"},
	    {NID_key_usage, "critical,digitalSignature"},
	    {NID_ext_key_usage, "critical,timeStamping"},
	    {NID_subject_key_identifier, "hash"},
	    {NID_authority_key_identifier, "keyid:always"},
	};
	char cn[CA_CN_MAX + 1];
	EVP_PKEY *pub = ensure_key(h, CA_TSA_KEY_ID, NID_X9_62_prime256v1);
	EVP_PKEY *key = pub != NULL ? hsm_pkey_new(h, KEYID(CA_ISSUING_KEY_ID)) : NULL;
	X509_NAME *name;
	X509 *x = NULL;

	snprintf(cn, sizeof(cn), "%s TSA", org);
	name = make_name(org, cn, NULL);
	if (pub != NULL && key != NULL && name != NULL)
		x = make_cert(pub, name, issuing, key, CA_TSA_DAYS, exts, 5, NULL);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
	return x;
}

typedef struct {
	char *root, *issuing, *chain, *tsa;
} ca_paths;

static void paths_free(ca_paths *p)
{
	free(p->root);
	free(p->issuing);
	free(p->chain);
	free(p->tsa);
}

static int paths_init(ca_paths *p, const char *dir)
{
	p->root = path_join(dir, "root.pem");
	p->issuing = path_join(dir, "issuing.pem");
	p->chain = path_join(dir, "chain.pem");
	p->tsa = path_join(dir, "tsa.pem");
	if (p->root == NULL || p->issuing == NULL || p->chain == NULL || p->tsa == NULL) {
		paths_free(p);
		return -1;
	}
	return 0;
}

int ca_bootstrap(hsm *h, const char *dir, const char *org)
{
	ca_paths p = {0};
	X509 *root = NULL, *issuing = NULL, *tsa = NULL;
	bool fresh = false; /* a certificate above was (re)made */
	int ret = -1;

	if (h == NULL || dir == NULL || !org_ok(org)) {
		log_err("ca: bad bootstrap arguments (organization: 1 to %d bytes)", CA_ORG_MAX);
		return -1;
	}
	if (mkdir_p(dir) != 0 || paths_init(&p, dir) != 0)
		return -1;

	/* root */
	if (file_exists(p.root)) {
		root = load_cert(p.root);
		if (root == NULL || !cert_matches_key(h, root, CA_ROOT_KEY_ID))
			goto out;
	} else {
		root = make_root(h, org);
		if (root == NULL || write_certs(p.root, (X509 *[]){root, NULL}) != 0)
			goto out;
		log_info("ca: created the root CA certificate");
		fresh = true;
	}
	/* issuing CA */
	if (!fresh && file_exists(p.issuing)) {
		issuing = load_cert(p.issuing);
		if (issuing == NULL || !issued_by(issuing, root) ||
		    !cert_matches_key(h, issuing, CA_ISSUING_KEY_ID)) {
			log_err("ca: %s is not usable", p.issuing);
			goto out;
		}
	} else {
		issuing = make_issuing(h, org, root);
		if (issuing == NULL || write_certs(p.issuing, (X509 *[]){issuing, NULL}) != 0)
			goto out;
		log_info("ca: created the issuing CA certificate");
		fresh = true;
	}
	if (fresh || !file_exists(p.chain))
		if (write_certs(p.chain, (X509 *[]){issuing, root, NULL}) != 0)
			goto out;
	/* TSA */
	if (!fresh && file_exists(p.tsa)) {
		tsa = load_cert(p.tsa);
		if (tsa == NULL || !issued_by(tsa, issuing) ||
		    !cert_matches_key(h, tsa, CA_TSA_KEY_ID)) {
			log_err("ca: %s is not usable", p.tsa);
			goto out;
		}
	} else {
		tsa = make_tsa(h, org, issuing);
		if (tsa == NULL || write_certs(p.tsa, (X509 *[]){tsa, NULL}) != 0)
			goto out;
		log_info("ca: created the TSA certificate");
	}
	ret = 0;
out:
	X509_free(root);
	X509_free(issuing);
	X509_free(tsa);
	paths_free(&p);
	return ret;
}

/* The O= of a certificate's subject (the CA's organization). */
static char *subject_org(X509 *x)
{
	X509_NAME *n = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(n, NID_organizationName, -1);
	unsigned char *utf8 = NULL;
	char *org;
	int len;

	if (i < 0)
		return NULL;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
	if (len <= 0)
		return NULL;
	org = strndup((const char *)utf8, (size_t)len);
	OPENSSL_free(utf8);
	return org;
}

int ca_open(hsm *h, const char *dir, ca **out)
{
	ca_paths p = {0};
	ca *c;

	*out = NULL;
	if (dir == NULL)
		return -1;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->h = h;
	if (paths_init(&p, dir) != 0)
		goto fail;
	c->root_path = p.root;
	c->issuing_path = p.issuing;
	c->chain_path = p.chain;
	c->tsa_path = p.tsa;
	c->root = load_cert(c->root_path);
	c->issuing = load_cert(c->issuing_path);
	c->tsa = load_cert(c->tsa_path);
	if (c->root == NULL || c->issuing == NULL || c->tsa == NULL) {
		log_err("ca: cannot load the CA certificates from %s", dir);
		goto fail;
	}
	if (!issued_by(c->issuing, c->root) || !issued_by(c->tsa, c->issuing)) {
		log_err("ca: the certificates in %s do not form a chain", dir);
		goto fail;
	}
	c->org = subject_org(c->issuing);
	if (h == NULL) {
		/* Certificates only: no key is bound, nothing can be issued. */
		if (c->org == NULL)
			goto fail;
		*out = c;
		return 0;
	}
	c->issuing_key = hsm_pkey_new(h, KEYID(CA_ISSUING_KEY_ID));
	c->tsa_key = hsm_pkey_new(h, KEYID(CA_TSA_KEY_ID));
	if (c->org == NULL || c->issuing_key == NULL || c->tsa_key == NULL) {
		log_err("ca: the CA keys are not in the HSM");
		goto fail;
	}
	if (EVP_PKEY_eq(c->issuing_key, X509_get0_pubkey(c->issuing)) != 1 ||
	    EVP_PKEY_eq(c->tsa_key, X509_get0_pubkey(c->tsa)) != 1) {
		log_err("ca: the certificates do not match the HSM keys");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	ca_free(c);
	return -1;
}

void ca_free(ca *c)
{
	if (c == NULL)
		return;
	X509_free(c->root);
	X509_free(c->issuing);
	X509_free(c->tsa);
	EVP_PKEY_free(c->issuing_key);
	EVP_PKEY_free(c->tsa_key);
	free(c->org);
	free(c->root_path);
	free(c->issuing_path);
	free(c->chain_path);
	free(c->tsa_path);
	free(c);
}

static bool email_ok(const char *e)
{
	size_t n = strlen(e), at = 0;

	if (n < 3 || n > CA_EMAIL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)e[i];

		if (ch == '@')
			at++;
		else if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),:;<>[\\]", ch) != NULL)
			return false;
	}
	return at == 1 && e[0] != '@' && e[n - 1] != '@';
}

static GENERAL_NAMES *san_email(const char *email)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();

	if (gens == NULL || g == NULL || s == NULL || !ASN1_STRING_set(s, email, -1))
		goto fail;
	GENERAL_NAME_set0_value(g, GEN_EMAIL, s);
	s = NULL;
	if (!sk_GENERAL_NAME_push(gens, g))
		goto fail;
	return gens;
fail:
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(g);
	GENERAL_NAMES_free(gens);
	return NULL;
}

int ca_issue_signer(ca *c, EVP_PKEY *pub, const char *cn, const char *email, int days,
		    uint8_t **der, size_t *derlen)
{
	static const ext_spec exts[] = {
	    {NID_basic_constraints, "CA:FALSE"},
	    {NID_key_usage, "critical,digitalSignature,nonRepudiation"},
	    {NID_ext_key_usage, "clientAuth,emailProtection,codeSigning"},
	    {NID_subject_key_identifier, "hash"},
	    {NID_authority_key_identifier, "keyid:always"},
	};
	X509_NAME *name = NULL;
	GENERAL_NAMES *san = NULL;
	X509 *x = NULL;
	unsigned char *buf = NULL;
	int len, ret = -1;

	if (der != NULL)
		*der = NULL;
	if (derlen != NULL)
		*derlen = 0;
	if (c == NULL || c->issuing_key == NULL || pub == NULL || cn == NULL || der == NULL ||
	    derlen == NULL)
		return -1;
	if (*cn == '\0' || strlen(cn) > CA_CN_MAX || days <= 0 || days > CA_SIGNER_DAYS_MAX ||
	    (email != NULL && !email_ok(email))) {
		log_err("ca: signer certificate request rejected (name, email or validity)");
		return -1;
	}
	name = make_name(c->org, cn, email);
	if (name == NULL)
		goto out;
	if (email != NULL && (san = san_email(email)) == NULL)
		goto out;
	x = make_cert(pub, name, c->issuing, c->issuing_key, days, exts,
		      sizeof(exts) / sizeof(exts[0]), san);
	if (x == NULL)
		goto out;
	len = i2d_X509(x, &buf);
	if (len <= 0)
		goto out;
	*der = malloc((size_t)len);
	if (*der == NULL)
		goto out;
	memcpy(*der, buf, (size_t)len);
	*derlen = (size_t)len;
	ret = 0;
out:
	OPENSSL_free(buf);
	X509_free(x);
	GENERAL_NAMES_free(san);
	X509_NAME_free(name);
	return ret;
}

static bool dns_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > CA_SAN_ITEM_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
		      (ch == '*' && i == 0)))
			return false;
	}
	return true;
}

/* "localhost, 127.0.0.1, ::1" -> GENERAL_NAMES (iPAddress / dNSName); *first
 * receives the first entry (for the CN). */
static GENERAL_NAMES *parse_sans(const char *sans, char *first, size_t firstcap)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	const char *p = sans;
	int count = 0;

	if (gens == NULL)
		return NULL;
	first[0] = '\0';
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		char item[CA_SAN_ITEM_MAX + 1];
		unsigned char ip[16];
		GENERAL_NAME *g;
		ASN1_STRING *v = NULL;
		int type;

		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 0 || n > CA_SAN_ITEM_MAX || ++count > CA_SAN_COUNT_MAX)
			goto fail;
		memcpy(item, p, n);
		item[n] = '\0';
		if (inet_pton(AF_INET, item, ip) == 1) {
			type = GEN_IPADD;
			v = ASN1_OCTET_STRING_new();
			if (v == NULL || !ASN1_OCTET_STRING_set(v, ip, 4))
				goto fail_v;
		} else if (inet_pton(AF_INET6, item, ip) == 1) {
			type = GEN_IPADD;
			v = ASN1_OCTET_STRING_new();
			if (v == NULL || !ASN1_OCTET_STRING_set(v, ip, 16))
				goto fail_v;
		} else if (dns_name_ok(item, n)) {
			type = GEN_DNS;
			v = ASN1_IA5STRING_new();
			if (v == NULL || !ASN1_STRING_set(v, item, (int)n))
				goto fail_v;
		} else {
			log_err("ca: bad subjectAltName entry");
			goto fail;
		}
		g = GENERAL_NAME_new();
		if (g == NULL)
			goto fail_v;
		GENERAL_NAME_set0_value(g, type, v);
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto fail;
		}
		if (first[0] == '\0' && n < firstcap)
			memcpy(first, item, n + 1);
		if (end == NULL)
			break;
		p = end + 1;
		continue;
	fail_v:
		ASN1_STRING_free(v);
		goto fail;
	}
	if (count == 0)
		goto fail;
	return gens;
fail:
	GENERAL_NAMES_free(gens);
	return NULL;
}

int ca_issue_tls_server(ca *c, const char *sans, const char *cert_path, const char *key_path)
{
	static const ext_spec exts[] = {
	    {NID_basic_constraints, "CA:FALSE"},
	    {NID_key_usage, "critical,digitalSignature"},
	    {NID_ext_key_usage, "serverAuth"},
	    {NID_subject_key_identifier, "hash"},
	    {NID_authority_key_identifier, "keyid:always"},
	};
	char cn[CA_CN_MAX + 1];
	GENERAL_NAMES *gens = NULL;
	X509_NAME *name = NULL;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	BIO *kb = NULL;
	char *kdata;
	long klen;
	int ret = -1;

	if (c == NULL || c->issuing_key == NULL || sans == NULL || cert_path == NULL ||
	    key_path == NULL || strlen(sans) > CA_SANS_MAX)
		return -1;
	gens = parse_sans(sans, cn, sizeof(cn));
	if (gens == NULL || cn[0] == '\0') {
		log_err("ca: bad TLS subjectAltName list");
		goto out;
	}
	name = make_name(c->org, cn, NULL);
	key = EVP_EC_gen("P-256");
	if (name == NULL || key == NULL)
		goto out;
	x = make_cert(key, name, c->issuing, c->issuing_key, CA_TLS_DAYS, exts,
		      sizeof(exts) / sizeof(exts[0]), gens);
	if (x == NULL)
		goto out;
	/* the key: PKCS#8 PEM, in memory that is cleared when freed */
	kb = BIO_new(BIO_s_secmem());
	if (kb == NULL || !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL))
		goto out;
	klen = BIO_get_mem_data(kb, &kdata);
	if (klen <= 0 || mkdir_parent(key_path) != 0 || mkdir_parent(cert_path) != 0 ||
	    write_atomic(key_path, kdata, (size_t)klen, 0600) != 0 ||
	    write_certs(cert_path, (X509 *[]){x, c->issuing, c->root, NULL}) != 0)
		goto out;
	log_info("ca: issued the TLS server certificate for %s", sans);
	ret = 0;
out:
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(key);
	X509_NAME_free(name);
	GENERAL_NAMES_free(gens);
	return ret;
}

X509 *ca_root_cert(const ca *c)
{
	return c->root;
}

X509 *ca_issuing_cert(const ca *c)
{
	return c->issuing;
}

X509 *ca_tsa_cert(const ca *c)
{
	return c->tsa;
}

EVP_PKEY *ca_tsa_key(const ca *c)
{
	return c->tsa_key;
}

const char *ca_chain_path(const ca *c)
{
	return c->chain_path;
}

const char *ca_root_path(const ca *c)
{
	return c->root_path;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The SAM in its own process (server/sam_spawn.h): a real SAM process on a
 * throw-away SoftHSM state, driven through the client from 16 threads;
 * kill -9 of the SAM process in the middle of the run is reported as
 * SAM_E_UNAVAILABLE and the client recovers once the monitor has restarted
 * it. This process — the stand-in for the HTTP process — never maps the
 * PKCS#11 module, holds no descriptor into the token directory and no HSM
 * PIN; front-end connections cannot use the key lifecycle operations; the
 * password + OTP check and time-stamping work through the SAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "auth.h"
#include "config.h"
#include "kdf.h"
#include "sam.h"
#include "sam_client.h"
#include "sam_factor.h"
#include "sam_proto.h"
#include "sam_spawn.h"
#include "store.h"
#include "totp.h"
#include "testlib.h"

#define PIN "2468"
#define NTHREADS 16
#define RUN_MS 4000
#define KILL_AT_MS 1200

static const uint8_t seed_alice[20] = "ABCDEFGHIJ0123456789";
static const uint8_t seed_carol[20] = "carol-seed-012345678";

static struct {
	char dir[64];
	server_config cfg;
	store *s;
	sam *m; /* client, admin operations allowed */
	pid_t mon;
	sam *front; /* client, front-end operations only */
	pid_t front_mon;
	int64_t alice, carol;
	EVP_PKEY *ca_key;
	char cred[2][STORE_CRED_ID_MAX];
	EVP_PKEY *pub[2];
	char cred_otp[STORE_CRED_ID_MAX];
	EVP_PKEY *pub_otp;
} G;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is any mapping of this process from a file whose name contains s? */
static bool mapped(const char *s)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];
	bool found = false;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, s) != NULL)
			found = true;
	fclose(f);
	return found;
}

/* Does any open descriptor of this process point under path? */
static bool fd_under(const char *path)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char link[PATH_MAX + 32], target[PATH_MAX];
	bool found = false;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, path, strlen(path)) == 0)
			found = true;
	}
	closedir(d);
	return found;
}

static int64_t mkuser(const char *name, const char *pw, bool login_otp)
{
	store_user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	if (kdf_hash(pw, strlen(pw), 10, u.pw_hash, sizeof(u.pw_hash)) != 0)
		return -1;
	u.login_otp = login_otp;
	u.created = time(NULL);
	if (store_user_add(G.s, &u) != STORE_OK)
		return -1;
	return u.id;
}

static void make_cert(EVP_PKEY *pub, uint8_t **der, size_t *len)
{
	X509 *x = X509_new();
	X509_NAME *n;
	int l;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"Privsep", -1, -1,
				   0);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 30);
	assert_int_equal(X509_set_pubkey(x, pub), 1);
	assert_true(X509_sign(x, G.ca_key, EVP_sha256()) > 0);
	*der = NULL;
	l = i2d_X509(x, der);
	assert_true(l > 0);
	*len = (size_t)l;
	X509_free(x);
}

/* Key generation and certificate through the SAM process. */
static int mkcred(int64_t user, bool otp, char id[STORE_CRED_ID_MAX], EVP_PKEY **pub)
{
	sam_keygen_req kr;
	sam_keygen_res res;
	uint8_t *der = NULL;
	size_t len = 0;
	sam_status st;

	memset(&kr, 0, sizeof(kr));
	kr.user_id = user;
	kr.kind = KEY_EC;
	kr.curve_nid = NID_X9_62_prime256v1;
	kr.scal = 2;
	kr.auth_otp = otp;
	kr.multisign = 4;
	kr.pin = PIN;
	kr.pin_len = strlen(PIN);
	kr.actor = "admin:test";
	if (sam_keygen(G.m, &kr, &res) != SAM_OK || res.pub == NULL)
		return -1;
	memcpy(id, res.credential_id, STORE_CRED_ID_MAX);
	*pub = res.pub;
	make_cert(res.pub, &der, &len);
	st = sam_key_set_cert(G.m, id, der, len, "admin:test");
	OPENSSL_free(der);
	return st == SAM_OK ? 0 : -1;
}

static int group_setup(void **state)
{
	sam_spawn_opts o;

	(void)state;
	snprintf(G.dir, sizeof(G.dir), "/tmp/cisres-privsep-XXXXXX");
	if (mkdtemp(G.dir) == NULL)
		return -1;
	config_defaults(&G.cfg, G.dir);
	G.cfg.pol.kdf_log_n = 10;
	G.cfg.hsm_pool = 8;
	/* The token, PIN files, store, CA and TSA: made in a child process. */
	if (sam_spawn_bootstrap(&G.cfg) != 0)
		return -1;
	if (mapped("softhsm"))
		return -1;
	/* Spawn before this process opens the store: SQLite's per-process
	 * state must not be inherited by the SAM process (sam_spawn.h). */
	memset(&o, 0, sizeof(o));
	o.user = ""; /* the test runs as whoever it is */
	o.ops = SAM_OPS_ALL;
	o.max_conns = NTHREADS;
	o.strict = true;
	if (sam_spawn_ex(&G.cfg, &o, &G.m, &G.mon) != 0)
		return -1;
	memset(&o, 0, sizeof(o));
	o.user = "";
	o.max_conns = 2;
	if (sam_spawn_ex(&G.cfg, &o, &G.front, &G.front_mon) != 0)
		return -1;
	if (store_open(G.cfg.store_uri, &G.s) != STORE_OK)
		return -1;
	G.alice = mkuser("alice", "alice-password", false);
	G.carol = mkuser("carol", "carol-password", true);
	if (G.alice < 0 || G.carol < 0)
		return -1;
	G.ca_key = EVP_EC_gen("P-256");
	if (G.ca_key == NULL)
		return -1;
	/* Enrollment through the SAM process. */
	if (sam_user_set_otp(G.m, G.alice, seed_alice, sizeof(seed_alice), "admin:test") !=
		SAM_OK ||
	    sam_user_set_otp(G.m, G.carol, seed_carol, sizeof(seed_carol), "admin:test") != SAM_OK)
		return -1;
	if (mkcred(G.alice, false, G.cred[0], &G.pub[0]) != 0 ||
	    mkcred(G.alice, false, G.cred[1], &G.pub[1]) != 0 ||
	    mkcred(G.alice, true, G.cred_otp, &G.pub_otp) != 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sam_free(G.m);
	(void)sam_spawn_wait(G.mon, 5000);
	if (G.front != NULL) {
		sam_free(G.front);
		(void)sam_spawn_wait(G.front_mon, 5000);
	}
	store_close(G.s);
	EVP_PKEY_free(G.ca_key);
	for (int i = 0; i < 2; i++)
		EVP_PKEY_free(G.pub[i]);
	EVP_PKEY_free(G.pub_otp);
	testlib_rmtree(G.dir);
	return 0;
}

/* ---- helpers ---- */

static void rand_hash(sam_hash *h)
{
	assert_int_equal(RAND_bytes(h->v, 32), 1);
	h->len = 32;
}

/* authorize (PIN [+ OTP]) for one hash, then sign it; verify the result. */
static sam_status authorize_sign(const char *cred, EVP_PKEY *pub, const char *otp)
{
	sam_authorize_req ar;
	sam_authorize_res out;
	sam_sign_req sr;
	sam_sign_res res;
	sam_hash h;
	sam_status st;
	EVP_PKEY_CTX *vc;
	int ok;

	rand_hash(&h);
	memset(&ar, 0, sizeof(ar));
	ar.user_id = G.alice;
	snprintf(ar.credential_id, sizeof(ar.credential_id), "%s", cred);
	ar.num_signatures = 1;
	ar.hash = HASH_SHA256;
	ar.hashes = &h;
	ar.n_hashes = 1;
	ar.pin = PIN;
	ar.pin_len = strlen(PIN);
	ar.otp = otp;
	ar.otp_len = otp != NULL ? strlen(otp) : 0;
	st = sam_authorize(G.m, &ar, &out);
	if (st != SAM_OK)
		return st;
	memset(&sr, 0, sizeof(sr));
	sr.user_id = G.alice;
	snprintf(sr.credential_id, sizeof(sr.credential_id), "%s", cred);
	sr.sad = out.sad;
	sr.sad_len = strlen(out.sad);
	sr.algo = SIG_ECDSA_SHA256;
	sr.hash = HASH_SHA256;
	sr.hashes = &h;
	sr.n_hashes = 1;
	st = sam_sign(G.m, &sr, &res);
	if (st != SAM_OK)
		return st;
	vc = EVP_PKEY_CTX_new(pub, NULL);
	ok = vc != NULL && EVP_PKEY_verify_init(vc) == 1 &&
	     EVP_PKEY_verify(vc, res.sigs[0], res.lens[0], h.v, 32) == 1;
	EVP_PKEY_CTX_free(vc);
	sam_sign_res_clear(&res);
	return ok ? SAM_OK : SAM_E_ALGO; /* a bad signature would show as ALGO */
}

/* ---- tests ---- */

static void test_http_side_has_no_hsm(void **state)
{
	char tokens[PATH_MAX];

	(void)state;
	/* The module is loaded only in the SAM process (and the bootstrap
	 * child), never here. */
	assert_false(mapped("libsofthsm2"));
	assert_false(mapped("softhsm"));
	snprintf(tokens, sizeof(tokens), "%s/hsm", G.dir);
	assert_false(fd_under(tokens));
	/* No HSM PIN in this process's environment or files. */
	assert_null(getenv("SOFTHSM2_CONF"));
	/* With the store open here, a SAM process would inherit SQLite's
	 * lock state: sam_spawn refuses. */
	{
		sam *x = NULL;
		pid_t p = 0;
		assert_int_equal(sam_spawn(&G.cfg, &x, &p), -1);
		assert_null(x);
		assert_int_equal(p, 0);
	}
	/* The SAM process is a different process, alive, non-dumpable: a
	 * process of the same (non-root) user cannot read its memory. */
	assert_int_equal(authorize_sign(G.cred[0], G.pub[0], NULL), SAM_OK);
	{
		pid_t sp = sam_spawn_server_pid(G.m);
		char path[64];
		FILE *f;

		assert_true(sp > 0);
		assert_true(sp != getpid() && sp != G.mon);
		assert_int_equal(kill(sp, 0), 0);
		snprintf(path, sizeof(path), "/proc/%ld/mem", (long)sp);
		f = fopen(path, "r");
		if (geteuid() != 0)
			assert_null(f);
		if (f != NULL)
			fclose(f);
		/* Its status shows it is not dumpable (owned by root then). */
		snprintf(path, sizeof(path), "/proc/%ld/status", (long)sp);
		assert_int_equal(access(path, R_OK), 0);
	}
}

static void test_factor_secrets_sealed(void **state)
{
	store_user u;
	store_credential c;

	(void)state;
	assert_int_equal(store_user_get_id(G.s, G.alice, &u), STORE_OK);
	assert_true(sam_factor_otp_sealed(u.otp_key, u.otp_key_len));
	assert_null(memmem(u.otp_key, u.otp_key_len, seed_alice, sizeof(seed_alice)));
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_cred_get(G.s, G.cred[0], &c), STORE_OK);
	assert_true(sam_factor_pin_sealed(c.pin_hash));
	assert_null(strstr(c.pin_hash, "$scrypt$"));
	store_credential_clear(&c);
}

static void test_two_factors_and_login(void **state)
{
	char otp[16], pw[64];
	auth_tokens tok;
	time_t now = time(NULL);
	int64_t uid = 0;

	(void)state;
	snprintf(otp, sizeof(otp), "%06u",
		 totp_hotp(seed_alice, sizeof(seed_alice), (uint64_t)now / TOTP_STEP, 6));
	assert_int_equal(authorize_sign(G.cred_otp, G.pub_otp, NULL), SAM_E_OTP);
	assert_int_equal(authorize_sign(G.cred_otp, G.pub_otp, otp), SAM_OK);
	/* The same OTP again: replay. */
	assert_int_equal(authorize_sign(G.cred_otp, G.pub_otp, otp), SAM_E_OTP);

	/* auth/login through the SAM: password + TOTP (sealed seed). */
	snprintf(pw, sizeof(pw), "carol-password%06u",
		 totp_hotp(seed_carol, sizeof(seed_carol), (uint64_t)now / TOTP_STEP, 6));
	auth_set_sam(G.m);
	assert_int_equal(
	    auth_login_password(G.s, &G.cfg.pol, "carol", "carol-passwordXXXXXX", 20, false, &tok),
	    AUTH_BAD_CREDENTIALS);
	assert_int_equal(auth_login_password(G.s, &G.cfg.pol, "carol", pw, strlen(pw), false, &tok),
			 AUTH_OK);
	assert_true(tok.access_token[0] != '\0');
	assert_int_equal(auth_login_password(G.s, &G.cfg.pol, "nobody", "x", 1, false, &tok),
			 AUTH_BAD_CREDENTIALS);
	auth_set_sam(NULL);
	assert_int_equal(sam_verify_login(G.m, "alice", "alice-password", 14, &uid), SAM_OK);
	assert_int_equal(uid, G.alice);
	assert_int_equal(sam_verify_login(G.m, "alice", "wrong", 5, &uid), SAM_E_PIN);
	assert_int_equal(uid, 0);
	/* Without the SAM process, this process cannot open carol's seed. */
	assert_int_equal(auth_login_password(G.s, &G.cfg.pol, "carol", pw, strlen(pw), false, &tok),
			 AUTH_ERROR);
}

static void test_tsa_through_sam(void **state)
{
	uint8_t dg[32], *tok = NULL;
	size_t toklen = 0;

	(void)state;
	memset(dg, 0x33, sizeof(dg));
	assert_int_equal(sam_tsa_stamp(G.m, HASH_SHA256, dg, sizeof(dg), "0102", &tok, &toklen), 0);
	assert_non_null(tok);
	assert_true(toklen > 100);
	{
		const unsigned char *p = tok;
		PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)toklen);
		assert_non_null(p7);
		PKCS7_free(p7);
	}
	free(tok);
	assert_int_equal(sam_tsa_stamp(G.m, HASH_SHA256, dg, 20, NULL, &tok, &toklen), -2);
	assert_null(tok);
}

static void test_front_connection_cannot_manage_keys(void **state)
{
	sam *front = G.front;
	pid_t mon = G.front_mon;
	sam_keygen_req kr;
	sam_keygen_res kres;

	(void)state;
	G.front = NULL;
	memset(&kr, 0, sizeof(kr));
	kr.user_id = G.alice;
	kr.kind = KEY_EC;
	kr.curve_nid = NID_X9_62_prime256v1;
	kr.scal = 2;
	kr.multisign = 1;
	kr.pin = PIN;
	kr.pin_len = strlen(PIN);
	assert_int_equal(sam_keygen(front, &kr, &kres), SAM_E_REQUEST);
	assert_null(kres.pub);
	assert_int_equal(sam_set_pin(front, G.cred[0], "0000", 4, "x"), SAM_E_REQUEST);
	assert_int_equal(sam_key_destroy(front, G.cred[0], "x"), SAM_E_REQUEST);
	assert_int_equal(sam_user_set_otp(front, G.alice, seed_carol, 20, "x"), SAM_E_REQUEST);
	/* ... but it signs. */
	{
		sam *keep = G.m;
		G.m = front;
		assert_int_equal(authorize_sign(G.cred[1], G.pub[1], NULL), SAM_OK);
		G.m = keep;
	}
	/* Closing the client ends the monitor and its SAM process. */
	{
		pid_t sp = sam_spawn_server_pid(front);
		sam_free(front);
		assert_int_equal(sam_spawn_wait(mon, 5000), 0);
		assert_true(sp > 0);
		assert_int_equal(kill(sp, 0), -1);
	}
}

typedef struct {
	int idx;
	atomic_int *stop;
	int ok, internal, other;
	int64_t last_ok_ms;
	sam_status other_st;
} worker;

static void *work(void *arg)
{
	worker *w = arg;

	while (!atomic_load(w->stop)) {
		int c = w->idx % 2;
		sam_status st = authorize_sign(G.cred[c], G.pub[c], NULL);

		if (st == SAM_OK) {
			w->ok++;
			w->last_ok_ms = now_ms();
		} else if (st == SAM_E_UNAVAILABLE) {
			w->internal++;
			usleep(20000);
		} else {
			w->other++;
			w->other_st = st;
		}
	}
	return NULL;
}

static void test_concurrent_kill_and_recover(void **state)
{
	pthread_t th[NTHREADS];
	worker w[NTHREADS];
	atomic_int stop = 0;
	pid_t before, after;
	int64_t t0, kill_ms;
	int ok = 0, internal = 0, ok_after = 0;

	(void)state;
	before = sam_spawn_server_pid(G.m);
	assert_true(before > 0);
	memset(w, 0, sizeof(w));
	t0 = now_ms();
	for (int i = 0; i < NTHREADS; i++) {
		w[i].idx = i;
		w[i].stop = &stop;
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	usleep(KILL_AT_MS * 1000);
	kill_ms = now_ms();
	assert_int_equal(kill(before, SIGKILL), 0);
	while (now_ms() - t0 < RUN_MS)
		usleep(50000);
	atomic_store(&stop, 1);
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < NTHREADS; i++) {
		ok += w[i].ok;
		internal += w[i].internal;
		if (w[i].last_ok_ms > kill_ms + 100)
			ok_after++;
		/* A dead SAM shows as SAM_E_UNAVAILABLE, nothing else. */
		assert_int_equal(w[i].other, 0);
	}
	print_message("privsep: %d signatures, %d SAM_E_UNAVAILABLE around the kill, "
		      "%d/%d threads signed again after it\n",
		      ok, internal, ok_after, NTHREADS);
	assert_true(ok > NTHREADS);
	assert_true(internal >= 1);
	assert_int_equal(ok_after, NTHREADS);
	after = sam_spawn_server_pid(G.m);
	assert_true(after > 0 && after != before);
	assert_int_equal(kill(before, 0), -1); /* reaped by the monitor */
	assert_int_equal(authorize_sign(G.cred[0], G.pub[0], NULL), SAM_OK);
	assert_false(mapped("softhsm"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http_side_has_no_hsm),
	    cmocka_unit_test(test_factor_secrets_sealed),
	    cmocka_unit_test(test_two_factors_and_login),
	    cmocka_unit_test(test_tsa_through_sam),
	    cmocka_unit_test(test_front_connection_cannot_manage_keys),
	    cmocka_unit_test(test_concurrent_kill_and_recover),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

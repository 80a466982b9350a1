// SPDX-License-Identifier: Apache-2.0
/* bench_p11sign: C_SignInit + C_Sign latency and throughput through any
 * PKCS#11 module (SoftHSMv2 directly, p11-kit-client.so forwarding to a
 * `p11-kit server`, cisres-pkcs11.so). Each thread has its own session and
 * signs a fresh random SHA-256 digest per call: CKM_ECDSA on the raw
 * digest, CKM_RSA_PKCS on its DER DigestInfo. Prints one result line (see
 * bench_stats.h). Bounded by --count per thread and --seconds.
 *
 * Fault mode (tests/integration/test_kill.sh): --interval MS signs every MS
 * milliseconds until --seconds, --count or --stop-file, and goes on through
 * failures (a server that is down), counting them; --verify-cert checks
 * every signature with OpenSSL against a certificate; --log appends one line
 * per attempt: "<unix ms> <CK_RV hex> ok|fail|bad". */
#include "bench_stats.h"
#include "bench_verify.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include "secmem.h"

#define MAX_THREADS 64
#define SIG_CAP 1024

static const uint8_t sha256_prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
					0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

typedef struct {
	const char *module;
	const char *token;
	const char *label;
	const char *name;
	const char *stop_file;
	const char *verify_cert;
	const char *log;
	char *pin;
	bool rsa;
	long bits;
	long threads;
	long count;
	long warmup;
	long seconds;
	long interval_ms; /* > 0: fault mode */
} opts;

typedef struct {
	CK_FUNCTION_LIST_PTR f;
	CK_SLOT_ID slot;
	CK_OBJECT_HANDLE key;
	const opts *o;
	pthread_barrier_t barrier;
	double start_us;
	double deadline_us;
	EVP_PKEY *pub; /* --verify-cert */
	FILE *log;     /* --log */
	pthread_mutex_t log_lock;
} shared;

typedef struct {
	shared *sh;
	int index;
	bench_stats_samples s;
	double end_us;
	unsigned long errors;
	CK_RV last_rv;
	/* fault mode */
	unsigned long ok, failed, bad_sigs, verified;
	bool last_ok;
	EVP_PKEY_CTX *vctx;
} worker;

static void usage(void)
{
	fputs("usage: bench_p11sign --module PATH --key ec|rsa [--bits N] [--token LABEL]\n"
	      "         [--label KEYLABEL] [--pin-env VAR] [--threads N] [--count N]\n"
	      "         [--warmup N] [--seconds S] [--name NAME] [--interval MS]\n"
	      "         [--stop-file PATH] [--verify-cert PEM] [--log FILE]\n"
	      "  Signs SHA-256 digests (CKM_ECDSA / CKM_RSA_PKCS) with the first private key\n"
	      "  of that type and size; --count and --warmup are per thread.\n"
	      "  --interval MS: fault mode, one signature every MS ms per thread, going on\n"
	      "  through failures until --seconds, --count or until --stop-file exists.\n"
	      "  --verify-cert verifies each signature against a certificate (or public\n"
	      "  key) in PEM; --log appends \"<unix ms> <CK_RV> ok|fail|bad\" per attempt.\n",
	      stderr);
}

static int parse_opts(int argc, char **argv, opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->bits = 0;
	o->threads = 1;
	o->count = 1000;
	o->warmup = 10;
	o->seconds = 20;
	o->name = "p11sign";
	i = 1;
	while (i < argc) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;

		if (v == NULL)
			return -1;
		if (strcmp(a, "--module") == 0)
			o->module = v;
		else if (strcmp(a, "--token") == 0)
			o->token = v;
		else if (strcmp(a, "--label") == 0)
			o->label = v;
		else if (strcmp(a, "--name") == 0)
			o->name = v;
		else if (strcmp(a, "--stop-file") == 0)
			o->stop_file = v;
		else if (strcmp(a, "--verify-cert") == 0)
			o->verify_cert = v;
		else if (strcmp(a, "--log") == 0)
			o->log = v;
		else if (strcmp(a, "--interval") == 0)
			bad = bench_stats_parse_long(v, 1, 60000, &o->interval_ms);
		else if (strcmp(a, "--key") == 0) {
			if (strcmp(v, "rsa") == 0)
				o->rsa = true;
			else if (strcmp(v, "ec") != 0)
				bad = 1;
		} else if (strcmp(a, "--pin-env") == 0) {
			const char *p = getenv(v);

			if (p == NULL || strlen(p) > 256)
				bad = 1;
			else
				o->pin = strdup(p);
		} else if (strcmp(a, "--bits") == 0)
			bad = bench_stats_parse_long(v, 256, 16384, &o->bits);
		else if (strcmp(a, "--threads") == 0)
			bad = bench_stats_parse_long(v, 1, MAX_THREADS, &o->threads);
		else if (strcmp(a, "--count") == 0)
			bad = bench_stats_parse_long(v, 1, 10000000, &o->count);
		else if (strcmp(a, "--warmup") == 0)
			bad = bench_stats_parse_long(v, 0, 1000000, &o->warmup);
		else if (strcmp(a, "--seconds") == 0)
			bad = bench_stats_parse_long(v, 1, 3600, &o->seconds);
		else
			bad = 1;
		if (bad) {
			fprintf(stderr, "bench_p11sign: bad option %s\n", a);
			return -1;
		}
		i += 2;
	}
	if (o->module == NULL)
		return -1;
	if (o->bits == 0)
		o->bits = o->rsa ? 2048 : 256;
	return 0;
}

/* Compare a blank-padded PKCS#11 label with s. */
static bool label_eq(const CK_UTF8CHAR *lab, size_t cap, const char *s)
{
	size_t n = cap, sl = strlen(s);

	while (n > 0 && lab[n - 1] == ' ')
		n--;
	return n == sl && memcmp(lab, s, n) == 0;
}

static int find_slot(CK_FUNCTION_LIST_PTR f, const char *token, CK_SLOT_ID *out)
{
	CK_SLOT_ID slots[256];
	CK_ULONG n = 256, i;
	CK_RV rv;

	rv = f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK) {
		fprintf(stderr, "bench_p11sign: C_GetSlotList: 0x%lx\n", (unsigned long)rv);
		return -1;
	}
	for (i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;

		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (token == NULL || label_eq(ti.label, sizeof(ti.label), token)) {
			*out = slots[i];
			return 0;
		}
	}
	fprintf(stderr, "bench_p11sign: no token %s among %lu slots\n", token ? token : "(any)",
		(unsigned long)n);
	return -1;
}

/* Does private key k have the wanted size (and label)? */
static bool key_matches(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k,
			const opts *o)
{
	uint8_t buf[1024];
	CK_ATTRIBUTE a = {o->rsa ? CKA_MODULUS : CKA_EC_PARAMS, buf, sizeof(buf)};

	if (f->C_GetAttributeValue(s, k, &a, 1) != CKR_OK || a.ulValueLen > sizeof(buf))
		return false;
	if (o->rsa) {
		size_t len = a.ulValueLen, off = 0;

		while (off < len && buf[off] == 0)
			off++;
		if ((long)(len - off) * 8 != o->bits)
			return false;
	} else {
		const uint8_t *want = o->bits == 384 ? oid_p384 : oid_p256;
		size_t wl = o->bits == 384 ? sizeof(oid_p384) : sizeof(oid_p256);

		if (a.ulValueLen != wl || memcmp(buf, want, wl) != 0)
			return false;
	}
	if (o->label != NULL) {
		char lab[256];
		CK_ATTRIBUTE l = {CKA_LABEL, lab, sizeof(lab) - 1};

		if (f->C_GetAttributeValue(s, k, &l, 1) != CKR_OK || l.ulValueLen >= sizeof(lab))
			return false;
		lab[l.ulValueLen] = '\0';
		if (strcmp(lab, o->label) != 0)
			return false;
	}
	return true;
}

static int find_key(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, const opts *o,
		    CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = o->rsa ? CKK_RSA : CKK_EC;
	CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}};
	CK_OBJECT_HANDLE objs[64];
	CK_ULONG n = 0, i;
	CK_BBOOL always = CK_FALSE;
	CK_ATTRIBUTE aa = {CKA_ALWAYS_AUTHENTICATE, &always, sizeof(always)};
	int found = -1;

	if (f->C_FindObjectsInit(s, tmpl, 2) != CKR_OK)
		return -1;
	while (found < 0 && f->C_FindObjects(s, objs, 64, &n) == CKR_OK && n > 0) {
		for (i = 0; i < n && found < 0; i++) {
			if (key_matches(f, s, objs[i], o)) {
				*out = objs[i];
				found = 0;
			}
		}
	}
	f->C_FindObjectsFinal(s);
	if (found != 0) {
		fprintf(stderr, "bench_p11sign: no %s-%ld private key%s%s\n", o->rsa ? "RSA" : "EC",
			o->bits, o->label ? " labelled " : "", o->label ? o->label : "");
		return -1;
	}
	if (f->C_GetAttributeValue(s, *out, &aa, 1) == CKR_OK && always == CK_TRUE) {
		fprintf(stderr, "bench_p11sign: the key needs CKU_CONTEXT_SPECIFIC logins "
				"(CKA_ALWAYS_AUTHENTICATE); not supported\n");
		return -1;
	}
	return 0;
}

/* Verify a PKCS#11 signature of a SHA-256 digest with OpenSSL. */
static bool sig_check(worker *w, const uint8_t *digest, const uint8_t *sig, CK_ULONG slen)
{
	return bench_verify_sha256(w->vctx, w->sh->o->rsa, digest, sig, (size_t)slen);
}

static double wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static CK_RV sign_once(shared *sh, CK_SESSION_HANDLE s, uint64_t *rng, worker *w);

/* Fault mode: one signature every interval, through failures. */
static void worker_faults(worker *w, CK_SESSION_HANDLE s, uint64_t *rng)
{
	shared *sh = w->sh;
	const opts *o = sh->o;
	long i;

	for (i = 0; i < o->count; i++) {
		double t0 = bench_stats_now_us(), t1;
		unsigned long bad0 = w->bad_sigs;
		const char *verdict;
		struct timespec ts;
		CK_RV rv;

		if (t0 > sh->deadline_us ||
		    (o->stop_file != NULL && access(o->stop_file, F_OK) == 0))
			break;
		rv = sign_once(sh, s, rng, w);
		t1 = bench_stats_now_us();
		if (rv != CKR_OK) {
			w->failed++;
			w->last_rv = rv;
			w->last_ok = false;
			verdict = "fail";
		} else if (w->bad_sigs != bad0) {
			w->last_ok = false;
			verdict = "bad";
		} else {
			w->ok++;
			w->last_ok = true;
			bench_stats_add(&w->s, t1 - t0);
			verdict = "ok";
		}
		if (sh->log != NULL) {
			pthread_mutex_lock(&sh->log_lock);
			fprintf(sh->log, "%.0f 0x%lx %s\n", wall_ms(), (unsigned long)rv, verdict);
			fflush(sh->log);
			pthread_mutex_unlock(&sh->log_lock);
		}
		ts.tv_sec = o->interval_ms / 1000;
		ts.tv_nsec = (o->interval_ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) != 0)
			;
	}
}

/* One signature of a random digest; returns the CK_RV. When w has a
 * verification context, the signature is checked (w->bad_sigs). */
static CK_RV sign_once(shared *sh, CK_SESSION_HANDLE s, uint64_t *rng, worker *w)
{
	CK_MECHANISM mech = {sh->o->rsa ? CKM_RSA_PKCS : CKM_ECDSA, NULL, 0};
	uint8_t data[sizeof(sha256_prefix) + 32], sig[SIG_CAP];
	CK_ULONG dlen, slen = sizeof(sig);
	CK_RV rv;

	if (sh->o->rsa) {
		memcpy(data, sha256_prefix, sizeof(sha256_prefix));
		bench_stats_fill(rng, data + sizeof(sha256_prefix), 32);
		dlen = sizeof(data);
	} else {
		bench_stats_fill(rng, data, 32);
		dlen = 32;
	}
	rv = sh->f->C_SignInit(s, &mech, sh->key);
	if (rv != CKR_OK)
		return rv;
	rv = sh->f->C_Sign(s, data, dlen, sig, &slen);
	if (rv == CKR_OK && w != NULL && w->vctx != NULL) {
		const uint8_t *digest = sh->o->rsa ? data + sizeof(sha256_prefix) : data;

		if (sig_check(w, digest, sig, slen))
			w->verified++;
		else
			w->bad_sigs++;
	}
	return rv;
}

static void *worker_run(void *arg)
{
	worker *w = arg;
	shared *sh = w->sh;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	uint64_t rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)w->index * 7919 + 1);
	long i;
	CK_RV rv;

	rv = sh->f->C_OpenSession(sh->slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		w->last_rv = rv;
		w->errors++;
	}
	for (i = 0; i < sh->o->warmup && w->errors == 0; i++) {
		rv = sign_once(sh, s, &rng, w);
		if (rv != CKR_OK) {
			w->last_rv = rv;
			w->errors++;
		}
	}
	pthread_barrier_wait(&sh->barrier);
	if (sh->o->interval_ms > 0) {
		if (w->errors == 0)
			worker_faults(w, s, &rng);
		w->end_us = bench_stats_now_us();
		if (s != CK_INVALID_HANDLE)
			sh->f->C_CloseSession(s);
		return NULL;
	}
	for (i = 0; i < sh->o->count && w->errors == 0; i++) {
		double t0 = bench_stats_now_us(), t1;

		if (t0 > sh->deadline_us)
			break;
		rv = sign_once(sh, s, &rng, w);
		t1 = bench_stats_now_us();
		if (rv == CKR_OK && w->bad_sigs != 0)
			rv = CKR_SIGNATURE_INVALID; /* it does not verify */
		if (rv != CKR_OK) {
			w->last_rv = rv;
			w->errors++;
			break;
		}
		bench_stats_add(&w->s, t1 - t0);
	}
	w->end_us = bench_stats_now_us();
	if (s != CK_INVALID_HANDLE)
		sh->f->C_CloseSession(s);
	return NULL;
}

int main(int argc, char **argv)
{
	opts o;
	shared sh;
	worker *ws = NULL;
	pthread_t tids[MAX_THREADS];
	bench_stats_samples all = {0};
	CK_C_GetFunctionList getfl;
	CK_C_INITIALIZE_ARGS ia;
	CK_SESSION_HANDLE s0 = CK_INVALID_HANDLE;
	void *dl;
	double end = 0, init_us;
	unsigned long errors = 0, ok = 0, failed = 0, bad = 0, verified = 0;
	bool last_ok = true;
	CK_RV rv, last = CKR_OK;
	char extra[512];
	long t;
	int rc = 1;

	if (parse_opts(argc, argv, &o) != 0) {
		usage();
		return 2;
	}
	memset(&sh, 0, sizeof(sh));
	sh.o = &o;
	pthread_mutex_init(&sh.log_lock, NULL);
	if (o.verify_cert != NULL && (sh.pub = bench_verify_load(o.verify_cert)) == NULL) {
		fprintf(stderr, "bench_p11sign: no certificate or public key in %s\n",
			o.verify_cert);
		return 1;
	}
	if (o.log != NULL && (sh.log = fopen(o.log, "a")) == NULL) {
		fprintf(stderr, "bench_p11sign: cannot open %s\n", o.log);
		return 1;
	}
	dl = dlopen(o.module, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		fprintf(stderr, "bench_p11sign: %s\n", dlerror());
		return 1;
	}
	getfl = (CK_C_GetFunctionList)(uintptr_t)dlsym(dl, "C_GetFunctionList");
	if (getfl == NULL || getfl(&sh.f) != CKR_OK) {
		fprintf(stderr, "bench_p11sign: no C_GetFunctionList in %s\n", o.module);
		return 1;
	}
	memset(&ia, 0, sizeof(ia));
	ia.flags = CKF_OS_LOCKING_OK;
	init_us = bench_stats_now_us();
	rv = sh.f->C_Initialize(&ia);
	if (rv != CKR_OK) {
		fprintf(stderr, "bench_p11sign: C_Initialize: 0x%lx\n", (unsigned long)rv);
		return 1;
	}
	init_us = bench_stats_now_us() - init_us;
	if (find_slot(sh.f, o.token, &sh.slot) != 0)
		goto out;
	rv = sh.f->C_OpenSession(sh.slot, CKF_SERIAL_SESSION, NULL, NULL, &s0);
	if (rv != CKR_OK) {
		fprintf(stderr, "bench_p11sign: C_OpenSession: 0x%lx\n", (unsigned long)rv);
		goto out;
	}
	if (o.pin != NULL) {
		rv = sh.f->C_Login(s0, CKU_USER, (CK_UTF8CHAR_PTR)o.pin, strlen(o.pin));
		if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
			fprintf(stderr, "bench_p11sign: C_Login: 0x%lx\n", (unsigned long)rv);
			goto out;
		}
	}
	if (find_key(sh.f, s0, &o, &sh.key) != 0)
		goto out;

	ws = calloc((size_t)o.threads, sizeof(*ws));
	if (ws == NULL || pthread_barrier_init(&sh.barrier, NULL, (unsigned)o.threads + 1) != 0)
		goto out;
	for (t = 0; t < o.threads; t++) {
		ws[t].sh = &sh;
		ws[t].index = (int)t;
		if (bench_stats_init(&ws[t].s, (size_t)o.count) != 0)
			goto out;
		if (sh.pub != NULL && (ws[t].vctx = EVP_PKEY_CTX_new(sh.pub, NULL)) == NULL)
			goto out;
	}
	/* deadline covers warm-up too, generously */
	sh.deadline_us = bench_stats_now_us() + (double)o.seconds * 1e6;
	for (t = 0; t < o.threads; t++) {
		if (pthread_create(&tids[t], NULL, worker_run, &ws[t]) != 0) {
			fprintf(stderr, "bench_p11sign: pthread_create failed\n");
			exit(1);
		}
	}
	pthread_barrier_wait(&sh.barrier);
	sh.start_us = bench_stats_now_us();
	if (bench_stats_init(&all, (size_t)(o.count * o.threads)) != 0)
		goto out;
	for (t = 0; t < o.threads; t++) {
		pthread_join(tids[t], NULL);
		bench_stats_merge(&all, &ws[t].s);
		if (ws[t].end_us > end)
			end = ws[t].end_us;
		errors += ws[t].errors;
		ok += ws[t].ok;
		failed += ws[t].failed;
		bad += ws[t].bad_sigs;
		verified += ws[t].verified;
		if (ws[t].errors || ws[t].failed)
			last = ws[t].last_rv;
		if (!ws[t].last_ok)
			last_ok = false;
	}
	snprintf(extra, sizeof(extra),
		 "threads=%ld key=%s-%ld ops_per_s=%.1f errors=%lu last_rv=0x%lx init_us=%.0f",
		 o.threads, o.rsa ? "rsa" : "ec", o.bits,
		 end > sh.start_us ? (double)all.n * 1e6 / (end - sh.start_us) : 0.0, errors,
		 (unsigned long)last, init_us);
	if (o.interval_ms > 0) {
		size_t len = strlen(extra);

		snprintf(extra + len, sizeof(extra) - len,
			 " ok=%lu failed=%lu bad_sigs=%lu verified=%lu last_ok=%d", ok, failed, bad,
			 verified, last_ok ? 1 : 0);
	}
	bench_stats_report("p11sign", o.name, &all, extra);
	if (o.interval_ms > 0) /* failures tolerated; bad signatures are not */
		rc = errors == 0 && bad == 0 && ok > 0 ? 0 : 1;
	else
		rc = errors == 0 && all.n > 0 ? 0 : 1;
out:
	if (ws != NULL) {
		for (t = 0; t < o.threads; t++) {
			bench_stats_free(&ws[t].s);
			EVP_PKEY_CTX_free(ws[t].vctx);
		}
		free(ws);
	}
	bench_stats_free(&all);
	if (s0 != CK_INVALID_HANDLE)
		sh.f->C_CloseSession(s0);
	sh.f->C_Finalize(NULL);
	if (o.pin != NULL) {
		sec_free(o.pin, strlen(o.pin));
	}
	if (sh.log != NULL)
		fclose(sh.log);
	EVP_PKEY_free(sh.pub);
	/* no dlclose: modules may keep threads or atexit state */
	return rc;
}

// SPDX-License-Identifier: Apache-2.0
/* bench_signhash: load client for the CSC signatures/signHash method.
 * Logs in once (HTTP Basic), authorizes a pool of multi-use SADs for a
 * SCAL1 credential before the clock starts, then C client threads each
 * send signHash requests of B random SHA-256 digests over their own
 * keep-alive HTTPS connection (libcurl, TLS session reused) until the time
 * limit or the SAD pool (the signature budget) runs out. Every answer is
 * checked: HTTP 200 and exactly B signatures. Prints one result line (see
 * bench_stats.h): request latency percentiles, requests/s, signatures/s.
 *
 * For the load and fault tests (tests/integration/test_load.sh,
 * test_kill.sh): --verify-cert verifies every returned signature with
 * OpenSSL against the certificate (a failure is an error); --ack-log
 * appends the Base64 of every digest whose signature was acknowledged
 * (HTTP 200, all signatures present and verified); --tolerate-errors keeps
 * going through refused connections, server errors and refused SADs
 * (authorizing a fresh SAD when one is refused) and counts them. */
#include "bench_stats.h"
#include "bench_verify.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "b64.h"
#include "secmem.h"

#define MAX_CLIENTS 256
#define MAX_BATCH 1024
#define MAX_SADS 4096
#define RESP_MAX (8u << 20)
#define DIGEST_LEN 32
#define SIG_B64_MAX 8192
#define SAMPLES_MAX (1L << 22)
#define RETRY_US 50000 /* pause after a failure with --tolerate-errors */
#define OID_SHA256 "2.16.840.1.101.3.4.2.1"
#define OID_SHA256_RSA "1.2.840.113549.1.1.11"
#define OID_ECDSA_SHA256 "1.2.840.10045.4.3.2"

typedef struct {
	const char *url; /* ends in /csc/v2/ */
	const char *ca;
	const char *user;
	const char *cred;
	const char *name;
	const char *ready_file;
	const char *verify_cert;
	const char *ack_log;
	const char *stop_file;
	char *password;
	char *pin;
	bool rsa;
	bool tolerate;
	unsigned long seed;
	long batch;
	long clients;
	long seconds;
	long max_sigs;
	long multisign;
	long auth_threads;
} opts;

typedef struct {
	char *sad;
	long remaining;
} sad_slot;

typedef struct {
	const opts *o;
	char *bearer; /* "Authorization: Bearer ..." */
	sad_slot sads[MAX_SADS];
	long n_sads;
	long next_sad;	/* next to hand out, under lock */
	long next_auth; /* next to authorize, under lock */
	long issued;	/* signatures requested so far, under lock */
	pthread_mutex_t lock;
	pthread_barrier_t barrier;
	double start_us;
	double deadline_us;
	EVP_PKEY *pub; /* --verify-cert */
	FILE *ack;     /* --ack-log */
	pthread_mutex_t ack_lock;
} shared;

typedef struct {
	shared *sh;
	int index;
	bench_stats_samples s;
	unsigned long sigs;
	unsigned long errors;	   /* all of the below */
	unsigned long conn_errors; /* no HTTP answer */
	unsigned long sad_refused; /* a SAD refused (spent, unknown, expired) */
	unsigned long http_errors; /* any other error answer, or a malformed one */
	unsigned long bad_sigs;	   /* returned signatures that do not verify */
	unsigned long auth_errors; /* failed credentials/authorize */
	unsigned long reauth;	   /* SADs authorized by this client */
	unsigned long verified;
	sad_slot own;	  /* a SAD of its own (--tolerate-errors) */
	bool own_only;	  /* pool SADs are stale: authorize its own */
	uint8_t *digests; /* the digests of the batch in flight */
	EVP_PKEY_CTX *vctx;
	double end_us;
	char last_err[160];
} client;

typedef struct {
	char *p;
	size_t n;
} buf;

static void usage(void)
{
	fputs("usage: bench_signhash --url URL --ca FILE --user USER --password-env VAR\n"
	      "         --cred ID --pin-env VAR --key ec|rsa [--batch N] [--clients N]\n"
	      "         [--seconds S] [--max-sigs N] [--multisign N] [--name NAME]\n"
	      "         [--ready-file PATH] [--verify-cert PEM] [--ack-log FILE]\n"
	      "         [--tolerate-errors] [--seed N] [--stop-file PATH]\n"
	      "  URL is the CSC base (https://host:port/csc/v2/); the credential must be\n"
	      "  SCAL1 with PIN-only authorization and multisign >= batch. --ready-file is\n"
	      "  created when the clock starts (for a profiler to attach then).\n"
	      "  --max-sigs bounds the signatures requested. --verify-cert verifies every\n"
	      "  signature against the certificate (or public key) in PEM; --ack-log appends\n"
	      "  the Base64 of each digest whose signature came back (and verified);\n"
	      "  --tolerate-errors goes on through connection errors, error answers and\n"
	      "  refused SADs (authorizing fresh ones) until --seconds or --max-sigs, counts\n"
	      "  them, and fails only on a bad signature or when nothing was signed.\n"
	      "  --seed varies the random digests between runs; --stop-file ends the run\n"
	      "  when that file exists.\n",
	      stderr);
}

static char *env_secret(const char *var)
{
	const char *v = getenv(var);

	if (v == NULL || strlen(v) > 1024)
		return NULL;
	return strdup(v);
}

static int parse_opts(int argc, char **argv, opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->batch = 1;
	o->clients = 1;
	o->seconds = 5;
	o->max_sigs = 10000;
	o->multisign = 1000;
	o->auth_threads = 2;
	o->name = "signhash";
	i = 1;
	while (i < argc) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;

		if (strcmp(a, "--tolerate-errors") == 0) {
			o->tolerate = true;
			i++;
			continue;
		}
		if (v == NULL)
			return -1;
		if (strcmp(a, "--url") == 0)
			o->url = v;
		else if (strcmp(a, "--ca") == 0)
			o->ca = v;
		else if (strcmp(a, "--user") == 0)
			o->user = v;
		else if (strcmp(a, "--cred") == 0)
			o->cred = v;
		else if (strcmp(a, "--name") == 0)
			o->name = v;
		else if (strcmp(a, "--ready-file") == 0)
			o->ready_file = v;
		else if (strcmp(a, "--verify-cert") == 0)
			o->verify_cert = v;
		else if (strcmp(a, "--ack-log") == 0)
			o->ack_log = v;
		else if (strcmp(a, "--stop-file") == 0)
			o->stop_file = v;
		else if (strcmp(a, "--seed") == 0) {
			long seed = 0;

			bad = bench_stats_parse_long(v, 0, 2147483647L, &seed);
			o->seed = (unsigned long)seed;
		} else if (strcmp(a, "--password-env") == 0)
			bad = (o->password = env_secret(v)) == NULL;
		else if (strcmp(a, "--pin-env") == 0)
			bad = (o->pin = env_secret(v)) == NULL;
		else if (strcmp(a, "--key") == 0) {
			if (strcmp(v, "rsa") == 0)
				o->rsa = true;
			else if (strcmp(v, "ec") != 0)
				bad = 1;
		} else if (strcmp(a, "--batch") == 0)
			bad = bench_stats_parse_long(v, 1, MAX_BATCH, &o->batch);
		else if (strcmp(a, "--clients") == 0)
			bad = bench_stats_parse_long(v, 1, MAX_CLIENTS, &o->clients);
		else if (strcmp(a, "--seconds") == 0)
			bad = bench_stats_parse_long(v, 1, 3600, &o->seconds);
		else if (strcmp(a, "--max-sigs") == 0)
			bad = bench_stats_parse_long(v, 1, 100000000, &o->max_sigs);
		else if (strcmp(a, "--multisign") == 0)
			bad = bench_stats_parse_long(v, 1, 100000, &o->multisign);
		else
			bad = 1;
		if (bad) {
			fprintf(stderr, "bench_signhash: bad option %s\n", a);
			return -1;
		}
		i += 2;
	}
	if (o->url == NULL || o->ca == NULL || o->user == NULL || o->cred == NULL ||
	    o->password == NULL || o->pin == NULL || o->batch > o->multisign)
		return -1;
	if (strlen(o->cred) > 128 || strlen(o->user) > 256 || strlen(o->url) > 1024)
		return -1;
	return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	buf *b = ud;
	size_t len = size * nmemb;
	char *np;

	if (len > RESP_MAX || b->n + len > RESP_MAX)
		return 0;
	np = realloc(b->p, b->n + len + 1);
	if (np == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->n, ptr, len);
	b->n += len;
	b->p[b->n] = '\0';
	return len;
}

static CURL *http_new(const opts *o)
{
	CURL *c = curl_easy_init();

	if (c == NULL)
		return NULL;
	curl_easy_setopt(c, CURLOPT_CAINFO, o->ca);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	return c;
}

/* POST body to URL+method; returns the HTTP status (0 on transport error)
 * and the body in out (caller frees out->p). */
static long http_post(CURL *c, const shared *sh, const char *method, const char *body,
		      struct curl_slist *hdrs, buf *out)
{
	char url[1200];
	long status = 0;

	snprintf(url, sizeof(url), "%s%s", sh->o->url, method);
	out->p = NULL;
	out->n = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (curl_easy_perform(c) != CURLE_OK)
		return 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static struct curl_slist *headers(const shared *sh)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

	if (h != NULL && sh->bearer != NULL)
		h = curl_slist_append(h, sh->bearer);
	return h;
}

static int login(shared *sh)
{
	const opts *o = sh->o;
	CURL *c = http_new(o);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	cJSON *j = NULL;
	const cJSON *tok;
	buf out = {0};
	long st;
	int rc = -1;

	if (c == NULL || h == NULL)
		goto out;
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(c, CURLOPT_USERNAME, o->user);
	curl_easy_setopt(c, CURLOPT_PASSWORD, o->password);
	st = http_post(c, sh, "auth/login", "{}", h, &out);
	if (st != 200 || out.p == NULL) {
		fprintf(stderr, "bench_signhash: auth/login: HTTP %ld %.200s\n", st,
			out.p ? out.p : "");
		goto out;
	}
	j = cJSON_Parse(out.p);
	tok = cJSON_GetObjectItemCaseSensitive(j, "access_token");
	if (!cJSON_IsString(tok) || strlen(tok->valuestring) > 256)
		goto out;
	sh->bearer = malloc(300);
	if (sh->bearer == NULL)
		goto out;
	snprintf(sh->bearer, 300, "Authorization: Bearer %s", tok->valuestring);
	rc = 0;
out:
	cJSON_Delete(j);
	if (out.p != NULL)
		sec_free(out.p, out.n);
	curl_slist_free_all(h);
	if (c != NULL)
		curl_easy_cleanup(c);
	return rc;
}

/* credentials/authorize for numSignatures = multisign, PIN only. */
static char *authorize(CURL *c, shared *sh, struct curl_slist *h, char *err, size_t errcap)
{
	const opts *o = sh->o;
	cJSON *req = cJSON_CreateObject(), *ad, *pin, *resp = NULL;
	const cJSON *sad;
	char *body = NULL, *ret = NULL;
	buf out = {0};
	long st;

	if (req == NULL)
		return NULL;
	cJSON_AddStringToObject(req, "credentialID", o->cred);
	cJSON_AddNumberToObject(req, "numSignatures", (double)o->multisign);
	ad = cJSON_AddArrayToObject(req, "authData");
	pin = cJSON_CreateObject();
	if (ad == NULL || pin == NULL) {
		cJSON_Delete(pin);
		goto out;
	}
	cJSON_AddStringToObject(pin, "id", "PIN");
	cJSON_AddStringToObject(pin, "value", o->pin);
	cJSON_AddItemToArray(ad, pin);
	body = cJSON_PrintUnformatted(req);
	if (body == NULL)
		goto out;
	st = http_post(c, sh, "credentials/authorize", body, h, &out);
	if (st != 200 || out.p == NULL) {
		snprintf(err, errcap, "credentials/authorize: HTTP %ld %.100s", st,
			 out.p ? out.p : "");
		goto out;
	}
	resp = cJSON_Parse(out.p);
	sad = cJSON_GetObjectItemCaseSensitive(resp, "SAD");
	if (cJSON_IsString(sad) && strlen(sad->valuestring) < 1024)
		ret = strdup(sad->valuestring);
out:
	if (body != NULL)
		sec_free(body, strlen(body));
	cJSON_Delete(req);
	cJSON_Delete(resp);
	if (out.p != NULL)
		sec_free(out.p, out.n);
	return ret;
}

static void *auth_run(void *arg)
{
	shared *sh = arg;
	CURL *c = http_new(sh->o);
	struct curl_slist *h = headers(sh);
	char err[160] = "";

	for (;;) {
		long i;
		char *sad;

		pthread_mutex_lock(&sh->lock);
		i = sh->next_auth < sh->n_sads ? sh->next_auth++ : -1;
		pthread_mutex_unlock(&sh->lock);
		if (i < 0 || c == NULL || h == NULL)
			break;
		sad = authorize(c, sh, h, err, sizeof(err));
		if (sad == NULL) {
			fprintf(stderr, "bench_signhash: %s\n", err);
			break;
		}
		sh->sads[i].sad = sad;
		sh->sads[i].remaining = sh->o->multisign;
	}
	curl_slist_free_all(h);
	if (c != NULL)
		curl_easy_cleanup(c);
	return NULL;
}

/* Next SAD with room for one batch; NULL when the pool is spent. */
static sad_slot *sad_next(shared *sh)
{
	sad_slot *s = NULL;

	pthread_mutex_lock(&sh->lock);
	while (sh->next_sad < sh->n_sads) {
		s = &sh->sads[sh->next_sad++];
		if (s->sad != NULL && s->remaining >= sh->o->batch)
			break;
		s = NULL;
	}
	pthread_mutex_unlock(&sh->lock);
	return s;
}

/* Reserve one batch of the signature budget (--max-sigs). */
static bool budget_take(shared *sh)
{
	bool ok;

	pthread_mutex_lock(&sh->lock);
	ok = sh->issued + sh->o->batch <= sh->o->max_sigs;
	if (ok)
		sh->issued += sh->o->batch;
	pthread_mutex_unlock(&sh->lock);
	return ok;
}

static void pause_us(double us)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(us / 1e6);
	ts.tv_nsec = (long)((us - (double)ts.tv_sec * 1e6) * 1e3);
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* --tolerate-errors: a SAD of the client's own, authorized now; retried
 * (the server may be down) until the deadline. NULL then. */
static sad_slot *sad_fresh(client *cl, CURL *c, struct curl_slist *h)
{
	shared *sh = cl->sh;
	char err[160] = "";

	if (cl->own.sad != NULL) {
		sec_free(cl->own.sad, strlen(cl->own.sad));
		cl->own.sad = NULL;
	}
	while (bench_stats_now_us() < sh->deadline_us &&
	       (sh->o->stop_file == NULL || access(sh->o->stop_file, F_OK) != 0)) {
		char *sad = authorize(c, sh, h, err, sizeof(err));

		if (sad != NULL) {
			cl->own.sad = sad;
			cl->own.remaining = sh->o->multisign;
			cl->reauth++;
			return &cl->own;
		}
		cl->auth_errors++;
		cl->errors++;
		snprintf(cl->last_err, sizeof(cl->last_err), "%s", err);
		pause_us(RETRY_US);
	}
	return NULL;
}

/* The signHash request body for a batch of fresh random digests (kept in
 * digests, DIGEST_LEN bytes each). */
static char *sign_body(const shared *sh, const char *sad, uint64_t *rng, uint8_t *digests)
{
	const opts *o = sh->o;
	size_t cap = 512 + strlen(sad) + (size_t)o->batch * 48, off;
	char *body = malloc(cap);
	long i;
	int n;

	if (body == NULL)
		return NULL;
	n = snprintf(body, cap,
		     "{\"credentialID\":\"%s\",\"SAD\":\"%s\",\"hashAlgorithmOID\":\"%s\","
		     "\"signAlgo\":\"%s\",\"hashes\":[",
		     o->cred, sad, OID_SHA256, o->rsa ? OID_SHA256_RSA : OID_ECDSA_SHA256);
	if (n < 0 || (size_t)n >= cap)
		goto fail;
	off = (size_t)n;
	for (i = 0; i < o->batch; i++) {
		uint8_t *h = digests + (size_t)i * DIGEST_LEN;
		char *b;

		bench_stats_fill(rng, h, DIGEST_LEN);
		b = b64_encode(h, DIGEST_LEN);
		if (b == NULL)
			goto fail;
		n = snprintf(body + off, cap - off, "%s\"%s\"", i ? "," : "", b);
		free(b);
		if (n < 0 || (size_t)n >= cap - off)
			goto fail;
		off += (size_t)n;
	}
	n = snprintf(body + off, cap - off, "]}");
	if (n < 0 || (size_t)n >= cap - off)
		goto fail;
	return body;
fail:
	free(body);
	return NULL;
}

/* Verify one Base64 signature of digest with the client's key context:
 * ECDSA as a DER Ecdsa-Sig-Value (also accepted as raw r||s), RSA
 * PKCS#1 v1.5 with SHA-256. true when it verifies. */
static bool sig_verify(client *cl, const uint8_t *digest, const char *b64)
{
	uint8_t *sig = NULL;
	size_t slen = 0;
	bool ok;

	if (b64_decode(b64, strlen(b64), SIG_B64_MAX, &sig, &slen) != 0)
		return false;
	ok = bench_verify_sha256(cl->vctx, cl->sh->o->rsa, digest, sig, slen);
	free(sig);
	return ok;
}

/* Check a signHash answer: exactly one signature per digest, each
 * verified when a key was given (failures counted in *bad). Returns the
 * number of signatures, -1 when malformed. */
static long check_sigs(client *cl, const char *json, long *bad)
{
	cJSON *j = cJSON_Parse(json);
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "signatures"), *e;
	long n = 0;

	*bad = 0;
	if (!cJSON_IsArray(a)) {
		cJSON_Delete(j);
		return -1;
	}
	cJSON_ArrayForEach(e, a)
	{
		if (!cJSON_IsString(e) || e->valuestring[0] == '\0' || n >= cl->sh->o->batch) {
			n = -1;
			break;
		}
		if (cl->vctx != NULL) {
			if (sig_verify(cl, cl->digests + (size_t)n * DIGEST_LEN, e->valuestring))
				cl->verified++;
			else
				(*bad)++;
		}
		n++;
	}
	cJSON_Delete(j);
	return n;
}

/* Append the acknowledged digests of the batch to --ack-log. */
static int ack_write(client *cl)
{
	shared *sh = cl->sh;
	long i;
	int rc = 0;

	if (sh->ack == NULL)
		return 0;
	pthread_mutex_lock(&sh->ack_lock);
	for (i = 0; i < sh->o->batch && rc == 0; i++) {
		char *b = b64_encode(cl->digests + (size_t)i * DIGEST_LEN, DIGEST_LEN);

		if (b == NULL || fprintf(sh->ack, "%s\n", b) < 0)
			rc = -1;
		free(b);
	}
	if (fflush(sh->ack) != 0)
		rc = -1;
	pthread_mutex_unlock(&sh->ack_lock);
	return rc;
}

/* A refused SAD (spent, unknown after a restart, expired, count too low). */
static bool sad_refusal(long status, const char *body)
{
	return status == 400 && body != NULL &&
	       (strstr(body, "\"Invalid SAD\"") != NULL ||
		strstr(body, "\"SAD expired\"") != NULL ||
		strstr(body, "\"numSignatures too high\"") != NULL);
}

/* One signHash round trip and its verdict. false: stop this client. */
static bool client_round(client *cl, CURL *c, struct curl_slist *h, sad_slot *sad, uint64_t *rng)
{
	shared *sh = cl->sh;
	const opts *o = sh->o;
	buf out = {0};
	char *body;
	double t0, t1;
	long st, got, bad = 0;
	bool ok, refused = false;

	body = sign_body(sh, sad->sad, rng, cl->digests);
	if (body == NULL) {
		cl->errors++;
		cl->http_errors++;
		snprintf(cl->last_err, sizeof(cl->last_err), "cannot build a request");
		return false;
	}
	t0 = bench_stats_now_us();
	st = http_post(c, sh, "signatures/signHash", body, h, &out);
	t1 = bench_stats_now_us();
	sec_free(body, strlen(body));
	sad->remaining -= o->batch;
	got = st == 200 && out.p != NULL ? check_sigs(cl, out.p, &bad) : -1;
	ok = got == o->batch && bad == 0;
	if (ok) {
		cl->sigs += (unsigned long)got;
		bench_stats_add(&cl->s, t1 - t0);
		if (ack_write(cl) != 0) {
			snprintf(cl->last_err, sizeof(cl->last_err), "cannot write the ack log");
			cl->errors++;
			cl->http_errors++;
			ok = false;
		}
	} else {
		snprintf(cl->last_err, sizeof(cl->last_err),
			 "signHash: HTTP %ld, %ld sigs%s: %.80s", st, got,
			 bad ? " (some do not verify)" : "", out.p ? out.p : "");
		cl->errors++;
		if (bad > 0)
			cl->bad_sigs += (unsigned long)bad;
		else if (st == 0)
			cl->conn_errors++;
		else if (sad_refusal(st, out.p)) {
			refused = true;
			cl->sad_refused++;
			sad->remaining = 0; /* never again */
			cl->own_only = true;
		} else
			cl->http_errors++;
	}
	free(out.p);
	if (!ok && o->tolerate && bad == 0) {
		if (!refused)
			pause_us(RETRY_US); /* give the server time */
		return true;
	}
	return ok;
}

static void *client_run(void *arg)
{
	client *cl = arg;
	shared *sh = cl->sh;
	const opts *o = sh->o;
	CURL *c = http_new(o);
	struct curl_slist *h = headers(sh);
	uint64_t rng =
	    0xD1B54A32D192ED03ULL ^ ((uint64_t)cl->index * 104729 + 7) ^ ((uint64_t)o->seed << 20);
	sad_slot *sad = NULL;
	buf out = {0};

	/* warm-up: open the connection (TLS handshake) before the clock */
	if (c != NULL && h != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
		curl_easy_setopt(c, CURLOPT_URL, o->url);
		/* the base URL answers 404 but opens the connection */
		(void)curl_easy_perform(c);
		free(out.p);
		out.p = NULL;
		curl_easy_setopt(c, CURLOPT_POST, 1L);
	} else {
		cl->errors++;
		cl->http_errors++;
	}
	pthread_barrier_wait(&sh->barrier);
	while (cl->errors == 0 || o->tolerate) {
		if (c == NULL || h == NULL || bench_stats_now_us() > sh->deadline_us)
			break;
		if (o->stop_file != NULL && access(o->stop_file, F_OK) == 0)
			break;
		if (sad == NULL || sad->remaining < o->batch) {
			sad = cl->own_only ? NULL : sad_next(sh);
			if (sad == NULL && o->tolerate)
				sad = sad_fresh(cl, c, h);
			if (sad == NULL)
				break;
		}
		if (!budget_take(sh))
			break;
		if (!client_round(cl, c, h, sad, &rng))
			break;
	}
	cl->end_us = bench_stats_now_us();
	curl_slist_free_all(h);
	if (c != NULL)
		curl_easy_cleanup(c);
	return NULL;
}

int main(int argc, char **argv)
{
	opts o;
	shared *sh;
	client *cls = NULL;
	pthread_t tids[MAX_CLIENTS];
	bench_stats_samples all = {0};
	unsigned long sigs = 0, errors = 0, conn = 0, refused = 0, http = 0, bad = 0, autherr = 0,
		      reauth = 0, verified = 0;
	long per_sad, i, t, authorized = 0, cap;
	double end = 0, auth_us;
	char extra[768], last_err[160] = "";
	int rc = 1;

	if (parse_opts(argc, argv, &o) != 0) {
		usage();
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	sh = calloc(1, sizeof(*sh));
	if (sh == NULL)
		return 1;
	sh->o = &o;
	pthread_mutex_init(&sh->lock, NULL);
	pthread_mutex_init(&sh->ack_lock, NULL);
	if (o.verify_cert != NULL && (sh->pub = bench_verify_load(o.verify_cert)) == NULL) {
		fprintf(stderr, "bench_signhash: no certificate or public key in %s\n",
			o.verify_cert);
		goto out;
	}
	if (o.ack_log != NULL && (sh->ack = fopen(o.ack_log, "a")) == NULL) {
		fprintf(stderr, "bench_signhash: cannot open %s\n", o.ack_log);
		goto out;
	}
	if (login(sh) != 0)
		goto out;

	/* the signature budget as a pool of SADs, authorized before the clock;
	 * with --tolerate-errors one per client (they authorize more as the
	 * server forgets them) */
	per_sad = (o.multisign / o.batch) * o.batch;
	sh->n_sads = (o.max_sigs + per_sad - 1) / per_sad;
	if (sh->n_sads > MAX_SADS)
		sh->n_sads = MAX_SADS;
	if (sh->n_sads < o.clients || o.tolerate)
		sh->n_sads = o.clients; /* every client gets at least one */
	auth_us = bench_stats_now_us();
	{
		pthread_t at[8];
		long na = o.auth_threads < 8 ? o.auth_threads : 8;

		for (t = 0; t < na; t++)
			pthread_create(&at[t], NULL, auth_run, sh);
		for (t = 0; t < na; t++)
			pthread_join(at[t], NULL);
	}
	auth_us = bench_stats_now_us() - auth_us;
	for (i = 0; i < sh->n_sads; i++)
		authorized += sh->sads[i].sad != NULL;
	if (authorized < sh->n_sads) {
		fprintf(stderr, "bench_signhash: only %ld of %ld SADs authorized\n", authorized,
			sh->n_sads);
		goto out;
	}

	/* room for one latency sample per request */
	cap = o.max_sigs / o.batch + 2;
	if (cap > SAMPLES_MAX)
		cap = SAMPLES_MAX;
	cls = calloc((size_t)o.clients, sizeof(*cls));
	if (cls == NULL || pthread_barrier_init(&sh->barrier, NULL, (unsigned)o.clients + 1) != 0)
		goto out;
	for (t = 0; t < o.clients; t++) {
		cls[t].sh = sh;
		cls[t].index = (int)t;
		cls[t].digests = calloc((size_t)o.batch, DIGEST_LEN);
		if (cls[t].digests == NULL || bench_stats_init(&cls[t].s, (size_t)cap) != 0)
			goto out;
		if (sh->pub != NULL && (cls[t].vctx = EVP_PKEY_CTX_new(sh->pub, NULL)) == NULL)
			goto out;
	}
	sh->deadline_us = bench_stats_now_us() + 3600e6; /* set again at the start */
	for (t = 0; t < o.clients; t++) {
		if (pthread_create(&tids[t], NULL, client_run, &cls[t]) != 0) {
			fprintf(stderr, "bench_signhash: pthread_create failed\n");
			exit(1);
		}
	}
	sh->deadline_us = bench_stats_now_us() + (double)o.seconds * 1e6;
	pthread_barrier_wait(&sh->barrier);
	sh->start_us = bench_stats_now_us();
	if (o.ready_file != NULL) {
		FILE *rf = fopen(o.ready_file, "w");

		if (rf != NULL)
			fclose(rf);
	}
	if (bench_stats_init(&all, (size_t)cap) != 0)
		goto out;
	for (t = 0; t < o.clients; t++) {
		pthread_join(tids[t], NULL);
		bench_stats_merge(&all, &cls[t].s);
		sigs += cls[t].sigs;
		errors += cls[t].errors;
		conn += cls[t].conn_errors;
		refused += cls[t].sad_refused;
		http += cls[t].http_errors;
		bad += cls[t].bad_sigs;
		autherr += cls[t].auth_errors;
		reauth += cls[t].reauth;
		verified += cls[t].verified;
		if (cls[t].end_us > end)
			end = cls[t].end_us;
		if (cls[t].errors)
			snprintf(last_err, sizeof(last_err), "%s", cls[t].last_err);
	}
	snprintf(extra, sizeof(extra),
		 "clients=%ld batch=%ld key=%s req_per_s=%.1f sigs_per_s=%.1f sigs=%lu errors=%lu "
		 "sads=%ld auth_ms=%.0f elapsed_s=%.1f verified=%lu bad_sigs=%lu conn_errors=%lu "
		 "sad_refused=%lu http_errors=%lu auth_errors=%lu reauth=%lu",
		 o.clients, o.batch, o.rsa ? "rsa" : "ec",
		 end > sh->start_us ? (double)all.n * 1e6 / (end - sh->start_us) : 0.0,
		 end > sh->start_us ? (double)sigs * 1e6 / (end - sh->start_us) : 0.0, sigs, errors,
		 sh->n_sads, auth_us / 1e3, end > sh->start_us ? (end - sh->start_us) / 1e6 : 0.0,
		 verified, bad, conn, refused, http, autherr, reauth);
	bench_stats_report("signhash", o.name, &all, extra);
	if (errors)
		fprintf(stderr, "bench_signhash: %lu errors%s; last: %s\n", errors,
			o.tolerate ? " (tolerated)" : "", last_err);
	if (o.tolerate)
		rc = bad == 0 && sigs > 0 ? 0 : 1;
	else
		rc = errors == 0 && sigs > 0 ? 0 : 1;
out:
	if (cls != NULL) {
		for (t = 0; t < o.clients; t++) {
			bench_stats_free(&cls[t].s);
			free(cls[t].digests);
			EVP_PKEY_CTX_free(cls[t].vctx);
			if (cls[t].own.sad != NULL)
				sec_free(cls[t].own.sad, strlen(cls[t].own.sad));
		}
		free(cls);
	}
	bench_stats_free(&all);
	for (i = 0; i < sh->n_sads; i++) {
		if (sh->sads[i].sad != NULL)
			sec_free(sh->sads[i].sad, strlen(sh->sads[i].sad));
	}
	if (sh->ack != NULL && fclose(sh->ack) != 0)
		rc = 1;
	EVP_PKEY_free(sh->pub);
	free(sh->bearer);
	free(sh);
	sec_free(o.pin, o.pin ? strlen(o.pin) : 0);
	sec_free(o.password, o.password ? strlen(o.password) : 0);
	curl_global_cleanup();
	return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* A CSC API v2 client over libcurl + cJSON. See csc_client.h. */
#include "csc_client.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "b64.h"
#include "json.h"
#include "log.h"
#include "secmem.h"

#define CSC_POOL_MAX 8
#define CSC_MAX_ERROR_BODY (64u * 1024u)
#define CSC_JSON_DEPTH 16
#define CSC_MAX_CERT_B64 (96u * 1024u)
#define CSC_RETRIES 3	    /* attempts for idempotent calls */
#define CSC_TOKEN_MARGIN 30 /* renew access tokens this many seconds early */

/* ------------------------------------------------------------------ */
/* status                                                              */
/* ------------------------------------------------------------------ */

void csc_status_clear(csc_status *st)
{
	if (st != NULL)
		memset(st, 0, sizeof(*st));
}

/* Copy an outside string for display: printable ASCII only, truncated. */
static void copy_display(char *dst, size_t cap, const char *src)
{
	size_t i, j = 0;

	if (cap == 0)
		return;
	for (i = 0; src != NULL && src[i] != '\0' && j + 1 < cap; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[j++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	dst[j] = '\0';
}

static csc_rc st_set(csc_status *st, csc_rc rc, const char *why)
{
	if (st != NULL) {
		st->rc = rc;
		st->http = 0;
		st->curl = 0;
		st->error[0] = '\0';
		copy_display(st->description, sizeof(st->description), why);
	}
	return rc;
}

const char *csc_status_str(const csc_status *st, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return "";
	if (st == NULL) {
		snprintf(buf, len, "no status");
		return buf;
	}
	switch (st->rc) {
	case CSC_OK:
		snprintf(buf, len, "ok");
		break;
	case CSC_ERR_ARG:
		snprintf(buf, len, "bad argument: %s", st->description);
		break;
	case CSC_ERR_NOMEM:
		snprintf(buf, len, "out of memory");
		break;
	case CSC_ERR_NETWORK:
		snprintf(buf, len, "cannot reach the service: %s", st->description);
		break;
	case CSC_ERR_HTTP:
		if (st->error[0] != '\0')
			snprintf(buf, len, "HTTP %ld %s%s%s", st->http, st->error,
				 st->description[0] ? ": " : "", st->description);
		else
			snprintf(buf, len, "HTTP %ld", st->http);
		break;
	case CSC_ERR_PROTOCOL:
		snprintf(buf, len, "malformed answer from the service: %s", st->description);
		break;
	case CSC_ERR_NOAUTH:
		snprintf(buf, len, "not logged in to the service (run 'cisres login')%s%s",
			 st->description[0] ? ": " : "", st->description);
		break;
	case CSC_ERR_PENDING:
		snprintf(buf, len, "asynchronous authorization is not supported");
		break;
	default:
		snprintf(buf, len, "unknown error");
		break;
	}
	return buf;
}

bool csc_status_is_network(const csc_status *st)
{
	return st != NULL && st->rc == CSC_ERR_NETWORK;
}

static bool contains_ci(const char *hay, const char *needle)
{
	return hay != NULL && strcasestr(hay, needle) != NULL;
}

CK_RV csc_status_to_ckr(const csc_status *st)
{
	if (st == NULL)
		return CKR_GENERAL_ERROR;
	switch (st->rc) {
	case CSC_OK:
		return CKR_OK;
	case CSC_ERR_ARG:
		return CKR_ARGUMENTS_BAD;
	case CSC_ERR_NOMEM:
		return CKR_HOST_MEMORY;
	case CSC_ERR_NETWORK:
	case CSC_ERR_PROTOCOL:
	case CSC_ERR_NOAUTH:
		return CKR_DEVICE_ERROR;
	case CSC_ERR_PENDING:
		return CKR_FUNCTION_FAILED;
	case CSC_ERR_HTTP:
		break;
	default:
		return CKR_GENERAL_ERROR;
	}
	/* An answer from the service. The error code first, then the status. */
	if (strcmp(st->error, "invalid_pin") == 0 || strcmp(st->error, "invalid_otp") == 0 ||
	    strcmp(st->error, "authentication_error") == 0)
		return contains_ci(st->description, "locked") ? CKR_PIN_LOCKED : CKR_PIN_INCORRECT;
	if (strcmp(st->error, "invalid_request") == 0) {
		if (contains_ci(st->description, "locked"))
			return CKR_PIN_LOCKED;
		if (contains_ci(st->description, "disabled"))
			return CKR_KEY_FUNCTION_NOT_PERMITTED;
		return CKR_FUNCTION_FAILED;
	}
	if (strcmp(st->error, "invalid_token") == 0 || strcmp(st->error, "expired_token") == 0 ||
	    strcmp(st->error, "invalid_grant") == 0)
		return CKR_DEVICE_ERROR; /* the refresh token no longer works */
	if (strcmp(st->error, "access_denied") == 0 ||
	    strcmp(st->error, "unauthorized_client") == 0)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (strcmp(st->error, "not_implemented_method") == 0 || st->http == 501)
		return CKR_FUNCTION_NOT_SUPPORTED;
	if (st->http == 401)
		return CKR_DEVICE_ERROR;
	if (st->http == 403)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (st->http == 429 || st->http >= 500)
		return CKR_DEVICE_ERROR;
	return CKR_FUNCTION_FAILED;
}

/* ------------------------------------------------------------------ */
/* global curl state                                                   */
/* ------------------------------------------------------------------ */

typedef struct {
	CURLSH *sh;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
} csc_share;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_rc = -1;
static pthread_mutex_t g_share_lock = PTHREAD_MUTEX_INITIALIZER;
static csc_share *g_share;

static void share_lock_cb(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
	csc_share *s = ud;
	(void)h;
	(void)access;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&s->locks[data]);
}

static void share_unlock_cb(CURL *h, curl_lock_data data, void *ud)
{
	csc_share *s = ud;
	(void)h;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&s->locks[data]);
}

static void global_once(void)
{
	g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int csc_global_init(void)
{
	pthread_once(&g_once, global_once);
	return g_init_rc;
}

/* The shared cache, created on first use (and again after a fork). */
static CURLSH *share_get(void)
{
	csc_share *s;
	int i;

	pthread_mutex_lock(&g_share_lock);
	s = g_share;
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s != NULL) {
			for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
				pthread_mutex_init(&s->locks[i], NULL);
			s->sh = curl_share_init();
			if (s->sh == NULL ||
			    curl_share_setopt(s->sh, CURLSHOPT_LOCKFUNC, share_lock_cb) !=
				CURLSHE_OK ||
			    curl_share_setopt(s->sh, CURLSHOPT_UNLOCKFUNC, share_unlock_cb) !=
				CURLSHE_OK ||
			    curl_share_setopt(s->sh, CURLSHOPT_USERDATA, s) != CURLSHE_OK) {
				if (s->sh != NULL)
					curl_share_cleanup(s->sh);
				free(s);
				s = NULL;
			} else {
				/* Best effort: older libcurl may refuse one of them. */
				(void)curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
				(void)curl_share_setopt(s->sh, CURLSHOPT_SHARE,
							CURL_LOCK_DATA_SSL_SESSION);
				(void)curl_share_setopt(s->sh, CURLSHOPT_SHARE,
							CURL_LOCK_DATA_CONNECT);
				g_share = s;
			}
		}
	}
	pthread_mutex_unlock(&g_share_lock);
	return s != NULL ? s->sh : NULL;
}

void csc_global_forget_after_fork(void)
{
	/* The parent's connections and their TLS state must not be used by the
	 * child: drop the pointer (leak on purpose), a new cache is made on the
	 * next request. The lock may have been held by a parent thread. */
	static const pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	memcpy(&g_share_lock, &fresh, sizeof(fresh));
	g_share = NULL;
}

/* ------------------------------------------------------------------ */
/* the client                                                          */
/* ------------------------------------------------------------------ */

struct csc_client {
	char *base; /* "https://host:port[/prefix]" without trailing '/' */
	char *ca_file;
	long timeout_s;
	bool plain_http;
	pthread_mutex_t lock;	    /* pool and tokens */
	pthread_mutex_t renew_lock; /* one access-token renewal at a time */
	CURL *pool[CSC_POOL_MAX];
	size_t n_pool;
	char *access; /* locked */
	size_t access_len;
	time_t access_exp;
	uint64_t access_gen;
	char *refresh; /* locked */
	size_t refresh_len;
	const atomic_int *abort_flag;
};

static bool url_is_loopback_http(const char *url)
{
	static const char *const hosts[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
	size_t i;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		size_t n = strlen(hosts[i]);
		if (strncmp(url, hosts[i], n) == 0 &&
		    (url[n] == '\0' || url[n] == ':' || url[n] == '/'))
			return true;
	}
	return false;
}

csc_client *csc_client_new(const char *base_url, const char *ca_file, long timeout_s)
{
	csc_client *c;
	size_t len, i;
	bool plain = false;
	const char *host;

	if (base_url == NULL || csc_global_init() != 0)
		return NULL;
	len = strnlen(base_url, 1024);
	if (len == 0 || len >= 1024)
		return NULL;
	if (strncmp(base_url, "https://", 8) == 0) {
		host = base_url + 8;
	} else if (url_is_loopback_http(base_url)) {
		host = base_url + 7;
		plain = true;
	} else {
		return NULL;
	}
	if (*host == '\0' || *host == '/' || *host == ':')
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)base_url[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '?' || ch == '#' || ch == '@' || ch == '\\')
			return NULL;
	}
	while (len > 0 && base_url[len - 1] == '/')
		len--;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->base = strndup(base_url, len);
	if (ca_file != NULL && *ca_file != '\0')
		c->ca_file = strdup(ca_file);
	if (c->base == NULL || (ca_file != NULL && *ca_file != '\0' && c->ca_file == NULL)) {
		free(c->base);
		free(c->ca_file);
		free(c);
		return NULL;
	}
	c->timeout_s = timeout_s > 0 ? timeout_s : CSC_DEFAULT_TIMEOUT;
	c->plain_http = plain;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->renew_lock, NULL);
	return c;
}

static void client_clear_access_inlock(csc_client *c)
{
	if (c->access != NULL)
		sec_unlock_free(c->access, c->access_len + 1);
	c->access = NULL;
	c->access_len = 0;
	c->access_exp = 0;
	c->access_gen++;
}

void csc_client_free(csc_client *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n_pool; i++)
		curl_easy_cleanup(c->pool[i]);
	client_clear_access_inlock(c);
	if (c->refresh != NULL)
		sec_unlock_free(c->refresh, c->refresh_len + 1);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->renew_lock);
	free(c->base);
	free(c->ca_file);
	free(c);
}

void csc_client_forget_after_fork(csc_client *c)
{
	static const pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

	if (c == NULL)
		return;
	memcpy(&c->lock, &fresh, sizeof(fresh));
	memcpy(&c->renew_lock, &fresh, sizeof(fresh));
	/* The handles point at the parent's shared cache: leak them. */
	c->n_pool = 0;
}

int csc_client_set_refresh_token(csc_client *c, const char *tok, size_t len)
{
	char *copy = NULL;

	if (c == NULL || (tok != NULL && (len == 0 || len > CSC_MAX_TOKEN)))
		return -1;
	if (tok != NULL) {
		copy = sec_locked_strndup(tok, len);
		if (copy == NULL)
			return -1;
	}
	pthread_mutex_lock(&c->lock);
	if (c->refresh != NULL)
		sec_unlock_free(c->refresh, c->refresh_len + 1);
	c->refresh = copy;
	c->refresh_len = copy != NULL ? len : 0;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int csc_client_set_access_token(csc_client *c, const char *tok, size_t len, long expires_in)
{
	char *copy = NULL;

	if (c == NULL || (tok != NULL && (len == 0 || len > CSC_MAX_TOKEN)))
		return -1;
	if (tok != NULL) {
		copy = sec_locked_strndup(tok, len);
		if (copy == NULL)
			return -1;
	}
	pthread_mutex_lock(&c->lock);
	client_clear_access_inlock(c);
	if (copy != NULL) {
		c->access = copy;
		c->access_len = len;
		c->access_exp = time(NULL) + (expires_in > 0 ? expires_in : 3600);
	}
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void csc_client_drop_access_token(csc_client *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	client_clear_access_inlock(c);
	pthread_mutex_unlock(&c->lock);
}

bool csc_client_has_refresh_token(const csc_client *c)
{
	bool r;

	if (c == NULL)
		return false;
	pthread_mutex_lock((pthread_mutex_t *)&c->lock);
	r = c->refresh != NULL;
	pthread_mutex_unlock((pthread_mutex_t *)&c->lock);
	return r;
}

void csc_client_set_abort(csc_client *c, const atomic_int *flag)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->abort_flag = flag;
	pthread_mutex_unlock(&c->lock);
}

static int xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const atomic_int *flag = ud;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return flag != NULL && atomic_load(flag) != 0 ? 1 : 0;
}

static CURL *handle_get(csc_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->n_pool > 0)
		h = c->pool[--c->n_pool];
	pthread_mutex_unlock(&c->lock);
	if (h != NULL) {
		curl_easy_reset(h);
		return h;
	}
	return curl_easy_init();
}

static void handle_put(csc_client *c, CURL *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->n_pool < CSC_POOL_MAX) {
		c->pool[c->n_pool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (h != NULL)
		curl_easy_cleanup(h);
}

/* ------------------------------------------------------------------ */
/* transport                                                           */
/* ------------------------------------------------------------------ */

typedef struct {
	char *data;
	size_t len;
	size_t cap;
	bool overflow;
	bool nomem;
} rbuf;

static void rbuf_free(rbuf *b)
{
	/* Response bodies may hold tokens or SADs: always zeroed. */
	sec_free(b->data, b->cap);
	memset(b, 0, sizeof(*b));
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	rbuf *b = ud;
	size_t n, need, ncap;
	char *nd;

	if (nmemb != 0 && size > SIZE_MAX / nmemb)
		return 0;
	n = size * nmemb;
	if (n > CSC_MAX_RESPONSE || b->len > CSC_MAX_RESPONSE - n) {
		b->overflow = true;
		return 0;
	}
	need = b->len + n + 1;
	if (need > b->cap) {
		ncap = b->cap != 0 ? b->cap : 1024;
		while (ncap < need)
			ncap *= 2;
		/* No realloc: the old block is zeroed before it is released. */
		nd = malloc(ncap);
		if (nd == NULL) {
			b->nomem = true;
			return 0;
		}
		if (b->len > 0)
			memcpy(nd, b->data, b->len);
		sec_free(b->data, b->cap);
		b->data = nd;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)(t1.tv_sec - t0->tv_sec) * 1000L + (t1.tv_nsec - t0->tv_nsec) / 1000000L;
}

static void slist_free_zero(struct curl_slist *l)
{
	struct curl_slist *it;

	for (it = l; it != NULL; it = it->next) {
		if (it->data != NULL)
			sec_zero(it->data, strlen(it->data));
	}
	curl_slist_free_all(l);
}

/* One POST. auth: a full header line ("Authorization: ...") or NULL.
 * Returns CSC_OK with *http set for any HTTP answer; transport and size
 * problems become st errors. */
static csc_rc http_post(csc_client *c, const char *method, const char *body, size_t body_len,
			const char *auth, long *http, rbuf *resp, csc_status *st)
{
	CURL *h;
	CURLSH *sh;
	CURLcode cc;
	struct curl_slist *hdr = NULL, *tmp;
	char url[1200];
	char errbuf[CURL_ERROR_SIZE];
	struct timespec t0;
	long code = 0;
	int n;
	csc_rc rc;
	const atomic_int *abort_flag;
	sigset_t pipe_set, old_mask, pending;
	bool pipe_was_pending;

	n = snprintf(url, sizeof(url), "%s/csc/v2/%s", c->base, method);
	if (n < 0 || (size_t)n >= sizeof(url))
		return st_set(st, CSC_ERR_ARG, "URL too long");
	sh = share_get();
	h = handle_get(c);
	if (h == NULL || sh == NULL) {
		handle_put(c, h);
		return st_set(st, CSC_ERR_NOMEM, "curl handle");
	}
	static const char *const fixed[] = {"Content-Type: application/json",
					    "Accept: application/json", "Expect:"};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		tmp = curl_slist_append(hdr, fixed[i]);
		if (tmp == NULL)
			goto nomem;
		hdr = tmp;
	}
	if (auth != NULL) {
		tmp = curl_slist_append(hdr, auth);
		if (tmp == NULL)
			goto nomem;
		hdr = tmp;
	}
	errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_SHARE, sh);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->plain_http ? "http" : "https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CSC_CONNECT_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "cisres/" CISRES_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CSC_MAX_RESPONSE);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	pthread_mutex_lock(&c->lock);
	abort_flag = c->abort_flag;
	pthread_mutex_unlock(&c->lock);
	if (abort_flag != NULL) {
		if (atomic_load(abort_flag) != 0) {
			slist_free_zero(hdr);
			handle_put(c, h);
			return st_set(st, CSC_ERR_NETWORK, "aborted");
		}
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)abort_flag);
	}

	/* CURLOPT_NOSIGNAL leaves SIGPIPE to us: a peer that closed must not
	 * kill the application. Blocked in this thread during the transfer,
	 * and a SIGPIPE raised meanwhile is consumed. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
	pipe_was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cc = curl_easy_perform(h);
	if (!pipe_was_pending) {
		const struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	/* Detach the caller's buffers from the pooled handle. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	slist_free_zero(hdr);
	hdr = NULL;

	if (cc == CURLE_OK) {
		log_debug(LOG_CAT_CSC, "POST %s -> %ld (%ld ms, %zu bytes)", method, code,
			  elapsed_ms(&t0), resp->len);
		*http = code;
		handle_put(c, h);
		return CSC_OK;
	}
	if (resp->overflow || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = st_set(st, CSC_ERR_PROTOCOL, "response larger than 16 MiB");
	} else if (resp->nomem) {
		rc = st_set(st, CSC_ERR_NOMEM, "response buffer");
	} else {
		rc = st_set(st, CSC_ERR_NETWORK, errbuf[0] ? errbuf : curl_easy_strerror(cc));
		if (st != NULL)
			st->curl = (int)cc;
	}
	log_debug(LOG_CAT_CSC, "POST %s -> curl error %d (%ld ms)", method, (int)cc,
		  elapsed_ms(&t0));
	/* A handle whose transfer failed is not reused. */
	curl_easy_cleanup(h);
	return rc;
nomem:
	slist_free_zero(hdr);
	handle_put(c, h);
	return st_set(st, CSC_ERR_NOMEM, "headers");
}

/* Failures worth another attempt for idempotent calls. */
static bool transient(const csc_status *st, long http)
{
	if (st->rc == CSC_ERR_NETWORK) {
		switch ((CURLcode)st->curl) {
		case CURLE_COULDNT_CONNECT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_COULDNT_RESOLVE_HOST:
			return true;
		default:
			return false;
		}
	}
	return st->rc == CSC_OK && (http == 502 || http == 503 || http == 504);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

enum {
	CALL_BEARER = 1u,     /* needs an access token */
	CALL_IDEMPOTENT = 2u, /* may be retried */
};

static csc_rc parse_tokens_obj(const cJSON *root, csc_tokens *out, csc_status *st);

/* auth/login with a refresh token (secret body). */
static csc_rc login_refresh_raw(csc_client *c, const char *tok, size_t tok_len, csc_tokens *out,
				csc_status *st);

/* An access token for a request: a locked copy the caller frees with
 * sec_unlock_free(*tok, *len + 1). *gen identifies it for renewals. */
/* The cached access token when still valid (c->lock held). */
static bool access_copy_inlock(csc_client *c, char **tok, size_t *len, uint64_t *gen)
{
	if (c->access == NULL || time(NULL) + CSC_TOKEN_MARGIN >= c->access_exp)
		return false;
	*tok = sec_locked_strndup(c->access, c->access_len);
	*len = c->access_len;
	*gen = c->access_gen;
	return true;
}

static csc_rc access_get(csc_client *c, char **tok, size_t *len, uint64_t *gen, csc_status *st)
{
	char *refresh = NULL;
	size_t refresh_len = 0;
	csc_tokens t;
	csc_rc rc;

	*tok = NULL;
	pthread_mutex_lock(&c->lock);
	if (access_copy_inlock(c, tok, len, gen)) {
		pthread_mutex_unlock(&c->lock);
		return *tok != NULL ? CSC_OK : st_set(st, CSC_ERR_NOMEM, "token copy");
	}
	pthread_mutex_unlock(&c->lock);
	/* One renewal at a time: the others wait and take its result. */
	pthread_mutex_lock(&c->renew_lock);
	pthread_mutex_lock(&c->lock);
	if (access_copy_inlock(c, tok, len, gen)) {
		pthread_mutex_unlock(&c->lock);
		pthread_mutex_unlock(&c->renew_lock);
		return *tok != NULL ? CSC_OK : st_set(st, CSC_ERR_NOMEM, "token copy");
	}
	if (c->refresh != NULL) {
		refresh = sec_locked_strndup(c->refresh, c->refresh_len);
		refresh_len = c->refresh_len;
	}
	pthread_mutex_unlock(&c->lock);
	if (refresh == NULL) {
		pthread_mutex_unlock(&c->renew_lock);
		return st_set(st, CSC_ERR_NOAUTH, "no refresh token");
	}
	memset(&t, 0, sizeof(t));
	rc = login_refresh_raw(c, refresh, refresh_len, &t, st);
	sec_unlock_free(refresh, refresh_len + 1);
	if (rc != CSC_OK)
		pthread_mutex_unlock(&c->renew_lock);
	if (rc == CSC_ERR_HTTP && st != NULL && st->http >= 400 && st->http < 500) {
		/* The refresh token was refused: not a PIN problem of the call. */
		log_warn("csc: the service refused the refresh token (%s); run 'cisres login'",
			 st->error);
		st->rc = CSC_ERR_NOAUTH;
		return CSC_ERR_NOAUTH;
	}
	if (rc != CSC_OK)
		return rc;
	pthread_mutex_lock(&c->lock);
	client_clear_access_inlock(c);
	c->access = t.access_token;
	c->access_len = t.access_len;
	c->access_exp = time(NULL) + t.expires_in;
	t.access_token = NULL;
	*tok = sec_locked_strndup(c->access, c->access_len);
	*len = c->access_len;
	*gen = c->access_gen;
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&c->renew_lock);
	csc_tokens_free(&t);
	return *tok != NULL ? CSC_OK : st_set(st, CSC_ERR_NOMEM, "token copy");
}

static void access_invalidate(csc_client *c, uint64_t gen)
{
	pthread_mutex_lock(&c->lock);
	if (c->access_gen == gen)
		client_clear_access_inlock(c);
	pthread_mutex_unlock(&c->lock);
}

/* "Authorization: <scheme> <value>" in a malloc'd buffer (zero when done). */
static char *auth_header(const char *scheme, const char *value, size_t value_len, size_t *cap)
{
	size_t n = strlen("Authorization: ") + strlen(scheme) + 1;
	char *s;

	if (value_len > SIZE_MAX - n - 1)
		return NULL;
	*cap = n + value_len + 1;
	s = malloc(*cap);
	if (s == NULL)
		return NULL;
	snprintf(s, *cap, "Authorization: %s ", scheme);
	memcpy(s + n, value, value_len);
	s[n + value_len] = '\0';
	return s;
}

/* A call: body printed from req, bearer handling, retries, error answers.
 * On CSC_OK, resp holds a 2xx body and *http its status. */
static csc_rc call(csc_client *c, const char *method, const cJSON *req, unsigned flags,
		   const char *fixed_auth, long *http, rbuf *resp, csc_status *st)
{
	char *body = NULL, *hdr = NULL, *tok = NULL;
	size_t body_len, hdr_cap = 0, tok_len = 0;
	uint64_t gen = 0;
	bool renewed = false;
	int attempt = 0;
	csc_rc rc;

	body = json_print(req);
	if (body == NULL)
		return st_set(st, CSC_ERR_NOMEM, "request body");
	body_len = strlen(body);
	for (;;) {
		csc_status_clear(st);
		rbuf_free(resp);
		*http = 0;
		if (flags & CALL_BEARER) {
			rc = access_get(c, &tok, &tok_len, &gen, st);
			if (rc != CSC_OK)
				break;
			hdr = auth_header("Bearer", tok, tok_len, &hdr_cap);
			sec_unlock_free(tok, tok_len + 1);
			tok = NULL;
			if (hdr == NULL) {
				rc = st_set(st, CSC_ERR_NOMEM, "header");
				break;
			}
		}
		rc = http_post(c, method, body, body_len, hdr != NULL ? hdr : fixed_auth, http,
			       resp, st);
		sec_free(hdr, hdr_cap);
		hdr = NULL;
		attempt++;
		if ((flags & CALL_IDEMPOTENT) && attempt < CSC_RETRIES && transient(st, *http)) {
			log_debug(LOG_CAT_CSC, "%s: retrying (attempt %d)", method, attempt + 1);
			sleep_ms(200L * attempt);
			continue;
		}
		if (rc != CSC_OK)
			break;
		if (*http >= 200 && *http < 300)
			break;
		csc_parse_error(*http, resp->data, resp->len, st);
		rc = CSC_ERR_HTTP;
		if ((flags & CALL_BEARER) && *http == 401 && !renewed) {
			/* The access token expired or the server forgot it (restart):
			 * renew once and repeat the call once. */
			renewed = true;
			access_invalidate(c, gen);
			log_debug(LOG_CAT_CSC, "%s: access token refused, renewing", method);
			continue;
		}
		break;
	}
	sec_free(body, body_len + 1);
	if (rc != CSC_OK)
		rbuf_free(resp);
	return rc;
}

/* ------------------------------------------------------------------ */
/* parsers                                                             */
/* ------------------------------------------------------------------ */

static csc_rc bad(csc_status *st, const char *what)
{
	return st_set(st, CSC_ERR_PROTOCOL, what);
}

static cJSON *parse_root(const char *body, size_t len, csc_status *st)
{
	cJSON *root = json_parse(body, len, CSC_MAX_RESPONSE, CSC_JSON_DEPTH, true);
	if (root == NULL)
		bad(st, "not a JSON object");
	return root;
}

/* Optional string member copied into dst (display-safe when display).
 * Returns false on wrong type or when it does not fit. */
static bool opt_str(const cJSON *obj, const char *name, char *dst, size_t cap)
{
	const char *s = NULL;
	json_rc r = json_get_string(obj, name, &s);

	dst[0] = '\0';
	if (r == JSON_MISSING)
		return true;
	if (r != JSON_OK || strlen(s) >= cap)
		return false;
	memcpy(dst, s, strlen(s) + 1);
	return true;
}

/* Like opt_str but truncates long values (descriptions, labels). */
static bool opt_str_trunc(const cJSON *obj, const char *name, char *dst, size_t cap)
{
	const char *s = NULL;
	json_rc r = json_get_string(obj, name, &s);

	dst[0] = '\0';
	if (r == JSON_MISSING)
		return true;
	if (r != JSON_OK)
		return false;
	copy_display(dst, cap, s);
	return true;
}

void csc_parse_error(long http, const char *body, size_t len, csc_status *st)
{
	cJSON *root;
	const char *s;

	if (st == NULL)
		return;
	csc_status_clear(st);
	st->rc = CSC_ERR_HTTP;
	st->http = http;
	if (body == NULL || len == 0 || len > CSC_MAX_ERROR_BODY)
		return;
	root = json_parse(body, len, CSC_MAX_ERROR_BODY, 4, true);
	if (root == NULL)
		return;
	if (json_get_string(root, "error", &s) == JSON_OK)
		copy_display(st->error, sizeof(st->error), s);
	if (json_get_string(root, "error_description", &s) == JSON_OK)
		copy_display(st->description, sizeof(st->description), s);
	cJSON_Delete(root);
}

static void free_strv(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* An array member of strings, each 1..maxlen chars, at most maxn entries.
 * Missing: *v = NULL, *n = 0 and true unless required. */
static bool str_array(const cJSON *obj, const char *name, bool required, size_t maxn, size_t maxlen,
		      char ***v, size_t *n)
{
	const cJSON *arr = NULL, *it;
	json_rc r = json_get_array(obj, name, &arr);
	size_t cnt, i = 0;
	char **out;

	*v = NULL;
	*n = 0;
	if (r == JSON_MISSING)
		return !required;
	if (r != JSON_OK)
		return false;
	cnt = (size_t)cJSON_GetArraySize(arr);
	if (cnt > maxn)
		return false;
	if (cnt == 0)
		return true;
	out = calloc(cnt, sizeof(*out));
	if (out == NULL)
		return false;
	cJSON_ArrayForEach(it, arr)
	{
		size_t l;
		if (!cJSON_IsString(it) || it->valuestring == NULL)
			goto fail;
		l = strlen(it->valuestring);
		if (l == 0 || l > maxlen)
			goto fail;
		out[i] = strdup(it->valuestring);
		if (out[i] == NULL)
			goto fail;
		i++;
	}
	*v = out;
	*n = i;
	return true;
fail:
	free_strv(out, i);
	return false;
}

static bool is_oid(const char *s)
{
	size_t i, n = strlen(s);
	bool dot = true;

	if (n == 0 || n > 63)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (dot)
				return false;
			dot = true;
		} else if (s[i] >= '0' && s[i] <= '9') {
			dot = false;
		} else {
			return false;
		}
	}
	return !dot;
}

void csc_info_result_free(csc_info_result *r)
{
	if (r == NULL)
		return;
	free_strv(r->auth_types, r->n_auth_types);
	free_strv(r->methods, r->n_methods);
	memset(r, 0, sizeof(*r));
}

csc_rc csc_parse_info(const char *body, size_t len, csc_info_result *out, csc_status *st)
{
	cJSON *root;
	csc_rc rc = CSC_OK;

	if (out == NULL)
		return st_set(st, CSC_ERR_ARG, "out");
	memset(out, 0, sizeof(*out));
	root = parse_root(body, len, st);
	if (root == NULL)
		return CSC_ERR_PROTOCOL;
	if (!opt_str_trunc(root, "specs", out->specs, sizeof(out->specs)) || out->specs[0] == '\0')
		rc = bad(st, "info: specs");
	else if (!opt_str_trunc(root, "name", out->name, sizeof(out->name)))
		rc = bad(st, "info: name");
	else if (!opt_str_trunc(root, "region", out->region, sizeof(out->region)) ||
		 !opt_str_trunc(root, "lang", out->lang, sizeof(out->lang)) ||
		 !opt_str_trunc(root, "description", out->description, sizeof(out->description)))
		rc = bad(st, "info: region/lang/description");
	else if (!str_array(root, "authType", false, 16, 64, &out->auth_types, &out->n_auth_types))
		rc = bad(st, "info: authType");
	else if (!str_array(root, "methods", true, 128, 128, &out->methods, &out->n_methods))
		rc = bad(st, "info: methods");
	cJSON_Delete(root);
	if (rc != CSC_OK)
		csc_info_result_free(out);
	return rc;
}

void csc_tokens_free(csc_tokens *t)
{
	if (t == NULL)
		return;
	if (t->access_token != NULL)
		sec_unlock_free(t->access_token, t->access_len + 1);
	if (t->refresh_token != NULL)
		sec_unlock_free(t->refresh_token, t->refresh_len + 1);
	memset(t, 0, sizeof(*t));
}

static bool token_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > CSC_MAX_TOKEN)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= 0x20 || ch >= 0x7f)
			return false;
	}
	return true;
}

static csc_rc parse_tokens_obj(const cJSON *root, csc_tokens *out, csc_status *st)
{
	const char *a = NULL, *r = NULL;
	int64_t exp = 3600;
	json_rc jr;

	memset(out, 0, sizeof(*out));
	if (json_get_string(root, "access_token", &a) != JSON_OK || !token_ok(a, strlen(a)))
		return bad(st, "auth/login: access_token");
	jr = json_get_string(root, "refresh_token", &r);
	if (jr == JSON_BADTYPE || (jr == JSON_OK && !token_ok(r, strlen(r))))
		return bad(st, "auth/login: refresh_token");
	jr = json_get_int(root, "expires_in", 1, INT32_MAX, &exp);
	if (jr == JSON_BADTYPE)
		return bad(st, "auth/login: expires_in");
	out->access_len = strlen(a);
	out->access_token = sec_locked_strndup(a, out->access_len);
	if (jr == JSON_MISSING)
		exp = 3600;
	out->expires_in = (long)exp;
	if (r != NULL) {
		out->refresh_len = strlen(r);
		out->refresh_token = sec_locked_strndup(r, out->refresh_len);
	}
	if (out->access_token == NULL || (r != NULL && out->refresh_token == NULL)) {
		csc_tokens_free(out);
		return st_set(st, CSC_ERR_NOMEM, "token");
	}
	return CSC_OK;
}

csc_rc csc_parse_tokens(const char *body, size_t len, csc_tokens *out, csc_status *st)
{
	cJSON *root;
	csc_rc rc;

	if (out == NULL)
		return st_set(st, CSC_ERR_ARG, "out");
	memset(out, 0, sizeof(*out));
	root = parse_root(body, len, st);
	if (root == NULL)
		return CSC_ERR_PROTOCOL;
	rc = parse_tokens_obj(root, out, st);
	json_wipe(root);
	cJSON_Delete(root);
	return rc;
}

void csc_credential_free(csc_credential *cr)
{
	size_t i;

	if (cr == NULL)
		return;
	free(cr->id);
	free_strv(cr->algos, cr->n_algos);
	for (i = 0; i < cr->n_certs; i++)
		free(cr->certs[i]);
	free(cr->certs);
	free(cr->cert_lens);
	memset(cr, 0, sizeof(*cr));
}

void csc_credential_list_free(csc_credential_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n_creds; i++)
		csc_credential_free(&l->creds[i]);
	free(l->creds);
	memset(l, 0, sizeof(*l));
}

static bool parse_certs(const cJSON *cert, csc_credential *out)
{
	const cJSON *arr = NULL, *it;
	json_rc r = json_get_array(cert, "certificates", &arr);
	size_t cnt;

	if (r == JSON_MISSING)
		return true;
	if (r != JSON_OK)
		return false;
	cnt = (size_t)cJSON_GetArraySize(arr);
	if (cnt > CSC_MAX_CERTS)
		return false;
	if (cnt == 0)
		return true;
	out->certs = calloc(cnt, sizeof(*out->certs));
	out->cert_lens = calloc(cnt, sizeof(*out->cert_lens));
	if (out->certs == NULL || out->cert_lens == NULL)
		return false;
	cJSON_ArrayForEach(it, arr)
	{
		uint8_t *der = NULL;
		size_t dlen = 0;
		if (!cJSON_IsString(it) || it->valuestring == NULL)
			return false;
		if (b64_decode(it->valuestring, strlen(it->valuestring), CSC_MAX_CERT_B64, &der,
			       &dlen) != 0 ||
		    dlen == 0) {
			free(der);
			return false;
		}
		out->certs[out->n_certs] = der;
		out->cert_lens[out->n_certs] = dlen;
		out->n_certs++;
	}
	return true;
}

static bool id_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-' || ch == '.' || ch == ':';
}

/* Mark the objects whose id occurs as a word of the expression. */
static void mark_expression(csc_credential *cr)
{
	const char *p = cr->auth_expression;
	size_t i;

	if (*p == '\0') {
		/* No expression: all objects are required ("AND" default). */
		for (i = 0; i < cr->n_objects; i++)
			cr->objects[i].in_expression = true;
		return;
	}
	while (*p != '\0') {
		const char *w;
		size_t n;
		while (*p != '\0' && !id_char(*p))
			p++;
		w = p;
		while (*p != '\0' && id_char(*p))
			p++;
		n = (size_t)(p - w);
		if (n == 0)
			continue;
		for (i = 0; i < cr->n_objects; i++) {
			if (strlen(cr->objects[i].id) == n && memcmp(cr->objects[i].id, w, n) == 0)
				cr->objects[i].in_expression = true;
		}
	}
}

static csc_auth_obj_kind object_kind(const csc_auth_object *o)
{
	if (strcmp(o->type, "Password") == 0) {
		if (o->generator[0] != '\0' || strcasecmp(o->id, "OTP") == 0)
			return CSC_AUTH_OBJ_OTP;
		return CSC_AUTH_OBJ_PIN;
	}
	if (strcmp(o->type, "PasswordOOB") == 0)
		return CSC_AUTH_OBJ_OTP;
	return CSC_AUTH_OBJ_OTHER;
}

static bool parse_auth(const cJSON *auth, csc_credential *out)
{
	const cJSON *arr = NULL, *it;
	json_rc r;
	size_t cnt;

	if (!opt_str(auth, "mode", out->auth_mode, sizeof(out->auth_mode)) ||
	    out->auth_mode[0] == '\0')
		return false;
	if (!opt_str(auth, "expression", out->auth_expression, sizeof(out->auth_expression)))
		return false;
	r = json_get_array(auth, "objects", &arr);
	if (r == JSON_BADTYPE)
		return false;
	if (r == JSON_OK) {
		cnt = (size_t)cJSON_GetArraySize(arr);
		if (cnt > CSC_MAX_AUTH_OBJECTS)
			return false;
		cJSON_ArrayForEach(it, arr)
		{
			csc_auth_object *o = &out->objects[out->n_objects];
			char fmt[4];
			if (!cJSON_IsObject(it))
				return false;
			if (!opt_str(it, "type", o->type, sizeof(o->type)) || o->type[0] == '\0' ||
			    !opt_str(it, "id", o->id, sizeof(o->id)) || o->id[0] == '\0' ||
			    !opt_str(it, "format", fmt, sizeof(fmt)) ||
			    !opt_str(it, "generator", o->generator, sizeof(o->generator)) ||
			    !opt_str_trunc(it, "label", o->label, sizeof(o->label)))
				return false;
			if (fmt[0] != '\0' && (fmt[1] != '\0' || (fmt[0] != 'A' && fmt[0] != 'N')))
				return false;
			o->format = fmt[0];
			o->kind = object_kind(o);
			out->n_objects++;
		}
	}
	mark_expression(out);
	return true;
}

/* One CredentialInfo object. with_id: credentials/list entries. */
static bool parse_credential_obj(const cJSON *obj, bool with_id, csc_credential *out)
{
	const cJSON *key = NULL, *cert = NULL, *auth = NULL, *scal;
	const char *s = NULL;
	char status[16];
	int64_t v;
	json_rc r;

	if (!cJSON_IsObject(obj))
		return false;
	if (with_id) {
		if (json_get_string(obj, "credentialID", &s) != JSON_OK || s[0] == '\0' ||
		    strlen(s) >= 128 || !token_ok(s, strlen(s)))
			return false;
		out->id = strdup(s);
		if (out->id == NULL)
			return false;
	}
	if (!opt_str_trunc(obj, "description", out->description, sizeof(out->description)) ||
	    !opt_str(obj, "signatureQualifier", out->signature_qualifier,
		     sizeof(out->signature_qualifier)) ||
	    !opt_str_trunc(obj, "lang", out->lang, sizeof(out->lang)))
		return false;
	/* key */
	if (json_get_object(obj, "key", &key) != JSON_OK)
		return false;
	if (!opt_str(key, "status", status, sizeof(status)))
		return false;
	if (strcmp(status, "enabled") == 0)
		out->key_enabled = true;
	else if (strcmp(status, "disabled") == 0)
		out->key_enabled = false;
	else
		return false;
	if (!str_array(key, "algo", true, CSC_MAX_ALGOS, 63, &out->algos, &out->n_algos) ||
	    out->n_algos == 0)
		return false;
	for (size_t i = 0; i < out->n_algos; i++) {
		if (!is_oid(out->algos[i]))
			return false;
	}
	if (json_get_int(key, "len", 1, 65536, &v) != JSON_OK)
		return false;
	out->key_len = (unsigned)v;
	if (!opt_str(key, "curve", out->curve, sizeof(out->curve)) ||
	    (out->curve[0] != '\0' && !is_oid(out->curve)))
		return false;
	/* cert */
	r = json_get_object(obj, "cert", &cert);
	if (r == JSON_BADTYPE)
		return false;
	if (r == JSON_OK) {
		if (!opt_str(cert, "status", out->cert_status, sizeof(out->cert_status)) ||
		    !parse_certs(cert, out) ||
		    !opt_str_trunc(cert, "issuerDN", out->issuer_dn, sizeof(out->issuer_dn)) ||
		    !opt_str_trunc(cert, "subjectDN", out->subject_dn, sizeof(out->subject_dn)) ||
		    !opt_str(cert, "serialNumber", out->serial, sizeof(out->serial)) ||
		    !opt_str(cert, "validFrom", out->valid_from, sizeof(out->valid_from)) ||
		    !opt_str(cert, "validTo", out->valid_to, sizeof(out->valid_to)))
			return false;
	}
	/* auth */
	if (json_get_object(obj, "auth", &auth) != JSON_OK || !parse_auth(auth, out))
		return false;
	/* SCAL: a string "1" / "2" (tolerate the integers) */
	out->scal = 1;
	scal = cJSON_GetObjectItemCaseSensitive(obj, "SCAL");
	if (scal != NULL && !cJSON_IsNull(scal)) {
		if (cJSON_IsString(scal) && scal->valuestring != NULL &&
		    (strcmp(scal->valuestring, "1") == 0 || strcmp(scal->valuestring, "2") == 0))
			out->scal = scal->valuestring[0] - '0';
		else if (cJSON_IsNumber(scal) &&
			 (scal->valuedouble == 1.0 || scal->valuedouble == 2.0))
			out->scal = (int)scal->valuedouble;
		else
			return false;
	}
	r = json_get_int(obj, "multisign", 1, 100000, &v);
	if (r == JSON_BADTYPE)
		return false;
	out->multisign = r == JSON_OK ? (int)v : 1;
	return true;
}

csc_rc csc_parse_credential_info(const char *body, size_t len, const char *id, csc_credential *out,
				 csc_status *st)
{
	cJSON *root;
	bool ok;

	if (out == NULL)
		return st_set(st, CSC_ERR_ARG, "out");
	memset(out, 0, sizeof(*out));
	root = parse_root(body, len, st);
	if (root == NULL)
		return CSC_ERR_PROTOCOL;
	ok = parse_credential_obj(root, false, out);
	cJSON_Delete(root);
	if (ok && id != NULL) {
		out->id = strdup(id);
		if (out->id == NULL) {
			csc_credential_free(out);
			return st_set(st, CSC_ERR_NOMEM, "id");
		}
	}
	if (!ok) {
		csc_credential_free(out);
		return bad(st, "credentials/info: malformed CredentialInfo");
	}
	return CSC_OK;
}

csc_rc csc_parse_credentials_list(const char *body, size_t len, csc_credential_list *out,
				  csc_status *st)
{
	cJSON *root;
	const cJSON *infos = NULL, *it;
	char **ids = NULL;
	size_t n_ids = 0, i;
	json_rc r;
	csc_rc rc = CSC_OK;

	if (out == NULL)
		return st_set(st, CSC_ERR_ARG, "out");
	memset(out, 0, sizeof(*out));
	root = parse_root(body, len, st);
	if (root == NULL)
		return CSC_ERR_PROTOCOL;
	if (!str_array(root, "credentialIDs", true, CSC_MAX_CREDENTIALS, 127, &ids, &n_ids)) {
		rc = bad(st, "credentials/list: credentialIDs");
		goto out;
	}
	r = json_get_array(root, "credentialInfos", &infos);
	if (r == JSON_BADTYPE) {
		rc = bad(st, "credentials/list: credentialInfos");
		goto out;
	}
	if (n_ids == 0)
		goto out;
	out->creds = calloc(n_ids, sizeof(*out->creds));
	if (out->creds == NULL) {
		rc = st_set(st, CSC_ERR_NOMEM, "credentials");
		goto out;
	}
	if (r == JSON_MISSING) {
		/* Only the ids: the caller asks credentials/info for each. */
		for (i = 0; i < n_ids; i++) {
			out->creds[i].id = ids[i];
			ids[i] = NULL;
			out->n_creds++;
		}
		goto out;
	}
	if ((size_t)cJSON_GetArraySize(infos) != n_ids) {
		rc = bad(st, "credentials/list: credentialInfos does not match credentialIDs");
		goto out;
	}
	cJSON_ArrayForEach(it, infos)
	{
		csc_credential *cr = &out->creds[out->n_creds];
		bool listed = false;
		if (!parse_credential_obj(it, true, cr)) {
			csc_credential_free(cr);
			rc = bad(st, "credentials/list: malformed CredentialInfo");
			goto out;
		}
		out->n_creds++;
		for (i = 0; i < n_ids; i++)
			listed = listed || strcmp(ids[i], cr->id) == 0;
		for (i = 0; i + 1 < out->n_creds; i++)
			listed = listed && strcmp(out->creds[i].id, cr->id) != 0;
		if (!listed) {
			rc = bad(st, "credentials/list: credentialInfos id not in credentialIDs");
			goto out;
		}
	}
out:
	free_strv(ids, n_ids);
	cJSON_Delete(root);
	if (rc != CSC_OK)
		csc_credential_list_free(out);
	return rc;
}

void csc_sad_free(csc_sad *s)
{
	if (s == NULL)
		return;
	if (s->sad != NULL)
		sec_unlock_free(s->sad, s->sad_len + 1);
	memset(s, 0, sizeof(*s));
}

csc_rc csc_parse_authorize(const char *body, size_t len, csc_sad *out, csc_status *st)
{
	cJSON *root;
	const char *s = NULL;
	int64_t exp = 3600;
	json_rc r;
	csc_rc rc = CSC_OK;

	if (out == NULL)
		return st_set(st, CSC_ERR_ARG, "out");
	memset(out, 0, sizeof(*out));
	root = parse_root(body, len, st);
	if (root == NULL)
		return CSC_ERR_PROTOCOL;
	r = json_get_int(root, "expiresIn", 1, INT32_MAX, &exp);
	if (json_get_string(root, "SAD", &s) != JSON_OK || !token_ok(s, strlen(s))) {
		rc = bad(st, "credentials/authorize: SAD");
	} else if (r == JSON_BADTYPE) {
		rc = bad(st, "credentials/authorize: expiresIn");
	} else {
		out->sad_len = strlen(s);
		out->sad = sec_locked_strndup(s, out->sad_len);
		out->expires_in = r == JSON_OK ? (long)exp : 3600;
		if (out->sad == NULL) {
			memset(out, 0, sizeof(*out));
			rc = st_set(st, CSC_ERR_NOMEM, "SAD");
		}
	}
	json_wipe(root);
	cJSON_Delete(root);
	return rc;
}

void csc_signatures_free(csc_signatures *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_sigs; i++)
		free(s->sigs[i]);
	free(s->sigs);
	free(s->sig_lens);
	memset(s, 0, sizeof(*s));
}

csc_rc csc_parse_signatures(const char *body, size_t len, size_t expected, csc_signatures *out,
			    csc_status *st)
{
	cJSON *root;
	const cJSON *arr = NULL, *it;
	csc_rc rc = CSC_OK;

	if (out == NULL || expected == 0)
		return st_set(st, CSC_ERR_ARG, "out");
	memset(out, 0, sizeof(*out));
	root = parse_root(body, len, st);
	if (root == NULL)
		return CSC_ERR_PROTOCOL;
	if (json_get_array(root, "signatures", &arr) != JSON_OK ||
	    (size_t)cJSON_GetArraySize(arr) != expected) {
		rc = bad(st, "signHash: signatures");
		goto out;
	}
	out->sigs = calloc(expected, sizeof(*out->sigs));
	out->sig_lens = calloc(expected, sizeof(*out->sig_lens));
	if (out->sigs == NULL || out->sig_lens == NULL) {
		rc = st_set(st, CSC_ERR_NOMEM, "signatures");
		goto out;
	}
	cJSON_ArrayForEach(it, arr)
	{
		uint8_t *sig = NULL;
		size_t slen = 0;
		if (!cJSON_IsString(it) || it->valuestring == NULL ||
		    b64_decode(it->valuestring, strlen(it->valuestring), (CSC_MAX_SIG / 3 + 1) * 4,
			       &sig, &slen) != 0 ||
		    slen == 0 || slen > CSC_MAX_SIG) {
			free(sig);
			rc = bad(st, "signHash: signature is not Base64");
			goto out;
		}
		out->sigs[out->n_sigs] = sig;
		out->sig_lens[out->n_sigs] = slen;
		out->n_sigs++;
	}
out:
	cJSON_Delete(root);
	if (rc != CSC_OK)
		csc_signatures_free(out);
	return rc;
}

/* ------------------------------------------------------------------ */
/* derived facts                                                       */
/* ------------------------------------------------------------------ */

key_kind csc_credential_key_kind(const csc_credential *cr)
{
	size_t i;

	if (cr == NULL)
		return KEY_NONE;
	if (cr->curve[0] != '\0')
		return KEY_EC;
	for (i = 0; i < cr->n_algos; i++) {
		const sigalg_info *si = sigalg_by_oid(cr->algos[i]);
		if (si != NULL && si->key != KEY_NONE)
			return si->key;
		if (strcmp(cr->algos[i], "1.2.840.10045.2.1") == 0)
			return KEY_EC;
		if (strcmp(cr->algos[i], "1.2.840.113549.1.1.1") == 0)
			return KEY_RSA;
	}
	return KEY_NONE;
}

static const csc_auth_object *find_object(const csc_credential *cr, csc_auth_obj_kind kind)
{
	size_t i;

	if (cr == NULL)
		return NULL;
	for (i = 0; i < cr->n_objects; i++) {
		if (cr->objects[i].kind == kind && cr->objects[i].in_expression)
			return &cr->objects[i];
	}
	return NULL;
}

const csc_auth_object *csc_credential_pin_object(const csc_credential *cr)
{
	return find_object(cr, CSC_AUTH_OBJ_PIN);
}

const csc_auth_object *csc_credential_otp_object(const csc_credential *cr)
{
	return find_object(cr, CSC_AUTH_OBJ_OTP);
}

bool csc_credential_needs_pin(const csc_credential *cr)
{
	return csc_credential_pin_object(cr) != NULL;
}

bool csc_credential_needs_otp(const csc_credential *cr)
{
	return csc_credential_otp_object(cr) != NULL;
}

/* ------------------------------------------------------------------ */
/* methods                                                             */
/* ------------------------------------------------------------------ */

csc_rc csc_info(csc_client *c, csc_info_result *out, csc_status *st)
{
	cJSON *req;
	rbuf resp = {0};
	long http;
	csc_rc rc;

	if (c == NULL || out == NULL)
		return st_set(st, CSC_ERR_ARG, "info");
	memset(out, 0, sizeof(*out));
	req = cJSON_CreateObject();
	if (req == NULL)
		return st_set(st, CSC_ERR_NOMEM, "info");
	rc = call(c, "info", req, CALL_IDEMPOTENT, NULL, &http, &resp, st);
	cJSON_Delete(req);
	if (rc == CSC_OK)
		rc = csc_parse_info(resp.data, resp.len, out, st);
	rbuf_free(&resp);
	return rc;
}

static csc_rc login_common(csc_client *c, cJSON *req, const char *auth, csc_tokens *out,
			   csc_status *st)
{
	rbuf resp = {0};
	long http;
	csc_tokens t;
	csc_rc rc;

	rc = call(c, "auth/login", req, 0, auth, &http, &resp, st);
	if (rc == CSC_OK)
		rc = csc_parse_tokens(resp.data, resp.len, &t, st);
	rbuf_free(&resp);
	if (rc != CSC_OK)
		return rc;
	if (csc_client_set_access_token(c, t.access_token, t.access_len, t.expires_in) != 0) {
		csc_tokens_free(&t);
		return st_set(st, CSC_ERR_NOMEM, "token");
	}
	if (out != NULL)
		*out = t;
	else
		csc_tokens_free(&t);
	return CSC_OK;
}

csc_rc csc_auth_login_password(csc_client *c, const char *user, const char *password,
			       size_t password_len, bool remember_me, csc_tokens *out,
			       csc_status *st)
{
	cJSON *req;
	char *cred = NULL, *b64 = NULL, *hdr = NULL;
	size_t ulen, clen = 0, hcap = 0;
	csc_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || user == NULL || password == NULL)
		return st_set(st, CSC_ERR_ARG, "auth/login");
	ulen = strlen(user);
	if (ulen == 0 || ulen > 256 || strchr(user, ':') != NULL || password_len > 1024)
		return st_set(st, CSC_ERR_ARG, "user name or password");
	clen = ulen + 1 + password_len;
	cred = sec_locked_alloc(clen + 1);
	if (cred == NULL)
		return st_set(st, CSC_ERR_NOMEM, "credentials");
	memcpy(cred, user, ulen);
	cred[ulen] = ':';
	memcpy(cred + ulen + 1, password, password_len);
	b64 = b64_encode((const uint8_t *)cred, clen);
	sec_unlock_free(cred, clen + 1);
	if (b64 == NULL)
		return st_set(st, CSC_ERR_NOMEM, "credentials");
	hdr = auth_header("Basic", b64, strlen(b64), &hcap);
	sec_strfree(b64);
	if (hdr == NULL)
		return st_set(st, CSC_ERR_NOMEM, "credentials");
	req = cJSON_CreateObject();
	if (req == NULL || !json_add_bool(req, "rememberMe", remember_me)) {
		cJSON_Delete(req);
		sec_free(hdr, hcap);
		return st_set(st, CSC_ERR_NOMEM, "auth/login");
	}
	rc = login_common(c, req, hdr, out, st);
	cJSON_Delete(req);
	sec_free(hdr, hcap);
	return rc;
}

static csc_rc login_refresh_raw(csc_client *c, const char *tok, size_t tok_len, csc_tokens *out,
				csc_status *st)
{
	cJSON *req;
	rbuf resp = {0};
	long http;
	char *copy;
	csc_rc rc;

	copy = sec_locked_strndup(tok, tok_len);
	req = cJSON_CreateObject();
	if (copy == NULL || req == NULL || !json_add_string(req, "refresh_token", copy) ||
	    !json_add_bool(req, "rememberMe", false)) {
		if (copy != NULL)
			sec_unlock_free(copy, tok_len + 1);
		json_wipe(req);
		cJSON_Delete(req);
		return st_set(st, CSC_ERR_NOMEM, "auth/login");
	}
	sec_unlock_free(copy, tok_len + 1);
	rc = call(c, "auth/login", req, 0, NULL, &http, &resp, st);
	json_wipe(req);
	cJSON_Delete(req);
	if (rc == CSC_OK)
		rc = csc_parse_tokens(resp.data, resp.len, out, st);
	rbuf_free(&resp);
	return rc;
}

csc_rc csc_auth_login_refresh(csc_client *c, const char *tok, size_t tok_len, csc_tokens *out,
			      csc_status *st)
{
	csc_tokens t;
	csc_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || tok == NULL || !token_ok(tok, tok_len))
		return st_set(st, CSC_ERR_ARG, "refresh token");
	rc = login_refresh_raw(c, tok, tok_len, &t, st);
	if (rc != CSC_OK)
		return rc;
	if (csc_client_set_access_token(c, t.access_token, t.access_len, t.expires_in) != 0) {
		csc_tokens_free(&t);
		return st_set(st, CSC_ERR_NOMEM, "token");
	}
	if (out != NULL)
		*out = t;
	else
		csc_tokens_free(&t);
	return CSC_OK;
}

csc_rc csc_auth_revoke(csc_client *c, const char *tok, size_t tok_len, const char *hint,
		       csc_status *st)
{
	cJSON *req;
	rbuf resp = {0};
	long http;
	char *copy;
	csc_rc rc;

	if (c == NULL || tok == NULL || !token_ok(tok, tok_len))
		return st_set(st, CSC_ERR_ARG, "auth/revoke");
	copy = sec_locked_strndup(tok, tok_len);
	req = cJSON_CreateObject();
	if (copy == NULL || req == NULL || !json_add_string(req, "token", copy) ||
	    (hint != NULL && !json_add_string(req, "token_type_hint", hint))) {
		if (copy != NULL)
			sec_unlock_free(copy, tok_len + 1);
		json_wipe(req);
		cJSON_Delete(req);
		return st_set(st, CSC_ERR_NOMEM, "auth/revoke");
	}
	sec_unlock_free(copy, tok_len + 1);
	rc = call(c, "auth/revoke", req, CALL_BEARER, NULL, &http, &resp, st);
	json_wipe(req);
	cJSON_Delete(req);
	rbuf_free(&resp);
	return rc;
}

static cJSON *cred_request(const char *cred_id)
{
	cJSON *req = cJSON_CreateObject();

	if (req == NULL)
		return NULL;
	if ((cred_id != NULL && !json_add_string(req, "credentialID", cred_id)) ||
	    (cred_id == NULL && !json_add_bool(req, "credentialInfo", true)) ||
	    !json_add_string(req, "certificates", "chain") ||
	    !json_add_bool(req, "certInfo", true) || !json_add_bool(req, "authInfo", true)) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

csc_rc csc_credentials_info(csc_client *c, const char *cred_id, csc_credential *out, csc_status *st)
{
	cJSON *req;
	rbuf resp = {0};
	long http;
	csc_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || cred_id == NULL || out == NULL)
		return st_set(st, CSC_ERR_ARG, "credentials/info");
	req = cred_request(cred_id);
	if (req == NULL)
		return st_set(st, CSC_ERR_NOMEM, "credentials/info");
	rc =
	    call(c, "credentials/info", req, CALL_BEARER | CALL_IDEMPOTENT, NULL, &http, &resp, st);
	cJSON_Delete(req);
	if (rc == CSC_OK)
		rc = csc_parse_credential_info(resp.data, resp.len, cred_id, out, st);
	rbuf_free(&resp);
	return rc;
}

csc_rc csc_credentials_list(csc_client *c, csc_credential_list *out, csc_status *st)
{
	cJSON *req;
	rbuf resp = {0};
	long http;
	size_t i;
	csc_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || out == NULL)
		return st_set(st, CSC_ERR_ARG, "credentials/list");
	req = cred_request(NULL);
	if (req == NULL)
		return st_set(st, CSC_ERR_NOMEM, "credentials/list");
	rc =
	    call(c, "credentials/list", req, CALL_BEARER | CALL_IDEMPOTENT, NULL, &http, &resp, st);
	cJSON_Delete(req);
	if (rc == CSC_OK)
		rc = csc_parse_credentials_list(resp.data, resp.len, out, st);
	rbuf_free(&resp);
	if (rc != CSC_OK)
		return rc;
	/* A service that ignores credentialInfo: ask for each one. */
	for (i = 0; i < out->n_creds; i++) {
		csc_credential one;
		if (out->creds[i].n_algos > 0)
			continue;
		rc = csc_credentials_info(c, out->creds[i].id, &one, st);
		if (rc != CSC_OK) {
			csc_credential_list_free(out);
			return rc;
		}
		csc_credential_free(&out->creds[i]);
		out->creds[i] = one;
	}
	return CSC_OK;
}

static bool add_hashes(cJSON *req, const uint8_t *const *hashes, const size_t *lens, size_t n,
		       hash_alg alg)
{
	const hash_info *hi = hash_by_id(alg);
	cJSON *arr;
	size_t i;

	if (hi == NULL || hashes == NULL || lens == NULL)
		return false;
	arr = cJSON_AddArrayToObject(req, "hashes");
	if (arr == NULL)
		return false;
	for (i = 0; i < n; i++) {
		char *s;
		cJSON *it;
		if (hashes[i] == NULL || lens[i] != hi->len)
			return false;
		s = b64_encode(hashes[i], lens[i]);
		if (s == NULL)
			return false;
		it = cJSON_CreateString(s);
		free(s);
		if (it == NULL || !cJSON_AddItemToArray(arr, it)) {
			cJSON_Delete(it);
			return false;
		}
	}
	return json_add_string(req, "hashAlgorithmOID", hi->oid);
}

static bool add_auth_data(cJSON *req, const csc_auth_data *ad, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(req, "authData");
	size_t i;

	if (arr == NULL)
		return false;
	for (i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		char *v = NULL;
		bool ok;
		if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			return false;
		}
		if (ad[i].id == NULL || !json_add_string(o, "id", ad[i].id))
			return false;
		if (ad[i].value == NULL)
			continue; /* out-of-band object */
		if (ad[i].value_len > 1024)
			return false;
		v = sec_locked_strndup(ad[i].value, ad[i].value_len);
		if (v == NULL)
			return false;
		ok = json_add_string(o, "value", v);
		sec_unlock_free(v, ad[i].value_len + 1);
		if (!ok)
			return false;
	}
	return true;
}

csc_rc csc_credentials_authorize(csc_client *c, const csc_authorize_req *rq, csc_sad *out,
				 csc_status *st)
{
	cJSON *req;
	rbuf resp = {0};
	long http = 0;
	csc_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || rq == NULL || out == NULL || rq->cred_id == NULL ||
	    rq->num_signatures < 1 || (rq->n_auth > 0 && rq->auth == NULL))
		return st_set(st, CSC_ERR_ARG, "credentials/authorize");
	req = cJSON_CreateObject();
	if (req == NULL || !json_add_string(req, "credentialID", rq->cred_id) ||
	    !json_add_int(req, "numSignatures", rq->num_signatures) ||
	    (rq->n_hashes > 0 &&
	     !add_hashes(req, rq->hashes, rq->hash_lens, rq->n_hashes, rq->hash)) ||
	    !add_auth_data(req, rq->auth, rq->n_auth) ||
	    (rq->description != NULL && !json_add_string(req, "description", rq->description))) {
		json_wipe(req);
		cJSON_Delete(req);
		return st_set(st, CSC_ERR_ARG, "credentials/authorize request");
	}
	rc = call(c, "credentials/authorize", req, CALL_BEARER, NULL, &http, &resp, st);
	json_wipe(req);
	cJSON_Delete(req);
	if (rc == CSC_OK && http == 202)
		rc = st_set(st, CSC_ERR_PENDING, "authorize answered 202");
	else if (rc == CSC_OK)
		rc = csc_parse_authorize(resp.data, resp.len, out, st);
	rbuf_free(&resp);
	return rc;
}

csc_rc csc_signatures_sign_hash(csc_client *c, const csc_sign_req *rq, csc_signatures *out,
				csc_status *st)
{
	cJSON *req;
	rbuf resp = {0};
	long http = 0;
	char *sad = NULL;
	bool ok;
	csc_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || rq == NULL || out == NULL || rq->cred_id == NULL || rq->n_hashes == 0 ||
	    rq->sign_algo == NULL || !is_oid(rq->sign_algo))
		return st_set(st, CSC_ERR_ARG, "signatures/signHash");
	req = cJSON_CreateObject();
	ok = req != NULL && json_add_string(req, "credentialID", rq->cred_id);
	if (ok && rq->sad != NULL) {
		sad = sec_locked_strndup(rq->sad, rq->sad_len);
		ok = sad != NULL && json_add_string(req, "SAD", sad);
		if (sad != NULL)
			sec_unlock_free(sad, rq->sad_len + 1);
	}
	ok =
	    ok && add_hashes(req, rq->hashes, rq->hash_lens, rq->n_hashes, rq->hash) &&
	    json_add_string(req, "signAlgo", rq->sign_algo) &&
	    (rq->params == NULL || json_add_b64(req, "signAlgoParams", rq->params, rq->params_len));
	if (!ok) {
		json_wipe(req);
		cJSON_Delete(req);
		return st_set(st, CSC_ERR_ARG, "signatures/signHash request");
	}
	rc = call(c, "signatures/signHash", req, CALL_BEARER, NULL, &http, &resp, st);
	json_wipe(req);
	cJSON_Delete(req);
	if (rc == CSC_OK)
		rc = csc_parse_signatures(resp.data, resp.len, rq->n_hashes, out, st);
	rbuf_free(&resp);
	return rc;
}

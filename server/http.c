/* SPDX-License-Identifier: Apache-2.0 */
/* HTTPS front end: request bodies with hard limits, routing, one log line
 * per request, metrics. Knows HTTP; the CSC semantics live in api/. */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api.h"
#include "json.h"
#include "log.h"
#include "secmem.h"

#define HTTP_MAX_LISTEN 8
#define HTTP_PEM_MAX (256 * 1024)
#define HTTP_JSON_DEPTH 16
#define HTTP_STATUS_MAX 600
/* Stack of every libmicrohttpd thread (listener, pool or per-connection
 * workers). A request needs about 24 KiB, TLS handshake included, even with
 * the SAM in this process (--no-privsep: scrypt, SoftHSM, TSA): ten times
 * that, so that an idle keep-alive connection costs little. */
#define HTTP_THREAD_STACK (256 * 1024)

struct http_server {
	api_service svc;
	struct MHD_Daemon *daemons[HTTP_MAX_LISTEN];
	size_t n_daemons;
	char *tls_key; /* PEM, locked memory; kept until stop */
	size_t tls_key_len;
	char *tls_cert;
	/* metrics */
	atomic_uint_fast64_t by_status[HTTP_STATUS_MAX];
	atomic_uint_fast64_t requests;
	atomic_uint_fast64_t latency_us;
	bool tsa_lock_init;
};

typedef enum {
	ROUTE_NONE = 0,
	ROUTE_CSC,
	ROUTE_TSA,
	ROUTE_HEALTH,
	ROUTE_METRICS,
	ROUTE_LOGO,
} http_route;

/* Per-request state (MHD's con_cls). */
typedef struct {
	struct timespec start;
	http_route route;
	const api_method *m;
	char *body; /* zeroed when freed: it may hold secrets */
	size_t len, cap, limit;
	bool too_large;
	bool answered;
	unsigned status;
	char method[8];
	char path[96];
} http_req;

static const char http_logo_svg[] =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"64\" viewBox=\"0 0 64 "
    "64\"><rect width=\"64\" height=\"64\" rx=\"12\" fill=\"#1d3557\"/><path d=\"M16 40c6-14 "
    "12-18 16-8s10 4 16-10\" stroke=\"#f1faee\" stroke-width=\"5\" fill=\"none\" "
    "stroke-linecap=\"round\"/></svg>\n";

/* ---- helpers ---- */

static double http_ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1000.0 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Copy at most cap-1 printable characters (others become '?'). */
static void http_clean_copy(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src != NULL && src[i] != '\0' && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c >= 0x21 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

static void http_free_secret(void *p)
{
	sec_strfree(p);
}

/* Queue a response body (ownership of buf passes to MHD; zeroed on free). */
static enum MHD_Result http_send(struct MHD_Connection *conn, http_req *r, unsigned status,
				 const char *ctype, char *buf, size_t len, bool www_auth)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (buf == NULL) {
		buf = strdup("");
		len = 0;
		if (buf == NULL)
			return MHD_NO;
	}
	resp = MHD_create_response_from_buffer_with_free_callback(len, buf, http_free_secret);
	if (resp == NULL) {
		sec_strfree(buf);
		return MHD_NO;
	}
	if (ctype != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (www_auth)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"cisres\"");
	if (status == 405) {
		const char *allow = "POST";
		if (r->route == ROUTE_HEALTH || r->route == ROUTE_METRICS || r->route == ROUTE_LOGO)
			allow = "GET, HEAD";
		else if (r->route == ROUTE_CSC && r->m != NULL && r->m->allow_get)
			allow = "GET, POST";
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	r->status = status;
	return ret;
}

static enum MHD_Result http_send_error(struct MHD_Connection *conn, http_req *r, api_err e,
				       const char *description)
{
	unsigned status = 500;
	char *body = api_error_body(e, description, &status);

	return http_send(conn, r, status, "application/json", body, body != NULL ? strlen(body) : 0,
			 status == 401);
}

static enum MHD_Result http_send_too_large(struct MHD_Connection *conn, http_req *r)
{
	char d[96];

	snprintf(d, sizeof(d), "Request body too large (limit %zu bytes)", r->limit);
	return http_send_error(conn, r, API_E_TOO_LARGE, d);
}

/* ---- routing ---- */

static bool http_is(const char *method, const char *want)
{
	return strcmp(method, want) == 0;
}

static void http_route_of(http_server *s, http_req *r, const char *url)
{
	static const char csc[] = "/csc/v2/";

	if (strncmp(url, csc, sizeof(csc) - 1) == 0) {
		r->route = ROUTE_CSC;
		r->m = api_lookup(url + sizeof(csc) - 1);
		r->limit = s->svc.ctx->cfg.max_body;
		return;
	}
	r->limit = 0;
	if (strcmp(url, HTTP_TSA_PATH) == 0) {
		r->route = ROUTE_TSA;
		r->limit = HTTP_TSA_MAX_BODY;
	} else if (strcmp(url, "/health") == 0) {
		r->route = ROUTE_HEALTH;
	} else if (strcmp(url, "/metrics") == 0) {
		r->route = ROUTE_METRICS;
	} else if (strcmp(url, "/logo.svg") == 0) {
		r->route = ROUTE_LOGO;
	} else {
		r->route = ROUTE_NONE;
	}
}

/* Is the HTTP method acceptable for the route? */
static bool http_method_ok(const http_req *r, const char *method)
{
	bool get = http_is(method, "GET") || http_is(method, "HEAD");

	switch (r->route) {
	case ROUTE_CSC:
		return http_is(method, "POST") || (get && r->m != NULL && r->m->allow_get);
	case ROUTE_TSA:
		return http_is(method, "POST");
	case ROUTE_HEALTH:
	case ROUTE_METRICS:
	case ROUTE_LOGO:
		return get;
	case ROUTE_NONE:
		break;
	}
	return false;
}

/* ---- body accumulation ---- */

static int http_append(http_req *r, const char *data, size_t n)
{
	size_t need;

	if (r->too_large)
		return 0;
	if (n > r->limit || r->len > r->limit - n) {
		r->too_large = true;
		return 0;
	}
	need = r->len + n + 1;
	if (need > r->cap) {
		size_t cap = r->cap != 0 ? r->cap : 1024;
		char *nb;

		while (cap < need)
			cap = cap > r->limit ? need : cap * 2;
		nb = malloc(cap);
		if (nb == NULL)
			return -1;
		if (r->body != NULL) {
			memcpy(nb, r->body, r->len);
			sec_free(r->body, r->cap);
		}
		r->body = nb;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return 0;
}

/* ---- the handlers ---- */

static enum MHD_Result http_csc(http_server *s, struct MHD_Connection *conn, http_req *r)
{
	api_request req;
	api_response res;
	char *out = NULL;
	enum MHD_Result ret;

	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	req.svc = &s->svc;
	req.method = r->m->name;
	req.authorization =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (r->m->auth == API_AUTH_BEARER && api_authenticate(&req, &res) != 0)
		goto answer;
	if (r->len == 0)
		req.body = cJSON_CreateObject();
	else
		req.body =
		    json_parse(r->body, r->len, s->svc.ctx->cfg.max_body, HTTP_JSON_DEPTH, true);
	if (req.body == NULL) {
		api_fail(&res, r->len == 0 ? API_E_SERVER : API_E_INVALID_REQUEST,
			 r->len == 0 ? NULL : "Malformed JSON body");
		goto answer;
	}
	if (r->m->fn(&req, &res) != 0 && res.json == NULL)
		api_fail(&res, API_E_SERVER, NULL);
	if (res.status == 0)
		api_fail(&res, API_E_SERVER, NULL);
answer:
	if (req.body != NULL) {
		if (r->m->secret_body)
			json_wipe(req.body);
		cJSON_Delete(req.body);
	}
	if (res.json != NULL) {
		out = json_print(res.json);
		if (r->m->secret_body)
			json_wipe(res.json);
		cJSON_Delete(res.json);
		if (out == NULL)
			return http_send_error(conn, r, API_E_SERVER, NULL);
	}
	ret = http_send(conn, r, res.status, out != NULL ? "application/json" : NULL, out,
			out != NULL ? strlen(out) : 0, res.www_auth);
	return ret;
}

static enum MHD_Result http_tsa(http_server *s, struct MHD_Connection *conn, http_req *r)
{
	const char *ct =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	uint8_t *resp = NULL;
	size_t rlen = 0;
	char *buf;

	if (ct == NULL || strncasecmp(ct, "application/timestamp-query", 27) != 0 ||
	    (ct[27] != '\0' && ct[27] != ';' && ct[27] != ' '))
		return http_send_error(conn, r, API_E_MEDIA_TYPE,
				       "Content-Type application/timestamp-query expected");
	if (r->len == 0)
		return http_send_error(conn, r, API_E_INVALID_REQUEST, "Empty TimeStampReq");
	if (api_tsa_respond(&s->svc, (const uint8_t *)r->body, r->len, &resp, &rlen) != 0)
		return http_send_error(conn, r, API_E_SERVER, NULL);
	/* MHD frees the buffer through http_free_secret (a NUL-terminated
	 * string free): copy into a buffer with a terminating NUL. */
	buf = malloc(rlen + 1);
	if (buf == NULL) {
		free(resp);
		return http_send_error(conn, r, API_E_SERVER, NULL);
	}
	memcpy(buf, resp, rlen);
	buf[rlen] = '\0';
	free(resp);
	return http_send(conn, r, 200, "application/timestamp-reply", buf, rlen, false);
}

/* Append formatted text to a growing buffer; sticky failure flag. */
typedef struct {
	char *p;
	size_t len, cap;
	bool failed;
} http_buf;

__attribute__((format(printf, 2, 3))) static void http_buf_printf(http_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p != NULL ? b->p + b->len : NULL,
			      b->p != NULL ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if (b->p != NULL && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap != 0 ? b->cap : 4096) * 2 + (size_t)n;
		char *nb = realloc(b->p, cap);
		if (nb == NULL) {
			b->failed = true;
			return;
		}
		b->p = nb;
		b->cap = cap;
	}
}

static enum MHD_Result http_metrics(http_server *s, struct MHD_Connection *conn, http_req *r)
{
	http_buf b = {0};
	const api_stats *st = &s->svc.stats;

	http_buf_printf(&b, "# HELP cisres_http_requests_total HTTP requests answered, by status.\n"
			    "# TYPE cisres_http_requests_total counter\n");
	for (unsigned i = 100; i < HTTP_STATUS_MAX; i++) {
		uint64_t v = atomic_load(&s->by_status[i]);
		if (v != 0)
			http_buf_printf(&b, "cisres_http_requests_total{code=\"%u\"} %llu\n", i,
					(unsigned long long)v);
	}
	http_buf_printf(&b,
			"# HELP cisres_http_request_duration_seconds Time to answer requests.\n"
			"# TYPE cisres_http_request_duration_seconds summary\n"
			"cisres_http_request_duration_seconds_sum %.6f\n"
			"cisres_http_request_duration_seconds_count %llu\n",
			(double)atomic_load(&s->latency_us) / 1e6,
			(unsigned long long)atomic_load(&s->requests));
	http_buf_printf(
	    &b,
	    "# HELP cisres_signatures_total Signatures produced by signatures/signHash.\n"
	    "# TYPE cisres_signatures_total counter\n"
	    "cisres_signatures_total %llu\n"
	    "# HELP cisres_signature_failures_total signHash calls refused or failed.\n"
	    "# TYPE cisres_signature_failures_total counter\n"
	    "cisres_signature_failures_total %llu\n",
	    (unsigned long long)atomic_load(&st->signatures),
	    (unsigned long long)atomic_load(&st->sign_failures));
	http_buf_printf(
	    &b,
	    "# HELP cisres_authorizations_total credentials/authorize calls.\n"
	    "# TYPE cisres_authorizations_total counter\n"
	    "cisres_authorizations_total{outcome=\"success\"} %llu\n"
	    "cisres_authorizations_total{outcome=\"failure\"} %llu\n"
	    "# HELP cisres_logins_total auth/login calls.\n"
	    "# TYPE cisres_logins_total counter\n"
	    "cisres_logins_total{outcome=\"success\"} %llu\n"
	    "cisres_logins_total{outcome=\"failure\"} %llu\n"
	    "# HELP cisres_timestamps_total Time-stamp tokens issued (CSC and RFC 3161).\n"
	    "# TYPE cisres_timestamps_total counter\n"
	    "cisres_timestamps_total %llu\n",
	    (unsigned long long)atomic_load(&st->authorize_ok),
	    (unsigned long long)atomic_load(&st->authorize_fail),
	    (unsigned long long)atomic_load(&st->login_ok),
	    (unsigned long long)atomic_load(&st->login_fail),
	    (unsigned long long)atomic_load(&st->timestamps));
	if (b.failed) {
		free(b.p);
		return http_send_error(conn, r, API_E_SERVER, NULL);
	}
	return http_send(conn, r, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len,
			 false);
}

static enum MHD_Result http_static(struct MHD_Connection *conn, http_req *r, const char *ctype,
				   const char *text)
{
	char *buf = strdup(text);

	if (buf == NULL)
		return MHD_NO;
	return http_send(conn, r, 200, ctype, buf, strlen(buf), false);
}

static enum MHD_Result http_dispatch(http_server *s, struct MHD_Connection *conn, http_req *r)
{
	if (r->too_large)
		return http_send_too_large(conn, r);
	switch (r->route) {
	case ROUTE_CSC:
		return http_csc(s, conn, r);
	case ROUTE_TSA:
		return http_tsa(s, conn, r);
	case ROUTE_HEALTH:
		return http_static(conn, r, "text/plain", "ok\n");
	case ROUTE_METRICS:
		return http_metrics(s, conn, r);
	case ROUTE_LOGO:
		return http_static(conn, r, "image/svg+xml", http_logo_svg);
	case ROUTE_NONE:
		break;
	}
	return http_send_error(conn, r, API_E_NOT_FOUND, NULL);
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version, const char *upload_data,
				   size_t *upload_data_size, void **con_cls)
{
	http_server *s = cls;
	http_req *r = *con_cls;

	if (r == NULL) {
		const char *cl;

		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		*con_cls = r;
		clock_gettime(CLOCK_MONOTONIC, &r->start);
		http_clean_copy(r->method, sizeof(r->method), method);
		http_clean_copy(r->path, sizeof(r->path), url);
		http_route_of(s, r, url);
		if (r->route == ROUTE_NONE || (r->route == ROUTE_CSC && r->m == NULL)) {
			char d[160];
			if (r->route == ROUTE_CSC) {
				snprintf(d, sizeof(d), "Unknown method %s", r->path + 8);
				return http_send_error(conn, r, API_E_NOT_FOUND, d);
			}
			return http_send_error(conn, r, API_E_NOT_FOUND, "Not found");
		}
		if (!http_method_ok(r, method))
			return http_send_error(conn, r, API_E_METHOD, NULL);
		/* Refuse an announced oversized body before reading any of it. */
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL) {
			char *end = NULL;
			unsigned long long v;

			errno = 0;
			v = strtoull(cl, &end, 10);
			if (errno != 0 || end == cl || *end != '\0' || v > r->limit) {
				r->too_large = true;
				return http_send_too_large(conn, r);
			}
		}
		return MHD_YES;
	}
	if (r->answered) {
		/* Already answered (e.g. 413): discard whatever still comes. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (http_append(r, upload_data, *upload_data_size) != 0)
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	(void)version;
	return http_dispatch(s, conn, r);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	http_server *s = cls;
	http_req *r = *con_cls;
	double ms;

	(void)conn;
	if (r == NULL)
		return;
	ms = http_ms_since(&r->start);
	if (r->answered) {
		if (r->status < HTTP_STATUS_MAX)
			atomic_fetch_add(&s->by_status[r->status], 1);
		atomic_fetch_add(&s->requests, 1);
		atomic_fetch_add(&s->latency_us, (uint64_t)(ms * 1000.0));
		log_info("%s %s %u %.1f ms%s", r->method, r->path, r->status, ms,
			 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
	} else {
		log_info("%s %s - %.1f ms (connection closed)", r->method, r->path, ms);
	}
	if (r->body != NULL)
		sec_free(r->body, r->cap);
	free(r);
	*con_cls = NULL;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_msg(LOG_LVL_WARN, LOG_CAT_HTTP, "microhttpd: %s", line);
}
#pragma GCC diagnostic pop

/* ---- start / stop ---- */

static char *http_read_pem(const char *path, size_t *len, bool secret)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t off = 0;

	if (fd < 0) {
		log_err("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > HTTP_PEM_MAX) {
		log_err("%s: not a PEM file of a sensible size", path);
		close(fd);
		return NULL;
	}
	buf = secret ? sec_locked_alloc((size_t)st.st_size + 1) : calloc(1, (size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return NULL;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*len = (size_t)st.st_size + 1;
	return buf;
}

/* Split "host:port" / "[v6]:port" and resolve it (numeric service). */
static int http_resolve(const char *entry, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char host[256], port[16];
	const char *colon;
	struct addrinfo hints, *ai = NULL;
	size_t hl;
	int rc;

	if (entry[0] == '[') {
		const char *end = strchr(entry, ']');
		if (end == NULL || end[1] != ':')
			return -1;
		hl = (size_t)(end - entry - 1);
		if (hl == 0 || hl >= sizeof(host))
			return -1;
		memcpy(host, entry + 1, hl);
		host[hl] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(entry, ':');
		if (colon == NULL)
			return -1;
		hl = (size_t)(colon - entry);
		if (hl == 0 || hl >= sizeof(host))
			return -1;
		memcpy(host, entry, hl);
		host[hl] = '\0';
	}
	if (strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(port))
		return -1;
	memcpy(port, colon + 1, strlen(colon + 1) + 1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0 || ai == NULL) {
		log_err("cannot resolve listen address %s: %s", entry, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sslen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static unsigned http_threads(const server_config *cfg)
{
	long cpus;

	if (cfg->threads > 0)
		return cfg->threads;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		cpus = 1;
	if (cpus > 64)
		cpus = 64;
	return (unsigned)cpus * 2;
}

/* [http] threading: "per-connection" (the default, also when unset) or
 * "pool". */
static bool http_per_connection(const server_config *cfg)
{
	return strcmp(cfg->http_threading, "pool") != 0;
}

static struct MHD_Daemon *http_listen(http_server *s, const char *entry)
{
	const server_config *cfg = &s->svc.ctx->cfg;
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	bool per_conn = http_per_connection(cfg);
	unsigned threads = per_conn ? 1 : http_threads(cfg);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem opts[16];
	size_t n = 0;
	struct MHD_Daemon *d;

	if (http_resolve(entry, &ss, &sslen) != 0)
		return NULL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (per_conn)
		/* A thread per connection: a handler blocks (it waits for the
		 * SAM) without holding up any other connection. epoll is not
		 * allowed in this mode; poll() has no FD_SETSIZE limit. The
		 * connection limit bounds the number of threads. */
		flags |= MHD_USE_THREAD_PER_CONNECTION |
			 (MHD_is_feature_supported(MHD_FEATURE_POLL) ? MHD_USE_POLL : MHD_USE_AUTO);
	else
		flags |= threads > 1 ? MHD_USE_EPOLL : MHD_USE_POLL;
	/* The logger first, so that MHD routes every message through it. */
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER,
					    (intptr_t)(void *)http_mhd_log, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
					    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
					    (intptr_t)cfg->max_connections, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
					    (intptr_t)HTTP_CONNECTION_TIMEOUT, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
					    (intptr_t)(64 * 1024), NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
					    (intptr_t)(void *)http_completed, s};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_STACK_SIZE,
					    (intptr_t)HTTP_THREAD_STACK, NULL};
	if (!per_conn && threads > 1)
		opts[n++] =
		    (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

	d = MHD_start_daemon(flags, 0, NULL, NULL, http_access, s, MHD_OPTION_ARRAY, opts,
			     MHD_OPTION_END);
	if (d == NULL) {
		log_err("cannot listen on %s (address in use, or TLS key/certificate rejected)",
			entry);
		return NULL;
	}
	if (per_conn)
		log_info("listening on https://%s (a thread per connection, %u connections max)",
			 entry, cfg->max_connections);
	else
		log_info("listening on https://%s (pool of %u threads, %u connections max)", entry,
			 threads, cfg->max_connections);
	return d;
}

int http_start(context *ctx, http_server **out)
{
	const server_config *cfg = &ctx->cfg;
	http_server *s;
	size_t certlen = 0;
	const char *p;

	*out = NULL;
	if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
		log_err("libmicrohttpd was built without TLS support");
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -1;
	s->svc.ctx = ctx;
	if (pthread_mutex_init(&s->svc.tsa_lock, NULL) != 0) {
		free(s);
		return -1;
	}
	s->tsa_lock_init = true;
	s->tls_key = http_read_pem(cfg->tls_key, &s->tls_key_len, true);
	s->tls_cert = http_read_pem(cfg->tls_cert, &certlen, false);
	if (s->tls_key == NULL || s->tls_cert == NULL)
		goto fail;

	/* The base URL: public_url, else the first listen address. */
	if (cfg->public_url[0] != '\0') {
		size_t n = strlen(cfg->public_url);
		while (n > 0 && cfg->public_url[n - 1] == '/')
			n--;
		snprintf(s->svc.base_url, sizeof(s->svc.base_url), "%.*s", (int)n, cfg->public_url);
	} else {
		const char *comma = strchr(cfg->listen, ',');
		int n = comma != NULL ? (int)(comma - cfg->listen) : (int)strlen(cfg->listen);
		snprintf(s->svc.base_url, sizeof(s->svc.base_url), "https://%.*s", n, cfg->listen);
	}

	p = cfg->listen;
	while (*p != '\0') {
		char entry[256];
		const char *comma = strchr(p, ',');
		size_t l = comma != NULL ? (size_t)(comma - p) : strlen(p);

		while (l > 0 && *p == ' ') {
			p++;
			l--;
		}
		while (l > 0 && p[l - 1] == ' ')
			l--;
		if (l == 0 || l >= sizeof(entry) || s->n_daemons >= HTTP_MAX_LISTEN) {
			log_err("bad listen address list '%s'", cfg->listen);
			goto fail;
		}
		memcpy(entry, p, l);
		entry[l] = '\0';
		s->daemons[s->n_daemons] = http_listen(s, entry);
		if (s->daemons[s->n_daemons] == NULL)
			goto fail;
		s->n_daemons++;
		p += l;
		while (*p == ' ')
			p++;
		if (*p == ',')
			p++;
	}
	if (s->n_daemons == 0) {
		log_err("no listen address");
		goto fail;
	}
	*out = s;
	return 0;
fail:
	http_stop(s);
	return -1;
}

void http_stop(http_server *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_daemons; i++)
		MHD_stop_daemon(s->daemons[i]);
	if (s->tls_key != NULL)
		sec_unlock_free(s->tls_key, s->tls_key_len);
	free(s->tls_cert);
	if (s->tsa_lock_init)
		pthread_mutex_destroy(&s->svc.tsa_lock);
	free(s);
}

const char *http_base_url(const http_server *s)
{
	return s->svc.base_url;
}

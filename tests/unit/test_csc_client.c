/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/csc_client.c: response parsing on canned JSON, the
 * CSC/HTTP -> CK_RV mapping, transport failures on a closed port, and the
 * transport rules (bearer renewal, retries, size limit, request shapes)
 * against a scripted loopback HTTP peer. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "csc_client.h"
#include "json.h"

#define P(s) (s), strlen(s)

/* A CredentialInfo as cisresd (and most CSC v2 services) answer it. "MIIB" is
 * not a certificate, only Base64; the parser does not interpret DER. */
static const char LIST_OK[] =
    "{\"credentialIDs\":[\"c-rsa\",\"c-ec\"],\"credentialInfos\":["
    "{\"credentialID\":\"c-rsa\",\"description\":\"signing key\","
    "\"signatureQualifier\":\"eu_eidas_qes\","
    "\"key\":{\"status\":\"enabled\",\"algo\":[\"1.2.840.113549.1.1.11\","
    "\"1.2.840.113549.1.1.10\"],\"len\":3072},"
    "\"cert\":{\"status\":\"valid\",\"certificates\":[\"AAEC\",\"AwQF\",\"BgcI\"],"
    "\"issuerDN\":\"CN=CISRES CA\",\"serialNumber\":\"0a1b\",\"subjectDN\":\"CN=Alice\","
    "\"validFrom\":\"20250101000000Z\",\"validTo\":\"20270101000000Z\"},"
    "\"auth\":{\"mode\":\"explicit\",\"expression\":\"PIN AND OTP\",\"objects\":["
    "{\"type\":\"Password\",\"id\":\"PIN\",\"format\":\"N\",\"label\":\"PIN\"},"
    "{\"type\":\"Password\",\"id\":\"OTP\",\"format\":\"N\",\"generator\":\"totp\"}]},"
    "\"SCAL\":\"2\",\"multisign\":1,\"lang\":\"en-US\"},"
    "{\"credentialID\":\"c-ec\","
    "\"key\":{\"status\":\"disabled\",\"algo\":[\"1.2.840.10045.4.3.2\"],\"len\":256,"
    "\"curve\":\"1.2.840.10045.3.1.7\"},"
    "\"auth\":{\"mode\":\"explicit\",\"expression\":\"PIN\",\"objects\":["
    "{\"type\":\"Password\",\"id\":\"PIN\",\"format\":\"N\"},"
    "{\"type\":\"Password\",\"id\":\"OTP\",\"generator\":\"totp\"}]},"
    "\"SCAL\":\"1\",\"multisign\":50}]}";

static void test_list_ok(void **state)
{
	csc_credential_list l;
	csc_status st;
	const csc_credential *a, *b;
	(void)state;

	assert_int_equal(csc_parse_credentials_list(P(LIST_OK), &l, &st), CSC_OK);
	assert_int_equal(l.n_creds, 2);
	a = &l.creds[0];
	b = &l.creds[1];
	assert_string_equal(a->id, "c-rsa");
	assert_string_equal(a->description, "signing key");
	assert_true(a->key_enabled);
	assert_int_equal(a->n_algos, 2);
	assert_string_equal(a->algos[1], "1.2.840.113549.1.1.10");
	assert_int_equal(a->key_len, 3072);
	assert_int_equal(csc_credential_key_kind(a), KEY_RSA);
	assert_int_equal(a->n_certs, 3);
	assert_int_equal(a->cert_lens[0], 3);
	assert_memory_equal(a->certs[1], "\x03\x04\x05", 3);
	assert_string_equal(a->subject_dn, "CN=Alice");
	assert_string_equal(a->valid_to, "20270101000000Z");
	assert_string_equal(a->cert_status, "valid");
	assert_int_equal(a->scal, 2);
	assert_int_equal(a->multisign, 1);
	assert_true(csc_credential_needs_pin(a));
	assert_true(csc_credential_needs_otp(a));
	assert_string_equal(csc_credential_pin_object(a)->id, "PIN");
	assert_string_equal(csc_credential_otp_object(a)->id, "OTP");

	assert_string_equal(b->id, "c-ec");
	assert_false(b->key_enabled);
	assert_int_equal(csc_credential_key_kind(b), KEY_EC);
	assert_string_equal(b->curve, "1.2.840.10045.3.1.7");
	assert_int_equal(b->n_certs, 0);
	assert_int_equal(b->scal, 1);
	assert_int_equal(b->multisign, 50);
	/* OTP object listed but not in the expression: not needed. */
	assert_true(csc_credential_needs_pin(b));
	assert_false(csc_credential_needs_otp(b));
	csc_credential_list_free(&l);
	assert_null(l.creds);
}

static void test_list_ids_only(void **state)
{
	csc_credential_list l;
	csc_status st;
	(void)state;

	assert_int_equal(
	    csc_parse_credentials_list(P("{\"credentialIDs\":[\"x\",\"y\"]}"), &l, &st), CSC_OK);
	assert_int_equal(l.n_creds, 2);
	assert_string_equal(l.creds[1].id, "y");
	assert_int_equal(l.creds[1].n_algos, 0);
	csc_credential_list_free(&l);

	assert_int_equal(csc_parse_credentials_list(P("{\"credentialIDs\":[]}"), &l, &st), CSC_OK);
	assert_int_equal(l.n_creds, 0);
	csc_credential_list_free(&l);
}

static const char *const LIST_BAD[] = {
    "",
    "[]",
    "{}",
    "{\"credentialIDs\":\"x\"}",
    "{\"credentialIDs\":[1]}",
    "{\"credentialIDs\":[\"\"]}",
    "{\"credentialIDs\":[\"x\"],\"credentialInfos\":{}}",
    /* count mismatch */
    "{\"credentialIDs\":[\"x\",\"y\"],\"credentialInfos\":[{\"credentialID\":\"x\","
    "\"key\":{\"status\":\"enabled\",\"algo\":[\"1.2.3\"],\"len\":256},"
    "\"auth\":{\"mode\":\"explicit\"}}]}",
    /* info id not listed */
    "{\"credentialIDs\":[\"x\"],\"credentialInfos\":[{\"credentialID\":\"z\","
    "\"key\":{\"status\":\"enabled\",\"algo\":[\"1.2.3\"],\"len\":256},"
    "\"auth\":{\"mode\":\"explicit\"}}]}",
    /* bad key status */
    "{\"credentialIDs\":[\"x\"],\"credentialInfos\":[{\"credentialID\":\"x\","
    "\"key\":{\"status\":\"on\",\"algo\":[\"1.2.3\"],\"len\":256},"
    "\"auth\":{\"mode\":\"explicit\"}}]}",
    /* algo not an OID */
    "{\"credentialIDs\":[\"x\"],\"credentialInfos\":[{\"credentialID\":\"x\","
    "\"key\":{\"status\":\"enabled\",\"algo\":[\"RS256\"],\"len\":256},"
    "\"auth\":{\"mode\":\"explicit\"}}]}",
    /* len a string */
    "{\"credentialIDs\":[\"x\"],\"credentialInfos\":[{\"credentialID\":\"x\","
    "\"key\":{\"status\":\"enabled\",\"algo\":[\"1.2.3\"],\"len\":\"256\"},"
    "\"auth\":{\"mode\":\"explicit\"}}]}",
    /* certificate not Base64 */
    "{\"credentialIDs\":[\"x\"],\"credentialInfos\":[{\"credentialID\":\"x\","
    "\"key\":{\"status\":\"enabled\",\"algo\":[\"1.2.3\"],\"len\":256},"
    "\"cert\":{\"certificates\":[\"***\"]},\"auth\":{\"mode\":\"explicit\"}}]}",
    /* no auth */
    "{\"credentialIDs\":[\"x\"],\"credentialInfos\":[{\"credentialID\":\"x\","
    "\"key\":{\"status\":\"enabled\",\"algo\":[\"1.2.3\"],\"len\":256}}]}",
    /* SCAL 3 */
    "{\"credentialIDs\":[\"x\"],\"credentialInfos\":[{\"credentialID\":\"x\","
    "\"key\":{\"status\":\"enabled\",\"algo\":[\"1.2.3\"],\"len\":256},"
    "\"auth\":{\"mode\":\"explicit\"},\"SCAL\":\"3\"}]}",
    /* multisign 0 */
    "{\"credentialIDs\":[\"x\"],\"credentialInfos\":[{\"credentialID\":\"x\","
    "\"key\":{\"status\":\"enabled\",\"algo\":[\"1.2.3\"],\"len\":256},"
    "\"auth\":{\"mode\":\"explicit\"},\"multisign\":0}]}",
    /* auth object without id */
    "{\"credentialIDs\":[\"x\"],\"credentialInfos\":[{\"credentialID\":\"x\","
    "\"key\":{\"status\":\"enabled\",\"algo\":[\"1.2.3\"],\"len\":256},"
    "\"auth\":{\"mode\":\"explicit\",\"objects\":[{\"type\":\"Password\"}]}}]}",
    /* duplicate ids */
    "{\"credentialIDs\":[\"x\",\"x\"],\"credentialInfos\":[{\"credentialID\":\"x\","
    "\"key\":{\"status\":\"enabled\",\"algo\":[\"1.2.3\"],\"len\":256},"
    "\"auth\":{\"mode\":\"explicit\"}},{\"credentialID\":\"x\","
    "\"key\":{\"status\":\"enabled\",\"algo\":[\"1.2.3\"],\"len\":256},"
    "\"auth\":{\"mode\":\"explicit\"}}]}",
    /* trailing garbage */
    "{\"credentialIDs\":[]} x",
};

static void test_list_bad(void **state)
{
	csc_credential_list l;
	csc_status st;
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(LIST_BAD) / sizeof(LIST_BAD[0]); i++) {
		csc_rc rc = csc_parse_credentials_list(P(LIST_BAD[i]), &l, &st);
		if (rc != CSC_ERR_PROTOCOL)
			fail_msg("case %zu accepted: %s", i, LIST_BAD[i]);
		assert_int_equal(st.rc, CSC_ERR_PROTOCOL);
		assert_null(l.creds);
		assert_int_equal(csc_status_to_ckr(&st), CKR_DEVICE_ERROR);
	}
}

static void test_credential_info(void **state)
{
	static const char body[] =
	    "{\"key\":{\"status\":\"enabled\",\"algo\":[\"1.2.840.10045.2.1\"],\"len\":384},"
	    "\"auth\":{\"mode\":\"explicit\",\"objects\":["
	    "{\"type\":\"Password\",\"id\":\"pin1\"},{\"type\":\"PasswordOOB\",\"id\":\"sms\"}]},"
	    "\"SCAL\":2,\"multisign\":3}";
	csc_credential cr;
	csc_status st;
	(void)state;

	assert_int_equal(csc_parse_credential_info(P(body), "id-9", &cr, &st), CSC_OK);
	assert_string_equal(cr.id, "id-9");
	assert_int_equal(csc_credential_key_kind(&cr), KEY_EC);
	assert_int_equal(cr.scal, 2);
	/* No expression: every object takes part. */
	assert_string_equal(csc_credential_pin_object(&cr)->id, "pin1");
	assert_string_equal(csc_credential_otp_object(&cr)->id, "sms");
	csc_credential_free(&cr);
}

static void test_tokens(void **state)
{
	csc_tokens t;
	csc_status st;
	(void)state;

	assert_int_equal(csc_parse_tokens(P("{\"access_token\":\"abc\",\"refresh_token\":\"def\","
					    "\"expires_in\":600}"),
					  &t, &st),
			 CSC_OK);
	assert_string_equal(t.access_token, "abc");
	assert_int_equal(t.access_len, 3);
	assert_string_equal(t.refresh_token, "def");
	assert_int_equal(t.expires_in, 600);
	csc_tokens_free(&t);
	assert_null(t.access_token);

	assert_int_equal(csc_parse_tokens(P("{\"access_token\":\"abc\"}"), &t, &st), CSC_OK);
	assert_null(t.refresh_token);
	assert_int_equal(t.expires_in, 3600);
	csc_tokens_free(&t);

	assert_int_equal(csc_parse_tokens(P("{\"refresh_token\":\"x\"}"), &t, &st),
			 CSC_ERR_PROTOCOL);
	assert_int_equal(csc_parse_tokens(P("{\"access_token\":\"a b\"}"), &t, &st),
			 CSC_ERR_PROTOCOL);
	assert_int_equal(csc_parse_tokens(P("{\"access_token\":\"\"}"), &t, &st), CSC_ERR_PROTOCOL);
	assert_int_equal(
	    csc_parse_tokens(P("{\"access_token\":\"a\",\"expires_in\":\"1\"}"), &t, &st),
	    CSC_ERR_PROTOCOL);
	assert_int_equal(csc_parse_tokens(P("{\"access_token\":\"a\",\"expires_in\":0}"), &t, &st),
			 CSC_ERR_PROTOCOL);
	assert_int_equal(csc_parse_tokens(P("{\"access_token\":7}"), &t, &st), CSC_ERR_PROTOCOL);
}

static void test_authorize(void **state)
{
	csc_sad s;
	csc_status st;
	(void)state;

	assert_int_equal(csc_parse_authorize(P("{\"SAD\":\"s.a.d\",\"expiresIn\":300}"), &s, &st),
			 CSC_OK);
	assert_string_equal(s.sad, "s.a.d");
	assert_int_equal(s.sad_len, 5);
	assert_int_equal(s.expires_in, 300);
	csc_sad_free(&s);
	assert_int_equal(csc_parse_authorize(P("{\"SAD\":\"x\"}"), &s, &st), CSC_OK);
	assert_int_equal(s.expires_in, 3600);
	csc_sad_free(&s);
	assert_int_equal(csc_parse_authorize(P("{\"handle\":\"x\"}"), &s, &st), CSC_ERR_PROTOCOL);
	assert_null(s.sad);
	assert_int_equal(csc_parse_authorize(P("{\"SAD\":\"x\",\"expiresIn\":-1}"), &s, &st),
			 CSC_ERR_PROTOCOL);
	assert_int_equal(csc_parse_authorize(P("{\"SAD\":[\"x\"]}"), &s, &st), CSC_ERR_PROTOCOL);
}

static void test_signatures(void **state)
{
	csc_signatures s;
	csc_status st;
	(void)state;

	assert_int_equal(csc_parse_signatures(P("{\"signatures\":[\"AAEC\"]}"), 1, &s, &st),
			 CSC_OK);
	assert_int_equal(s.n_sigs, 1);
	assert_int_equal(s.sig_lens[0], 3);
	assert_memory_equal(s.sigs[0], "\x00\x01\x02", 3);
	csc_signatures_free(&s);
	/* wrong count, not Base64, empty, wrong type */
	assert_int_equal(
	    csc_parse_signatures(P("{\"signatures\":[\"AAEC\",\"AAEC\"]}"), 1, &s, &st),
	    CSC_ERR_PROTOCOL);
	assert_int_equal(csc_parse_signatures(P("{\"signatures\":[\"AA=C\"]}"), 1, &s, &st),
			 CSC_ERR_PROTOCOL);
	assert_int_equal(csc_parse_signatures(P("{\"signatures\":[\"\"]}"), 1, &s, &st),
			 CSC_ERR_PROTOCOL);
	assert_int_equal(csc_parse_signatures(P("{\"signatures\":[1]}"), 1, &s, &st),
			 CSC_ERR_PROTOCOL);
	assert_int_equal(csc_parse_signatures(P("{\"signature\":[\"AAEC\"]}"), 1, &s, &st),
			 CSC_ERR_PROTOCOL);
	assert_null(s.sigs);
}

static void test_info(void **state)
{
	csc_info_result r;
	csc_status st;
	(void)state;

	assert_int_equal(
	    csc_parse_info(
		P("{\"specs\":\"2.0.0.2\",\"name\":\"CISRES\",\"logo\":\"https://x/l.png\","
		  "\"region\":\"BE\",\"lang\":\"en-US\",\"description\":\"d\","
		  "\"authType\":[\"basic\"],\"methods\":[\"auth/login\","
		  "\"credentials/list\"],\"signAlgorithms\":{\"algos\":[]}}"),
		&r, &st),
	    CSC_OK);
	assert_string_equal(r.specs, "2.0.0.2");
	assert_string_equal(r.name, "CISRES");
	assert_int_equal(r.n_methods, 2);
	assert_string_equal(r.methods[1], "credentials/list");
	csc_info_result_free(&r);
	assert_int_equal(csc_parse_info(P("{\"name\":\"x\",\"methods\":[]}"), &r, &st),
			 CSC_ERR_PROTOCOL);
	assert_int_equal(csc_parse_info(P("{\"specs\":\"2\",\"name\":\"x\"}"), &r, &st),
			 CSC_ERR_PROTOCOL);
}

static CK_RV map(long http, const char *body)
{
	csc_status st;
	csc_parse_error(http, body, body != NULL ? strlen(body) : 0, &st);
	assert_int_equal(st.rc, CSC_ERR_HTTP);
	assert_int_equal(st.http, http);
	return csc_status_to_ckr(&st);
}

static void test_error_mapping(void **state)
{
	csc_status st;
	char buf[256];
	(void)state;

	assert_int_equal(map(400, "{\"error\":\"invalid_pin\",\"error_description\":\"bad\"}"),
			 CKR_PIN_INCORRECT);
	assert_int_equal(map(400, "{\"error\":\"invalid_otp\"}"), CKR_PIN_INCORRECT);
	assert_int_equal(map(400, "{\"error\":\"invalid_request\",\"error_description\":"
				  "\"PIN locked\"}"),
			 CKR_PIN_LOCKED);
	assert_int_equal(map(400, "{\"error\":\"invalid_request\",\"error_description\":"
				  "\"The credential is locked\"}"),
			 CKR_PIN_LOCKED);
	assert_int_equal(map(400, "{\"error\":\"invalid_request\",\"error_description\":"
				  "\"Credential disabled\"}"),
			 CKR_KEY_FUNCTION_NOT_PERMITTED);
	assert_int_equal(map(400, "{\"error\":\"invalid_request\",\"error_description\":"
				  "\"SAD expired\"}"),
			 CKR_FUNCTION_FAILED);
	assert_int_equal(map(401, "{\"error\":\"invalid_token\"}"), CKR_DEVICE_ERROR);
	assert_int_equal(map(401, "{\"error\":\"expired_token\"}"), CKR_DEVICE_ERROR);
	assert_int_equal(map(503, "{\"error\":\"temporarily_unavailable\"}"), CKR_DEVICE_ERROR);
	assert_int_equal(map(500, "<html>oops</html>"), CKR_DEVICE_ERROR);
	assert_int_equal(map(501, "{\"error\":\"not_implemented_method\"}"),
			 CKR_FUNCTION_NOT_SUPPORTED);
	assert_int_equal(map(403, NULL), CKR_KEY_FUNCTION_NOT_PERMITTED);
	assert_int_equal(map(404, "{\"error\":\"invalid_request\"}"), CKR_FUNCTION_FAILED);

	/* the fields are kept, display-safe */
	csc_parse_error(400, P("{\"error\":\"invalid_pin\",\"error_description\":\"a\\nb\"}"), &st);
	assert_string_equal(st.error, "invalid_pin");
	assert_string_equal(st.description, "a?b");
	csc_status_str(&st, buf, sizeof(buf));
	assert_string_equal(buf, "HTTP 400 invalid_pin: a?b");

	memset(&st, 0, sizeof(st));
	assert_int_equal(csc_status_to_ckr(&st), CKR_OK);
	st.rc = CSC_ERR_NETWORK;
	assert_int_equal(csc_status_to_ckr(&st), CKR_DEVICE_ERROR);
	assert_true(csc_status_is_network(&st));
	st.rc = CSC_ERR_NOMEM;
	assert_int_equal(csc_status_to_ckr(&st), CKR_HOST_MEMORY);
	st.rc = CSC_ERR_NOAUTH;
	assert_int_equal(csc_status_to_ckr(&st), CKR_DEVICE_ERROR);
}

static void test_client_new(void **state)
{
	csc_client *c;
	(void)state;

	assert_null(csc_client_new("http://example.org", NULL, 0));
	assert_null(csc_client_new("ftp://example.org", NULL, 0));
	assert_null(csc_client_new("https://", NULL, 0));
	assert_null(csc_client_new("https://a b", NULL, 0));
	assert_null(csc_client_new("https://user@host", NULL, 0));
	assert_null(csc_client_new("https://host/?x", NULL, 0));
	assert_null(csc_client_new("http://localhost.evil.org", NULL, 0));
	c = csc_client_new("https://example.org:8443/", NULL, 0);
	assert_non_null(c);
	csc_client_free(c);
	c = csc_client_new("http://127.0.0.1:1", NULL, 0);
	assert_non_null(c);
	csc_client_free(c);
}

/* Nothing listens on port 1: a network failure, CKR_DEVICE_ERROR; calls
 * needing a bearer without any token fail before the network. */
static void test_unreachable(void **state)
{
	csc_client *c = csc_client_new("https://127.0.0.1:1", NULL, 5);
	csc_info_result r;
	csc_credential_list l;
	csc_status st;
	(void)state;

	assert_non_null(c);
	assert_int_equal(csc_info(c, &r, &st), CSC_ERR_NETWORK);
	assert_int_equal(csc_status_to_ckr(&st), CKR_DEVICE_ERROR);
	assert_int_equal(csc_credentials_list(c, &l, &st), CSC_ERR_NOAUTH);
	assert_int_equal(csc_client_set_refresh_token(c, P("rt")), 0);
	assert_true(csc_client_has_refresh_token(c));
	assert_int_equal(csc_credentials_list(c, &l, &st), CSC_ERR_NETWORK);
	csc_client_free(c);
}

/* ---- transport, against a scripted loopback HTTP peer ----
 * The peer answers each request with the next scripted (status, body) and
 * records the method path, the Authorization header and the body. One
 * request per connection (Connection: close). */

#define PEER_MAX 8

typedef struct {
	int status;
	const char *body; /* NULL: big body of big_len bytes */
	size_t big_len;
} peer_answer;

typedef struct {
	int lfd;
	unsigned short port;
	pthread_t th;
	peer_answer ans[PEER_MAX];
	size_t n_ans;
	size_t n_req;
	char path[PEER_MAX][64];
	char auth[PEER_MAX][256];
	char body[PEER_MAX][1024];
} peer;

static void peer_serve_one(peer *p, int fd)
{
	char buf[8192];
	size_t got = 0, need = 0, hdr_end = 0;
	const char *cl, *au;
	peer_answer a;
	char head[256];
	size_t i = p->n_req;

	for (;;) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
		char *e;
		if (r <= 0)
			return;
		got += (size_t)r;
		buf[got] = '\0';
		e = strstr(buf, "\r\n\r\n");
		if (e == NULL)
			continue;
		hdr_end = (size_t)(e - buf) + 4;
		cl = strcasestr(buf, "Content-Length:");
		need = cl != NULL ? strtoul(cl + 15, NULL, 10) : 0;
		if (got >= hdr_end + need)
			break;
	}
	if (i < PEER_MAX) {
		sscanf(buf, "POST %63s", p->path[i]);
		au = strcasestr(buf, "Authorization: ");
		if (au != NULL && au < buf + hdr_end)
			sscanf(au + 15, "%255[^\r]", p->auth[i]);
		snprintf(p->body[i], sizeof(p->body[i]), "%.*s", (int)need, buf + hdr_end);
	}
	p->n_req++;
	a = i < p->n_ans ? p->ans[i] : (peer_answer){500, "{}", 0};
	if (a.body != NULL) {
		snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 a.status, strlen(a.body));
		(void)!send(fd, head, strlen(head), MSG_NOSIGNAL);
		(void)!send(fd, a.body, strlen(a.body), MSG_NOSIGNAL);
	} else {
		char *big = malloc(a.big_len);
		size_t off = 0;
		memset(big, ' ', a.big_len);
		big[0] = '{';
		big[a.big_len - 1] = '}';
		snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 a.status, a.big_len);
		(void)!send(fd, head, strlen(head), MSG_NOSIGNAL);
		while (off < a.big_len) {
			ssize_t w = send(fd, big + off, a.big_len - off, MSG_NOSIGNAL);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		free(big);
	}
}

static void *peer_main(void *arg)
{
	peer *p = arg;

	for (;;) {
		int fd = accept(p->lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		peer_serve_one(p, fd);
		close(fd);
	}
}

static csc_client *peer_start(peer *p, const peer_answer *ans, size_t n)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char url[64];
	csc_client *c;

	memset(p, 0, sizeof(*p));
	memcpy(p->ans, ans, n * sizeof(*ans));
	p->n_ans = n;
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(p->lfd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(p->lfd, 8), 0);
	assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&sa, &sl), 0);
	p->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&p->th, NULL, peer_main, p), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", p->port);
	c = csc_client_new(url, NULL, 10);
	assert_non_null(c);
	return c;
}

static void peer_stop(peer *p, csc_client *c)
{
	csc_client_free(c);
	shutdown(p->lfd, SHUT_RDWR);
	close(p->lfd);
	pthread_join(p->th, NULL);
}

static const char LIST_ONE[] = "{\"credentialIDs\":[]}";

/* An expired/forgotten access token: renew with the refresh token, repeat
 * the call once, with the new bearer. */
static void test_renew_on_401(void **state)
{
	const peer_answer ans[] = {
	    {200, "{\"access_token\":\"A1\",\"expires_in\":3600}", 0},
	    {401, "{\"error\":\"invalid_token\"}", 0},
	    {200, "{\"access_token\":\"A2\"}", 0},
	    {200, LIST_ONE, 0},
	};
	peer p;
	csc_client *c = peer_start(&p, ans, 4);
	csc_credential_list l;
	csc_status st;
	cJSON *j;
	bool rm = true;
	const char *rt = NULL;
	(void)state;

	assert_int_equal(csc_client_set_refresh_token(c, P("R-tok")), 0);
	assert_int_equal(csc_credentials_list(c, &l, &st), CSC_OK);
	csc_credential_list_free(&l);
	peer_stop(&p, c);
	assert_int_equal(p.n_req, 4);
	assert_string_equal(p.path[0], "/csc/v2/auth/login");
	assert_string_equal(p.path[1], "/csc/v2/credentials/list");
	assert_string_equal(p.auth[1], "Bearer A1");
	assert_string_equal(p.path[2], "/csc/v2/auth/login");
	assert_string_equal(p.auth[3], "Bearer A2");
	/* the silent login: refresh token, never rememberMe (no rotation) */
	j = json_parse(p.body[0], strlen(p.body[0]), 4096, 4, true);
	assert_non_null(j);
	assert_int_equal(json_get_string(j, "refresh_token", &rt), JSON_OK);
	assert_string_equal(rt, "R-tok");
	assert_int_equal(json_get_bool(j, "rememberMe", &rm), JSON_OK);
	assert_false(rm);
	cJSON_Delete(j);
	assert_string_equal(p.auth[0], "");
	/* the list request asks for everything the module needs */
	assert_non_null(strstr(p.body[1], "\"certificates\":\"chain\""));
	assert_non_null(strstr(p.body[1], "\"authInfo\":true"));
}

/* A second 401 is an answer, not a loop. A refused refresh token is
 * "not logged in", never a PIN error. */
static void test_401_twice_and_refused_refresh(void **state)
{
	const peer_answer ans[] = {
	    {401, "{\"error\":\"invalid_token\"}", 0},
	    {200, "{\"access_token\":\"A2\"}", 0},
	    {401, "{\"error\":\"expired_token\"}", 0},
	    {401, "{\"error\":\"invalid_token\"}", 0},
	    {400,
	     "{\"error\":\"authentication_error\",\"error_description\":\"Invalid "
	     "refresh_token\"}",
	     0},
	};
	peer p;
	csc_client *c = peer_start(&p, ans, 5);
	csc_credential_list l;
	csc_status st;
	(void)state;

	assert_int_equal(csc_client_set_refresh_token(c, P("R")), 0);
	assert_int_equal(csc_client_set_access_token(c, P("A1"), 3600), 0);
	assert_int_equal(csc_credentials_list(c, &l, &st), CSC_ERR_HTTP);
	assert_int_equal(st.http, 401);
	assert_string_equal(st.error, "expired_token");
	assert_int_equal(p.n_req, 3);
	/* now the refresh token itself is refused */
	assert_int_equal(csc_credentials_list(c, &l, &st), CSC_ERR_NOAUTH);
	assert_int_equal(csc_status_to_ckr(&st), CKR_DEVICE_ERROR);
	peer_stop(&p, c);
	assert_int_equal(p.n_req, 5);
}

/* Idempotent calls are retried on 503; signHash and authorize never. */
static void test_retry_policy(void **state)
{
	const peer_answer ans[] = {
	    {503, "{\"error\":\"temporarily_unavailable\"}", 0},
	    {200, LIST_ONE, 0},
	    {503, "{\"error\":\"temporarily_unavailable\"}", 0},
	    {503, "{\"error\":\"temporarily_unavailable\"}", 0},
	};
	static const uint8_t digest[32] = {1, 2, 3};
	const uint8_t *hashes[1] = {digest};
	size_t lens[1] = {32};
	const csc_auth_data ad[2] = {{"PIN", "123456", 6}, {"OTP", "654321", 6}};
	csc_authorize_req ar = {"cred-1", 1, hashes, lens, 1, HASH_SHA256, ad, 2, NULL};
	csc_sign_req sr = {
	    "cred-1", "S.A.D", 5, hashes, lens, 1, HASH_SHA256, "1.2.840.10045.4.3.2", NULL, 0};
	peer p;
	csc_client *c = peer_start(&p, ans, 4);
	csc_credential_list l;
	csc_signatures sigs;
	csc_sad sad;
	csc_status st;
	cJSON *j;
	const cJSON *arr;
	const char *s;
	(void)state;

	assert_int_equal(csc_client_set_access_token(c, P("A"), 3600), 0);
	assert_int_equal(csc_credentials_list(c, &l, &st), CSC_OK);
	csc_credential_list_free(&l);
	assert_int_equal(p.n_req, 2);
	assert_int_equal(csc_signatures_sign_hash(c, &sr, &sigs, &st), CSC_ERR_HTTP);
	assert_int_equal(st.http, 503);
	assert_int_equal(p.n_req, 3);
	assert_int_equal(csc_credentials_authorize(c, &ar, &sad, &st), CSC_ERR_HTTP);
	assert_int_equal(p.n_req, 4);
	peer_stop(&p, c);
	/* request shapes */
	j = json_parse(p.body[2], strlen(p.body[2]), 4096, 4, true);
	assert_non_null(j);
	assert_int_equal(json_get_string(j, "SAD", &s), JSON_OK);
	assert_string_equal(s, "S.A.D");
	assert_int_equal(json_get_string(j, "signAlgo", &s), JSON_OK);
	assert_string_equal(s, "1.2.840.10045.4.3.2");
	assert_int_equal(json_get_string(j, "hashAlgorithmOID", &s), JSON_OK);
	assert_string_equal(s, "2.16.840.1.101.3.4.2.1");
	assert_int_equal(json_get_array(j, "hashes", &arr), JSON_OK);
	assert_string_equal(cJSON_GetArrayItem(arr, 0)->valuestring,
			    "AQIDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	cJSON_Delete(j);
	j = json_parse(p.body[3], strlen(p.body[3]), 4096, 4, true);
	assert_non_null(j);
	assert_int_equal(json_get_array(j, "authData", &arr), JSON_OK);
	assert_int_equal(cJSON_GetArraySize(arr), 2);
	assert_int_equal(json_get_string(cJSON_GetArrayItem(arr, 1), "id", &s), JSON_OK);
	assert_string_equal(s, "OTP");
	assert_int_equal(json_get_string(cJSON_GetArrayItem(arr, 1), "value", &s), JSON_OK);
	assert_string_equal(s, "654321");
	assert_int_equal(json_get_string(j, "credentialID", &s), JSON_OK);
	cJSON_Delete(j);
	assert_non_null(strstr(p.body[3], "\"numSignatures\":1"));
}

/* HTTP Basic for the password login; a body over 16 MiB is refused. */
static void test_basic_and_size_limit(void **state)
{
	const peer_answer ans[] = {
	    {200, "{\"access_token\":\"A\",\"refresh_token\":\"R\"}", 0},
	    {200, NULL, CSC_MAX_RESPONSE + 10},
	};
	peer p;
	csc_client *c = peer_start(&p, ans, 2);
	csc_tokens t;
	csc_info_result r;
	csc_status st;
	(void)state;

	assert_int_equal(csc_auth_login_password(c, "alice", P("pw123456"), true, &t, &st), CSC_OK);
	assert_string_equal(t.refresh_token, "R");
	csc_tokens_free(&t);
	assert_int_equal(csc_info(c, &r, &st), CSC_ERR_PROTOCOL);
	assert_non_null(strstr(st.description, "16 MiB"));
	peer_stop(&p, c);
	assert_string_equal(p.auth[0], "Basic YWxpY2U6cHcxMjM0NTY="); /* alice:pw123456 */
	assert_non_null(strstr(p.body[0], "\"rememberMe\":true"));
	/* a user name with ':' cannot be sent in Basic */
	assert_int_equal(csc_auth_login_password(c = csc_client_new("http://127.0.0.1:1", NULL, 1),
						 "a:b", P("x"), false, &t, &st),
			 CSC_ERR_ARG);
	csc_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_ok),
	    cmocka_unit_test(test_list_ids_only),
	    cmocka_unit_test(test_list_bad),
	    cmocka_unit_test(test_credential_info),
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_authorize),
	    cmocka_unit_test(test_signatures),
	    cmocka_unit_test(test_info),
	    cmocka_unit_test(test_error_mapping),
	    cmocka_unit_test(test_client_new),
	    cmocka_unit_test(test_unreachable),
	    cmocka_unit_test(test_renew_on_401),
	    cmocka_unit_test(test_401_twice_and_refused_refresh),
	    cmocka_unit_test(test_retry_policy),
	    cmocka_unit_test(test_basic_and_size_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTPS front end of cisresd (libmicrohttpd + GnuTLS): routes
 * /csc/v2/<method> to the CSC method table, serves RFC 3161 on /tsa, and
 * /health and /metrics for operations. */
#ifndef CISRES_HTTP_H
#define CISRES_HTTP_H

#include "context.h"

typedef struct http_server http_server;

#define HTTP_TSA_PATH "/tsa"
#define HTTP_TSA_MAX_BODY (64 * 1024)
#define HTTP_CONNECTION_TIMEOUT 30 /* seconds */

/* Start serving ctx on every address of ctx->cfg.listen (comma separated
 * "host:port" or "[v6]:port"), over TLS with cfg.tls_cert / cfg.tls_key.
 * ctx must outlive the server. 0 or -1 (logged). */
int http_start(context *ctx, http_server **out);
/* Stop accepting, finish running requests, free. NULL allowed. */
void http_stop(http_server *s);
/* "https://host:port" clients use (cfg.public_url, else the first listen
 * address). */
const char *http_base_url(const http_server *s);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The SAM process's side of a connection: read one request at a time
 * (sam_proto.h), take the decision with the local SAM, answer.
 *
 * A connection is served by one thread; the HTTP process opens as many
 * connections as it has calling threads (sam_client.h), so signatures are
 * produced in parallel (the HSM session pool and the store are
 * thread-safe). Which operations a connection may ask for is fixed when
 * it is served: the HTTP front end gets SAM_OPS_FRONT (authorize, extend,
 * sign, login, time-stamping); key lifecycle and enrollment
 * (SAM_OPS_ADMIN) stay with the operator tool unless explicitly allowed. */
#ifndef CISRES_SAM_SERVER_H
#define CISRES_SAM_SERVER_H

#include "sam.h"
#include "sam_proto.h"
#include "tsa.h"

/* Serve fd with the front-end operations until the peer closes it.
 * local: a local SAM (sam_new); t: the TSA for time-stamping (may be NULL,
 * then TSA requests fail; attached to local with sam_set_tsa). 0 when the
 * peer closed the connection, -1 on a transport error or a broken message
 * stream. Does not close fd. */
int sam_serve(sam *local, tsa *t, int fd);
/* Same, serving the operation classes in ops (SAM_OPS_*). */
int sam_serve_ops(sam *local, tsa *t, int fd, unsigned ops);
/* Serve fd on a new detached thread, which closes fd when done. 0 or -1
 * (then fd is closed). */
int sam_serve_thread(sam *local, tsa *t, int fd, unsigned ops);
/* Connections being served by sam_serve_thread right now. */
unsigned sam_serve_active(void);

#endif

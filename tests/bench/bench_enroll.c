// SPDX-License-Identifier: Apache-2.0
/* bench_enroll: enrolls a SCAL2 credential with the PIN as its only factor,
 * for the benchmark of the SCAL2 path (authorize bound to the hash, then
 * signHash, per signature). A TOTP code is accepted once per 30 s step, so
 * a signature per OTP cannot be benchmarked; cisres-admin refuses a SCAL2
 * credential without OTP, and editing the row in the store no longer works
 * (the row is bound to its sealed PIN verifier). This program goes through
 * the SAM exactly as cisres-admin does, with only that check left out. Not
 * installed; for scripts/bench.sh only.
 *
 *   bench_enroll STATE_DIR USER KEY PIN     KEY: ec-p256 | rsa-2048 | rsa-3072
 * Prints the credential ID. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "config.h"
#include "context.h"
#include "log.h"

int main(int argc, char **argv)
{
	server_config cfg;
	context ctx;
	store_user u;
	sam_keygen_req req;
	sam_keygen_res res;
	uint8_t *der = NULL;
	size_t derlen = 0;
	int rc = 1;

	if (argc != 5) {
		fprintf(stderr,
			"usage: bench_enroll STATE_DIR USER ec-p256|rsa-2048|rsa-3072 PIN\n");
		return 2;
	}
	memset(&req, 0, sizeof(req));
	if (strcmp(argv[3], "ec-p256") == 0) {
		req.kind = KEY_EC;
		req.curve_nid = NID_X9_62_prime256v1;
	} else if (strcmp(argv[3], "rsa-2048") == 0 || strcmp(argv[3], "rsa-3072") == 0) {
		req.kind = KEY_RSA;
		req.bits = strcmp(argv[3], "rsa-2048") == 0 ? 2048 : 3072;
	} else {
		fprintf(stderr, "bench_enroll: unknown key type %s\n", argv[3]);
		return 2;
	}
	config_defaults(&cfg, argv[1]);
	memset(&ctx, 0, sizeof(ctx));
	memset(&u, 0, sizeof(u));
	memset(&res, 0, sizeof(res));
	if (ctx_open(&ctx, &cfg) != 0)
		return 1;
	if (store_user_get(ctx.store, argv[2], &u) != STORE_OK) {
		fprintf(stderr, "bench_enroll: no user %s\n", argv[2]);
		goto out;
	}
	req.user_id = u.id;
	req.scal = 2;
	req.auth_otp = false; /* the one thing cisres-admin would refuse */
	req.multisign = 1;
	req.pin = argv[4];
	req.pin_len = strlen(argv[4]);
	req.description = "benchmark: SCAL2, PIN only";
	req.actor = "admin:bench";
	if (sam_keygen(ctx.sam, &req, &res) != SAM_OK || res.status != SAM_OK || res.pub == NULL ||
	    ca_issue_signer(ctx.ca, res.pub, u.display, NULL, 30, &der, &derlen) != 0 ||
	    sam_key_set_cert(ctx.sam, res.credential_id, der, derlen, "admin:bench") != SAM_OK) {
		fprintf(stderr, "bench_enroll: enrollment failed\n");
		goto out;
	}
	printf("credential: %s\n", res.credential_id);
	rc = 0;
out:
	EVP_PKEY_free(res.pub);
	free(der);
	ctx_close(&ctx);
	return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the module's parsers of CSC responses (the bodies a
 * service — or an attacker in its place — sends back). The first byte picks
 * the parser; the rest is the body. Every parser must answer with an error
 * or a result, never crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csc_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	csc_status st;
	const char *body;
	size_t len;

	if (size < 1)
		return 0;
	body = (const char *)data + 1;
	len = size - 1;
	csc_status_clear(&st);
	switch (data[0] % 7) {
	case 0: {
		csc_info_result r;
		memset(&r, 0, sizeof(r));
		if (csc_parse_info(body, len, &r, &st) == CSC_OK)
			csc_info_result_free(&r);
		break;
	}
	case 1: {
		csc_tokens t;
		memset(&t, 0, sizeof(t));
		if (csc_parse_tokens(body, len, &t, &st) == CSC_OK)
			csc_tokens_free(&t);
		break;
	}
	case 2: {
		csc_credential_list l;
		memset(&l, 0, sizeof(l));
		if (csc_parse_credentials_list(body, len, &l, &st) == CSC_OK)
			csc_credential_list_free(&l);
		break;
	}
	case 3: {
		csc_credential c;
		memset(&c, 0, sizeof(c));
		if (csc_parse_credential_info(body, len, "cred-1", &c, &st) == CSC_OK)
			csc_credential_free(&c);
		break;
	}
	case 4: {
		csc_sad s;
		memset(&s, 0, sizeof(s));
		if (csc_parse_authorize(body, len, &s, &st) == CSC_OK)
			csc_sad_free(&s);
		break;
	}
	case 5: {
		csc_signatures s;
		memset(&s, 0, sizeof(s));
		if (csc_parse_signatures(body, len, 2, &s, &st) == CSC_OK) {
			if (s.n_sigs != 2)
				abort();
			csc_signatures_free(&s);
		}
		break;
	}
	default:
		csc_parse_error(400, body, len, &st);
		(void)csc_status_to_ckr(&st);
		break;
	}
	return 0;
}

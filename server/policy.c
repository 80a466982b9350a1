/* SPDX-License-Identifier: Apache-2.0 */
/* Security policy defaults and the (injectable) clock. */
#include "policy.h"

#include <string.h>

void policy_defaults(policy *p)
{
	memset(p, 0, sizeof(*p));
	p->access_token_ttl = 3600;
	p->refresh_token_ttl = 30 * 24 * 3600;
	p->sad_ttl = 300;
	p->lockout_threshold = 5;
	p->max_multisign = 1000;
	p->allow_sha1 = 0;
	p->totp_window = 1;
	p->kdf_log_n = 15;
	p->now = NULL;
}

time_t policy_now(const policy *p)
{
	if (p != NULL && p->now != NULL)
		return p->now();
	return time(NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Security policy values shared by auth, SAM and the API. */
#ifndef CISRES_POLICY_H
#define CISRES_POLICY_H

#include <stdint.h>
#include <time.h>

typedef struct {
	int64_t access_token_ttl;  /* seconds, default 3600 */
	int64_t refresh_token_ttl; /* seconds, default 30 days */
	int64_t sad_ttl;           /* seconds, default 300 */
	int lockout_threshold;     /* failures before lock, default 5 */
	int max_multisign;         /* upper bound for a credential's multisign, default 1000 */
	int totp_window;           /* steps accepted either side, default 1 */
	/* KDF cost for passwords and PINs: scrypt N = 2^kdf_log_n, r = 8, p = 1. */
	int kdf_log_n;             /* default 15; tests may lower it */
	/* Accept SHA-1 digests for signing (legacy tools such as NSS signtool
	 * sign only with SHA-1). 0 (default) refuses them; 1 allows them. */
	int allow_sha1;
	/* Clock; NULL means time(NULL). Tests inject their own. */
	time_t (*now)(void);
} policy;

void policy_defaults(policy *p);
time_t policy_now(const policy *p);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* What the unit tests share: a throw-away SoftHSM token directory and the
 * PKCS#11 module under test. Linked into every tests/unit/test_*.c. */
#ifndef CISRES_TESTLIB_H
#define CISRES_TESTLIB_H

/* The PKCS#11 module under test: $CISRES_TEST_PKCS11_MODULE, else
 * SoftHSMv2. */
const char *testlib_module(void);
/* mkdtemp(tmpl), then a SoftHSM configuration in it with its own token
 * directory (file backend, errors only), and SOFTHSM2_CONF pointing at it,
 * before the module is loaded. 0 or -1. */
int testlib_softhsm(char *tmpl);
/* Remove a directory tree (the temporary directory of a test). */
void testlib_rmtree(const char *dir);

#endif

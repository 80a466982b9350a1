/* SPDX-License-Identifier: Apache-2.0 */
/* Secrets in memory: zeroing, constant-time comparison, locked pages. */
#include "secmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

void sec_zero(void *p, size_t n)
{
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, n);
}

void sec_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	sec_zero(p, n);
	free(p);
}

void sec_strfree(char *s)
{
	if (s == NULL)
		return;
	sec_zero(s, strlen(s));
	free(s);
}

bool sec_equal(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return true;
	if (a == NULL || b == NULL)
		return false;
	return CRYPTO_memcmp(a, b, n) == 0;
}

bool sec_streq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen > blen ? alen : blen;
	/* Fold the length difference into the accumulator. */
	volatile uint8_t acc = (uint8_t)(alen != blen);
	size_t i;

	if ((a == NULL && alen > 0) || (b == NULL && blen > 0))
		return false;
	for (i = 0; i < n; i++) {
		/* Read 0 past the end of the shorter string; branch-free index
		 * selection is not needed as the lengths are not secret. */
		uint8_t ca = i < alen ? (uint8_t)a[i] : 0;
		uint8_t cb = i < blen ? (uint8_t)b[i] : 0;
		acc |= (uint8_t)(ca ^ cb);
	}
	return acc == 0;
}

static size_t page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	return ps > 0 ? (size_t)ps : 4096;
}

/* Round n up to whole pages; 0 on overflow. */
static size_t locked_size(size_t n)
{
	size_t ps = page_size();
	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - (ps - 1))
		return 0;
	return (n + ps - 1) / ps * ps;
}

void *sec_locked_alloc(size_t n)
{
	size_t sz = locked_size(n);
	void *p;

	if (sz == 0)
		return NULL;
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Best effort: RLIMIT_MEMLOCK may be small; the memory stays usable. */
	(void)mlock(p, sz);
#ifdef MADV_DONTDUMP
	(void)madvise(p, sz, MADV_DONTDUMP);
#endif
	/* Anonymous mappings are zero-filled already. */
	return p;
}

void sec_unlock_free(void *p, size_t n)
{
	size_t sz;

	if (p == NULL)
		return;
	sz = locked_size(n);
	if (sz == 0)
		return;
	sec_zero(p, sz);
	(void)munlock(p, sz);
	(void)munmap(p, sz);
}

char *sec_locked_strndup(const char *s, size_t len)
{
	char *p;

	if (s == NULL || len == SIZE_MAX)
		return NULL;
	p = sec_locked_alloc(len + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

int sec_random(void *buf, size_t n)
{
	if (n == 0)
		return 0;
	if (buf == NULL || n > INT32_MAX)
		return -1;
	return RAND_priv_bytes(buf, (int)n) == 1 ? 0 : -1;
}

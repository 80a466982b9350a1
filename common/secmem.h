/* SPDX-License-Identifier: Apache-2.0 */
/* Secrets in memory: zeroing, constant-time comparison, locked pages. */
#ifndef CISRES_SECMEM_H
#define CISRES_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

/* Zero n bytes in a way the compiler cannot elide. NULL is allowed. */
void sec_zero(void *p, size_t n);
/* Zero n bytes, then free(p). NULL is allowed. */
void sec_free(void *p, size_t n);
/* Zero a NUL-terminated string in place, then free it. NULL is allowed. */
void sec_strfree(char *s);
/* Constant-time equality of two equal-length buffers. */
bool sec_equal(const void *a, const void *b, size_t n);
/* Constant-time equality of two strings of possibly different length
 * (time depends only on the lengths, never on the content). */
bool sec_streq(const char *a, size_t alen, const char *b, size_t blen);
/* Allocate n bytes that are mlock()ed and excluded from core dumps
 * (MADV_DONTDUMP where the pages allow it). Zeroed. Free with sec_unlock_free. */
void *sec_locked_alloc(size_t n);
void sec_unlock_free(void *p, size_t n);
/* strndup into locked memory; returns NULL on failure. Free with sec_unlock_free(p, len + 1). */
char *sec_locked_strndup(const char *s, size_t len);
/* Fill buf with n bytes from the OS CSPRNG (RAND_priv_bytes). 0 on success. */
int sec_random(void *buf, size_t n);

#endif

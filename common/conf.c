/* SPDX-License-Identifier: Apache-2.0 */
/* INI-style configuration files. */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secmem.h"

/* Bounds that keep the (linear) duplicate checks cheap. */
#define CONF_MAX_SECTIONS 256
#define CONF_MAX_KEYS 1024

typedef struct {
	char *key;
	char *value;
	size_t vlen;
} conf_entry;

typedef struct {
	char *name;
	conf_entry *entries;
	size_t n, cap;
} conf_section;

struct conf {
	conf_section *sections;
	size_t n, cap;
};

static void conf_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conf_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Grow *arr (of elements of size sz) to hold one more; 0 or -1. */
static int conf_grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 8 : *cap * 2;
	if (ncap < *cap || ncap > SIZE_MAX / sz)
		return -1;
	p = realloc(*arr, ncap * sz);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

void conf_free(conf *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		conf_section *s = &c->sections[i];
		for (j = 0; j < s->n; j++) {
			free(s->entries[j].key);
			/* Values may be passwords or PINs. */
			sec_free(s->entries[j].value, s->entries[j].vlen);
		}
		free(s->entries);
		free(s->name);
	}
	free(c->sections);
	free(c);
}

static bool conf_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

static conf_section *conf_find_section(const conf *c, const char *name)
{
	size_t i;

	if (c == NULL || name == NULL)
		return NULL;
	for (i = 0; i < c->n; i++) {
		if (strcmp(c->sections[i].name, name) == 0)
			return &c->sections[i];
	}
	return NULL;
}

/* The section named name[0..n), created when absent; NULL on OOM. */
static conf_section *conf_section_get(conf *c, const char *name, size_t n)
{
	conf_section *s;
	char *nm = strndup(name, n);

	if (nm == NULL)
		return NULL;
	s = conf_find_section(c, nm);
	if (s != NULL) {
		free(nm);
		return s;
	}
	if (c->n >= CONF_MAX_SECTIONS ||
	    conf_grow((void **)&c->sections, &c->cap, c->n, sizeof(*c->sections)) != 0) {
		free(nm);
		return NULL;
	}
	s = &c->sections[c->n++];
	memset(s, 0, sizeof(*s));
	s->name = nm;
	return s;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Parse one line (without its newline, trimmed). 0, or -1 with err set. */
static int conf_line(conf *c, conf_section **cur, const char *p, size_t n, size_t lineno, char *err,
		     size_t errlen)
{
	const char *eq, *k, *v;
	size_t klen, vlen, i;
	conf_entry *e;

	if (p[0] == '[') {
		const char *name = p + 1;
		size_t nlen;

		if (p[n - 1] != ']') {
			conf_err(err, errlen, "line %zu: section header without ']'", lineno);
			return -1;
		}
		nlen = n - 2;
		while (nlen > 0 && is_blank(name[0])) {
			name++;
			nlen--;
		}
		while (nlen > 0 && is_blank(name[nlen - 1]))
			nlen--;
		/* "[kind name]" names the section "kind.name" (as git-config does). */
		char full[CONF_MAX_LINE];
		const char *sp = memchr(name, ' ', nlen);
		if (sp == NULL)
			sp = memchr(name, '\t', nlen);
		if (sp != NULL) {
			size_t kindlen = (size_t)(sp - name), rest = nlen - kindlen;
			const char *sub = sp;
			while (rest > 0 && is_blank(*sub)) {
				sub++;
				rest--;
			}
			if (kindlen == 0 || rest == 0 || !conf_name_ok(name, kindlen) ||
			    !conf_name_ok(sub, rest)) {
				conf_err(err, errlen, "line %zu: invalid section name", lineno);
				return -1;
			}
			memcpy(full, name, kindlen);
			full[kindlen] = '.';
			memcpy(full + kindlen + 1, sub, rest);
			name = full;
			nlen = kindlen + 1 + rest;
		} else if (!conf_name_ok(name, nlen)) {
			conf_err(err, errlen, "line %zu: invalid section name", lineno);
			return -1;
		}
		*cur = conf_section_get(c, name, nlen);
		if (*cur == NULL) {
			conf_err(err, errlen, "line %zu: too many sections or out of memory",
				 lineno);
			return -1;
		}
		return 0;
	}
	eq = memchr(p, '=', n);
	if (eq == NULL) {
		conf_err(err, errlen, "line %zu: expected 'key = value'", lineno);
		return -1;
	}
	k = p;
	klen = (size_t)(eq - p);
	while (klen > 0 && is_blank(k[klen - 1]))
		klen--;
	if (!conf_name_ok(k, klen)) {
		conf_err(err, errlen, "line %zu: invalid key name", lineno);
		return -1;
	}
	v = eq + 1;
	vlen = n - (size_t)(v - p);
	while (vlen > 0 && is_blank(v[0])) {
		v++;
		vlen--;
	}
	if (vlen > 0 && v[0] == '"') {
		if (vlen < 2 || v[vlen - 1] != '"') {
			conf_err(err, errlen, "line %zu: unterminated quoted value", lineno);
			return -1;
		}
		v++;
		vlen -= 2;
	}
	for (i = 0; i < vlen; i++) {
		unsigned char ch = (unsigned char)v[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			conf_err(err, errlen, "line %zu: control character in value", lineno);
			return -1;
		}
	}
	if (*cur == NULL) {
		*cur = conf_section_get(c, "", 0);
		if (*cur == NULL) {
			conf_err(err, errlen, "line %zu: out of memory", lineno);
			return -1;
		}
	}
	for (i = 0; i < (*cur)->n; i++) {
		if (strlen((*cur)->entries[i].key) == klen &&
		    memcmp((*cur)->entries[i].key, k, klen) == 0) {
			conf_err(err, errlen, "line %zu: duplicate key '%.*s'", lineno, (int)klen,
				 k);
			return -1;
		}
	}
	if ((*cur)->n >= CONF_MAX_KEYS) {
		conf_err(err, errlen, "line %zu: more than %d keys in a section", lineno,
			 CONF_MAX_KEYS);
		return -1;
	}
	if (conf_grow((void **)&(*cur)->entries, &(*cur)->cap, (*cur)->n,
		      sizeof(*(*cur)->entries)) != 0) {
		conf_err(err, errlen, "line %zu: out of memory", lineno);
		return -1;
	}
	e = &(*cur)->entries[(*cur)->n];
	e->key = strndup(k, klen);
	e->value = strndup(v, vlen);
	e->vlen = vlen;
	if (e->key == NULL || e->value == NULL) {
		free(e->key);
		sec_free(e->value, vlen);
		conf_err(err, errlen, "line %zu: out of memory", lineno);
		return -1;
	}
	(*cur)->n++;
	return 0;
}

conf *conf_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	conf *c;
	conf_section *cur = NULL;
	size_t pos = 0, lineno = 0;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (buf == NULL && len > 0) {
		conf_err(err, errlen, "line 0: no input");
		return NULL;
	}
	if (len > CONF_MAX_FILE) {
		conf_err(err, errlen, "line 0: file larger than %d bytes", CONF_MAX_FILE);
		return NULL;
	}
	if (len > 0 && memchr(buf, '\0', len) != NULL) {
		conf_err(err, errlen, "line 0: NUL byte in file");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		conf_err(err, errlen, "line 0: out of memory");
		return NULL;
	}
	/* A UTF-8 byte order mark is tolerated. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;

		lineno++;
		pos += n + (nl != NULL);
		if (n > CONF_MAX_LINE) {
			conf_err(err, errlen, "line %zu: longer than %d bytes", lineno,
				 CONF_MAX_LINE);
			goto fail;
		}
		if (n > 0 && line[n - 1] == '\r')
			n--;
		while (n > 0 && is_blank(line[0])) {
			line++;
			n--;
		}
		while (n > 0 && is_blank(line[n - 1]))
			n--;
		if (n == 0 || line[0] == '#' || line[0] == ';')
			continue;
		if (conf_line(c, &cur, line, n, lineno, err, errlen) != 0)
			goto fail;
	}
	return c;
fail:
	conf_free(c);
	return NULL;
}

conf *conf_load(const char *path, bool check_perms, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	conf *c = NULL;
	int fd;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL) {
		conf_err(err, errlen, "no path");
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		conf_err(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	/* Check what was opened (after following any symlink), not the name. */
	if (fstat(fd, &st) != 0) {
		conf_err(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		conf_err(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (check_perms) {
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
			conf_err(err, errlen, "%s: writable by group or others", path);
			goto out;
		}
		if (st.st_uid != geteuid() && st.st_uid != 0) {
			conf_err(err, errlen, "%s: not owned by the user or root", path);
			goto out;
		}
	}
	if (st.st_size > CONF_MAX_FILE) {
		conf_err(err, errlen, "%s: larger than %d bytes", path, CONF_MAX_FILE);
		goto out;
	}
	/* One byte more than allowed, to notice a file that grew. */
	buf = malloc(CONF_MAX_FILE + 1);
	if (buf == NULL) {
		conf_err(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + len, CONF_MAX_FILE + 1 - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			conf_err(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > CONF_MAX_FILE) {
			conf_err(err, errlen, "%s: larger than %d bytes", path, CONF_MAX_FILE);
			goto out;
		}
	}
	c = conf_parse(buf, len, err, errlen);
out:
	if (buf != NULL)
		sec_free(buf, len);
	close(fd);
	return c;
}

const char *conf_get(const conf *c, const char *section, const char *key)
{
	const conf_section *s = conf_find_section(c, section == NULL ? "" : section);
	size_t i;

	if (s == NULL || key == NULL)
		return NULL;
	for (i = 0; i < s->n; i++) {
		if (strcmp(s->entries[i].key, key) == 0)
			return s->entries[i].value;
	}
	return NULL;
}

int64_t conf_get_int(const conf *c, const char *section, const char *key, int64_t def, bool *ok)
{
	const char *v = conf_get(c, section, key);
	char *end = NULL;
	long long n;

	if (ok != NULL)
		*ok = true;
	if (v == NULL)
		return def;
	/* strtoll would skip leading blanks; values are trimmed, so any left
	 * come from quotes and are refused. */
	if (v[0] == '\0' || is_blank(v[0]))
		goto bad;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		goto bad;
	return (int64_t)n;
bad:
	if (ok != NULL)
		*ok = false;
	return def;
}

bool conf_get_bool(const conf *c, const char *section, const char *key, bool def, bool *ok)
{
	static const char *const YES[] = {"true", "yes", "on", "1"};
	static const char *const NO[] = {"false", "no", "off", "0"};
	const char *v = conf_get(c, section, key);
	size_t i;

	if (ok != NULL)
		*ok = true;
	if (v == NULL)
		return def;
	for (i = 0; i < sizeof(YES) / sizeof(YES[0]); i++) {
		if (strcasecmp(v, YES[i]) == 0)
			return true;
		if (strcasecmp(v, NO[i]) == 0)
			return false;
	}
	if (ok != NULL)
		*ok = false;
	return def;
}

size_t conf_section_count(const conf *c)
{
	return c == NULL ? 0 : c->n;
}

const char *conf_section_name(const conf *c, size_t i)
{
	if (c == NULL || i >= c->n)
		return NULL;
	return c->sections[i].name;
}

size_t conf_key_count(const conf *c, const char *section)
{
	const conf_section *s = conf_find_section(c, section == NULL ? "" : section);
	return s == NULL ? 0 : s->n;
}

const char *conf_key_name(const conf *c, const char *section, size_t i)
{
	const conf_section *s = conf_find_section(c, section == NULL ? "" : section);
	if (s == NULL || i >= s->n)
		return NULL;
	return s->entries[i].key;
}

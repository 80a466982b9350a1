/* SPDX-License-Identifier: Apache-2.0 */
/* INI-style configuration files: [section] and key = value lines,
 * '#' or ';' comments, bounded size. A header "[kind name]" names the
 * section "kind.name" (as git-config does), e.g. [account alice]. Used by the server, module and tools. */
#ifndef CISRES_CONF_H
#define CISRES_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONF_MAX_FILE (256 * 1024)
#define CONF_MAX_LINE 4096

typedef struct conf conf;

/* Parse a buffer. Keys before any section belong to section "". Section and
 * key names: [A-Za-z0-9_.-]+ ; values trimmed; optional "double quotes".
 * On error returns NULL and writes "line N: reason" into err. */
conf *conf_parse(const char *buf, size_t len, char *err, size_t errlen);
/* Load a file (at most CONF_MAX_FILE bytes). When check_perms is true the
 * file must be a regular file not writable by group or others and owned by
 * the caller or root. */
conf *conf_load(const char *path, bool check_perms, char *err, size_t errlen);
void conf_free(conf *c);

const char *conf_get(const conf *c, const char *section, const char *key);
/* Parsed forms; return def when absent; -1 in *ok (if non-NULL) when malformed. */
int64_t conf_get_int(const conf *c, const char *section, const char *key, int64_t def, bool *ok);
bool conf_get_bool(const conf *c, const char *section, const char *key, bool def, bool *ok);

size_t conf_section_count(const conf *c);
const char *conf_section_name(const conf *c, size_t i);
/* Keys of a section, for validation of unknown keys. */
size_t conf_key_count(const conf *c, const char *section);
const char *conf_key_name(const conf *c, const char *section, size_t i);

#endif

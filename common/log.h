/* SPDX-License-Identifier: Apache-2.0 */
/* Logging to stderr (or a file), with a level and categories.
 * Never pass a secret (PIN, OTP, SAD, token, key) to these functions. */
#ifndef CISRES_LOG_H
#define CISRES_LOG_H

#include <stdio.h>

typedef enum { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG } log_level;

/* Categories (bit flags) for debug output. */
#define LOG_CAT_GENERAL 0x01u
#define LOG_CAT_P11 0x02u
#define LOG_CAT_CSC 0x04u
#define LOG_CAT_CACHE 0x08u
#define LOG_CAT_HTTP 0x10u
#define LOG_CAT_SAM 0x20u
#define LOG_CAT_HSM 0x40u
#define LOG_CAT_ALL 0xffu

/* prog: prefix for each line. level: highest level printed.
 * categories: "p11,csc,cache" or "all" (NULL = all at DEBUG, none below). */
void log_init(const char *prog, log_level level, const char *categories);
/* Redirect to a file (append, 0600); NULL = stderr. 0 or -1. */
int log_set_file(const char *path);
int log_enabled(log_level level, unsigned cat);
void log_msg(log_level level, unsigned cat, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
unsigned log_parse_categories(const char *list);

#define log_err(...) log_msg(LOG_LVL_ERR, LOG_CAT_GENERAL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, LOG_CAT_GENERAL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, LOG_CAT_GENERAL, __VA_ARGS__)
#define log_debug(cat, ...) log_msg(LOG_LVL_DEBUG, (cat), __VA_ARGS__)

#endif

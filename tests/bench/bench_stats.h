/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the benchmark programs: a monotonic clock, latency samples
 * with percentiles, bounded option parsing and the one-line result format
 * that scripts/bench.sh reads ("key=value" pairs separated by blanks). */
#ifndef CISRES_BENCH_STATS_H
#define CISRES_BENCH_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Microseconds on CLOCK_MONOTONIC. */
double bench_stats_now_us(void);

/* A growable array of latencies in microseconds, bounded by cap. */
typedef struct {
	double *v;
	size_t n;
	size_t cap;
} bench_stats_samples;

/* Reserve room for up to cap samples; 0 on success. */
int bench_stats_init(bench_stats_samples *s, size_t cap);
void bench_stats_free(bench_stats_samples *s);
/* Add one sample (silently dropped when full). */
void bench_stats_add(bench_stats_samples *s, double us);
/* Append all of src to dst (up to dst's cap). */
void bench_stats_merge(bench_stats_samples *dst, const bench_stats_samples *src);
/* Sorts the samples; then percentile p (0..100, nearest rank). 0 when empty. */
double bench_stats_pct(bench_stats_samples *s, double p);
double bench_stats_mean(const bench_stats_samples *s);

/* Parse a decimal in [min, max]; 0 on success. */
int bench_stats_parse_long(const char *s, long min, long max, long *out);

/* Print "bench=KIND name=NAME n=.. p50_us=.. p90_us=.. p99_us=.. max_us=..
 * mean_us=.." followed by extra (already formatted "k=v ..." or NULL),
 * then a newline, on standard output. Sorts s. */
void bench_stats_report(const char *kind, const char *name, bench_stats_samples *s,
			const char *extra);

/* xorshift64* for filler data (not for secrets). */
uint64_t bench_stats_rand(uint64_t *state);
void bench_stats_fill(uint64_t *state, uint8_t *buf, size_t len);

#endif

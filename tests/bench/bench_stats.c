// SPDX-License-Identifier: Apache-2.0
/* Clock, latency samples and the result line of the benchmark programs. */
#include "bench_stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_stats_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int bench_stats_init(bench_stats_samples *s, size_t cap)
{
	s->n = 0;
	s->cap = 0;
	s->v = NULL;
	if (cap == 0 || cap > (size_t)1 << 28)
		return -1;
	s->v = calloc(cap, sizeof(*s->v));
	if (s->v == NULL)
		return -1;
	s->cap = cap;
	return 0;
}

void bench_stats_free(bench_stats_samples *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

void bench_stats_add(bench_stats_samples *s, double us)
{
	if (s->n < s->cap)
		s->v[s->n++] = us;
}

void bench_stats_merge(bench_stats_samples *dst, const bench_stats_samples *src)
{
	size_t i;

	for (i = 0; i < src->n; i++)
		bench_stats_add(dst, src->v[i]);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_stats_pct(bench_stats_samples *s, double p)
{
	size_t rank;

	if (s->n == 0)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	if (p <= 0)
		return s->v[0];
	if (p >= 100)
		return s->v[s->n - 1];
	/* nearest rank: ceil(p/100 * n), 1-based */
	rank = (size_t)((p / 100.0) * (double)s->n);
	if ((double)rank < (p / 100.0) * (double)s->n)
		rank++;
	if (rank == 0)
		rank = 1;
	return s->v[rank - 1];
}

double bench_stats_mean(const bench_stats_samples *s)
{
	double sum = 0;
	size_t i;

	if (s->n == 0)
		return 0;
	for (i = 0; i < s->n; i++)
		sum += s->v[i];
	return sum / (double)s->n;
}

int bench_stats_parse_long(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	long v;

	if (s == NULL || *s == '\0' || strlen(s) > 20)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

void bench_stats_report(const char *kind, const char *name, bench_stats_samples *s,
			const char *extra)
{
	double p50 = bench_stats_pct(s, 50), p90 = bench_stats_pct(s, 90);
	double p99 = bench_stats_pct(s, 99), mx = bench_stats_pct(s, 100);

	printf("bench=%s name=%s n=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f "
	       "mean_us=%.1f%s%s\n",
	       kind, name, s->n, p50, p90, p99, mx, bench_stats_mean(s), extra ? " " : "",
	       extra ? extra : "");
	fflush(stdout);
}

uint64_t bench_stats_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

void bench_stats_fill(uint64_t *state, uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t r = bench_stats_rand(state);

		memcpy(buf + i, &r, len - i < 8 ? len - i : 8);
	}
}

#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t dos_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int progress_visible(const struct dos_progress *p)
{
	return p->ctx && p->ctx->progress && !p->ctx->json && p->ctx->log_level >= DOS_LOG_INFO;
}

static void format_amount(char *buf, size_t n, uint64_t v, int is_bytes)
{
	if (!is_bytes)
		snprintf(buf, n, "%llu", (unsigned long long)v);
	else if (v >= 1 << 30)
		snprintf(buf, n, "%.1f GiB", (double)v / (1 << 30));
	else if (v >= 1 << 20)
		snprintf(buf, n, "%.1f MiB", (double)v / (1 << 20));
	else
		snprintf(buf, n, "%.0f KiB", (double)v / 1024);
}

static void progress_draw(struct dos_progress *p)
{
	char done[32], total[32];
	int pct = p->total ? (int)(p->done * 100 / p->total) : 0;

	format_amount(done, sizeof(done), p->done, p->is_bytes);
	format_amount(total, sizeof(total), p->total, p->is_bytes);
	fprintf(stderr, "\r\033[K%s: %3d%% (%s/%s)", p->label, pct > 100 ? 100 : pct, done, total);
	fflush(stderr);
	p->drawn = 1;
}

void dos_progress_start(struct dos_progress *p, struct dos_ctx *ctx, const char *label,
			uint64_t total, int is_bytes)
{
	memset(p, 0, sizeof(*p));
	p->ctx = ctx;
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->total = total;
	p->is_bytes = is_bytes;
	pthread_mutex_init(&p->lock, NULL);
}

void dos_progress_add_total(struct dos_progress *p, uint64_t more)
{
	pthread_mutex_lock(&p->lock);
	p->total += more;
	pthread_mutex_unlock(&p->lock);
}

void dos_progress_advance(struct dos_progress *p, uint64_t n)
{
	int64_t now;

	pthread_mutex_lock(&p->lock);
	p->done += n;
	if (progress_visible(p)) {
		now = dos_now_ms();
		/* Redraw at most ten times a second: drawing is not free. */
		if (now - p->last_draw_ms >= 100) {
			p->last_draw_ms = now;
			progress_draw(p);
		}
	}
	pthread_mutex_unlock(&p->lock);
}

void dos_progress_finish(struct dos_progress *p)
{
	pthread_mutex_lock(&p->lock);
	if (progress_visible(p) && (p->drawn || p->total)) {
		progress_draw(p);
		fputc('\n', stderr);
	}
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_destroy(&p->lock);
}

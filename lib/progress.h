/* A one-line progress display on stderr, drawn only on a terminal and never
 * in quiet or JSON mode. Thread-safe: workers may call progress_advance(). */
#pragma once

#include "context.h"

#include <pthread.h>
#include <stdint.h>

struct dos_progress {
	struct dos_ctx *ctx;
	char label[64];
	uint64_t done, total;  /* units: items or bytes, see is_bytes */
	int is_bytes;
	int64_t last_draw_ms;
	int drawn;
	pthread_mutex_t lock;
};

void dos_progress_start(struct dos_progress *p, struct dos_ctx *ctx, const char *label,
			uint64_t total, int is_bytes);
void dos_progress_add_total(struct dos_progress *p, uint64_t more);
void dos_progress_advance(struct dos_progress *p, uint64_t n);
/* Draws the final state and ends the line. */
void dos_progress_finish(struct dos_progress *p);

/* A monotonic clock in milliseconds, for progress and timings. */
int64_t dos_now_ms(void);

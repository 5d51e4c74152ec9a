/* What the libFuzzer targets share: a quiet context, a private scratch
 * folder, and a NUL-terminated copy of the input.
 *
 * Each target is one file with LLVMFuzzerTestOneInput; built only with
 * -Dfuzz=true under clang (tests/fuzz/meson.build), run by scripts/fuzz.
 * A target aborts (which libFuzzer reports as a crash and saves the input)
 * when an invariant the library promises does not hold, not only on
 * memory errors. */
#pragma once

#include "context.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A context whose log lines go nowhere: a fuzzer runs millions of inputs. */
static inline void fuzz_ctx(struct dos_ctx *ctx)
{
	static FILE *null;

	if (!null)
		null = fopen("/dev/null", "w");
	dos_ctx_init(ctx);
	ctx->progress = false;
	ctx->jobs = 1;
	ctx->log_level = DOS_LOG_ERROR;
	ctx->log_stream = null ? null : stderr;
}

/* The input as a string (it may hold NULs: the string ends at the first). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A scratch folder of this process, made once and removed at exit. */
static char fuzz_scratch_path[64];

static inline void fuzz_scratch_remove(void)
{
	struct dos_ctx ctx;

	fuzz_ctx(&ctx);
	if (fuzz_scratch_path[0])
		dos_rm_rf(&ctx, fuzz_scratch_path);
}

static inline const char *fuzz_scratch(void)
{
	if (!fuzz_scratch_path[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(fuzz_scratch_path, sizeof(fuzz_scratch_path), "%s/dos-fuzz-XXXXXX",
			 tmp && strlen(tmp) < 40 ? tmp : "/tmp");
		if (!mkdtemp(fuzz_scratch_path)) {
			perror("mkdtemp");
			abort();
		}
		atexit(fuzz_scratch_remove);
	}
	return fuzz_scratch_path;
}

/* Writes data to path whole, or aborts: the harness, not the target, failed. */
static inline void fuzz_write(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
		perror(path);
		abort();
	}
}

#define FUZZ_ASSERT(cond)                                                              \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
				#cond);                                                \
			abort();                                                       \
		}                                                                      \
	} while (0)

#include "context.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void dos_ctx_init(struct dos_ctx *ctx)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(ctx, 0, sizeof(*ctx));
	ctx->log_level = DOS_LOG_INFO;
	ctx->progress = isatty(STDERR_FILENO);
	ctx->jobs = cpus > 0 ? (int)cpus : 1;
	ctx->log_stream = stderr;
}

static int error_setv(struct dos_ctx *ctx, int code, const char *fmt, va_list ap)
{
	ctx->code = code;
	vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
	return code;
}

int dos_error(struct dos_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_setv(ctx, code, fmt, ap);
	va_end(ap);
	return code;
}

int dos_error_errno(struct dos_ctx *ctx, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	error_setv(ctx, code, fmt, ap);
	va_end(ap);
	len = strlen(ctx->msg);
	snprintf(ctx->msg + len, sizeof(ctx->msg) - len, ": %s", strerror(errnum));
	return code;
}

int dos_error_prefix(struct dos_ctx *ctx, const char *fmt, ...)
{
	char prefix[DOS_ERRMSG_MAX];
	char old[DOS_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, ctx->msg, sizeof(old));
	snprintf(ctx->msg, sizeof(ctx->msg), "%s: %s", prefix, old);
	if (ctx->code == 0)
		ctx->code = DOS_EFAIL;
	return ctx->code;
}

void dos_error_clear(struct dos_ctx *ctx)
{
	ctx->code = 0;
	ctx->msg[0] = '\0';
}

int dos_exit_status(int code)
{
	if (code == 0)
		return 0;
	if (code == DOS_EUSAGE || code == DOS_ECONFIG)
		return 2;
	if (code == DOS_EINTR)
		return 130; /* as a shell reports a command ended by Ctrl-C */
	return 1;
}

const char *dos_code_name(int code)
{
	static const char *const names[] = {
		[0] = "ok", [1] = "failed", [2] = "usage", [3] = "config",
		[4] = "memory", [5] = "io", [6] = "network", [7] = "checksum",
		[8] = "signature", [9] = "format", [10] = "resolve", [11] = "child",
		[12] = "interrupted", [13] = "not-implemented",
	};
	int i = -code;

	if (i < 0 || i >= (int)(sizeof(names) / sizeof(names[0])))
		return "failed";
	return names[i];
}

void dos_logv(struct dos_ctx *ctx, int level, const char *fmt, va_list ap)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "debug: " };
	FILE *out = ctx->log_stream ? ctx->log_stream : stderr;

	if (level > ctx->log_level)
		return;
	if (level < 0 || level > DOS_LOG_DEBUG)
		level = DOS_LOG_INFO;
	flockfile(out);
	fputs(prefix[level], out);
	vfprintf(out, fmt, ap);
	fputc('\n', out);
	funlockfile(out);
}

void dos_log(struct dos_ctx *ctx, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dos_logv(ctx, level, fmt, ap);
	va_end(ap);
}

void dos_freep(void *p)
{
	free(*(void **)p);
}

void dos_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

void dos_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

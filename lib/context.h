/* The context every library call gets: the last error, the log level, and
 * how to talk to the user (terminal progress, or quiet JSON).
 *
 * Library code never exits. A failing function records a message with
 * dos_error() and returns its negative code; the caller either adds
 * context with dos_error_prefix() and returns the same code, or, in src/,
 * prints the message and picks an exit status. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum dos_code {
	DOS_OK = 0,
	DOS_EFAIL = -1,      /* an operation failed (exit 1) */
	DOS_EUSAGE = -2,     /* bad command line (exit 2) */
	DOS_ECONFIG = -3,    /* bad configuration (exit 2) */
	DOS_ENOMEM = -4,
	DOS_EIO = -5,        /* file system error */
	DOS_ENET = -6,       /* download failed */
	DOS_ECHECKSUM = -7,  /* content does not match its expected digest */
	DOS_ESIGNATURE = -8, /* a signature did not verify */
	DOS_EFORMAT = -9,    /* malformed or hostile input */
	DOS_ERESOLVE = -10,  /* dependencies cannot be satisfied */
	DOS_ECHILD = -11,    /* a subprocess failed */
	DOS_EINTR = -12,     /* interrupted by the user */
	DOS_ENOTIMPL = -13,  /* not built yet */
};

enum dos_log_level {
	DOS_LOG_ERROR = 0,
	DOS_LOG_WARN = 1,
	DOS_LOG_INFO = 2,
	DOS_LOG_DEBUG = 3,
};

#define DOS_ERRMSG_MAX 2048

struct dos_ctx {
	int code;                     /* last error code, 0 when none */
	char msg[DOS_ERRMSG_MAX];     /* last error message */
	int log_level;
	bool json;                    /* machine-readable output on stdout */
	bool progress;                /* a terminal is there to draw on */
	int jobs;                     /* parallelism (-j) */
	FILE *log_stream;             /* where log lines go (stderr) */
};

/* Initializes ctx with defaults: info level, progress when stderr is a
 * terminal, one job per CPU. */
void dos_ctx_init(struct dos_ctx *ctx);

/* Records an error and returns code, so that `return dos_error(...)` reads
 * naturally. The message starts lowercase, names the object, no period. */
int dos_error(struct dos_ctx *ctx, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As dos_error(), appending ": <strerror(errnum)>". */
int dos_error_errno(struct dos_ctx *ctx, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Puts "<prefix>: " in front of the current message; returns the code. */
int dos_error_prefix(struct dos_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void dos_error_clear(struct dos_ctx *ctx);

/* The exit status src/ uses for an error code: 2 for usage and
 * configuration errors, 1 otherwise. */
int dos_exit_status(int code);

/* A short name for a code, for JSON output ("config", "checksum", ...). */
const char *dos_code_name(int code);

void dos_log(struct dos_ctx *ctx, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void dos_logv(struct dos_ctx *ctx, int level, const char *fmt, va_list ap);

#define dos_warn(ctx, ...) dos_log((ctx), DOS_LOG_WARN, __VA_ARGS__)
#define dos_info(ctx, ...) dos_log((ctx), DOS_LOG_INFO, __VA_ARGS__)
#define dos_debug(ctx, ...) dos_log((ctx), DOS_LOG_DEBUG, __VA_ARGS__)

/* Cleanup attributes, after bubblewrap: a variable declared with one of
 * these is released when it goes out of scope. */
void dos_freep(void *p);
void dos_closep(int *fd);
void dos_fclosep(FILE **f);
#define _cleanup_free_ __attribute__((cleanup(dos_freep)))
#define _cleanup_close_ __attribute__((cleanup(dos_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(dos_fclosep)))

/* Takes ownership: returns *p and sets it to NULL. */
#define dos_steal(p) ({ __typeof__(*(p)) _v = *(p); *(p) = NULL; _v; })

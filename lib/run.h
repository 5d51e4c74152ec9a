/* Running subprocesses: output captured to a log file, and on failure an
 * error naming the command, its exit status, and the log's last lines. */
#pragma once

#include "context.h"

struct dos_run_opts {
	const char *log_path;    /* output (stdout and stderr) goes here; NULL: inherit */
	const char *cwd;         /* NULL: the current folder */
	char *const *envp;       /* NULL: a clean minimal environment */
	int tail_lines;          /* log lines quoted in the error (0: 10) */
	int allow_status;        /* a second accepted exit status (0: none) */
};

/* Runs argv[0] (searched in PATH) and waits. 0 when it exits 0. */
int dos_run(struct dos_ctx *ctx, char *const argv[], const struct dos_run_opts *opts);

/* Runs argv and captures its stdout into *out (NUL-terminated); stderr goes
 * to the log or is inherited. */
int dos_run_capture(struct dos_ctx *ctx, char *const argv[], const struct dos_run_opts *opts,
		    char **out, size_t *out_len);

/* The environment subprocesses get when the caller gives none: PATH, HOME,
 * LC_ALL=C.UTF-8, TZ=UTC. Never the user's pip, proxy or TLS variables. */
char *const *dos_run_clean_env(void);

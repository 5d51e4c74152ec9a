/* The sandbox builds and tests run in: a root folder that becomes /, in
 * new user, mount, pid, network, ipc, uts and cgroup namespaces, with a
 * fresh /proc, a minimal /dev, a tmpfs /tmp, and only the bind mounts asked
 * for. Works as real root and as an unprivileged user (it needs
 * unprivileged user namespaces then). See the top of sandbox.c. */
#pragma once

#include "context.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A host path made visible inside: read-only unless writable. */
struct dos_sandbox_bind {
	const char *src;      /* host path (a folder or a file) */
	const char *dest;     /* absolute path inside the sandbox; created when missing */
	bool writable;
};

struct dos_sandbox_opts {
	const char *root;     /* the root filesystem folder, becomes / */
	const struct dos_sandbox_bind *binds;
	size_t n_binds;
	bool network;         /* share the host's network; false: only a loopback, up */
	bool root_writable;   /* false: / is read-only (binds and /tmp stay as asked) */
	char *const *argv;    /* what runs inside; argv[0] searched in envp's PATH */
	char *const *envp;    /* its whole environment (NULL: dos_run_clean_env()) */
	const char *cwd;      /* inside the sandbox (NULL: /) */
	/* stdout and stderr are appended to this file, stdin is /dev/null and
	 * the sandbox is a new session without a terminal. NULL: interactive,
	 * the three are inherited and the terminal stays the controlling one
	 * (`diracos shell`); Ctrl-C then goes to the foreground job inside. */
	const char *log_path;
	int timeout_s;        /* 0: none; on expiry every process inside is killed */
	const char *hostname; /* NULL: "diracos" */
	uid_t uid;            /* the ids the command runs as inside (0: root, */
	gid_t gid;            /* which is the caller when unprivileged) */
};

/* How long a command gets to exit after SIGINT/SIGTERM is forwarded to it,
 * before everything inside is killed. */
#define DOS_SANDBOX_GRACE_S 5

/* Runs o->argv in the sandbox and waits for it and for every process it
 * started (they all end when it does). Returns 0 when the command ran to
 * its end, with *exit_status its exit code, or 128 + the signal that
 * killed it. Errors: setting up the sandbox failed or the command could not
 * be started (DOS_EFAIL / DOS_ECHILD, naming the step and the path), the
 * timeout expired (DOS_ECHILD, "timed out"), or SIGINT, SIGTERM or SIGHUP
 * reached the calling thread (DOS_EINTR) -- forwarded to the command, then
 * everything killed after DOS_SANDBOX_GRACE_S. Those three signals are
 * blocked in the calling thread while it runs; other threads should keep
 * them blocked for the sandbox to see them. */
int dos_sandbox_run(struct dos_ctx *ctx, const struct dos_sandbox_opts *o, int *exit_status);

/* Whether this process can create the namespaces (unprivileged user
 * namespaces enabled, or root). On false, *why says what is missing. */
bool dos_sandbox_available(const char **why);

/* Moves the calling (still single-threaded) process into a mount namespace
 * of its own, a slave of the host's: the mounts it makes (build roots'
 * overlays) then go away with it, even when it is killed, instead of
 * staying on the host; the host's later mounts still show in it. Needs
 * CAP_SYS_ADMIN (root): without it, returns a negative errno and changes
 * nothing (an unprivileged diracos mounts nothing outside its sandboxes). */
int dos_mount_namespace_own(void);

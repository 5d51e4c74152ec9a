/* What the sandbox files share; not part of the API (see sandbox.h).
 *
 * sandbox.c runs the parent and the child (namespaces, ids, the command
 * and its init); sandbox_mount.c makes the child's mounts. Everything
 * declared here except the struct runs in the cloned child: it must not
 * allocate (no malloc, no stdio streams; see the top of sandbox.c). */
#pragma once

#include "sandbox.h"

#include <errno.h>
#include <stdbool.h>

enum sb_kind { SB_SETUP = 1, SB_EXEC = 2 };

/* What the child works with. Filled by the parent before the clone. */
struct sb_child {
	const struct dos_sandbox_opts *o;
	const char *root;        /* absolute, resolved */
	char *const *envp;
	bool privileged;         /* identity id map: we may setuid freely */
	int sync_fd;             /* socketpair end: ready / go */
	int status_fd;           /* write end of the report pipe */
	int log_fd;              /* -1: interactive */
	int root_fd;             /* O_PATH of the root bind mount */
};

/* --- the child: reports (sandbox.c) --- */

/* Sends one report of kind (enum sb_kind) to the parent; returns -1. */
int sandbox_child_fail(struct sb_child *c, int kind, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define setup_fail(c, ...) sandbox_child_fail((c), SB_SETUP, errno, __VA_ARGS__)

/* --- the child: mounts (sandbox_mount.c) --- */

/* Binds the root on itself, mounts /proc, /dev, /tmp and the binds in it,
 * pivots into it and remounts it (read-only unless o->root_writable). */
int sandbox_setup_mounts(struct sb_child *c);

/* Small shared ground: atomic files, sha256, paths, string vectors. */
#pragma once

#include "context.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* --- sha256 (OpenSSL's EVP) --- */

#define DOS_SHA256_HEX 65 /* 64 hex digits and a NUL */

struct dos_sha256;
struct dos_sha256 *dos_sha256_new(void);
void dos_sha256_update(struct dos_sha256 *h, const void *data, size_t len);
/* Writes 64 lowercase hex digits and a NUL into hex, frees h. */
void dos_sha256_final(struct dos_sha256 *h, char hex[DOS_SHA256_HEX]);
void dos_sha256_buf(const void *data, size_t len, char hex[DOS_SHA256_HEX]);
int dos_sha256_file(struct dos_ctx *ctx, const char *path, char hex[DOS_SHA256_HEX]);
/* True when s is 64 hex digits. */
bool dos_sha256_valid(const char *s);

/* Appends printf-style text to the file log (a build or step log); a log
 * that cannot be opened, or none (NULL), is skipped: the step's own result
 * decides. */
void dos_log_append(const char *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "python3.11" -> 11: the minor version in a CPython 3 interpreter's
 * package or file name; -1 for any other name. */
int dos_python3_minor(const char *name);

/* --- atomic writes: a temporary name beside the target, fsync, rename --- */

struct dos_atomic {
	char *path;     /* final name */
	char *tmp_path; /* temporary name in the same folder; NULL: unnamed (O_TMPFILE) */
	int fd;
};

/* An unnamed file in dir (O_TMPFILE), so that a process killed before it
 * is named leaves nothing behind; -1 when the file system (or a missing
 * /proc) does not allow it: use a named temporary then. */
int dos_tmpfile_open(const char *dir, mode_t mode);
/* Names the unnamed file fd path (replacing it) by way of a name in
 * tmp_dir, on the same file system. 0, or a negative errno. */
int dos_tmpfile_link(int fd, const char *tmp_dir, const char *path);

/* Ends a named temporary file fd (at tmp) written beside dst, without
 * fsync (for trees that are rebuilt whole after a crash): gives it mode,
 * closes it, renames it to dst; on an error (err on entry included)
 * removes it. 0, or the errno. */
int dos_tmpfile_commit(int fd, const char *tmp, const char *dst, mode_t mode, int err);

int dos_atomic_open(struct dos_ctx *ctx, struct dos_atomic *af, const char *path, mode_t mode);
int dos_atomic_write(struct dos_ctx *ctx, struct dos_atomic *af, const void *data, size_t len);
/* fsyncs, renames to the final name, fsyncs the folder. Releases af. */
int dos_atomic_commit(struct dos_ctx *ctx, struct dos_atomic *af);
/* Removes the temporary file. Safe to call after commit and twice. */
void dos_atomic_abort(struct dos_atomic *af);

int dos_write_file_atomic(struct dos_ctx *ctx, const char *path, const void *data,
			  size_t len, mode_t mode);

/* --- whole writes and copies: through short writes and EINTR --- */

/* Writes all len bytes of buf to fd: 0, or the errno of the failed write. */
int dos_write_full(int fd, const void *buf, size_t len);
/* Copies in to out up to in's end: 0, or the errno of the failed read or
 * write. */
int dos_copy_full(int in, int out);
/* As dos_write_full, the error kept on ctx: "cannot write '<what>'". */
int dos_fd_write(struct dos_ctx *ctx, int fd, const void *buf, size_t len, const char *what);
/* As dos_copy_full, the error kept on ctx: "cannot read '<what>'" or
 * "cannot write '<what>'". */
int dos_fd_copy(struct dos_ctx *ctx, int in, int out, const char *what);

/* Reads a whole file (at most max bytes) into a NUL-terminated buffer. */
int dos_read_file(struct dos_ctx *ctx, const char *path, size_t max, char **data, size_t *len);

/* --- paths --- */

/* mkdir -p; existing folders are fine. */
int dos_mkdir_p(struct dos_ctx *ctx, const char *path, mode_t mode);
/* rm -rf without following symlinks; a missing path is fine. */
int dos_rm_rf(struct dos_ctx *ctx, const char *path);
/* Joins a folder and a name with one slash; aborts on out of memory. */
char *dos_path_join(const char *dir, const char *name);
/* An absolute path for path as seen from the folder base (base may be
 * NULL for the current folder); lexical, no symlinks resolved. */
char *dos_path_absolute(const char *base, const char *path);
/* The folder part of path ("." when there is none). */
char *dos_path_dirname(const char *path);
/* Whether path, its symlinks resolved, lies in root (or is root): for
 * writes by path into a tree that sandboxed code could fill with links
 * (call it once nothing runs there any more). A path that does not exist
 * yet is judged by its nearest existing ancestor, since what is created
 * below it will be real folders. */
bool dos_path_within(const char *root, const char *path);

/* --- allocation that cannot fail (an out-of-memory abort, as git does) --- */

void *dos_xmalloc(size_t n);
void *dos_xcalloc(size_t n, size_t size);
void *dos_xrealloc(void *p, size_t n);
char *dos_xstrdup(const char *s);
/* The first n bytes of s (fewer when s ends before). */
char *dos_xstrndup(const char *s, size_t n);
char *dos_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- string vectors, NULL-terminated --- */

struct dos_strv {
	char **v;
	size_t n;
	size_t alloc;
};

void dos_strv_push(struct dos_strv *sv, const char *s);
void dos_strv_push_owned(struct dos_strv *sv, char *s);
void dos_strv_release(struct dos_strv *sv);
bool dos_strv_contains(const struct dos_strv *sv, const char *s);
void dos_strv_sort(struct dos_strv *sv);

/* qsort that accepts an empty array with a NULL base (qsort itself is
 * declared nonnull: UBSan rightly complains about qsort(NULL, 0, ...)). */
void dos_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

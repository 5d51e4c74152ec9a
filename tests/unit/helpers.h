/* What the unit tests share (prefix th_): temporary folders, shell
 * commands, files written and read back, hand-made and dpkg-deb packages,
 * the loopback httpd helper, and the resolver fixture. Each helper fails
 * the running test (cmocka) when a step that must work does not. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/types.h>

#include "context.h"
#include "resolve.h"

/* The mtime of every entry and member th_tar() and th_deb_write() make. */
#define TH_MTIME 1700000000

/* --- folders, contexts --- */

/* A new folder /tmp/diracos-test-<name>-XXXXXX. */
char *th_tmpdir(const char *name);
/* Removes dir and everything under it, then frees the string. */
void th_tmpdir_remove(char *dir);
/* A context that logs errors only and shows no progress. */
void th_ctx_quiet(struct dos_ctx *ctx);

/* The fixture of a test that needs a context and a folder. */
struct th_dir {
	struct dos_ctx ctx;
	char *dir;
	char *root;            /* dir/root, for a tree the test makes there */
};

/* A quiet context and a new folder th_tmpdir(name). */
struct th_dir *th_dir_new(const char *name);
/* A teardown for a th_dir in *state: the folder goes. */
int th_dir_teardown(void **state);

/* --- shell commands --- */

struct th_sh {
	const char *cwd;       /* NULL: the test's */
	const char *log;       /* output goes here; NULL: inherited */
	char *const *envp;     /* NULL: dos_run's clean environment */
	char **out;            /* stdout captured here when not NULL */
	bool errexit;          /* sh -ec rather than sh -c */
};

/* Runs the command; 0 when it exits 0, else a negative code and a
 * "# command failed" line on stderr (none when the command itself sends
 * its stderr to /dev/null: the failure is expected). */
int th_vsh(const struct th_sh *o, const char *fmt, va_list ap);
/* th_vsh() on the variable arguments that follow fmt, in a function that
 * takes (..., fmt, ...); its value is th_vsh()'s. */
#define TH_VSH(o, fmt)                                                   \
	({                                                               \
		va_list ap_;                                             \
		int r_;                                                  \
		va_start(ap_, fmt);                                      \
		r_ = th_vsh((o), (fmt), ap_);                            \
		va_end(ap_);                                             \
		r_;                                                      \
	})
int th_sh(const struct th_sh *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* sh -c in dir with only PATH, LC_ALL=C and LD_LIBRARY_PATH=libpath (when
 * not NULL); its stdout in *out when out is not NULL. */
int th_sh_in(const char *dir, const char *libpath, char **out, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* sh -ec in dir. */
int th_sh_at(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* sh -ec in dir, which must exit 0. */
void th_sh_ok(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* sh -c with HOME=dir and GNUPGHOME=home, output in dir/sh.log; asserts
 * that it exits 0. */
void th_sh_gpg(const char *dir, const char *home, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* --- files --- */

/* Writes text to path (its folder made first), then sets mode. */
void th_write(const char *path, const char *text, mode_t mode);
void th_write_at(const char *dir, const char *rel, const char *text, mode_t mode);
/* The file's text, NULL when it cannot be read. */
char *th_read(const char *path);
char *th_read_at(const char *dir, const char *rel);
bool th_exists_at(const char *dir, const char *rel);
/* lstat() of dir/rel, which must exist. */
struct stat th_lstat_at(const char *dir, const char *rel);
/* How many entries the folder holds ("." and ".." aside). */
size_t th_count_dir(const char *path);
/* Asserts that dir/rel is a symlink to target. */
void th_assert_link(const char *dir, const char *rel, const char *target);

/* --- packages --- */

/* An entry of a hand-made tar. type 0 is a hard link to data. */
struct th_tent {
	const char *name;
	mode_t type;
	mode_t perm;
	const char *data;      /* content, or the symlink's or hard link's target */
	size_t len;            /* content length when not a string */
};

/* A tar in memory, filtered (NULL: uncompressed); returns its length. */
size_t th_tar(const struct th_tent *ents, size_t n, const char *filter, char *buf, size_t cap);

struct th_deb {
	const char *control;       /* the control file */
	size_t control_len;        /* 0: strlen(control) */
	const char *postinst;      /* NULL: none */
	const struct th_tent *ents;
	size_t n;
	const char *filter;        /* data.tar's compression; NULL: none */
	int keep_percent;          /* of data.tar written; 0: all */
};

/* A package written member by member (debian-binary, control.tar.gz,
 * data.tar[.ext]) to path. */
void th_deb_write(const char *path, const struct th_deb *d);
/* dpkg-deb --root-owner-group -Z<comp> --build staging out, its output in
 * log; asserts that it works. */
void th_dpkg_deb(const char *staging, const char *out, const char *comp, const char *log);

/* --- the loopback httpd helper (tests/helpers/httpd, built beside) --- */

struct th_httpd {
	pid_t pid;
	int port;
	char *log;             /* dir/httpd.log: one line a request */
};

/* Serves root; the port file and the log live in dir. fault: the
 * helper's --fault mode, or NULL. */
void th_httpd_start(struct th_httpd *s, const char *dir, const char *root, const char *fault);
void th_httpd_stop(struct th_httpd *s);
/* How many logged requests contain needle. */
int th_httpd_count(const struct th_httpd *s, const char *needle);

/* --- the resolver fixture of test_resolve and test_rpmmd --- */

struct th_resolve {
	struct dos_ctx ctx;
	char *dir;
	struct dos_resolver *r;
	struct dos_closure c;
};

/* A quiet context, a temporary folder and a resolver for the backend. */
int th_resolve_setup(void **state, const char *name, const char *backend, const char *arch);
int th_resolve_teardown(void **state);

/* The local package repository: a flat apt repository the tool writes
 * itself, read by apt inside build roots and by our resolver.
 *
 *   <repo>/Packages                   the index of the packages the bundle may ship
 *   <repo>/pool/<sha16>/<p>_<v>_<a>.deb
 *   <repo>/buildonly/Packages         the index of build-only packages
 *   <repo>/buildonly/pool/<sha16>/<p>_<v>_<a>.deb
 *   <repo>/records/<name>.json        what each configured package's build produced
 *   <repo>/records/<name>.log         and its build log
 *   <repo>/.lock                      flock: exclusive for writers, shared for readers
 *
 * Both indices give Filename: relative to the repository's root, as apt
 * reads a flat repository (`deb uri directory/`: the uri is the archive
 * root, Filename starts there), so apt uses
 *
 *   deb [trusted=yes] file:/diracos-repo ./
 *   deb [trusted=yes] file:/diracos-repo buildonly/
 *
 * and the resolver takes either index with the same base URL,
 * dos_repo_url(). There is no Release file: apt accepts a flat repository
 * without one under trusted=yes, and an unsigned Release would only add
 * warnings and a second file to keep in step with Packages.
 *
 * A pool file's folder is the first 16 hex digits of its sha256, so a
 * rebuild of the same version never overwrites a file an index names.
 * The pool holds exactly what the indices name: a commit removes every
 * other file. */
#pragma once

#include "context.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct dos_repo;

enum dos_repo_flags {
	/* Shared lock, nothing created: for reading (bundle, verify). */
	DOS_REPO_READ = 1 << 0,
	/* Wait for the lock instead of failing when another process holds it. */
	DOS_REPO_WAIT = 1 << 1,
};

/* Opens the repository at path (made absolute), creating its layout when
 * missing unless DOS_REPO_READ. Writers take an exclusive flock on
 * <repo>/.lock, readers a shared one; without DOS_REPO_WAIT a lock held by
 * another process fails at once (DOS_EFAIL, "repository '...': in use by
 * another diracos process (pid N)"). The lock lives as long as the handle;
 * two handles in one process exclude each other as two processes do. */
int dos_repo_open(struct dos_ctx *ctx, const char *path, unsigned flags, struct dos_repo **out);
void dos_repo_free(struct dos_repo *repo);

/* Whether filename is one a repository index may give: in the pool of its
 * section ("pool/<16 hex>/<file>" or "buildonly/pool/..."), nothing that
 * climbs out. */
bool dos_repo_filename_ok(const char *filename);

const char *dos_repo_path(const struct dos_repo *repo);
/* "file:///abs/repo": the base URL of both indices' Filename: paths. */
const char *dos_repo_url(const struct dos_repo *repo);
/* <repo>/Packages or <repo>/buildonly/Packages; both exist, maybe empty. */
const char *dos_repo_index(const struct dos_repo *repo, bool build_only);
/* The sources.list lines for the repository mounted at mount_path in a
 * build root (both sections); the caller frees. */
char *dos_repo_sources_list(const char *mount_path);

/* What one configured package's build produced. */
struct dos_repo_record {
	const char *name;      /* the configuration's package name ("python") */
	const char *key;       /* its content key (sha256 hex) */
	json_t *inputs;        /* borrowed: what went into the key; may be NULL */
	const char *log_path;  /* the build log, copied to records/<name>.log; may be NULL */
	bool build_only;
};

/* Replaces every output of the configured package rec->name with the given
 * .deb files: copies them into the pool, rewrites the indices atomically,
 * then writes the record and removes pool files no index names any more.
 * All or nothing: on an error the repository is as it was; a crash leaves
 * the old or the new index, never one naming a missing file, and a record
 * is written only once its packages are indexed. Every .deb is read whole
 * (a truncated or corrupt one is refused). A binary package another
 * configured package already provides is refused. Thread-safe on one
 * handle. Needs a writer's handle. */
int dos_repo_commit(struct dos_ctx *ctx, struct dos_repo *repo, const struct dos_repo_record *rec,
		    const char *const *debs, size_t n_debs);

/* Removes a configured package's outputs and its record (a package no
 * longer configured). A name without a record is fine. */
int dos_repo_remove(struct dos_ctx *ctx, struct dos_repo *repo, const char *name);

/* The record of a configured package, or NULL when there is none or it
 * cannot be read (the caller rebuilds). The caller frees with json_decref.
 * Keys: name, key, inputs, buildOnly, log (relative path or null),
 * outputs [{package, version, architecture, filename, size, sha256}]. */
json_t *dos_repo_record_get(struct dos_repo *repo, const char *name);
/* The key recorded for name, or NULL; the caller frees. */
char *dos_repo_key(struct dos_repo *repo, const char *name);
/* The configured package names that have a record, sorted. */
int dos_repo_names(struct dos_ctx *ctx, struct dos_repo *repo, struct dos_strv *names);

/* Checks the repository: every indexed file exists with its size and
 * sha256, every record's outputs are indexed, the pool holds no other
 * file. Each problem is one line in problems (an "object: cause" text).
 * 0 when there is none, DOS_ECHECKSUM (message: how many) when there are. */
int dos_repo_verify(struct dos_ctx *ctx, struct dos_repo *repo, struct dos_strv *problems);

/* The control file of a .deb (the `control` member of its control.tar.*),
 * NUL-terminated, at most 1 MiB; the caller frees. Errors name the file. */
int dos_repo_deb_control(struct dos_ctx *ctx, const char *path, char **control_text);
/* The one-line value of field in control text (case-insensitive name), or
 * NULL; the caller frees. */
char *dos_repo_control_field(const char *control, const char *field);

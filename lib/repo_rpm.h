/* The local repository for platform.backend "rpm": rpm-md repositories
 * written with createrepo_c, beside the records repo.c keeps.
 *
 *   <repo>/rpm/<file>.rpm              packages the bundle may ship
 *   <repo>/rpm/repodata/               their rpm-md metadata (sha256)
 *   <repo>/rpm-buildonly/<file>.rpm    build-only packages
 *   <repo>/rpm-buildonly/repodata/
 *   <repo>/records/<name>.json, .log   as for .deb (see repo.h): the
 *                                      outputs' filenames are relative to
 *                                      <repo> ("rpm/x-1-1.x86_64.rpm")
 *
 * The caller holds the repository's writer lock (a dos_repo handle). */
#pragma once

#include "context.h"
#include "repo.h"

#include <jansson.h>

#include <stddef.h>

/* <repo>/rpm or <repo>/rpm-buildonly; the caller frees. */
char *dos_repo_rpm_dir(const char *repo_path, bool build_only);

/* Replaces the outputs of the configured package rec->name with the given
 * .rpm files (each checked to be an RPM, its name, version and arch read
 * with `rpm -qp`), regenerates the section's metadata with createrepo_c,
 * then writes the record and removes the package's older files. A binary
 * package another record already lists is refused (DOS_ECONFIG).
 * Thread-safe. */
int dos_repo_rpm_commit(struct dos_ctx *ctx, const char *repo_path,
			const struct dos_repo_record *rec, const char *const *rpms, size_t n);

/* Removes a configured package's .rpm files, regenerates the metadata of
 * the sections that held them, then removes its record and log (a package
 * no longer configured). A name without a record is fine. */
int dos_repo_rpm_remove(struct dos_ctx *ctx, const char *repo_path, const char *name);

/* For dos_repo_verify: one output of an rpm record (its filename under
 * <repo>/rpm or <repo>/rpm-buildonly, size and sha256) checked on disk;
 * a problem is appended as an "object: cause" line. */
void dos_repo_rpm_verify_output(const char *repo_path, const char *record, const json_t *output,
				struct dos_strv *problems);

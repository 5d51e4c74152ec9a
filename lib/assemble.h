/* Steps 4 to 6: the closure of the bundle's packages, extracted, made
 * relocatable, described and packed. */
#pragma once

#include "config.h"
#include "context.h"
#include "extract.h"
#include "fetch.h"
#include "resolve.h"

/* The repositories a configuration resolves against, loaded. */
struct dos_assembly {
	struct dos_cache *cache;
	struct dos_resolver *resolver;
	struct dos_closure closure;
	struct dos_strv repos;        /* "bookworm main", ... for messages */
	int64_t archive_date;         /* newest Date: of the signed InReleases */
	struct dos_python_info python; /* the bundle's own Python, if the local repo has one */
};

/* Opens the cache, fetches and verifies the distribution's indices (suite,
 * suite-updates, suite-security), adds the local repository when it has an
 * index, lets our own Python stand in for the distribution's (see
 * dos_resolver_python_takeover), and resolves the closure. */
int dos_assemble_resolve(struct dos_ctx *ctx, const struct dos_config *cfg,
			 struct dos_assembly *as);
void dos_assembly_release(struct dos_assembly *as);

struct dos_bundle_result {
	char *root;                   /* the finished tree (the build-time path) */
	struct dos_strv tarballs;
	uint64_t *tarball_sizes;
	size_t n_packages;
	uint64_t files, bytes;
	struct dos_strv broken_links; /* removed, listed in brokenLinks.txt */
	struct dos_strv conflicts;    /* "path: pkg-a and pkg-b differ" */
	struct dos_strv notes;        /* setuid bits cleared, special files skipped, ... */
	int64_t seconds_ms[5];        /* resolve, download, extract, finalize, pack */
};

/* Runs steps 4-6 for cfg and writes the tarballs into its output folder. */
int dos_assemble_bundle(struct dos_ctx *ctx, const struct dos_config *cfg,
			struct dos_bundle_result *res);
void dos_bundle_result_release(struct dos_bundle_result *res);

/* Removes from root whatever x's packages do not ship (what an earlier
 * run left there), without following symlinks; a folder stays when it is
 * shipped or holds something that stays. */
int dos_assemble_prune(struct dos_ctx *ctx, const char *root, const struct dos_extract_result *x);

/* "NAME-VERSION-MACHINE", the tarballs' common name. */
char *dos_assemble_basename(const struct dos_config *cfg);

/* Sources: recipe "sources" and "pipSources" entries, fetched into the
 * cache and verified, by one code path.
 *
 * Two forms (see docs/configuration.md):
 *   {"urls": [...], "sha256": HEX, "filename": NAME}   each URL in turn
 *   {"debianSource": NAME, "suite": S, "file": "orig"|"debian"|"dsc"|F,
 *    "sha256": HEX, "filename": NAME}                   through the suite's
 *     signed Sources index (every component), the file's sha256 from it;
 *     a pinned "sha256" must agree with it. */
#pragma once

#include "config.h"
#include "context.h"
#include "fetch.h"

#include <pthread.h>

/* dist.c's temporary InRelease name is per process: whoever opens an
 * archive from several threads (a source lookup, a build root) holds it. */
extern pthread_mutex_t dos_archive_lock;

/* Fetches s into cache (verified). *path is the cache file, *name the
 * file's name (s->filename, else the URL's or the Sources file's last
 * part), both the caller's to free. Failed URLs that another one replaced
 * are noted in log (may be NULL). Errors name the source, the URL and the
 * HTTP status or the checksum found. */
int dos_source_fetch(struct dos_ctx *ctx, const struct dos_config *cfg, struct dos_cache *cache,
		     const struct dos_source *s, const char *log, char **path, char **name);
/* The same, with the URL the file came from and its sha256 (url may be
 * NULL; sha256 DOS_SHA256_HEX bytes or NULL). */
int dos_source_fetch_from(struct dos_ctx *ctx, const struct dos_config *cfg,
			  struct dos_cache *cache, const struct dos_source *s, const char *log,
			  char **path, char **name, char **url, char *sha256);

/* Downloads (libcurl) into a content-addressed cache.
 *
 * The cache holds files at <root>/sha256/<first 2 hex>/<64 hex>. A file
 * gets its final name only after its sha256 (and size, when known) has been
 * checked, through a temporary name in <root>/tmp, fsync and rename: the
 * cache never holds a partial or unverified file under a final name. */
#pragma once

#include "context.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dos_cache {
	char *root;
	/* Transfer options, set by dos_cache_open() and adjustable after. */
	int stall_timeout_s;  /* a transfer with no byte for this long fails
			       * (default 60; DIRACOS_STALL_TIMEOUT overrides) */
	int tries;            /* attempts on transient errors (default 3) */
	int retry_delay_ms;   /* first backoff, doubled each retry (default 1000) */
};

/* $DIRACOS_CACHE, else $XDG_CACHE_HOME/diracos, else $HOME/.cache/diracos.
 * NULL when none of them is set. */
char *dos_cache_default_dir(void);

/* Opens (creating it) the cache at dir; NULL dir: the default folder. */
int dos_cache_open(struct dos_ctx *ctx, const char *dir, struct dos_cache **out);
void dos_cache_free(struct dos_cache *cache);

/* Where the file with this sha256 lives (or would live). */
char *dos_cache_path(const struct dos_cache *cache, const char *sha256);
bool dos_cache_has(const struct dos_cache *cache, const char *sha256);

/* Copies src_path into the cache when its content has expected_sha256;
 * DOS_ECHECKSUM (and nothing in the cache) otherwise. */
int dos_cache_insert_file(struct dos_ctx *ctx, struct dos_cache *cache, const char *src_path,
			  const char *expected_sha256);

/* A streaming writer into the cache: bytes go to a temporary file, hashed
 * on the way; commit verifies them and only then gives the final name. */
struct dos_cache_writer;

/* sha256 NULL: stored under the digest of what is written (unverified);
 * size 0: unknown. With a known size, writing past it fails at once. */
int dos_cache_writer_open(struct dos_ctx *ctx, struct dos_cache *cache, const char *sha256,
			  uint64_t size, struct dos_cache_writer **out);
int dos_cache_writer_write(struct dos_ctx *ctx, struct dos_cache_writer *w, const void *data,
			   size_t len);
/* Verifies and moves into the cache; frees w. On a mismatch returns
 * DOS_ECHECKSUM with "sha256 mismatch (expected X, got Y)" or "size
 * mismatch (...)", for the caller to prefix with the object's name.
 * path_out (may be NULL) receives the cache path. */
int dos_cache_writer_commit(struct dos_ctx *ctx, struct dos_cache_writer *w, char **path_out);
/* Drops the temporary file; frees w. NULL is fine. */
void dos_cache_writer_abort(struct dos_cache_writer *w);

struct dos_fetch_item {
	const char *url;     /* http(s):// or file:// */
	const char *sha256;  /* expected digest; NULL: unverified, stored by digest */
	uint64_t size;       /* expected size; 0: unknown */
	/* What the file is, for messages: a bare file name becomes "package
	 * file 'curl_7.88.1-10_amd64.deb'" (.deb, .rpm) or "file 'x.tar.gz'";
	 * a description holding a quote ("index 'main/...'") is used as is;
	 * NULL: the URL's last component. */
	const char *name;
	char *path;          /* out: the cache path on success */
	int result;          /* out: 0 or a negative code */
	int http_status;     /* out: the last HTTP status seen (0: none, e.g. cached) */
	char *error;         /* out: the message on failure */
};

/* Brings every item into the cache: those already there are not
 * downloaded, the others go through one libcurl multi handle, several at
 * once (ctx->jobs * 2, at most 16), with retries and backoff on transient
 * errors (timeouts, resets, 5xx, truncated bodies), a stall timeout, and
 * verification (a mismatching body is retried once, then reported).
 * progress_label NULL: "downloading". Returns 0 when all succeeded, else
 * the first failed item's code with its message in ctx. */
int dos_fetch_many(struct dos_ctx *ctx, struct dos_cache *cache, struct dos_fetch_item *items,
		   size_t n, const char *progress_label);
/* Frees the out fields of items. */
void dos_fetch_items_release(struct dos_fetch_item *items, size_t n);

/* An unverified download (e.g. an InRelease; at most 256 MiB) written
 * atomically to dest_path, with the same retries. An HTTP error names the
 * URL and the status: "file 'InRelease' from <url>: HTTP 404". */
int dos_fetch_to_file(struct dos_ctx *ctx, const char *url, const char *dest_path);

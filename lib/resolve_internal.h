/* What the two resolver files share; not part of the API (see resolve.h).
 *
 * resolve.c solves and walks the closure; resolve_index.c loads the
 * Debian indices into the pool. They are one module: the only files that
 * include libsolv, and the only ones that include this header. */
#pragma once

#include "resolve.h"

#include <solv/pool.h>

/* What our own scan keeps for each package, indexed by solvable id. */
struct pkg_extra {
	uint64_t size;
	Id source_name;   /* 0: the package's own name */
	Id source_evr;    /* 0: the package's own version */
	Id location;      /* Filename:, as the index has it (0: libsolv's location) */
	bool has_sha256;
	char sha256[DOS_SHA256_HEX];
};

/* Each repository's appdata. */
struct repo_info {
	char *name;
	char *base_url;   /* without a trailing slash */
};

struct dos_resolver {
	struct dos_ctx *ctx;
	Pool *pool;
	struct pkg_extra *extra;  /* pool->nsolvables entries */
	size_t nextra;
	struct dos_strv repo_names;
	bool dirty;               /* whatprovides must be rebuilt */
	bool rpm;                 /* the rpm backend: DISTTYPE_RPM */
};

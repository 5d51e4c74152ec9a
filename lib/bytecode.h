/* The bundle's Python bytecode (step 6, after relocation): every module
 * compiled by the bundle's own Python, so that a start from a read-only
 * file system (CVMFS) does not compile what it imports, every time.
 *
 * Relocation removed whatever bytecode the packages and pip left (stale or
 * for another Python). Then the bundle's python3.X runs `compileall` in a
 * sandboxed build root, over usr/lib/python3.X and usr/lib/python3/
 * dist-packages, with the "unchecked-hash" invalidation mode: the .pyc
 * files name no modification time, Python never compares them with their
 * source (nothing to stat, valid wherever the bundle is mounted), and they
 * record the module's path as /usr/lib/... (not the build path). One
 * process, sorted order and PYTHONHASHSEED=0 make them byte-identical from
 * build to build. */
#pragma once

#include "config.h"
#include "context.h"
#include "util.h"

#include <stdint.h>

struct dos_bytecode_report {
	char *python;                 /* "usr/bin/python3.11"; NULL: the bundle has no Python */
	uint64_t compiled;            /* .pyc files written */
	struct dos_strv failed;       /* sources that do not compile ("usr/lib/.../x.py") */
};

/* Compiles the modules of the bundle at root (its build-time path), or
 * only the sources in only (absolute paths under root; an extension's new
 * modules). Logs to <workDir>/logs/bytecode.log. A source that does not
 * compile (Python 2 syntax in a test file, say) is listed, not an error. */
int dos_bytecode_compile(struct dos_ctx *ctx, const struct dos_config *cfg, const char *root,
			 const struct dos_strv *only, struct dos_bytecode_report *rep);
void dos_bytecode_report_release(struct dos_bytecode_report *rep);

/* The bundle's Python: "usr/bin/python3.X" for the highest X the bundle
 * ships as an executable file (or a link to one inside it); NULL when
 * none. */
char *dos_bytecode_find_python(const char *root);

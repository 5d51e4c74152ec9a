/* What testrun.c (the matrix of tests by platform) and testrun_bundle.c
 * (the bundle under test, unpacked when a tarball) share; not part of the
 * API (see testrun.h). */
#pragma once

#include "testrun.h"

struct bundle {
	char *top;        /* the top folder (absolute, symlinks resolved) */
	char *tmp;        /* our temporary folder: the unpacked tarball, root instances */
};

/* The bundle given (a tarball, or the top folder holding diracosrc): b->top
 * its top folder, b->tmp a new temporary folder (that also holds the root
 * instances). testrun_bundle_close removes the temporary folder. */
int testrun_bundle_open(struct dos_ctx *ctx, const char *given, struct bundle *b);
void testrun_bundle_close(struct dos_ctx *ctx, struct bundle *b);

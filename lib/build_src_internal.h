/* What build_src.c (building a distribution source package) and
 * build_src_pick.c (choosing its stanza when the plan is made) share; not
 * part of the API (see build.h). */
#pragma once

#include "build.h"

#include <stdbool.h>

/* The option a package's pinned choice is kept in. */
#define SRC_RESOLVED "srcResolved"

/* Whether a source package's file name is its .dsc. */
bool build_src_is_dsc(const char *name);
/* The error for a spec no index had. */
int build_src_pick_missing(struct dos_ctx *ctx, const struct dos_config *cfg,
			   const struct dos_build_src_spec *s);
/* A pinned choice read back from dos_build_src_pick_json's object,
 * checking everything again: options are the user's too. */
int build_src_pick_from_json(struct dos_ctx *ctx, const json_t *j,
			     struct dos_build_src_pick *pick);
/* The parsed "src" of package p (a .deb platform's; a .src.rpm is
 * build_rpm.c's). */
int build_src_spec_of(struct dos_ctx *ctx, const struct dos_config *cfg,
		      const struct dos_package *p, struct dos_build_src_spec *spec);

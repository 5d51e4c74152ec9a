/* Step 4a for platform.backend "rpm" (see assemble_rpm.c). */
#pragma once

#include "assemble.h"

/* Adds the local repository (when createrepo_c made one in cfg->repo) and
 * the distribution's rpm-md repositories to as->resolver, which
 * dos_assemble_resolve made for the rpm backend. */
int dos_assemble_rpm_repos(struct dos_ctx *ctx, const struct dos_config *cfg,
			   struct dos_assembly *as);

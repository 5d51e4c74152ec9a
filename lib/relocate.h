/* The finalize pass over a bundle root (a folder laid out like /): what
 * makes the tree relocatable and self-contained.
 *
 * In order: removed folders and Python bytecode go; symlinks are made
 * relative when their target is in the bundle, replaced by a copy when it
 * is a regular file only the host has, removed (and listed) otherwise; hard
 * links become separate files; setuid/setgid bits are cleared; every
 * dynamic ELF file whose needed libraries are in the bundle gets an
 * $ORIGIN-relative DT_RPATH (in worker threads); scripts whose #! names an
 * interpreter the bundle ships (python, perl, bash) start it relative to
 * their own location. */
#pragma once

#include "context.h"
#include "util.h"

#include <stdint.h>

struct dos_relocate_opts {
	const char *root;                       /* the bundle's top folder */
	const struct dos_strv *removed_folders; /* relative to root; may be NULL */
	/* Where the bundle lived at build time (may be NULL): link targets and
	 * #! interpreters under it, or under root, are taken as bundle paths. */
	const char *build_prefix;
	int threads;                            /* ELF workers; 0: ctx->jobs */
};

/* Every path listed is relative to the root ("usr/bin/foo"), sorted. */
struct dos_relocate_report {
	struct dos_strv removed;          /* removed_folders that were there */
	struct dos_strv broken_links;     /* removed: their target is nowhere */
	struct dos_strv copied_links;     /* replaced by a copy of the host's file */
	struct dos_strv relinked;         /* made relative */
	struct dos_strv hardlinks_split;  /* now a file of their own */
	struct dos_strv setuid_cleared;
	struct dos_strv scripts_fixed;    /* #! made relocatable */
	struct dos_strv rpath_failed;     /* "path: reason" */
	uint64_t bytecode_removed;        /* __pycache__ folders, .pyc and .pyo files */
	uint64_t elf_files;               /* ELF files seen */
	uint64_t rpaths_set;              /* ELF files rewritten */
};

/* Runs the pass; rep is initialized here. Per-file ELF failures are listed
 * in rep->rpath_failed and do not stop it; file system errors do. Release
 * rep afterwards, also on failure. A link may bring in a host file only
 * when it is a regular, world-readable file outside /proc, /sys, /dev and
 * /run. A python script with a docstring and a __future__ import keeps
 * its #! line (a warning says so): the polyglot line would break it. */
int dos_relocate_tree(struct dos_ctx *ctx, const struct dos_relocate_opts *o,
		      struct dos_relocate_report *rep);

void dos_relocate_report_release(struct dos_relocate_report *rep);

/* The relative path from folder `from` to `to`, both relative to the same
 * root and normalized ("" is the root): "../lib" from "usr/bin" to
 * "usr/lib". "." when they are the same. */
char *dos_relocate_relpath(const char *from, const char *to);

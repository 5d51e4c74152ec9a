/* Unpacking Debian binary packages (and RPM packages: their cpio payload,
 * see extract_rpm.c) into a bundle root, in parallel.
 *
 * Every archive is hostile: files are written relative to an open folder of
 * the root, one component at a time and never through a symlink; absolute
 * paths, `..`, device nodes and truncated payloads are refused; setuid and
 * setgid bits are cleared (and listed); owners are ignored; hard links
 * become copies. A path shipped by two packages keeps the version of the
 * package that comes first in the input, whatever the thread scheduling,
 * and differing contents are listed as conflicts. */
#pragma once

#include "context.h"
#include "util.h"

#include <stddef.h>
#include <stdint.h>

struct dos_extract_pkg {
	const char *name;       /* package name (":arch" allowed), for messages */
	const char *path;       /* the .deb file (or .rpm: told by its magic) */
};

/* From `update-alternatives --install LINK NAME PATH PRIORITY [--slave
 * LINK NAME PATH]...` in a preinst or postinst. A slave follows its master:
 * it comes right after it in the list, with the master's priority. */
struct dos_alternative {
	char *link;             /* absolute, as written in the script */
	char *name;
	char *path;             /* absolute */
	long priority;
	char *package;
	char *master;           /* NULL for a master; the master's name for a slave */
};

/* A path two packages ship with different contents (or types); the file on
 * disk is first_pkg's, first_pkg coming earlier in the input. */
struct dos_conflict {
	char *path;
	char *first_pkg;
	char *second_pkg;
};

/* An entry worth telling about: a setuid/setgid one extracted without the
 * bits, or a device node, FIFO or socket not extracted. */
struct dos_extract_note {
	char *path;             /* relative to the root */
	char *package;
	unsigned mode;          /* the archive's mode, type bits included */
};

struct dos_extracted_pkg {
	char *name;
	/* The License of the first "Files: *" paragraph (else of the header) of
	 * a machine-readable usr/share/doc/<pkg>/copyright, first line only;
	 * NULL when there is none. */
	char *license;
	/* Everything it ships (folders, files, symlinks), relative, sorted; a
	 * path lost in a conflict is listed too. */
	struct dos_strv paths;
};

struct dos_extract_result {
	struct dos_alternative *alternatives;   /* in input order */
	size_t n_alternatives;
	struct dos_conflict *conflicts;         /* sorted by path */
	size_t n_conflicts;
	struct dos_extract_note *setids;        /* extracted with S_ISUID/S_ISGID cleared */
	size_t n_setids;
	struct dos_extract_note *skipped;       /* special files, not extracted */
	size_t n_skipped;
	uint64_t files, bytes;                  /* regular files and bytes the packages hold */
	struct dos_extracted_pkg *pkgs;         /* one per input, in input order */
	size_t n_pkgs;
};

/* Extracts the n packages into root (created when missing) with `threads`
 * workers (<= 0: ctx->jobs). The first error stops the others and is
 * returned, naming the package and its file; *out is then empty, and what
 * was written stays in root. Folder modes and mtimes are set at the end.
 * What an earlier run left at a shipped path is taken over (a plain file
 * with one link is written over in place where its bytes differ; a link
 * with the same target is kept) or replaced; nothing is written through a
 * link. Paths no package ships are the caller's to prune. */
int dos_extract_debs(struct dos_ctx *ctx, const char *root, const struct dos_extract_pkg *pkgs,
		     size_t n, int threads, struct dos_extract_result *out);
void dos_extract_result_release(struct dos_extract_result *r);

/* Creates the alternatives as relative symlinks inside root: for each
 * name, the master with the highest priority wins (ties: the first seen),
 * with its slaves. A link whose place holds a file or folder is left alone
 * (with a warning). Returns the number of links created. */
int dos_extract_apply_alternatives(struct dos_ctx *ctx, const char *root,
				   const struct dos_extract_result *r);

/* Parsers, exposed for the tests. */

/* Appends the alternatives a maintainer script installs to *alts (empty,
 * or grown only by this function), with `package` recorded in each.
 * Commands whose arguments hold `$` or a backquote are skipped. */
void dos_extract_parse_alternatives(const char *script, const char *package,
				    struct dos_alternative **alts, size_t *n);
/* The short license name of a machine-readable copyright file, or NULL. */
char *dos_extract_parse_license(const char *copyright);

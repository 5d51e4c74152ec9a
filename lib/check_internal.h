/* What the check files share; not part of the API (see check.h).
 *
 * check.c holds the entries (a tree sorted by path, looked up as the kernel
 * would), the settings (tests and build paths) and the checks themselves;
 * check_read.c gathers the entries and looks at each regular file's
 * content once, from an unpacked bundle's folder or from a tarball's
 * stream. */
#pragma once

#include "check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dos_elf_info;

enum leak_level { LEAK_NONE, LEAK_WORK, LEAK_BUNDLE };

struct centry {
	char *path;                /* relative to the top folder */
	char *target;              /* symlink target; hard link target (tarball) */
	uint64_t size, tree_bytes;
	uint32_t mode, nlink;
	size_t seq;                /* order of arrival: of duplicates the last wins */
	bool hardlink, is_elf, rescan;
	uint8_t leak;
	char *interp;              /* an executable script's #! interpreter */
	struct dos_elf_info *elf;
	char *error;               /* why the ELF file could not be parsed or read */
	bool unreadable;
};

struct tree {
	struct centry *v;
	size_t n, alloc;
};

struct leaks {
	char *work, *bundle;       /* the bundle's build path starts with work */
	size_t work_len, bundle_len;
};

struct deferred {
	size_t idx;
	uint8_t *buf;
	size_t len;
};

struct scan {
	struct dos_ctx *ctx;
	const struct dos_check_opts *opts;
	struct dos_check_report *rep;
	struct tree t;
	char *top;
	struct dos_tests own;      /* from the bundle's diracos.json */
	const struct dos_tests *tests;
	bool settled;              /* tests and build paths are known */
	struct leaks lk;
	char *broken_txt;          /* brokenLinks.txt */
	bool *broken_used, *missing_used;
	struct deferred *deferred;
	size_t n_deferred, deferred_bytes;
	bool need_rescan;
	bool has_rc;               /* a diracosrc at the top */
};

/* A path under the top folder built one component at a time. */
struct pathbuf {
	char *s;
	size_t len;
};

/* --- the entries and the settings (check.c) --- */

/* Appends an entry (path is taken); returns its index. */
size_t check_tree_push(struct tree *t, char *path, uint32_t mode, uint64_t size);
void check_pathbuf_push(struct pathbuf *b, const char *comp, size_t n);
/* Called once the top folder is known. */
void check_settings_from_opts(struct scan *sc);
/* After the whole bundle was read: what no diracos.json said. */
void check_settings_finish(struct scan *sc);
/* diracos.json and brokenLinks.txt at the top, which check reads itself. */
bool check_special_file(const char *path);
void check_special_file_take(struct scan *sc, const char *path, const uint8_t *buf, size_t len);

/* --- the readers (check_read.c) --- */

/* Gathers the entries of the unpacked bundle whose top folder is dir. */
int check_folder_read(struct scan *sc, const char *dir);
/* Gathers the entries of the tarball sc->opts->bundle. */
int check_tar_read(struct scan *sc);

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
struct pyfile;

#define CHECK_PY_VERSIONS 6      /* Python 3.8 to 3.13: magic numbers known */

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
	struct pyfile *py;         /* a Python source or __pycache__ .pyc (check_python.c) */
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
	uint32_t py_bins;          /* Pythons of usr/bin seen, as check_python.c's table bits */
	bool *no_bytecode_used;
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

/* The regular file at path (a tarball's hard link followed), NULL when
 * there is none; the entry path leads to, every link followed. */
const struct centry *check_tree_file(const struct scan *sc, const char *path);
const struct centry *check_tree_resolve(const struct scan *sc, const char *path);
/* Appends a finding (detail is taken). */
void list_push_item(struct dos_check_list *l, const char *path, char *detail);

/* --- Python bytecode (check_python.c) --- */

/* The table bit of a usr/bin/python3.X path, -1 for other paths. */
int check_py_bin_index(const char *path);
/* A regular file's content, as it comes: begin (bins: the Pythons known
 * so far, 0 for all), feed, end. Files that are neither a module source
 * nor a __pycache__ .pyc are left alone. */
void check_py_begin(struct centry *e, uint32_t bins);
void check_py_feed(struct centry *e, const uint8_t *buf, size_t n);
void check_py_end(struct centry *e);
void check_py_release(struct centry *e);
/* The check, over the sorted entries. */
void check_python(struct scan *sc);

/* --- the readers (check_read.c) --- */

/* Gathers the entries of the unpacked bundle whose top folder is dir. */
int check_folder_read(struct scan *sc, const char *dir);
/* Gathers the entries of the tarball sc->opts->bundle. */
int check_tar_read(struct scan *sc);

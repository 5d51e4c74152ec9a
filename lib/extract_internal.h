/* What the extract files share; not part of the API (see extract.h).
 *
 * extract.c reads the packages and runs the workers; extract_paths.c owns
 * the paths of the bundle root: clean names, folders opened without
 * following symlinks, and the table of which package ships what;
 * extract_scripts.c reads what maintainer scripts and copyright files say,
 * and makes the alternatives' links; extract_place.c places one entry
 * under the path table's rules. */
#pragma once

#include "deb_reader.h"
#include "extract.h"
#include "progress.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct archive;
struct archive_entry;

#define NO_OWNER SIZE_MAX

/* Appends a zeroed element to an array grown only by this function. */
void *extract_vec_push(void *pv, size_t *n, size_t size);

/* --- reading a .deb (extract.c) --- */

struct rpm_links;

/* A .deb, or an .rpm (rpm set: inner reads its cpio payload directly). */
struct deb {
	struct dos_deb_reader ar;  /* rpm: only ar.fd and ar.inner */
	int members;
	char member[64];
	bool rpm;
	struct rpm_links *links;   /* rpm: hard-link sets held back */
};

/* Opens the current member as a tar stream, without a temporary file. */
int extract_deb_inner_open(struct dos_ctx *ctx, struct deb *d);
/* 1 with the next entry, 0 at the end. */
int extract_deb_inner_next(struct dos_ctx *ctx, struct deb *d, struct archive_entry **ae);
void extract_deb_inner_close(struct deb *d);

/* --- reading an .rpm (extract_rpm.c) --- */

/* Whether the file starts with rpm's lead magic. */
bool extract_is_rpm(const char *path);
/* Opens the payload as d->inner; the caller closes d as a .deb's. */
int extract_rpm_open(struct dos_ctx *ctx, struct deb *d, const char *path);
/* As extract_deb_inner_next, hard-link sets given content first. */
int extract_rpm_next(struct dos_ctx *ctx, struct deb *d, struct archive_entry **ae);
void extract_rpm_close(struct deb *d);

/* --- clean paths and folders (extract_paths.c) --- */

enum clean_err { CLEAN_ABSOLUTE = -1, CLEAN_DOTDOT = -2, CLEAN_LONG = -3, CLEAN_NEWLINE = -4 };

const char *extract_clean_why(int e);
/* Turns an archive name into a clean relative path: a leading "./", and
 * "." or empty components, dropped. Returns its length (0 for the root
 * itself) or a negative clean_err. */
int extract_path_clean(const char *raw, char out[PATH_MAX]);

/* Folders opened from the root one component at a time, with the last
 * one kept open: archives list a folder's files together. */
struct tree {
	struct dos_ctx *ctx;
	int rootfd;
	char *dir_path;
	int dir_fd;
};

void extract_tree_init(struct tree *t, struct dos_ctx *ctx, int rootfd);
void extract_tree_release(struct tree *t);
/* The folder holding path's last component (*leaf), created when missing,
 * never reached through a symlink. The fd belongs to the tree: valid until
 * its next call. */
int extract_tree_parent(struct tree *t, const char *path, const char **leaf);

/* --- the path table: open addressing, entries never move (extract_paths.c) --- */

enum kind { K_DIR = 1, K_FILE, K_LINK };

struct shipper {
	size_t pkg;
	enum kind kind;
	char digest[DOS_SHA256_HEX];
};

struct pentry {
	uint64_t hash;
	enum kind kind;            /* what is on disk */
	bool writing;              /* its owner is writing it in place */
	size_t owner;              /* the package whose version is on disk */
	mode_t mode;               /* folders: the owner's, applied at the end */
	struct timespec mtime;
	struct shipper *ship;      /* files and symlinks: each package shipping it */
	size_t n_ship;
	char path[];
};

struct ptab {
	struct pentry **slots;
	size_t cap, n;
};

uint64_t extract_path_hash(const char *s);
struct pentry *extract_ptab_find(const struct ptab *t, const char *path, uint64_t h);
/* A new entry without an owner (NO_OWNER). */
struct pentry *extract_ptab_add(struct ptab *t, const char *path, uint64_t h);
void extract_ptab_release(struct ptab *t);
struct shipper *extract_ship_find(struct pentry *e, size_t pkg);
/* Gives folders their owner's mode and mtime. */
int extract_dirs_finish(struct dos_ctx *ctx, const struct ptab *t, int rootfd);
/* Fills out->conflicts from the paths shipped twice; pkgs names them. */
void extract_conflicts_build(const struct ptab *t, const struct dos_extract_pkg *pkgs,
			     struct dos_extract_result *out);
void extract_notes_release(struct dos_extract_note *v, size_t n);

/* --- maintainer scripts (extract_scripts.c) --- */

/* Reads preinst and postinst from the control member d is at, appending
 * the alternatives they install to *alts. Errors go to ctx; warnings to
 * warn, the caller's. */
int extract_control_read(struct dos_ctx *ctx, struct dos_ctx *warn, struct deb *d,
			 const char *package, struct dos_alternative **alts, size_t *n);
void extract_alternative_release(struct dos_alternative *a);

/* --- the state workers share, and each worker's own (extract.c) --- */

#define EXTRACT_COPY_BLOCK (1 << 20)          /* hard link copies are read in blocks this big */
#define EXTRACT_LINK_TARGET_MAX 4095

struct pkg_out {
	struct dos_strv paths;
	char *license;
	struct dos_alternative *alts;
	size_t n_alts;
	struct dos_extract_note *setids, *skipped;
	size_t n_setids, n_skipped;
	uint64_t files, bytes;
};

struct shared {
	struct dos_ctx *ctx;             /* the caller's: warnings only */
	int rootfd;
	const struct dos_extract_pkg *pkgs;
	size_t n, next;
	size_t *order;                   /* biggest files first */
	struct pkg_out *outs;
	struct ptab tab;
	pthread_mutex_t lock;            /* guards tab, next, stop and the error */
	pthread_cond_t written;          /* an entry stopped being written */
	bool stop;
	int err_code;
	char err_msg[DOS_ERRMSG_MAX];
	struct dos_progress progress;
};

struct worker {
	struct shared *sh;
	struct dos_ctx ctx;              /* this worker's errors */
	struct tree tree;
	int id;
	size_t idx;                      /* the package being extracted */
	const struct dos_extract_pkg *pkg;
	struct pkg_out *out;
	char *copyright;                 /* usr/share/doc/<pkg>/copyright */
	unsigned tmp_seq;
	char *copy_buf;                  /* hard link copies */
	char *cmp_buf;                   /* an earlier run's content, compared */
};

static inline bool extract_stopped(struct shared *sh)
{
	return __atomic_load_n(&sh->stop, __ATOMIC_RELAXED);
}

/* --- one entry placed under the table's rules (extract_place.c) --- */

struct source {
	struct archive *a;         /* the current entry's data, or */
	int fd;                    /* a file's (hard link copies) */
	char *buf;
	int64_t pos;
};

struct item {
	const char *rel;
	enum kind kind;
	mode_t mode;
	struct timespec mtime;
	int64_t size;
	const char *target;        /* symlinks */
	struct source src;         /* files */
	bool capture;              /* keep the start of the content */
	char *captured;
	size_t n_captured;
};

/* Places it (content from it->src for a file) at it->rel. */
int extract_item_place(struct worker *w, struct item *it);

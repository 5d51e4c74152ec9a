/* Reproducible tarballs of a bundle tree, written with libarchive.
 *
 * The same tree packs to the same bytes whatever the file times, owners,
 * the order the file system lists folders in, the locale, or the number of
 * threads. Each tarball holds one top folder (the bundle's name), then every
 * entry of the tree sorted bytewise by path, written as restricted pax
 * (plain ustar headers; a pax header only where ustar cannot say it, e.g. a
 * name longer than 100 bytes, and that header's own name, time and owner are
 * fixed too: "<dir>/PaxHeader/<name>", no pid) with:
 *   - mtime: the given epoch, no sub-second part, no atime, ctime or
 *     birth time;
 *   - uid and gid 0 and no user or group names, as GNU tar's
 *     --numeric-owner writes them: the unpacking user owns everything;
 *   - the permission bits 0777 only: setuid, setgid and sticky bits are
 *     dropped, a relocatable user-unpacked bundle has no use for them;
 *   - no extended attributes, ACLs or file flags.
 * Only folders, regular files and symlinks may be in the tree: a hard link
 * (a regular file with more than one link) or a device, fifo or socket is
 * an error naming it. */
#pragma once

#include "context.h"
#include "util.h"

#include <stdint.h>

struct dos_pack_opts {
	const char *root;          /* the tree to pack */
	const char *top;           /* the top folder inside the tarball, e.g. "diracos" */
	const char *out_dir;       /* where tarballs go (must exist) */
	const char *basename;      /* "NAME-VERSION-ARCH": <out_dir>/<basename>.tar.zst/.gz/.xz */
	const struct dos_strv *compression;  /* "zstd", "gzip", "xz": one tarball each */
	int64_t mtime;             /* the mtime of every entry (SOURCE_DATE_EPOCH) */
	int threads;               /* compression threads for zstd and xz (<1: 1) */
	int zstd_level;            /* 1 to 19; 0: DOS_PACK_ZSTD_LEVEL */
};

/* zstd's own default, and what `zstd -T2` writes. CVMFS stores files
 * unpacked, so the time to make a tarball matters more than its size: on
 * the 225 MB tree of 134 Debian packages of bench/bundle, on 2 cores,
 * level 3 packs it in 0.65 s to 71 MB, level 9 in 3 s to 55 MB (on a 530 MB
 * tree with Python: 174 MB in 3 s against 145 MB in 12 s). */
#define DOS_PACK_ZSTD_LEVEL 3
/* gzip is the slow one (single-threaded, the critical path of packing).
 * On the default bundle (295 MB of tar): -6 took 44 s for 104 MB, -3 22 s
 * for 110 MB, -1 17 s for 115 MB (2 loaded cores): -3 halves the time for
 * 6 % more bytes. */
#define DOS_PACK_GZIP_LEVEL 3

struct dos_pack_result {
	struct dos_strv paths;     /* the tarballs written, in the order requested */
	uint64_t *sizes;           /* their sizes in bytes, one per path */
	uint64_t files;            /* entries in each tarball, the top folder included */
	uint64_t bytes;            /* bytes of regular file content in each tarball */
};

/* Packs o->root into one tarball per compression, in parallel (one thread
 * per tarball). Each is written under a temporary name in out_dir
 * (".<name>.tmp-XXXXXX"), synced, and renamed into place only when every
 * requested tarball was written whole; on any error no temporary is left
 * and no file is created under a final name. */
int dos_pack(struct dos_ctx *ctx, const struct dos_pack_opts *o, struct dos_pack_result *res);
void dos_pack_result_release(struct dos_pack_result *r);

/* SOURCE_DATE_EPOCH from the environment when it is set and a valid
 * non-negative decimal number of seconds, else fallback. */
int64_t dos_pack_source_date_epoch(int64_t fallback);

/* The file name suffix of a compression ("tar.zst" for "zstd"), or NULL
 * when the name is not one we write. */
const char *dos_pack_suffix(const char *compression);

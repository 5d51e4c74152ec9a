/* Entries of an archive unpacked below a folder (build.c's sources,
 * rootfs.c's cached roots, testrun.c's bundles): each caller decides which
 * entries it takes; these helpers keep every path inside the folder. */
#pragma once

struct archive;
struct archive_entry;
struct dos_ctx;

/* libarchive's message for a's last error, never NULL. */
const char *dos_untar_error(struct archive *a);
/* An entry's path relative to the folder ("./usr/bin" -> "usr/bin"), ""
 * for the folder itself ("." or "./"), NULL when it would leave it (an
 * absolute path, a ".." component). */
const char *dos_untar_rel(const char *path);
/* Points e at root/<its path>, and a hard link's target at root/<target>;
 * the caller has checked that dos_untar_rel accepts both. */
void dos_untar_place(struct archive_entry *e, const char *root);
/* Copies the current entry's data from in to out: ARCHIVE_OK, ARCHIVE_FAILED
 * when a write failed, else the failed read's status. */
int dos_untar_data(struct archive *in, struct archive *out);

/* What becomes of entry e: 0 to write it (the callback has placed it below
 * the folder, as with dos_untar_place), 1 to skip it, or a negative error. */
typedef int (*dos_untar_place_fn)(struct dos_ctx *ctx, struct archive_entry *e, void *arg);
/* Writes the entries of in that place keeps to out, with their data. A
 * failure names what ("tarball 'x'") and the entry: "<what>: entry '<name>':
 * <libarchive's message>", or "<what>: <message>" for a failed read. */
int dos_untar_entries(struct dos_ctx *ctx, struct archive *in, struct archive *out,
		      const char *what, dos_untar_place_fn place, void *arg);

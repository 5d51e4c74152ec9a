/* A Debian archive's signed indices (InRelease, Packages, Sources), and
 * the control-file format they are written in. */

#ifndef DOS_DIST_H
#define DOS_DIST_H

#include "context.h"
#include "fetch.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- control files: stanzas of "Field: value" lines, continuation lines
 * starting with a space or tab, stanzas separated by blank lines --- */

struct dos_control_field {
	char *name;
	/* The first line's text, then each continuation line (its first blank
	 * removed) after a newline; a field whose first line is empty (as
	 * SHA256: in a Release file) starts with its first continuation. */
	char *value;
	size_t len;
	size_t alloc;        /* internal */
};

struct dos_control {
	struct dos_control_field *fields;
	size_t n, alloc;
	size_t line;         /* where the stanza starts, from 1 */
};

struct dos_control_parser {
	const char *data;
	size_t len, pos;
	size_t line;         /* lines read so far */
	const char *what;    /* names the input in errors, e.g. "file 'Packages'" */
};

/* data need not be NUL-terminated; it must outlive the parser. */
void dos_control_parser_init(struct dos_control_parser *p, const char *data, size_t len,
			     const char *what);
/* Reads the next stanza into c (emptied first): 1 when one was read, 0 at
 * the end, a negative code (DOS_EFORMAT, naming the input and the line) on
 * malformed input: a line without a colon, a NUL byte, a continuation
 * without a field, a field of more than 64 MiB. Lines starting with '#'
 * are comments. */
int dos_control_parse_next(struct dos_ctx *ctx, struct dos_control_parser *p,
			   struct dos_control *c);
/* The value of a field (names compare case-insensitively), or NULL. */
const char *dos_control_get(const struct dos_control *c, const char *name);
void dos_control_release(struct dos_control *c);

/* --- archives --- */

#define DOS_DEBIAN_KEYRING "/usr/share/keyrings/debian-archive-keyring.gpg"

/* One line of the SHA256 section of a Release file. */
struct dos_archive_file {
	char *path;          /* relative to dists/<suite>/ */
	char sha256[DOS_SHA256_HEX];
	uint64_t size;
};

struct dos_archive {
	struct dos_cache *cache;   /* borrowed */
	char *mirror;              /* base URI, no trailing slash */
	char *suite;
	char *inrelease_url;
	char *inrelease_path;      /* the verified InRelease, kept in <cache>/indices */
	bool unchanged;            /* the same InRelease as last time */
	char *codename;            /* Codename: (may be NULL) */
	int64_t date;              /* Date:, seconds since the epoch (0: absent) */
	int64_t valid_until;       /* Valid-Until: (0: absent) */
	bool by_hash;              /* Acquire-By-Hash: yes */
	unsigned flags;            /* DOS_ARCHIVE_* given to open */
	struct dos_archive_file *files;
	size_t n_files;
};

/* Downloads <mirror>/dists/<suite>/InRelease, verifies it with gpgv against
 * keyring (NULL: DOS_DEBIAN_KEYRING), refuses files with more than one
 * signed block or any text outside it, and reads the signed text's SHA256
 * list, Date and Valid-Until (an expired InRelease is refused unless
 * DIRACOS_CHECK_VALID_UNTIL=0, for snapshot mirrors). A bad signature
 * gives DOS_ESIGNATURE naming the URL and gpgv's complaint. */
int dos_archive_open(struct dos_ctx *ctx, struct dos_cache *cache, const char *mirror,
		     const char *suite, const char *keyring, struct dos_archive **out);

/* DIRACOS_CHECK_VALID_UNTIL=0: expired and older InRelease files are
 * accepted (snapshot mirrors), here and by apt in the build roots. */
bool dos_archive_valid_until_ignored(void);

enum {
	/* The caller takes only files whose sha256 it pins itself (a source
	 * with "sha256" in the configuration). Valid-Until guards against an
	 * old index replayed to serve old files; a pinned hash refuses any
	 * other file already, so an expired InRelease is a warning, not an
	 * error: a pinned source stays buildable from a frozen mirror. */
	DOS_ARCHIVE_PINNED = 1u << 0,
};
int dos_archive_open_flags(struct dos_ctx *ctx, struct dos_cache *cache, const char *mirror,
			   const char *suite, const char *keyring, unsigned flags,
			   struct dos_archive **out);
void dos_archive_free(struct dos_archive *a);

/* The SHA256 entry for a path such as "main/binary-amd64/Packages.xz". */
const struct dos_archive_file *dos_archive_find(const struct dos_archive *a, const char *path);

/* The path (in the cache, keyed by its sha256 from InRelease) of the
 * decompressed <component>/binary-<arch>/Packages: fetched as .xz, else
 * .gz, else uncompressed, verified, decompressed and verified again. Not
 * downloaded at all when the cache already holds it. *path_out is the
 * caller's to free. */
int dos_archive_packages_index(struct dos_ctx *ctx, struct dos_archive *a, const char *component,
			       const char *arch, char **path_out);
/* The same for <component>/source/Sources. */
int dos_archive_sources_index(struct dos_ctx *ctx, struct dos_archive *a, const char *component,
			      char **path_out);

#endif /* DOS_DIST_H */

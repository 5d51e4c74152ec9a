/* Entries of an archive unpacked below a folder. See untar.h. */
#include "untar.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

const char *dos_untar_error(struct archive *a)
{
	const char *s = archive_error_string(a);

	return s ? s : "unknown libarchive error";
}

const char *dos_untar_rel(const char *p)
{
	const char *c;

	if (!p || p[0] == '/')
		return NULL;
	while (p[0] == '.' && (p[1] == '/' || p[1] == '\0'))
		p += p[1] ? 2 : 1;
	for (c = p; *c; c = *c ? c + 1 : c) {
		size_t n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return NULL;
		c += n;
	}
	return p;
}

void dos_untar_place(struct archive_entry *e, const char *root)
{
	const char *link = archive_entry_hardlink(e);
	char *full = dos_path_join(root, dos_untar_rel(archive_entry_pathname(e)));

	archive_entry_set_pathname(e, full);
	free(full);
	if (link) {
		full = dos_path_join(root, dos_untar_rel(link));
		archive_entry_set_hardlink(e, full);
		free(full);
	}
}

int dos_untar_data(struct archive *in, struct archive *out)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
		if (archive_write_data_block(out, buf, len, off) < ARCHIVE_OK)
			return ARCHIVE_FAILED;
	return r == ARCHIVE_EOF ? ARCHIVE_OK : r;
}

int dos_untar_entries(struct dos_ctx *ctx, struct archive *in, struct archive *out,
		      const char *what, dos_untar_place_fn place, void *arg)
{
	struct archive_entry *e;
	int r, p;

	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		/* The name as the archive gives it: place changes it. */
		_cleanup_free_ char *shown = dos_xstrdup(archive_entry_pathname(e) ?: "");
		if ((p = place(ctx, e, arg)) < 0)
			return p;
		if (p > 0)
			continue;
		if (archive_write_header(out, e) < ARCHIVE_OK || dos_untar_data(in, out) < ARCHIVE_OK ||
		    archive_write_finish_entry(out) < ARCHIVE_OK)
			return dos_error(ctx, DOS_EFORMAT, "%s: entry '%s': %s", what, shown,
					 archive_error_string(out) ?: archive_error_string(in));
	}
	if (r != ARCHIVE_EOF)
		return dos_error(ctx, DOS_EFORMAT, "%s: %s", what, archive_error_string(in));
	return 0;
}

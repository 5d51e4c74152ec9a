/* Reading a .deb's members as streams. See deb_reader.h. */
#include "deb_reader.h"
#include "untar.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define READ_BLOCK (1 << 20)          /* the .deb is read in blocks this big */

/* libarchive's read callback for the inner archive: the outer one's data. */
static la_ssize_t member_read(struct archive *a, void *data, const void **buf)
{
	struct dos_deb_reader *r = data;
	size_t size;
	la_int64_t off;
	int e = archive_read_data_block(r->outer, buf, &size, &off);

	if (e == ARCHIVE_EOF)
		return 0;
	if (e != ARCHIVE_OK) {
		archive_set_error(a, EIO, "%s", dos_untar_error(r->outer));
		return -1;
	}
	return (la_ssize_t)size;
}

int dos_deb_reader_open(struct dos_ctx *ctx, struct dos_deb_reader *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open");
	r->outer = archive_read_new();
	if (!r->outer)
		return dos_error(ctx, DOS_ENOMEM, "out of memory");
	archive_read_support_format_ar(r->outer);
	if (archive_read_open_fd(r->outer, r->fd, READ_BLOCK) != ARCHIVE_OK)
		return dos_error(ctx, DOS_EFORMAT, "not a Debian package: %s",
				 dos_untar_error(r->outer));
	return 0;
}

void dos_deb_reader_inner_close(struct dos_deb_reader *r)
{
	if (r->inner)
		archive_read_free(r->inner);
	r->inner = NULL;
}

void dos_deb_reader_close(struct dos_deb_reader *r)
{
	dos_deb_reader_inner_close(r);
	if (r->outer)
		archive_read_free(r->outer);
	r->outer = NULL;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

int dos_deb_reader_inner_open(struct dos_ctx *ctx, struct dos_deb_reader *r, const char *member)
{
	dos_deb_reader_inner_close(r);
	r->inner = archive_read_new();
	if (!r->inner)
		return dos_error(ctx, DOS_ENOMEM, "out of memory");
	archive_read_support_format_tar(r->inner);
	/* The compressions dpkg knows, each in-process; support_filter_all
	 * would also accept some through external programs. */
	archive_read_support_filter_gzip(r->inner);
	archive_read_support_filter_xz(r->inner);
	archive_read_support_filter_lzma(r->inner);
	archive_read_support_filter_bzip2(r->inner);
	archive_read_support_filter_zstd(r->inner);
	if (archive_read_open(r->inner, r, NULL, member_read, NULL) != ARCHIVE_OK)
		return dos_error(ctx, DOS_EFORMAT, "%s: truncated or corrupt: %s", member,
				 dos_untar_error(r->inner));
	return 0;
}

int dos_deb_reader_inner_next(struct dos_ctx *ctx, struct dos_deb_reader *r, const char *member,
			      struct archive_entry **ae)
{
	int e = archive_read_next_header(r->inner, ae);

	if (e == ARCHIVE_EOF)
		return 0;
	if (e == ARCHIVE_OK || e == ARCHIVE_WARN)
		return 1;
	return dos_error(ctx, DOS_EFORMAT, "%s: truncated or corrupt: %s", member,
			 dos_untar_error(r->inner));
}

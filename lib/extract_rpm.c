/* Reading an RPM package's payload for extract.c: the lead, signature and
 * header are skipped by libarchive's rpm filter, the payload is a cpio
 * archive compressed with gzip, xz, zstd, bzip2 or lzma (what rpmbuild
 * writes), decompressed in-process.
 *
 * The entries then go through the same secure extraction as a .deb's
 * data.tar. One difference is taken care of here: in rpm's cpio, the
 * members of a hard-link set come one after the other and only the last
 * one carries the content; libarchive gives the first as an empty file and
 * the others as hard links to it. Our extraction copies a hard link's
 * target, so the set is reordered: its empty members are held back, the
 * one with the content comes out as a plain file, then the held ones as
 * hard links to it.
 *
 * What the payload does not hold is not extracted: %ghost files (rpm
 * creates them at install time, empty or not at all), and file
 * capabilities (kept in the header, and meaningless in a bundle run by an
 * unprivileged user). */
#include "extract_internal.h"
#include "untar.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_BLOCK (128 * 1024)

/* A hard-link set waiting for its content. */
struct held_set {
	char *first;                 /* the name libarchive links the others to */
	struct archive_entry **v;    /* in archive order, the first one first */
	size_t n;
};

struct rpm_links {
	struct held_set *sets;
	size_t n_sets;
	struct archive_entry **out;  /* entries to give before reading on */
	size_t n_out, next_out;
	struct archive_entry *given; /* the last entry given from out: ours to free */
	bool eof;
};

bool extract_is_rpm(const char *path)
{
	static const unsigned char magic[4] = { 0xed, 0xab, 0xee, 0xdb };
	unsigned char buf[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n == (ssize_t)sizeof(buf) && !memcmp(buf, magic, sizeof(buf));
}

int extract_rpm_open(struct dos_ctx *ctx, struct deb *d, const char *path)
{
	memset(d, 0, sizeof(*d));
	d->ar.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (d->ar.fd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open");
	d->rpm = true;
	d->links = dos_xcalloc(1, sizeof(*d->links));
	snprintf(d->member, sizeof(d->member), "rpm payload");
	d->ar.inner = archive_read_new();
	if (!d->ar.inner)
		return dos_error(ctx, DOS_ENOMEM, "out of memory");
	archive_read_support_format_cpio(d->ar.inner);
	archive_read_support_filter_rpm(d->ar.inner);
	archive_read_support_filter_gzip(d->ar.inner);
	archive_read_support_filter_xz(d->ar.inner);
	archive_read_support_filter_lzma(d->ar.inner);
	archive_read_support_filter_bzip2(d->ar.inner);
	archive_read_support_filter_zstd(d->ar.inner);
	if (archive_read_open_fd(d->ar.inner, d->ar.fd, READ_BLOCK) != ARCHIVE_OK)
		return dos_error(ctx, DOS_EFORMAT, "not an RPM package, or a payload it cannot read: %s",
				 dos_untar_error(d->ar.inner));
	return 0;
}

static void set_free(struct held_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i])
			archive_entry_free(s->v[i]);
	free(s->v);
	free(s->first);
}

void extract_rpm_close(struct deb *d)
{
	struct rpm_links *l = d->links;

	if (!l)
		return;
	for (size_t i = 0; i < l->n_sets; i++)
		set_free(&l->sets[i]);
	free(l->sets);
	for (size_t i = l->next_out; i < l->n_out; i++)
		archive_entry_free(l->out[i]);
	free(l->out);
	if (l->given)
		archive_entry_free(l->given);
	free(l);
	d->links = NULL;
}

static struct held_set *set_find(struct rpm_links *l, const char *first)
{
	for (size_t i = 0; i < l->n_sets; i++)
		if (!strcmp(l->sets[i].first, first))
			return &l->sets[i];
	return NULL;
}

static void set_hold(struct held_set *s, struct archive_entry *ae)
{
	struct archive_entry *c = archive_entry_clone(ae);

	if (!c)
		abort();
	s->v = dos_xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = c;
}

static void out_push(struct rpm_links *l, struct archive_entry *ae)
{
	l->out = dos_xrealloc(l->out, (l->n_out + 1) * sizeof(*l->out));
	l->out[l->n_out++] = ae;
}

/* The set's held members become hard links to target, to be given next;
 * when target is NULL (the set never got content), the first is given as
 * the empty file it is and the others link to it. */
static void set_release(struct rpm_links *l, struct held_set *s, const char *target)
{
	for (size_t i = 0; i < s->n; i++) {
		struct archive_entry *c = s->v[i];

		if (!target && i == 0)
			archive_entry_set_hardlink(c, NULL);
		else
			archive_entry_copy_hardlink(c, target ? target : s->first);
		archive_entry_set_size(c, 0);
		out_push(l, c);
		s->v[i] = NULL;
	}
	set_free(s);
	*s = l->sets[--l->n_sets];
}

/* Whether ae is held back; when it is the content of a held set, it is
 * turned into a plain file and the set queued behind it. */
static bool entry_hold(struct rpm_links *l, struct archive_entry *ae)
{
	const char *link = archive_entry_hardlink(ae);
	struct held_set *s;

	if (link) {
		s = set_find(l, link);
		if (!s)
			return false;   /* a set whose first member had content */
		if (archive_entry_size(ae) == 0) {
			set_hold(s, ae);
			return true;
		}
		archive_entry_set_hardlink(ae, NULL);
		set_release(l, s, archive_entry_pathname(ae));
		return false;
	}
	if (archive_entry_filetype(ae) != AE_IFREG || archive_entry_nlink(ae) <= 1 ||
	    archive_entry_size(ae) != 0 || !archive_entry_pathname(ae))
		return false;
	l->sets = dos_xrealloc(l->sets, (l->n_sets + 1) * sizeof(*l->sets));
	s = &l->sets[l->n_sets++];
	*s = (struct held_set){ .first = dos_xstrdup(archive_entry_pathname(ae)) };
	set_hold(s, ae);
	return true;
}

static int out_give(struct rpm_links *l, struct archive_entry **ae)
{
	if (l->given)
		archive_entry_free(l->given);
	l->given = l->out[l->next_out++];
	if (l->next_out == l->n_out)
		l->n_out = l->next_out = 0;
	*ae = l->given;
	return 1;
}

int extract_rpm_next(struct dos_ctx *ctx, struct deb *d, struct archive_entry **ae)
{
	struct rpm_links *l = d->links;

	for (;;) {
		int r;

		if (l->next_out < l->n_out)
			return out_give(l, ae);
		if (l->eof) {
			if (!l->n_sets)
				return 0;
			set_release(l, &l->sets[l->n_sets - 1], NULL);
			continue;
		}
		r = archive_read_next_header(d->ar.inner, ae);
		if (r == ARCHIVE_EOF) {
			l->eof = true;
			continue;
		}
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return dos_error(ctx, DOS_EFORMAT, "%s: truncated or corrupt: %s", d->member,
					 dos_untar_error(d->ar.inner));
		if (!entry_hold(l, *ae))
			return 1;
	}
}

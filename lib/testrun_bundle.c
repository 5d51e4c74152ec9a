/* The bundle diracos test runs: a folder, or a tarball unpacked once
 * (libarchive, entries confined to one top folder, no device nodes,
 * setuid bits dropped) into a temporary folder. See testrun_internal.h. */
#include "testrun_internal.h"
#include "untar.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int top_check(struct dos_ctx *ctx, const char *given, const char *top)
{
	_cleanup_free_ char *rc = dos_path_join(top, "diracosrc");
	struct stat st;

	if (stat(rc, &st) < 0 || !S_ISREG(st.st_mode))
		return dos_error(ctx, DOS_EUSAGE, "bundle '%s': no diracosrc in its top folder "
				 "'%s'", given, top);
	return 0;
}

/* Checks that rel lies in the one top folder (*top: its name, set by the
 * first entry). */
static bool entry_in_top(const char *rel, char **top)
{
	size_t n = strcspn(rel, "/");

	if (!*top)
		*top = strndup(rel, n);
	return *top && strlen(*top) == n && !strncmp(*top, rel, n) && strcmp(*top, ".");
}

struct place {
	const char *dest, *tarball;
	char **top;      /* the one top folder's name, set by the first entry */
};

/* Points e below dest; 1 to skip it (device nodes, fifos, sockets, ".").
 * Setuid and setgid bits are dropped: a test never needs them. */
static int entry_place(struct dos_ctx *ctx, struct archive_entry *e, void *arg)
{
	const struct place *pl = arg;
	const char *dest = pl->dest, *tarball = pl->tarball;
	char **top = pl->top;
	const char *orig = archive_entry_pathname(e), *rel = dos_untar_rel(orig);
	const char *link = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);

	if (rel && !rel[0])
		return 1;
	if (!rel || !entry_in_top(rel, top) || (link && (!dos_untar_rel(link) ||
						      !entry_in_top(dos_untar_rel(link), top))))
		return dos_error(ctx, DOS_EFORMAT, "bundle '%s': entry '%s' is outside its one "
				 "top folder", tarball, orig ? orig : "");
	if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
		return 1;
	archive_entry_set_perm(e, archive_entry_perm(e) & 01777);
	dos_untar_place(e, dest);
	return 0;
}

static int entries_unpack(struct dos_ctx *ctx, struct archive *in, struct archive *out,
			  const char *dest, const char *tarball, char **top)
{
	_cleanup_free_ char *what = dos_xasprintf("bundle '%s'", tarball);
	struct place pl = { .dest = dest, .tarball = tarball, .top = top };
	int r = dos_untar_entries(ctx, in, out, what, entry_place, &pl);

	if (r == 0 && !*top)
		return dos_error(ctx, DOS_EFORMAT, "bundle '%s': an empty tarball", tarball);
	return r;
}

/* Unpacks the tarball into <tmp>/bundle; *top its one top folder's name.
 * The pack step writes paths as UTF-8 (pax headers); they are read in
 * C.UTF-8 whatever the process's locale, since libarchive converts them to
 * the current locale and fails on a non-ASCII name in "C" (ca-certificates
 * has some: 'NetLock_Arany_=Class_Gold=_Főtanúsítvány.crt'). */
static int tarball_unpack_entries(struct dos_ctx *ctx, const char *tarball, const char *dest,
				  char **top);

static int tarball_unpack(struct dos_ctx *ctx, const char *tarball, const char *dest, char **top)
{
	locale_t loc = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
	locale_t old = loc ? uselocale(loc) : (locale_t)0;
	int r = tarball_unpack_entries(ctx, tarball, dest, top);

	if (loc) {
		uselocale(old);
		freelocale(loc);
	}
	return r;
}

static int tarball_unpack_entries(struct dos_ctx *ctx, const char *tarball, const char *dest,
				  char **top)
{
	/* Entry paths are checked relative, then made absolute below dest. */
	int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
		    ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT;
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	int r;

	archive_read_support_format_tar(in);
	archive_read_support_filter_all(in);
	archive_write_disk_set_options(out, flags);
	if ((r = dos_mkdir_p(ctx, dest, 0755)) < 0)
		;
	else if (archive_read_open_filename(in, tarball, 1 << 20) != ARCHIVE_OK)
		r = dos_error(ctx, DOS_EFORMAT, "bundle '%s': %s", tarball,
			      archive_error_string(in));
	else
		r = entries_unpack(ctx, in, out, dest, tarball, top);
	if (archive_write_close(out) != ARCHIVE_OK && r == 0)
		r = dos_error(ctx, DOS_EIO, "bundle '%s': %s", tarball, archive_error_string(out));
	archive_write_free(out);
	archive_read_free(in);
	return r;
}

static int tmp_make(struct dos_ctx *ctx, struct bundle *b)
{
	const char *base = getenv("TMPDIR");
	char *t = dos_xasprintf("%s/diracos-test.XXXXXX", base && *base ? base : "/var/tmp");

	if (!mkdtemp(t)) {
		int e = errno;
		free(t);
		return dos_error_errno(ctx, DOS_EIO, e, "cannot make a temporary folder in '%s'",
				       base && *base ? base : "/var/tmp");
	}
	b->tmp = t;
	return 0;
}

int testrun_bundle_open(struct dos_ctx *ctx, const char *given, struct bundle *b)
{
	_cleanup_free_ char *dest = NULL, *top = NULL;
	struct stat st;
	int r;

	memset(b, 0, sizeof(*b));
	if (stat(given, &st) < 0)
		return dos_error_errno(ctx, DOS_EUSAGE, errno, "bundle '%s'", given);
	if ((r = tmp_make(ctx, b)) < 0)
		return r;
	if (S_ISDIR(st.st_mode)) {
		b->top = realpath(given, NULL);
		return b->top ? top_check(ctx, given, b->top)
			      : dos_error_errno(ctx, DOS_EIO, errno, "bundle '%s'", given);
	}
	if (!S_ISREG(st.st_mode))
		return dos_error(ctx, DOS_EUSAGE, "bundle '%s': neither a tarball nor a folder",
				 given);
	dos_info(ctx, "bundle '%s': unpacking", given);
	dest = dos_path_join(b->tmp, "bundle");
	if ((r = tarball_unpack(ctx, given, dest, &top)) < 0)
		return r;
	b->top = dos_path_join(dest, top);
	return top_check(ctx, given, b->top);
}

void testrun_bundle_close(struct dos_ctx *ctx, struct bundle *b)
{
	if (b->tmp && dos_rm_rf(ctx, b->tmp) < 0)
		dos_warn(ctx, "%s", ctx->msg);
	free(b->top);
	free(b->tmp);
}

/* Extraction of a hostile package: the input is the data member of a .deb
 * (a tar, possibly compressed) that this harness wraps with debian-binary
 * and a small control member, then dos_extract_debs() unpacks it into a
 * fresh root. Whatever it holds (.. and absolute names, symlinks then
 * files through them, hard links out, devices, setuid files, sizes that
 * lie), nothing may be written outside the root, no device node or
 * setuid/setgid file may be inside it, and a failure must say why. */
#include "fuzz_paths.h"

#include "extract.h"

#include <archive.h>
#include <archive_entry.h>

/* The control member: a ustar with ./control. */
static void *control_tar(size_t *len)
{
	static char buf[10240];
	static const char text[] = "Package: fuzz\nVersion: 1\nArchitecture: amd64\n";
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t used = 0;

	archive_write_set_format_ustar(a);
	archive_write_set_bytes_in_last_block(a, 1);
	FUZZ_ASSERT(archive_write_open_memory(a, buf, sizeof(buf), &used) == ARCHIVE_OK);
	archive_entry_set_pathname(e, "./control");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, sizeof(text) - 1);
	FUZZ_ASSERT(archive_write_header(a, e) == ARCHIVE_OK);
	FUZZ_ASSERT(archive_write_data(a, text, sizeof(text) - 1) == (la_ssize_t)sizeof(text) - 1);
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	*len = used;
	return buf;
}

static void ar_member(FILE *f, const char *name, const void *data, size_t len)
{
	fprintf(f, "%-16s%-12d%-6d%-6d%-8s%-10zu`\n", name, 0, 0, 0, "100644", len);
	if (len)
		fwrite(data, 1, len, f);
	if (len & 1)
		fputc('\n', f);
}

static void deb_write(const char *path, const uint8_t *data, size_t size)
{
	static void *control;
	static size_t control_len;
	FILE *f = fopen(path, "wb");

	if (!control)
		control = control_tar(&control_len);
	FUZZ_ASSERT(f);
	fputs("!<arch>\n", f);
	ar_member(f, "debian-binary", "2.0\n", 4);
	ar_member(f, "control.tar", control, control_len);
	ar_member(f, "data.tar", data, size);
	FUZZ_ASSERT(fclose(f) == 0);
}

static int entry_check(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		fprintf(stderr, "device node extracted: %s\n", path);
		abort();
	}
	if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID))) {
		fprintf(stderr, "setuid/setgid file extracted: %s\n", path);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keep[] = { "fuzz.deb", NULL };
	static char *deb;
	struct dos_ctx ctx;
	struct dos_extract_result res = { 0 };
	struct dos_extract_pkg pkg;

	if (!deb)
		deb = dos_xasprintf("%s/fuzz.deb", fuzz_scratch());
	fuzz_root_reset();
	deb_write(deb, data, size);
	fuzz_ctx(&ctx);
	pkg.name = "fuzz";
	pkg.path = deb;
	if (dos_extract_debs(&ctx, fuzz_root, &pkg, 1, 1, &res) == 0)
		dos_extract_result_release(&res);
	else
		FUZZ_ASSERT(ctx.msg[0]);
	fuzz_outside_check(keep);
	FUZZ_ASSERT(nftw(fuzz_root, entry_check, 16, FTW_PHYS) == 0);
	return 0;
}

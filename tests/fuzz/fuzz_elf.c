/* The ELF reader on any bytes, then the DT_RPATH writer on a copy of them
 * in a scratch file: when it says it rewrote the file, the result must
 * read back with exactly the new DT_RPATH, no DT_RUNPATH, and the same
 * needed libraries, and setting it again must change nothing. The input's
 * first byte picks a short rpath (rewritten in place) or a long one (a new
 * segment). */
#include "fuzz.h"

#include "elffile.h"

static const char *const rpaths[] = {
	"$ORIGIN",
	"$ORIGIN/../lib/x86_64-linux-gnu:$ORIGIN/../lib:$ORIGIN/../usr/lib/x86_64-linux-gnu:"
	"$ORIGIN/../../lib/x86_64-linux-gnu:$ORIGIN/../../usr/lib/x86_64-linux-gnu",
};

static bool strv_equal(const struct dos_strv *a, const struct dos_strv *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]))
			return false;
	return true;
}

static void rpath_check(const uint8_t *data, size_t size, const struct dos_elf_info *before)
{
	static char *path;
	struct dos_ctx ctx;
	struct dos_elf_info after = { 0 };
	const char *want = rpaths[size > 7 ? data[7] & 1 : 0];   /* e_ident[EI_OSABI] */
	int r;

	if (!path)
		path = dos_xasprintf("%s/elf", fuzz_scratch());
	fuzz_write(path, data, size);
	fuzz_ctx(&ctx);
	r = dos_elf_set_rpath(&ctx, path, want);
	if (r != DOS_ELF_RPATH_SET)
		return;
	if (dos_elf_read(&ctx, path, &after) < 0) {
		fprintf(stderr, "rewritten file does not read back: %s\n", ctx.msg);
		abort();
	}
	FUZZ_ASSERT(after.rpath && !strcmp(after.rpath, want));
	FUZZ_ASSERT(!after.runpath);
	FUZZ_ASSERT(strv_equal(&before->needed, &after.needed));
	FUZZ_ASSERT((!before->soname && !after.soname) ||
		    (before->soname && after.soname && !strcmp(before->soname, after.soname)));
	dos_elf_info_release(&after);
	FUZZ_ASSERT(dos_elf_set_rpath(&ctx, path, want) == DOS_ELF_RPATH_UNCHANGED);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dos_ctx ctx;
	struct dos_elf_info info = { 0 };
	char buf[24];

	fuzz_ctx(&ctx);
	if (!dos_elf_is_elf(data, size))
		return 0;
	if (dos_elf_parse(&ctx, "fuzz.elf", data, size, &info) < 0) {
		FUZZ_ASSERT(ctx.code == DOS_EFORMAT && ctx.msg[0]);
		return 0;
	}
	dos_elf_machine_name(info.machine, buf);
	for (size_t i = 0; i < info.n_verneed; i++)
		FUZZ_ASSERT(info.verneed[i].file);
	rpath_check(data, size, &info);
	dos_elf_info_release(&info);
	return 0;
}

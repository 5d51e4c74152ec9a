/* A Release file as InRelease carries it: the armor check that refuses
 * text outside the one signed block, and the Release fields (SHA256 list,
 * dates, Codename). Both are static in dist.c, which is compiled into this
 * target whole (the library's dist.o is then not linked). gpgv is not run:
 * what it would accept is the archive's business, what we read after it is
 * ours. */
#include "../../lib/dist.c"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dos_ctx ctx;
	struct dos_archive *a = dos_xcalloc(1, sizeof(*a));

	fuzz_ctx(&ctx);
	a->inrelease_url = dos_xstrdup("http://mirror.invalid/dists/stable/InRelease");
	clearsign_check(&ctx, a, (const char *)data, size);
	if (release_parse(&ctx, a, (const char *)data, size) == 0) {
		FUZZ_ASSERT(a->n_files > 0);
		for (size_t i = 0; i < a->n_files; i++) {
			FUZZ_ASSERT(dos_sha256_valid(a->files[i].sha256));
			FUZZ_ASSERT(dos_archive_find(a, a->files[i].path));
		}
	}
	dos_archive_free(a);
	return 0;
}

/* For the extraction targets: a fresh bundle root in the scratch folder,
 * with a sibling folder that must stay empty, and the check that nothing
 * was written beside the root or into that sibling. */
#pragma once

#include "fuzz.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

static char *fuzz_root, *fuzz_outside;

/* Empties the root (it is made anew) and the sibling. */
static void fuzz_root_reset(void)
{
	struct dos_ctx ctx;

	if (!fuzz_root) {
		fuzz_root = dos_xasprintf("%s/root", fuzz_scratch());
		fuzz_outside = dos_xasprintf("%s/outside", fuzz_scratch());
	}
	fuzz_ctx(&ctx);
	if (dos_rm_rf(&ctx, fuzz_root) < 0 || dos_rm_rf(&ctx, fuzz_outside) < 0) {
		fprintf(stderr, "cannot empty the scratch folder: %s\n", ctx.msg);
		abort();
	}
	if (mkdir(fuzz_root, 0755) < 0 || mkdir(fuzz_outside, 0755) < 0) {
		perror("mkdir");
		abort();
	}
}

/* The scratch folder holds only the root, the sibling and the names in
 * keep (NULL-terminated); the sibling is empty. */
static void fuzz_outside_check(const char *const *keep)
{
	DIR *d = opendir(fuzz_scratch());
	struct dirent *e;
	int n = 0;

	FUZZ_ASSERT(d);
	while ((e = readdir(d))) {
		bool known = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
			     !strcmp(e->d_name, "root") || !strcmp(e->d_name, "outside");
		for (int i = 0; keep && keep[i]; i++)
			known = known || !strcmp(e->d_name, keep[i]);
		if (!known) {
			fprintf(stderr, "written outside the root: %s/%s\n", fuzz_scratch(), e->d_name);
			abort();
		}
	}
	closedir(d);
	d = opendir(fuzz_outside);
	FUZZ_ASSERT(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	FUZZ_ASSERT(n == 0);
}

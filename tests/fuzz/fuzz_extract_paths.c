/* The path checks of extraction (extract_paths.c). Each input line is an
 * archive name, or "@name<TAB>target" for a symlink to place there (a
 * hostile one: "..", "/", the sibling folder...). Every name is cleaned:
 * a clean name is relative, without ".", ".." or empty components, and a
 * refused one really was absolute, had "..", or was too long. A clean name
 * is then reached from the root with extract_tree_parent (folders created,
 * never through a symlink) and created there; at the end nothing may exist
 * outside the root. */
#include "fuzz_paths.h"

#include "extract_internal.h"

#include <errno.h>

static void clean_check(const char *raw, const char *out, int r)
{
	if (r == CLEAN_ABSOLUTE) {
		FUZZ_ASSERT(raw[0] == '/');
		return;
	}
	if (r == CLEAN_DOTDOT) {
		FUZZ_ASSERT(strstr(raw, ".."));
		return;
	}
	if (r == CLEAN_LONG)
		return;
	FUZZ_ASSERT(r >= 0 && (size_t)r == strlen(out));
	FUZZ_ASSERT(out[0] != '/');
	for (const char *p = out; *p;) {
		size_t n = strcspn(p, "/");
		FUZZ_ASSERT(n > 0);
		FUZZ_ASSERT(!(n == 1 && p[0] == '.'));
		FUZZ_ASSERT(!(n == 2 && p[0] == '.' && p[1] == '.'));
		p += n;
		p += *p == '/';
	}
}

static void line_place(struct tree *t, char *line)
{
	static char clean[PATH_MAX];
	char *target = NULL;
	const char *leaf;
	int r, fd;

	if (line[0] == '@') {
		line++;
		target = strchr(line, '\t');
		if (!target)
			return;
		*target++ = '\0';
	}
	r = extract_path_clean(line, clean);
	clean_check(line, clean, r);
	if (r <= 0)
		return;
	fd = extract_tree_parent(t, clean, &leaf);
	if (fd < 0) {
		FUZZ_ASSERT(t->ctx->msg[0]);
		return;
	}
	FUZZ_ASSERT(leaf && *leaf && !strchr(leaf, '/'));
	if (target) {
		symlinkat(target, fd, leaf);
	} else {
		int f = openat(fd, leaf, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (f >= 0) {
			FUZZ_ASSERT(write(f, "x", 1) == 1);
			close(f);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dos_ctx ctx;
	struct tree t;
	char *text, *line, *save = NULL;
	int rootfd;

	if (size > 16384)
		return 0;
	fuzz_root_reset();
	fuzz_ctx(&ctx);
	rootfd = open(fuzz_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FUZZ_ASSERT(rootfd >= 0);
	extract_tree_init(&t, &ctx, rootfd);
	text = fuzz_strndup(data, size);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		line_place(&t, line);
	extract_tree_release(&t);
	close(rootfd);
	free(text);
	fuzz_outside_check(NULL);
	return 0;
}

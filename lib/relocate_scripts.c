/* relocate_scripts.c: scripts whose shebang names the build-time
 * interpreter get a header that finds the bundle's own one from where the
 * script is, wherever the bundle was unpacked. See relocate_internal.h. */
#include "relocate_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCRIPT_MAX (256u << 20)

enum interp_kind { INTERP_OTHER, INTERP_PYTHON, INTERP_PERL, INTERP_BASH };

struct shebang {
	char *interp;    /* as written */
	char *args;      /* the rest of the line, trimmed ("" when none) */
	size_t line_len; /* the #! line and its newline */
};

static void shebang_release(struct shebang *sb)
{
	free(sb->interp);
	free(sb->args);
}

static bool shebang_parse(const char *data, size_t len, struct shebang *sb)
{
	const char *nl = memchr(data, '\n', len < 1024 ? len : 1024), *p = data + 2, *end;

	if (len < 3 || data[0] != '#' || data[1] != '!' || !nl)
		return false;
	p += strspn(p, " \t");
	for (end = p; end < nl && *end != ' ' && *end != '\t'; end++)
		;
	sb->interp = strndup(p, (size_t)(end - p));
	for (p = end; p < nl && (*p == ' ' || *p == '\t'); p++)
		;
	for (end = nl; end > p && strchr(" \t\r", end[-1]); end--)
		;
	sb->args = strndup(p, (size_t)(end - p));
	sb->line_len = (size_t)(nl - data) + 1;
	return true;
}

static enum interp_kind interp_kind(const char *interp)
{
	const char *name = relocate_base_name(interp);

	if (!strncmp(name, "python", 6))
		return INTERP_PYTHON;
	if (!strncmp(name, "perl", 4))
		return INTERP_PERL;
	if (!strcmp(name, "bash"))
		return INTERP_BASH;
	return INTERP_OTHER;
}

/* Goes inside double and single quotes of a shell line unchanged. */
static bool shell_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || strchr("'\"$`\\", *s))
			return false;
	return true;
}

#define HERE "\"$(dirname -- \"$(readlink -f -- \"$0\")\")"

/* The lines that replace the #! line. python: a line both sh and Python
 * read, sh as an exec, Python as the start of a string that the third line
 * closes. perl: -x makes perl skip to the "#!...perl" line we keep. bash:
 * re-exec unless the running shell already is the bundled one. */
static char *script_header(enum interp_kind kind, const char *rel, const struct shebang *sb)
{
	_cleanup_free_ char *args = *sb->args ? dos_xasprintf(" '%s'", sb->args) : dos_xstrdup("");

	switch (kind) {
	case INTERP_PYTHON:
		return dos_xasprintf("#!/bin/sh\n'''exec' " HERE "/%s\"%s \"$0\" \"$@\"\n' '''\n",
				     rel, args);
	case INTERP_PERL:
		return dos_xasprintf("#!/bin/sh\neval 'exec " HERE "/%s\" -x \"$0\" \"$@\"'\n\tif 0;\n"
				     "#!%s%s%s\n", rel, sb->interp, *sb->args ? " " : "", sb->args);
	case INTERP_BASH:
		return dos_xasprintf("#!/bin/sh\n_dos_i=" HERE "/%s\"; [ \"$BASH\" = \"$_dos_i\" ] || "
				     "exec \"$_dos_i\"%s \"$0\" \"$@\"; unset _dos_i\n", rel, args);
	default:
		return NULL;
	}
}

/* The interpreter, relative to the script's folder, when the bundle ships
 * it as a regular file; NULL otherwise. */
static char *interp_in_bundle(const struct tree *t, const char *script, const char *interp)
{
	_cleanup_free_ char *mapped = relocate_map_absolute(t, interp), *res = NULL, *full = NULL;
	_cleanup_free_ char *named = NULL, *dir = NULL;
	bool climbed;
	struct stat st;

	if (mapped[0] != '/' || !relocate_bundle_resolve(t, "", mapped, &res, &climbed))
		return NULL;
	full = relocate_full_path(t, res);
	if (stat(full, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return NULL;
	named = dos_path_absolute("/", mapped);
	dir = relocate_rel_dirname(script);
	return dos_relocate_relpath(dir, named + 1);
}

/* Our polyglot line is a string to Python, hence the module docstring: a
 * script with a docstring of its own followed by a __future__ import would
 * no longer compile. */
static bool python_docstring_and_future(const char *rest, size_t len)
{
	const char *p = rest, *end = rest + len;

	while (p < end && (*p == '#' || *p == '\n' || *p == ' ' || *p == '\t' || *p == '\r')) {
		if (*p == '#')
			p = memchr(p, '\n', (size_t)(end - p)) ?: end;
		else
			p++;
	}
	for (int i = 0; i < 2 && p < end && strchr("rRuUbBfF", *p); i++)
		p++;
	if (p == end || (*p != '"' && *p != '\''))
		return false;
	return memmem(rest, len, "\nfrom __future__ import", 23) != NULL;
}

static bool file_starts_with_shebang(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	char magic[2];

	return fd >= 0 && pread(fd, magic, 2, 0) == 2 && magic[0] == '#' && magic[1] == '!';
}

static int script_rewrite(struct dos_ctx *ctx, const struct tree *t, const struct entry *en,
			  const char *data, size_t len, struct dos_relocate_report *rep)
{
	_cleanup_free_ char *rel = NULL, *header = NULL, *full = NULL;
	struct shebang sb = { 0 };
	enum interp_kind kind;
	int r = 0;

	if (!shebang_parse(data, len, &sb))
		return 0;
	kind = interp_kind(sb.interp);
	if (kind != INTERP_OTHER)
		rel = interp_in_bundle(t, en->rel, sb.interp);
	if (rel && (!shell_safe(rel) || !shell_safe(sb.args) || (kind == INTERP_PYTHON &&
		    python_docstring_and_future(data + sb.line_len, len - sb.line_len)))) {
		dos_warn(ctx, "script '%s': #! line cannot be made relocatable", en->rel);
		rel = (free(rel), NULL);
	}
	if (rel) {
		header = script_header(kind, rel, &sb);
		full = relocate_full_path(t, en->rel);
		r = relocate_file_write_replace(ctx, full, en->mode & 07777, header, strlen(header),
						data + sb.line_len, len - sb.line_len);
		if (r == 0)
			dos_strv_push(&rep->scripts_fixed, en->rel);
	}
	shebang_release(&sb);
	return r;
}

int relocate_scripts_fix(struct dos_ctx *ctx, const struct tree *t,
			 struct dos_relocate_report *rep)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct entry *en = &t->v[i];
		_cleanup_free_ char *full = NULL, *data = NULL;
		size_t len;
		int r;

		if (en->gone || !S_ISREG(en->mode) || !(en->mode & 0111))
			continue;
		full = relocate_full_path(t, en->rel);
		if (!file_starts_with_shebang(full))
			continue;
		r = dos_read_file(ctx, full, SCRIPT_MAX, &data, &len);
		if (r == 0)
			r = script_rewrite(ctx, t, en, data, len, rep);
		if (r < 0)
			return r;
	}
	return 0;
}

/* What the control member and the copyright file say, for the extract
 * files (see extract_internal.h): the update-alternatives commands of
 * preinst and postinst, the short license name, and the alternatives made
 * into links once everything is extracted. */
#include "extract_internal.h"
#include "untar.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCRIPT_MAX (1 << 20)          /* larger maintainer scripts are not parsed */

/* --- maintainer scripts: update-alternatives --- */

#define OPERATORS ";&|<>()"

/* Splits a shell line into words in place: quotes removed, operators as
 * ";" words, a comment ends it. */
static size_t line_split(char *s, char **words, size_t max)
{
	char *r = s, *w = s;
	size_t n = 0;

	while (*r && n < max) {
		char c;
		if (*r == ' ' || *r == '\t' || *r == '\r') {
			r++;
			continue;
		}
		if (*r == '#')
			break;
		if (strchr(OPERATORS, *r)) {
			words[n++] = ";";
			r++;
			continue;
		}
		words[n++] = w;
		while (*r && !strchr(" \t\r" OPERATORS, *r)) {
			char q = *r;
			if (q != '\'' && q != '"') {
				*w++ = *r++;
				continue;
			}
			for (r++; *r && *r != q;)
				*w++ = *r++;
			r += *r == q;
		}
		c = *r;
		*w++ = '\0';   /* w <= r + 1: may overwrite the delimiter, kept in c */
		r += c != '\0';
		if (c && strchr(OPERATORS, c) && n < max)
			words[n++] = ";";
	}
	return n;
}

static void alt_add(struct dos_alternative **alts, size_t *n, char **args, long priority,
		    const char *package, const char *master)
{
	struct dos_alternative *a = extract_vec_push(alts, n, sizeof(**alts));

	a->link = dos_xstrdup(args[0]);
	a->name = dos_xstrdup(args[1]);
	a->path = dos_xstrdup(args[2]);
	a->priority = priority;
	a->package = dos_xstrdup(package);
	a->master = master ? dos_xstrdup(master) : NULL;
}

static bool alt_args_ok(char **args)
{
	return args[0][0] == '/' && args[2][0] == '/' && args[1][0] && !strchr(args[1], '/');
}

/* One update-alternatives command, args[0..m) its arguments. */
static void alt_command(char **args, size_t m, const char *package,
			struct dos_alternative **alts, size_t *n)
{
	const char *master;
	size_t i = 0;
	char *end;
	long prio;

	for (size_t k = 0; k < m; k++)
		if (strpbrk(args[k], "$`"))
			return;   /* shell variables: not ours to guess */
	while (i < m && strcmp(args[i], "--install"))
		i++;
	if (i + 5 > m || !alt_args_ok(args + i + 1))
		return;
	master = args[i + 2];
	prio = strtol(args[i + 4], &end, 10);
	if (!*args[i + 4] || *end)
		return;
	alt_add(alts, n, args + i + 1, prio, package, NULL);
	for (i += 5; i + 4 <= m && !strcmp(args[i], "--slave"); i += 4)
		if (alt_args_ok(args + i + 1))
			alt_add(alts, n, args + i + 1, prio, package, master);
}

static bool is_update_alternatives(const char *word)
{
	const char *base = strrchr(word, '/');

	return !strcmp(base ? base + 1 : word, "update-alternatives");
}

#define WORDS_MAX 512

void dos_extract_parse_alternatives(const char *script, const char *package,
				    struct dos_alternative **alts, size_t *n)
{
	_cleanup_free_ char *text = dos_xstrdup(script);
	_cleanup_free_ char **words = dos_xmalloc(WORDS_MAX * sizeof(char *));
	char *line, *save = NULL;

	for (char *p = text; *p; p++)   /* continuation lines */
		if (p[0] == '\\' && p[1] == '\n')
			p[0] = p[1] = ' ';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t nw = line_split(line, words, WORDS_MAX);
		for (size_t i = 0; i < nw; i++) {
			size_t end = i + 1;
			if (!is_update_alternatives(words[i]))
				continue;
			while (end < nw && strcmp(words[end], ";"))
				end++;
			alt_command(words + i + 1, end - i - 1, package, alts, n);
			i = end;
		}
	}
}

/* *out stays NULL for a script too large to parse. */
static int script_read(struct dos_ctx *ctx, struct deb *d, struct archive_entry *ae, char **out)
{
	int64_t size = archive_entry_size(ae);
	char *buf;
	la_ssize_t got;

	if (size < 0 || size > SCRIPT_MAX)
		return 0;
	buf = dos_xmalloc((size_t)size + 1);
	got = archive_read_data(d->ar.inner, buf, (size_t)size);
	if (got != size) {
		free(buf);
		return dos_error(ctx, DOS_EFORMAT, "%s: truncated maintainer script%s%s", d->member,
				 got < 0 ? ": " : "", got < 0 ? dos_untar_error(d->ar.inner) : "");
	}
	buf[size] = '\0';
	*out = buf;
	return 0;
}

int extract_control_read(struct dos_ctx *ctx, struct dos_ctx *warn, struct deb *d,
			 const char *package, struct dos_alternative **alts, size_t *n)
{
	char *scripts[2] = { NULL, NULL };   /* preinst, postinst */
	struct archive_entry *ae;
	char rel[PATH_MAX];
	int r = extract_deb_inner_open(ctx, d);

	while (r >= 0 && (r = extract_deb_inner_next(ctx, d, &ae)) > 0) {
		const char *name = archive_entry_pathname(ae);
		int k;
		if (!name || extract_path_clean(name, rel) <= 0 ||
		    archive_entry_filetype(ae) != AE_IFREG)
			continue;
		k = !strcmp(rel, "preinst") ? 0 : !strcmp(rel, "postinst") ? 1 : -1;
		if (k < 0 || scripts[k])
			continue;
		r = script_read(ctx, d, ae, &scripts[k]);
		if (r == 0 && !scripts[k])
			dos_warn(warn, "package '%s': maintainer script too large, not parsed", package);
	}
	for (int k = 0; k < 2; k++) {
		if (r == 0 && scripts[k])
			dos_extract_parse_alternatives(scripts[k], package, alts, n);
		free(scripts[k]);
	}
	extract_deb_inner_close(d);
	return r;
}

void extract_alternative_release(struct dos_alternative *a)
{
	free(a->link);
	free(a->name);
	free(a->path);
	free(a->package);
	free(a->master);
}

/* --- copyright: the machine-readable format's License --- */

/* When line is "Name: value", points *value at the trimmed value. */
static bool field_match(const char *line, const char *eol, const char *name, const char **value,
			size_t *len)
{
	size_t n = strlen(name);
	const char *v, *e = eol;

	if ((size_t)(eol - line) <= n || strncasecmp(line, name, n) || line[n] != ':')
		return false;
	for (v = line + n + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
		;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*value = v;
	*len = (size_t)(e - v);
	return true;
}

struct para {
	int index;
	bool any, star, format;
	const char *lic;
	size_t lic_len;
};

/* At a paragraph's end: the license when it is the first "Files: *" one;
 * *bad when the header says the file is not machine-readable. */
static char *para_end(struct para *p, const char **header, size_t *header_len, bool *bad)
{
	char *lic = NULL;

	if (p->index == 0 && !p->format)
		*bad = true;
	else if (p->star && p->lic_len)
		lic = dos_xstrndup(p->lic, p->lic_len);
	else if (p->index == 0)
		*header = p->lic, *header_len = p->lic_len;
	*p = (struct para){ .index = p->index + 1, .format = true };
	return lic;
}

static void para_line(struct para *p, const char *line, const char *eol)
{
	const char *v;
	size_t len;

	p->any = true;
	if (field_match(line, eol, "Format", &v, &len))
		p->format = memmem(v, len, "copyright-format/1.0", 20) != NULL;
	else if (field_match(line, eol, "Files", &v, &len))
		p->star = len && v[0] == '*' && (len == 1 || v[1] == ' ' || v[1] == '\t');
	else if (field_match(line, eol, "License", &v, &len))
		p->lic = v, p->lic_len = len;
}

char *dos_extract_parse_license(const char *text)
{
	struct para p = { 0 };
	const char *header = NULL, *eol;
	size_t header_len = 0;
	bool bad = false;
	char *lic = NULL;

	for (const char *line = text; !lic && !bad; line = eol + 1) {
		bool blank;
		eol = strchrnul(line, '\n');
		blank = strspn(line, " \t\r") >= (size_t)(eol - line);
		if (!blank && line[0] != ' ' && line[0] != '\t')
			para_line(&p, line, eol);
		if ((blank || !*eol) && p.any)
			lic = para_end(&p, &header, &header_len, &bad);
		if (!*eol)
			break;
	}
	if (lic || bad)
		return lic;
	return header && header_len ? dos_xstrndup(header, header_len) : NULL;
}

/* --- alternatives as relative symlinks --- */

/* The target of a symlink at link reaching path, both clean and relative
 * to the same root. */
static int link_relative(const char *link, const char *path, char out[PATH_MAX])
{
	size_t common = 0, len = 0;

	for (size_t i = 0; link[i] && link[i] == path[i]; i++)
		if (link[i] == '/')
			common = i + 1;
	for (const char *p = link + common; (p = strchr(p, '/')); p++) {
		if (len + 3 >= PATH_MAX)
			return -1;
		memcpy(out + len, "../", 3);
		len += 3;
	}
	if (len + strlen(path + common) >= PATH_MAX)
		return -1;
	strcpy(out + len, path + common);
	return 0;
}

static bool alt_wins(const struct dos_extract_result *r, size_t i)
{
	const struct dos_alternative *a = &r->alternatives[i];

	for (size_t j = 0; j < r->n_alternatives; j++) {
		const struct dos_alternative *b = &r->alternatives[j];
		if (j == i || b->master || strcmp(a->name, b->name))
			continue;
		if (b->priority > a->priority || (b->priority == a->priority && j < i))
			return false;
	}
	return true;
}

/* 1 when the link was made, 0 when skipped with a warning. */
static int alt_link(struct dos_ctx *ctx, struct tree *t, const struct dos_alternative *a)
{
	char link[PATH_MAX], path[PATH_MAX], target[PATH_MAX];
	const char *leaf;
	struct stat st;
	int pfd;

	if (a->link[0] != '/' || a->path[0] != '/' || extract_path_clean(a->link + 1, link) <= 0 ||
	    extract_path_clean(a->path + 1, path) <= 0 || link_relative(link, path, target) < 0) {
		dos_warn(ctx, "alternative '%s': bad link '%s' or path '%s', not created", a->name,
			 a->link, a->path);
		return 0;
	}
	if (!strcmp(link, path))
		return 0;
	pfd = extract_tree_parent(t, link, &leaf);
	if (pfd >= 0 && fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISLNK(st.st_mode)) {
		dos_warn(ctx, "alternative '%s': '%s' exists and is not a symlink, left alone",
			 a->name, a->link);
		return 0;
	}
	if (pfd >= 0)
		unlinkat(pfd, leaf, 0);
	if (pfd < 0 || symlinkat(target, pfd, leaf) < 0) {
		dos_warn(ctx, "alternative '%s': cannot create '%s': %s", a->name, a->link,
			 pfd < 0 ? t->ctx->msg : strerror(errno));
		return 0;
	}
	return 1;
}

int dos_extract_apply_alternatives(struct dos_ctx *ctx, const char *root,
				   const struct dos_extract_result *r)
{
	_cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dos_ctx local;
	struct tree t;
	int made = 0;

	if (rootfd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open bundle root '%s'", root);
	dos_ctx_init(&local);
	extract_tree_init(&t, &local, rootfd);
	for (size_t i = 0; i < r->n_alternatives; i++) {
		if (r->alternatives[i].master || !alt_wins(r, i))
			continue;
		made += alt_link(ctx, &t, &r->alternatives[i]);
		for (size_t j = i + 1; j < r->n_alternatives && r->alternatives[j].master; j++)
			made += alt_link(ctx, &t, &r->alternatives[j]);
	}
	extract_tree_release(&t);
	return made;
}

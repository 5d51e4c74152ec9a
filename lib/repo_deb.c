/* The package files a commit takes: their control text, checked field by
 * field, and the .deb read through (control member, data member) before
 * anything of it reaches the pool. See repo.h and repo_internal.h. */
#include "repo_internal.h"
#include "deb_reader.h"
#include "untar.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONTROL_MAX (1 << 20)          /* bytes of a control file */
#define CONTROL_FIELDS_MAX 512

/* --- small helpers --- */

static bool chars_ok(const char *s, const char *extra, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

static bool version_ok(const char *v)
{
	const char *colon = strchr(v, ':');

	for (const char *p = v; colon && p < colon; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	if (colon == v)
		return false;
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".+~:-", *p))
			return false;
	return *v && strlen(v) <= 256 && (!colon || colon[1]);
}

/* --- control text --- */

/* The line holding field's value at the start of a line, or NULL. */
static const char *field_find(const char *text, const char *field, size_t *vlen)
{
	size_t fl = strlen(field);

	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		const char *v, *end;
		if (strncasecmp(line, field, fl) || line[fl] != ':')
			continue;
		for (v = line + fl + 1; *v == ' ' || *v == '\t'; v++)
			;
		end = v + strcspn(v, "\n");
		while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			end--;
		*vlen = (size_t)(end - v);
		return v;
	}
	return NULL;
}

char *dos_repo_control_field(const char *control, const char *field)
{
	size_t len;
	const char *v = field_find(control, field, &len);
	char *s;

	if (!v)
		return NULL;
	s = dos_xmalloc(len + 1);
	memcpy(s, v, len);
	s[len] = '\0';
	return s;
}

/* Fields only an index may carry: a control file naming one would lie
 * about where or what the package is. */
static bool field_reserved(const char *name, size_t len)
{
	static const char *const reserved[] = { "Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512" };

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == len && !strncasecmp(name, reserved[i], len))
			return true;
	return false;
}

/* One "Name: value" line: a deb822 field name, not seen before. */
static int control_line_check(struct dos_ctx *ctx, const char *line, size_t n, size_t lineno,
			      struct dos_strv *seen)
{
	const char *colon = memchr(line, ':', n);
	size_t nl = colon ? (size_t)(colon - line) : 0;
	_cleanup_free_ char *name = NULL;

	if (nl == 0 || line[0] == '#' || line[0] == '-')
		return dos_error(ctx, DOS_EFORMAT, "control file: line %zu is not a field", lineno);
	for (size_t i = 0; i < nl; i++)
		if (line[i] <= ' ' || line[i] > '~')
			return dos_error(ctx, DOS_EFORMAT, "control file: line %zu has a bad field name", lineno);
	if (field_reserved(line, nl))
		return dos_error(ctx, DOS_EFORMAT, "control file: field '%.*s' belongs to an index",
				 (int)nl, line);
	name = dos_xstrndup(line, nl);
	for (char *p = name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (dos_strv_contains(seen, name))
		return dos_error(ctx, DOS_EFORMAT, "control file: field '%s' appears twice", name);
	if (seen->n >= CONTROL_FIELDS_MAX)
		return dos_error(ctx, DOS_EFORMAT, "control file: more than %d fields", CONTROL_FIELDS_MAX);
	dos_strv_push_owned(seen, dos_steal(&name));
	return 0;
}

/* Checks the shape of a control file: one stanza, nothing an index
 * reader could take for a second stanza. *len drops trailing blanks. */
static int control_shape(struct dos_ctx *ctx, const char *text, size_t *len)
{
	struct dos_strv seen = { 0 };
	size_t pos = 0, lineno = 0;
	int r = 0;

	if (memchr(text, '\0', *len))
		return dos_error(ctx, DOS_EFORMAT, "control file: holds a NUL byte");
	while (*len > 0 && isspace((unsigned char)text[*len - 1]))
		(*len)--;
	if (*len == 0)
		return dos_error(ctx, DOS_EFORMAT, "control file: empty");
	while (r == 0 && pos < *len) {
		const char *line = text + pos, *nl = memchr(line, '\n', *len - pos);
		size_t n = nl ? (size_t)(nl - line) : *len - pos, blank = 0;

		lineno++;
		pos += n + 1;
		while (blank < n && isspace((unsigned char)line[blank]))
			blank++;
		if (blank == n)
			r = dos_error(ctx, DOS_EFORMAT, "control file: line %zu is empty", lineno);
		else if (line[0] == ' ' || line[0] == '\t')
			r = lineno == 1 ? dos_error(ctx, DOS_EFORMAT, "control file: starts with a continuation line") : 0;
		else
			r = control_line_check(ctx, line, n, lineno, &seen);
	}
	dos_strv_release(&seen);
	return r;
}

void repo_control_release(struct repo_control *c)
{
	free(c->text);
	free(c->package);
	free(c->version);
	free(c->arch);
	memset(c, 0, sizeof(*c));
}

int repo_control_parse(struct dos_ctx *ctx, const char *raw, size_t len, struct repo_control *c)
{
	int r = control_shape(ctx, raw, &len);

	if (r < 0)
		return r;
	c->text = dos_xmalloc(len + 2);
	memcpy(c->text, raw, len);
	memcpy(c->text + len, "\n", 2);
	c->package = dos_repo_control_field(c->text, "Package");
	c->version = dos_repo_control_field(c->text, "Version");
	c->arch = dos_repo_control_field(c->text, "Architecture");
	if (!c->package || !chars_ok(c->package, "+.-", REPO_NAME_MAX))
		return dos_error(ctx, DOS_EFORMAT, "control file: missing or bad Package '%s'",
				 c->package ? c->package : "");
	if (!c->version || !version_ok(c->version))
		return dos_error(ctx, DOS_EFORMAT, "control file: package '%s': missing or bad Version '%s'", c->package,
				 c->version ? c->version : "");
	if (!c->arch || !chars_ok(c->arch, "-", 64))
		return dos_error(ctx, DOS_EFORMAT, "control file: package '%s': missing or bad Architecture '%s'",
				 c->package, c->arch ? c->arch : "");
	return 0;
}

/* --- reading a .deb: an ar archive, its members read as tar streams --- */

static int control_entry_read(struct dos_ctx *ctx, struct dos_deb_reader *d,
			      struct archive_entry *ae, char **text, size_t *len)
{
	la_int64_t size = archive_entry_size(ae);
	la_ssize_t n;

	if (archive_entry_filetype(ae) != AE_IFREG)
		return dos_error(ctx, DOS_EFORMAT, "control file: not a regular file");
	if (size < 0 || size > CONTROL_MAX)
		return dos_error(ctx, DOS_EFORMAT, "control file: larger than %d bytes", CONTROL_MAX);
	*text = dos_xmalloc((size_t)size + 1);
	*len = 0;
	while ((n = archive_read_data(d->inner, *text + *len, (size_t)size - *len)) > 0)
		*len += (size_t)n;
	if (n < 0 || *len != (size_t)size) {
		free(dos_steal(text));
		return dos_error(ctx, DOS_EFORMAT, "control file: truncated: %s", dos_untar_error(d->inner));
	}
	(*text)[*len] = '\0';
	return 0;
}

static int control_member_read(struct dos_ctx *ctx, struct dos_deb_reader *d, const char *member,
			       char **text, size_t *len)
{
	struct archive_entry *ae;
	int r = dos_deb_reader_inner_open(ctx, d, member);

	while (r == 0 && (r = dos_deb_reader_inner_next(ctx, d, member, &ae)) == 1) {
		const char *name = archive_entry_pathname(ae);
		if (name && (!strcmp(name, "./control") || !strcmp(name, "control")))
			return control_entry_read(ctx, d, ae, text, len);
		r = 0;
	}
	return r < 0 ? r : dos_error(ctx, DOS_EFORMAT, "%s: holds no control file", member);
}

/* Reads the data member through: a truncated or corrupt one fails. */
static int data_member_check(struct dos_ctx *ctx, struct dos_deb_reader *d, const char *member)
{
	struct archive_entry *ae;
	char buf[REPO_READ_BLOCK];
	la_ssize_t n = 0;
	int r = dos_deb_reader_inner_open(ctx, d, member);

	while (r == 0 && (r = dos_deb_reader_inner_next(ctx, d, member, &ae)) == 1) {
		while ((n = archive_read_data(d->inner, buf, sizeof(buf))) > 0)
			;
		if (n < 0)
			return dos_error(ctx, DOS_EFORMAT, "%s: truncated or corrupt: %s", member, dos_untar_error(d->inner));
		r = 0;
	}
	return r;
}

/* The first member: "debian-binary" holding a 2.x format version. */
static int deb_version_check(struct dos_ctx *ctx, struct dos_deb_reader *d, const char *name)
{
	char buf[16] = "";

	if (strcmp(name, "debian-binary"))
		return dos_error(ctx, DOS_EFORMAT, "not a Debian package: first member is '%.64s'", name);
	if (archive_read_data(d->outer, buf, sizeof(buf) - 1) < 0)
		return dos_error(ctx, DOS_EFORMAT, "debian-binary: %s", dos_untar_error(d->outer));
	if (strncmp(buf, "2.", 2))
		return dos_error(ctx, DOS_EFORMAT, "unsupported package format version '%.4s'", buf);
	return 0;
}

/* Walks the members: the control text, and with whole the data member
 * read through too. */
static int deb_walk(struct dos_ctx *ctx, struct dos_deb_reader *d, bool whole, char **text, size_t *len)
{
	struct archive_entry *ae;
	bool data = false;
	int r, i;

	for (i = 0; (r = archive_read_next_header(d->outer, &ae)) == ARCHIVE_OK; i++) {
		const char *name = archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "";
		if (i == 0)
			r = deb_version_check(ctx, d, name);
		else if (!strncmp(name, "control.tar", 11))
			r = *text ? dos_error(ctx, DOS_EFORMAT, "two control members")
				  : control_member_read(ctx, d, name, text, len);
		else if (!strncmp(name, "data.tar", 8) && (!*text || data))
			r = dos_error(ctx, DOS_EFORMAT, "member '%.64s' out of place", name);
		else if (!strncmp(name, "data.tar", 8))
			r = (data = true, whole ? data_member_check(ctx, d, name) : 1);
		else if (name[0] != '_')
			r = dos_error(ctx, DOS_EFORMAT, "unexpected member '%.64s'", name);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	if (r != ARCHIVE_EOF || i == 0)
		return dos_error(ctx, DOS_EFORMAT, "not a Debian package: %s",
				 r != ARCHIVE_EOF ? dos_untar_error(d->outer) : "empty archive");
	if (!*text)
		return dos_error(ctx, DOS_EFORMAT, "not a Debian package: no control member");
	return data ? 0 : dos_error(ctx, DOS_EFORMAT, "not a Debian package: no data member");
}

int repo_deb_read(struct dos_ctx *ctx, const char *path, bool whole, char **text, size_t *len)
{
	struct dos_deb_reader d;
	int r;

	*text = NULL;
	r = dos_deb_reader_open(ctx, &d, path);
	if (r == 0)
		r = deb_walk(ctx, &d, whole, text, len);
	dos_deb_reader_close(&d);
	if (r < 0)
		free(dos_steal(text));
	return r;
}

int dos_repo_deb_control(struct dos_ctx *ctx, const char *path, char **control_text)
{
	size_t len;
	int r = repo_deb_read(ctx, path, false, control_text, &len);

	return r < 0 ? dos_error_prefix(ctx, "package file '%s'", path) : 0;
}

#include "jsonpos.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scanner {
	const char *p, *end;
	int line, column;
	struct jsonpos *pos;
	int depth;
};

#define MAX_DEPTH 512

static void advance(struct scanner *s)
{
	if (*s->p == '\n') {
		s->line++;
		s->column = 1;
	} else if (((unsigned char)*s->p & 0xC0) != 0x80) {
		/* Columns count characters, not the continuation bytes of UTF-8. */
		s->column++;
	}
	s->p++;
}

static void skip_space(struct scanner *s)
{
	while (s->p < s->end && strchr(" \t\r\n", *s->p))
		advance(s);
}

static void record(struct scanner *s, const char *pointer, int line, int column)
{
	struct jsonpos *pos = s->pos;

	if (pos->n == pos->alloc) {
		pos->alloc = pos->alloc ? pos->alloc * 2 : 64;
		pos->v = dos_xrealloc(pos->v, pos->alloc * sizeof(*pos->v));
	}
	pos->v[pos->n++] = (struct jsonpos_entry){ dos_xstrdup(pointer), line, column };
}

/* Reads a string token into a new buffer, with escapes only for the
 * characters JSON Pointer cares about; the exact text matters little since
 * keys with escapes are rare in configurations. */
static char *scan_string(struct scanner *s)
{
	size_t cap = 32, n = 0;
	char *out = dos_xmalloc(cap);

	advance(s); /* opening quote */
	while (s->p < s->end && *s->p != '"') {
		char c = *s->p;
		if (c == '\\' && s->p + 1 < s->end) {
			advance(s);
			c = *s->p;
			c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
		}
		if (n + 2 > cap)
			out = dos_xrealloc(out, cap *= 2);
		out[n++] = c;
		advance(s);
	}
	out[n] = '\0';
	if (s->p < s->end)
		advance(s);
	return out;
}

/* Appends a reference token to a pointer, escaping '~' and '/'. */
static char *pointer_child(const char *parent, const char *token)
{
	size_t len = strlen(parent);
	char *out = dos_xmalloc(len + 2 * strlen(token) + 2);
	char *o = out + len;

	memcpy(out, parent, len);
	*o++ = '/';
	for (const char *t = token; *t; t++) {
		if (*t == '~' || *t == '/') {
			*o++ = '~';
			*o++ = *t == '~' ? '0' : '1';
		} else {
			*o++ = *t;
		}
	}
	*o = '\0';
	return out;
}

static int scan_value(struct scanner *s, const char *pointer);
static int scan_member(struct scanner *s, const char *pointer);

static int scan_member(struct scanner *s, const char *pointer)
{
	_cleanup_free_ char *key = scan_string(s);
	_cleanup_free_ char *child = pointer_child(pointer, key);

	skip_space(s);
	if (s->p >= s->end || *s->p != ':')
		return -1;
	advance(s);
	return scan_value(s, child);
}

static int scan_object(struct scanner *s, const char *pointer)
{
	advance(s); /* '{' */
	for (;;) {
		skip_space(s);
		if (s->p >= s->end)
			return -1;
		if (*s->p == '}') {
			advance(s);
			return 0;
		}
		if (*s->p == ',') {
			advance(s);
			continue;
		}
		if (*s->p != '"' || scan_member(s, pointer) < 0)
			return -1;
	}
}

static int scan_element(struct scanner *s, const char *pointer, size_t index)
{
	char token[32];
	_cleanup_free_ char *child = NULL;

	snprintf(token, sizeof(token), "%zu", index);
	child = pointer_child(pointer, token);
	return scan_value(s, child);
}

static int scan_array(struct scanner *s, const char *pointer)
{
	size_t index = 0;

	advance(s); /* '[' */
	for (;;) {
		skip_space(s);
		if (s->p >= s->end)
			return -1;
		if (*s->p == ']') {
			advance(s);
			return 0;
		}
		if (*s->p == ',') {
			advance(s);
			continue;
		}
		if (scan_element(s, pointer, index++) < 0)
			return -1;
	}
}

static int scan_value(struct scanner *s, const char *pointer)
{
	int r = 0;

	skip_space(s);
	if (s->p >= s->end)
		return -1;
	record(s, pointer, s->line, s->column);
	if (++s->depth > MAX_DEPTH)
		return -1;
	if (*s->p == '{') {
		r = scan_object(s, pointer);
	} else if (*s->p == '[') {
		r = scan_array(s, pointer);
	} else if (*s->p == '"') {
		free(scan_string(s));
	} else {
		/* A number or a literal: runs until a delimiter (a NUL byte is one
		 * too: strchr finds the terminator). None read means a delimiter
		 * stands where a value should ("[}"): not JSON, and going on would
		 * leave the array loop spinning on it forever (found by fuzzing). */
		const char *start = s->p;
		while (s->p < s->end && !strchr(",]} \t\r\n", *s->p))
			advance(s);
		if (s->p == start)
			r = -1;
	}
	s->depth--;
	return r;
}

int jsonpos_scan(struct jsonpos *pos, const char *text, size_t len)
{
	struct scanner s = { text, text + len, 1, 1, pos, 0 };

	memset(pos, 0, sizeof(*pos));
	return scan_value(&s, "");
}

int jsonpos_lookup(const struct jsonpos *pos, const char *pointer, int *line, int *column)
{
	for (size_t i = 0; i < pos->n; i++) {
		if (!strcmp(pos->v[i].pointer, pointer)) {
			*line = pos->v[i].line;
			*column = pos->v[i].column;
			return 1;
		}
	}
	*line = *column = 0;
	return 0;
}

void jsonpos_release(struct jsonpos *pos)
{
	for (size_t i = 0; i < pos->n; i++)
		free(pos->v[i].pointer);
	free(pos->v);
	memset(pos, 0, sizeof(*pos));
}

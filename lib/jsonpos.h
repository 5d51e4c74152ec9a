/* Where each value of a JSON text starts, by JSON Pointer ("/a/0/b").
 * jansson parses and reports syntax errors with their position, but keeps no
 * positions for values; configuration errors about a value's type or meaning
 * need them, so this scans the (already valid) text once more. */
#pragma once

#include <stddef.h>

struct jsonpos_entry {
	char *pointer;
	int line, column;
};

struct jsonpos {
	struct jsonpos_entry *v;
	size_t n, alloc;
};

/* Scans text, which jansson has accepted. Returns 0, or -1 if it is not
 * valid JSON after all (then the table holds what was seen). */
int jsonpos_scan(struct jsonpos *pos, const char *text, size_t len);

/* The position of the value at pointer; 0 when unknown. */
int jsonpos_lookup(const struct jsonpos *pos, const char *pointer, int *line, int *column);

void jsonpos_release(struct jsonpos *pos);

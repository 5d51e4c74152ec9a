/* Reading a .deb: an ar archive whose control.tar and data.tar members are
 * read as tar streams straight from it, without a temporary file. Shared
 * by repo.c (which checks the packages it takes) and extract.c (which
 * unpacks them); each walks the members in its own way. */
#pragma once

#include "context.h"

struct archive;
struct archive_entry;

struct dos_deb_reader {
	struct archive *outer;   /* the ar archive */
	struct archive *inner;   /* the current member, as a tar stream */
	int fd;
};

/* Opens path (fd -1 before, and after a failure to open). The caller
 * closes r whatever the result. */
int dos_deb_reader_open(struct dos_ctx *ctx, struct dos_deb_reader *r, const char *path);
void dos_deb_reader_close(struct dos_deb_reader *r);
/* Opens the outer archive's current member (named member in messages) as
 * a tar stream in any compression dpkg knows; a previous one is closed. */
int dos_deb_reader_inner_open(struct dos_ctx *ctx, struct dos_deb_reader *r, const char *member);
/* 1 with the member's next entry, 0 at its end. */
int dos_deb_reader_inner_next(struct dos_ctx *ctx, struct dos_deb_reader *r, const char *member,
			      struct archive_entry **ae);
void dos_deb_reader_inner_close(struct dos_deb_reader *r);

/* Bounds-checked ELF reading and an in-process DT_RPATH writer.
 *
 * The reader takes ELF32 and ELF64, little and big endian, from a memory
 * buffer; every offset, size and string is checked against the buffer, so a
 * hostile or truncated file yields DOS_EFORMAT with a message naming the
 * file and the defect, never a crash.
 *
 * The writer sets DT_RPATH (not DT_RUNPATH: DT_RPATH is searched before
 * LD_LIBRARY_PATH, so the host cannot hijack the bundle's libraries) on
 * x86_64 and aarch64 little-endian ELF64 files, as patchelf would but
 * without a subprocess: in place when the old string's slot is long enough,
 * else in a new PT_LOAD appended to the file that carries a copy of .dynstr
 * and of the dynamic section. The new PT_LOAD takes a PT_NULL or PT_NOTE
 * entry of the program header table; with none, the table itself moves into
 * the new segment, one entry longer (placed so that AT_PHDR stays right on
 * kernels before 5.18 too). A later, longer rpath rewrites that segment.
 *
 * Note: this header shadows the system <elf.h> for files built with -Ilib;
 * nothing here needs the system one (the constants we use are below). */
#pragma once

#include "context.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DOS_ELF_ET_REL 1
#define DOS_ELF_ET_EXEC 2
#define DOS_ELF_ET_DYN 3
#define DOS_ELF_ET_CORE 4

#define DOS_ELF_EM_386 3
#define DOS_ELF_EM_ARM 40
#define DOS_ELF_EM_X86_64 62
#define DOS_ELF_EM_AARCH64 183

/* One DT_VERNEED entry: a library and the version names required from it,
 * e.g. "libc.so.6" with "GLIBC_2.34", "GLIBC_2.2.5". */
struct dos_elf_verneed {
	char *file;
	struct dos_strv versions;
};

struct dos_elf_info {
	int bits;                  /* 32 or 64 */
	bool big_endian;
	uint16_t type;             /* DOS_ELF_ET_* */
	uint16_t machine;          /* DOS_ELF_EM_* */
	bool dynamic;              /* has PT_DYNAMIC (false for debug-info files) */
	char *interp;              /* PT_INTERP, NULL when none */
	char *soname;              /* DT_SONAME, NULL when none */
	char *rpath;               /* DT_RPATH, NULL when none */
	char *runpath;             /* DT_RUNPATH, NULL when none */
	struct dos_strv needed;    /* DT_NEEDED, in file order */
	struct dos_elf_verneed *verneed;
	size_t n_verneed;
};

/* True when buf starts with the ELF magic. */
bool dos_elf_is_elf(const void *buf, size_t len);

/* Parses an ELF image held in memory; name is used in messages. On success
 * fills info (release it with dos_elf_info_release()); on failure info is
 * left empty and DOS_EFORMAT is returned. */
int dos_elf_parse(struct dos_ctx *ctx, const char *name, const void *buf, size_t len,
		  struct dos_elf_info *info);

/* Maps the file and parses it. DOS_EIO when it cannot be read, DOS_EFORMAT
 * when it is not a valid ELF file. */
int dos_elf_read(struct dos_ctx *ctx, const char *path, struct dos_elf_info *info);

void dos_elf_info_release(struct dos_elf_info *info);

/* "x86_64", "aarch64", ... or "machine 1234". Returns a static string or
 * one written into buf. */
const char *dos_elf_machine_name(uint16_t machine, char buf[24]);

/* What dos_elf_set_rpath() did, when it did not fail. */
enum dos_elf_rpath_result {
	DOS_ELF_RPATH_SET = 0,       /* the file was rewritten */
	DOS_ELF_RPATH_UNCHANGED = 1, /* it already had exactly this DT_RPATH */
	DOS_ELF_SKIP_STATIC = 2,     /* no PT_DYNAMIC: nothing to search */
	DOS_ELF_SKIP_LOADER = 3,     /* the dynamic loader itself: never touched */
	DOS_ELF_SKIP_NO_NEEDED = 4,  /* needs no library */
};

/* A short word for a result above, for logs. */
const char *dos_elf_rpath_result_name(int result);

/* Sets DT_RPATH of the ELF file at path (a symlink is followed) to rpath,
 * turning a DT_RUNPATH into DT_RPATH. The file is replaced atomically (a
 * temporary file beside it, then rename) and keeps its mode and owner.
 * Returns a dos_elf_rpath_result, or a negative code: DOS_EFORMAT for a
 * malformed file, an unsupported class or machine, or a layout the table
 * cannot move in; DOS_EIO for file system errors. A file that needs no
 * change is not rewritten. */
int dos_elf_set_rpath(struct dos_ctx *ctx, const char *path, const char *rpath);

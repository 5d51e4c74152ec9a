/* What elf.c (the reader) and elf_rpath.c (the DT_RPATH writer) share;
 * not part of the API (see elffile.h). */
#pragma once

#include "elffile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* The ELF constants we use: lib/elf.h shadows the system <elf.h>. */
#define PT_NULL 0
#define PT_LOAD 1
#define PT_DYNAMIC 2
#define PT_INTERP 3
#define PT_NOTE 4
#define PT_PHDR 6
#define PT_GNU_PROPERTY 0x6474e553u
#define PF_W 2u
#define PF_R 4u
#define DT_NULL 0
#define DT_NEEDED 1
#define DT_STRTAB 5
#define DT_STRSZ 10
#define DT_SONAME 14
#define DT_RPATH 15
#define DT_RUNPATH 29
#define DT_CONFIG 0x6ffffefau
#define DT_DEPAUDIT 0x6ffffefbu
#define DT_AUDIT 0x6ffffefcu
#define DT_VERDEF 0x6ffffffcu
#define DT_VERDEFNUM 0x6ffffffdu
#define DT_VERNEED 0x6ffffffeu
#define DT_VERNEEDNUM 0x6fffffffu
#define DT_AUXILIARY 0x7ffffffdu
#define DT_FILTER 0x7fffffffu
#define SHT_STRTAB 3
#define SHT_DYNAMIC 6
#define SHT_NOBITS 8
#define SHT_DYNSYM 11
#define SHF_TLS 0x400u

#define PAGE_MIN 0x1000u
#define VERSION_BUDGET (1u << 20)  /* version records visited, at most */
#define DYNSYM_MAX (1u << 24)

/* Decoded program and section headers: all fields widened to 64 bits, in the
 * order of elf.c's field tables. */
struct elf_phdr {
	uint64_t type, flags, offset, vaddr, paddr, filesz, memsz, align;
};
struct elf_shdr {
	uint64_t name, type, flags, addr, offset, size, link, info, addralign, entsize;
};

struct elf_dyn {
	uint64_t tag, val;
};

struct elf {
	const char *name;
	uint8_t *buf;         /* written to only by the rpath writer (a private mapping) */
	size_t len;
	bool is64, be;
	uint16_t type, machine;
	uint64_t phoff, shoff;
	size_t phnum, shnum;
	struct elf_phdr *ph;
	int dyn_ph, interp_ph; /* indexes into ph, -1 when absent */
	struct elf_dyn *dyn;   /* entries before DT_NULL */
	size_t ndyn;
	bool has_strtab;
	uint64_t strtab_vaddr, strtab_off, strsz;
};

/* An error about the file e: "ELF file '<name>': <what>". */
int elf_bad(struct dos_ctx *ctx, const struct elf *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* --- decoding: every read is checked with elf_in_file first --- */

static inline bool elf_in_file(const struct elf *e, uint64_t off, uint64_t size)
{
	return off <= e->len && size <= e->len - off;
}

static inline uint64_t elf_rd(const struct elf *e, uint64_t off, unsigned size)
{
	const uint8_t *p = e->buf + off;
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (e->be ? 8 * (size - 1 - i) : 8 * i);
	return v;
}

static inline void elf_put_bytes(uint8_t *p, bool be, unsigned size, uint64_t v)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (be ? 8 * (size - 1 - i) : 8 * i));
}

static inline void elf_wr(struct elf *e, uint64_t off, unsigned size, uint64_t v)
{
	elf_put_bytes(e->buf + off, e->be, size, v);
}

static inline size_t elf_phent(const struct elf *e)
{
	return e->is64 ? 56 : 32;
}

static inline size_t elf_shent(const struct elf *e)
{
	return e->is64 ? 64 : 40;
}

static inline size_t elf_dynent(const struct elf *e)
{
	return e->is64 ? 16 : 8;
}

/* Verneed (16 bytes) and Verdef (20 bytes) are both a chain of records, each
 * with a chain of auxiliary records holding names. */
struct elf_ver_layout {
	uint64_t tag, num_tag, rec_size, cnt_at, file_at, aux_at, next_at;
	uint64_t aux_size, aux_name_at, aux_next_at;
	const char *what;
};

#define NO_FIELD UINT64_MAX

extern const struct elf_ver_layout elf_verneed_layout, elf_verdef_layout;

/* Called with each string offset; is_file marks a record's own name. */
typedef int (*elf_ver_visit)(struct dos_ctx *ctx, const struct elf *e, void *arg,
			     bool is_file, uint64_t stroff);

/* A file mapped private: writes (by the rpath writer) stay in memory. */
struct elf_mapping {
	uint8_t *addr;
	size_t len;
	struct stat st;
};

/* --- elf.c --- */

/* Writes dynamic entry i of the table at base (the file or a new block). */
void elf_dyn_put(const struct elf *e, uint8_t *base, size_t i, uint64_t tag, uint64_t val);
/* Writes program header i of the table at base (in the file or a block). */
void elf_phdr_put(const struct elf *e, uint8_t *base, size_t i, const struct elf_phdr *ph);
/* Section headers were range-checked as a table in sections_check(). */
void elf_shdr_get(const struct elf *e, size_t i, struct elf_shdr *sh);
void elf_shdr_put(struct elf *e, size_t i, const struct elf_shdr *sh);
/* The string at off in the dynamic string table, NULL when off is outside
 * it or the string has no NUL inside it. */
const char *elf_dynstr_at(const struct elf *e, uint64_t off);
/* Parses and checks the headers, the dynamic section and its string table
 * of the len bytes at buf; elf_release frees what it allocated. */
int elf_load(struct dos_ctx *ctx, struct elf *e, const char *name, uint8_t *buf, size_t len);
void elf_release(struct elf *e);
/* Maps path private (writable: for the writer's changes, never written
 * back); an empty file maps to no bytes. */
int elf_file_map(struct dos_ctx *ctx, const char *path, bool writable, struct elf_mapping *m);
void elf_file_unmap(struct elf_mapping *m);
/* The public description of a loaded file (see elffile.h). */
int elf_info_fill(struct dos_ctx *ctx, const struct elf *e, struct dos_elf_info *info);
/* The file offset of [vaddr, vaddr + size), when a PT_LOAD maps all of it
 * from bytes that are in the file. */
bool elf_vaddr_to_off(const struct elf *e, uint64_t vaddr, uint64_t size, uint64_t *off);
/* Calls visit with every string of the version records l describes. */
int elf_versions_walk(struct dos_ctx *ctx, const struct elf *e, const struct elf_ver_layout *l,
		      elf_ver_visit visit, void *arg);

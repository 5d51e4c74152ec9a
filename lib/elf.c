/* elf.c: bounds-checked ELF reading, and an in-process DT_RPATH writer.
 *
 * Every read goes through in_file(): a field is decoded only once its bytes
 * are known to lie inside the buffer, a string only once its NUL is known to
 * lie inside its table. Counts read from the file bound loops only after
 * their tables were checked, and chains (version needs) carry a budget. */
#include "elffile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Where a field lies in a header, for each class. */
struct field {
	uint8_t off, size;
};

/* Decoded program and section headers: all fields widened to 64 bits, in the
 * order of the field tables below. */
struct elf_phdr {
	uint64_t type, flags, offset, vaddr, paddr, filesz, memsz, align;
};
struct elf_shdr {
	uint64_t name, type, flags, addr, offset, size, link, info, addralign, entsize;
};

static const struct field ph64[] = {
	{0, 4}, {4, 4}, {8, 8}, {16, 8}, {24, 8}, {32, 8}, {40, 8}, {48, 8},
};
static const struct field ph32[] = {
	{0, 4}, {24, 4}, {4, 4}, {8, 4}, {12, 4}, {16, 4}, {20, 4}, {28, 4},
};
static const struct field sh64[] = {
	{0, 4}, {4, 4}, {8, 8}, {16, 8}, {24, 8}, {32, 8}, {40, 4}, {44, 4}, {48, 8}, {56, 8},
};
static const struct field sh32[] = {
	{0, 4}, {4, 4}, {8, 4}, {12, 4}, {16, 4}, {20, 4}, {24, 4}, {28, 4}, {32, 4}, {36, 4},
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

static int bad(struct dos_ctx *ctx, const struct elf *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct dos_ctx *ctx, const struct elf *e, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return dos_error(ctx, DOS_EFORMAT, "ELF file '%s': %s", e->name, what);
}

/* --- decoding --- */

static bool in_file(const struct elf *e, uint64_t off, uint64_t size)
{
	return off <= e->len && size <= e->len - off;
}

static uint64_t rd(const struct elf *e, uint64_t off, unsigned size)
{
	const uint8_t *p = e->buf + off;
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (e->be ? 8 * (size - 1 - i) : 8 * i);
	return v;
}

static void put_bytes(uint8_t *p, bool be, unsigned size, uint64_t v)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (be ? 8 * (size - 1 - i) : 8 * i));
}

static void wr(struct elf *e, uint64_t off, unsigned size, uint64_t v)
{
	put_bytes(e->buf + off, e->be, size, v);
}

static void fields_get(const struct elf *e, uint64_t off, const struct field *t, size_t n,
		       uint64_t *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = rd(e, off + t[i].off, t[i].size);
}

static void fields_put(const struct elf *e, uint8_t *base, const struct field *t, size_t n,
		       const uint64_t *in)
{
	for (size_t i = 0; i < n; i++)
		put_bytes(base + t[i].off, e->be, t[i].size, in[i]);
}

static size_t phent(const struct elf *e)
{
	return e->is64 ? 56 : 32;
}

static size_t shent(const struct elf *e)
{
	return e->is64 ? 64 : 40;
}

static size_t dynent(const struct elf *e)
{
	return e->is64 ? 16 : 8;
}

/* Writes program header i of the table at base (in the file or a block). */
static void phdr_put(const struct elf *e, uint8_t *base, size_t i, const struct elf_phdr *ph)
{
	fields_put(e, base + i * phent(e), e->is64 ? ph64 : ph32, 8, (const uint64_t *)ph);
}

/* Section headers were range-checked as a table in sections_check(). */
static void shdr_get(const struct elf *e, size_t i, struct elf_shdr *sh)
{
	fields_get(e, e->shoff + i * shent(e), e->is64 ? sh64 : sh32, 10, (uint64_t *)sh);
}

static void shdr_put(struct elf *e, size_t i, const struct elf_shdr *sh)
{
	fields_put(e, e->buf + e->shoff + i * shent(e), e->is64 ? sh64 : sh32, 10,
		   (const uint64_t *)sh);
}

/* Writes dynamic entry i of the table at base (the file or a new block). */
static void dyn_put(const struct elf *e, uint8_t *base, size_t i, uint64_t tag, uint64_t val)
{
	unsigned w = e->is64 ? 8 : 4;

	put_bytes(base + i * dynent(e), e->be, w, tag);
	put_bytes(base + i * dynent(e) + w, e->be, w, val);
}

/* --- headers --- */

bool dos_elf_is_elf(const void *buf, size_t len)
{
	return buf && len >= 4 && !memcmp(buf, "\177ELF", 4);
}

static int ident_parse(struct dos_ctx *ctx, struct elf *e)
{
	const uint8_t *b = e->buf;

	if (!dos_elf_is_elf(b, e->len))
		return dos_error(ctx, DOS_EFORMAT, "'%s': not an ELF file", e->name);
	if (e->len < 16)
		return bad(ctx, e, "truncated identification (%zu bytes)", e->len);
	if (b[4] != 1 && b[4] != 2)
		return bad(ctx, e, "unknown class %u", b[4]);
	if (b[5] != 1 && b[5] != 2)
		return bad(ctx, e, "unknown data encoding %u", b[5]);
	e->is64 = b[4] == 2;
	e->be = b[5] == 2;
	if (e->len < (e->is64 ? 64u : 52u))
		return bad(ctx, e, "truncated ELF header (%zu bytes)", e->len);
	return 0;
}

static int header_parse(struct dos_ctx *ctx, struct elf *e, uint64_t *phentsize,
			uint64_t *shentsize)
{
	int r = ident_parse(ctx, e);
	unsigned w = e->is64 ? 8 : 4;
	uint64_t at = e->is64 ? 54 : 42; /* e_phentsize */

	if (r < 0)
		return r;
	e->type = (uint16_t)rd(e, 16, 2);
	e->machine = (uint16_t)rd(e, 18, 2);
	e->phoff = rd(e, 24 + w, w);
	e->shoff = rd(e, 24 + 2 * w, w);
	*phentsize = rd(e, at, 2);
	e->phnum = rd(e, at + 2, 2);
	*shentsize = rd(e, at + 4, 2);
	e->shnum = rd(e, at + 6, 2);
	return 0;
}

static int phdrs_read(struct dos_ctx *ctx, struct elf *e, uint64_t entsize)
{
	if (e->phnum == 0)
		return 0;
	if (e->phnum == 0xffff)
		return bad(ctx, e, "extended program header count is not supported");
	if (entsize != phent(e))
		return bad(ctx, e, "program header size %" PRIu64 ", expected %zu", entsize, phent(e));
	if (!in_file(e, e->phoff, e->phnum * entsize))
		return bad(ctx, e, "program header table (offset %#" PRIx64 ", %zu entries) "
			   "extends past the end of the file (%zu bytes)", e->phoff, e->phnum, e->len);
	e->ph = dos_xcalloc(e->phnum, sizeof(*e->ph));
	for (size_t i = 0; i < e->phnum; i++) {
		fields_get(e, e->phoff + i * entsize, e->is64 ? ph64 : ph32, 8, (uint64_t *)&e->ph[i]);
		/* Empty ones are what debug-info files keep of them: ignored. */
		if (e->ph[i].type == PT_DYNAMIC && e->dyn_ph < 0 && e->ph[i].filesz)
			e->dyn_ph = (int)i;
		if (e->ph[i].type == PT_INTERP && e->interp_ph < 0 && e->ph[i].filesz)
			e->interp_ph = (int)i;
	}
	return 0;
}

/* More than 0xff00 sections: the count is in section 0's sh_size. */
static int sections_check(struct dos_ctx *ctx, struct elf *e, uint64_t entsize)
{
	struct elf_shdr sh0;

	if (e->shoff == 0) {
		e->shnum = 0;
		return 0;
	}
	if (entsize != shent(e))
		return bad(ctx, e, "section header size %" PRIu64 ", expected %zu", entsize, shent(e));
	if (!in_file(e, e->shoff, shent(e)))
		return bad(ctx, e, "section header table offset %#" PRIx64 " is past the end of "
			   "the file (%zu bytes)", e->shoff, e->len);
	if (e->shnum == 0) {
		shdr_get(e, 0, &sh0);
		if (sh0.size > e->len / shent(e))
			return bad(ctx, e, "section count %" PRIu64 " is too large", sh0.size);
		e->shnum = sh0.size;
	}
	if (!in_file(e, e->shoff, e->shnum * shent(e)))
		return bad(ctx, e, "section header table (offset %#" PRIx64 ", %zu entries) "
			   "extends past the end of the file (%zu bytes)", e->shoff, e->shnum, e->len);
	return 0;
}

static int interp_check(struct dos_ctx *ctx, const struct elf *e)
{
	const struct elf_phdr *p;

	if (e->interp_ph < 0)
		return 0;
	p = &e->ph[e->interp_ph];
	if (!in_file(e, p->offset, p->filesz))
		return bad(ctx, e, "PT_INTERP (offset %#" PRIx64 ", size %#" PRIx64 ") is outside "
			   "the file", p->offset, p->filesz);
	if (!memchr(e->buf + p->offset, '\0', p->filesz))
		return bad(ctx, e, "PT_INTERP string is not NUL-terminated");
	return 0;
}

/* --- addresses and strings --- */

/* The file offset of [vaddr, vaddr + size), when a PT_LOAD maps all of it
 * from bytes that are in the file. */
static bool vaddr_to_off(const struct elf *e, uint64_t vaddr, uint64_t size, uint64_t *off)
{
	for (size_t i = 0; i < e->phnum; i++) {
		const struct elf_phdr *p = &e->ph[i];
		uint64_t delta = vaddr - p->vaddr;

		if (p->type != PT_LOAD || vaddr < p->vaddr)
			continue;
		if (delta > p->filesz || size > p->filesz - delta)
			continue;
		if (p->offset > e->len || delta > e->len - p->offset)
			continue;
		if (!in_file(e, p->offset + delta, size))
			continue;
		*off = p->offset + delta;
		return true;
	}
	return false;
}

/* The string at off in the dynamic string table, NULL when off is outside
 * it or the string has no NUL inside it. */
static const char *dynstr_at(const struct elf *e, uint64_t off)
{
	const char *s;

	if (!e->has_strtab || off >= e->strsz)
		return NULL;
	s = (const char *)e->buf + e->strtab_off + off;
	return memchr(s, '\0', e->strsz - off) ? s : NULL;
}

static int dynstr_get(struct dos_ctx *ctx, const struct elf *e, const char *what, uint64_t off,
		      const char **s)
{
	*s = dynstr_at(e, off);
	if (!*s)
		return bad(ctx, e, "%s string at offset %#" PRIx64 " is outside the dynamic string "
			   "table (size %#" PRIx64 ") or not NUL-terminated", what, off, e->strsz);
	return 0;
}

static bool dyn_find(const struct elf *e, uint64_t tag, uint64_t *val)
{
	for (size_t i = 0; i < e->ndyn; i++) {
		if (e->dyn[i].tag == tag) {
			*val = e->dyn[i].val;
			return true;
		}
	}
	return false;
}

/* --- the dynamic section --- */

/* A separate debug-info file keeps the program headers but turns .dynamic
 * into SHT_NOBITS: what PT_DYNAMIC points at is then unrelated bytes. */
static bool dynamic_is_nobits(const struct elf *e)
{
	struct elf_shdr sh;

	for (size_t i = 0; i < e->shnum; i++) {
		shdr_get(e, i, &sh);
		if (sh.type == SHT_NOBITS && !(sh.flags & SHF_TLS) && sh.size &&
		    sh.addr == e->ph[e->dyn_ph].vaddr)
			return true;
	}
	return false;
}

static int strtab_locate(struct dos_ctx *ctx, struct elf *e)
{
	uint64_t addr, size;

	if (!dyn_find(e, DT_STRTAB, &addr))
		return 0;
	if (!dyn_find(e, DT_STRSZ, &size))
		return bad(ctx, e, "DT_STRTAB without DT_STRSZ");
	if (!vaddr_to_off(e, addr, size, &e->strtab_off))
		return bad(ctx, e, "dynamic string table (address %#" PRIx64 ", size %#" PRIx64 ") "
			   "is not in a loaded part of the file", addr, size);
	e->has_strtab = true;
	e->strtab_vaddr = addr;
	e->strsz = size;
	return 0;
}

static int dynamic_read(struct dos_ctx *ctx, struct elf *e)
{
	const struct elf_phdr *d;
	size_t cap, w = e->is64 ? 8 : 4;

	if (e->dyn_ph < 0)
		return 0;
	d = &e->ph[e->dyn_ph];
	if (!in_file(e, d->offset, d->filesz))
		return bad(ctx, e, "PT_DYNAMIC (offset %#" PRIx64 ", size %#" PRIx64 ") extends past "
			   "the end of the file (%zu bytes)", d->offset, d->filesz, e->len);
	if (dynamic_is_nobits(e)) {
		e->dyn_ph = -1;
		return 0;
	}
	cap = d->filesz / dynent(e);
	e->dyn = dos_xcalloc(cap + 1, sizeof(*e->dyn));
	for (e->ndyn = 0; e->ndyn < cap; e->ndyn++) {
		uint64_t at = d->offset + e->ndyn * dynent(e);
		e->dyn[e->ndyn].tag = rd(e, at, w);
		e->dyn[e->ndyn].val = rd(e, at + w, w);
		if (e->dyn[e->ndyn].tag == DT_NULL)
			break;
	}
	if (e->ndyn == cap)
		return bad(ctx, e, "the dynamic section has no DT_NULL terminator");
	return strtab_locate(ctx, e);
}

static void elf_release(struct elf *e)
{
	free(e->ph);
	free(e->dyn);
	e->ph = NULL;
	e->dyn = NULL;
}

static int elf_load(struct dos_ctx *ctx, struct elf *e, const char *name, uint8_t *buf, size_t len)
{
	uint64_t phentsize = 0, shentsize = 0;
	int r;

	memset(e, 0, sizeof(*e));
	e->name = name;
	e->buf = buf;
	e->len = len;
	e->dyn_ph = e->interp_ph = -1;
	r = header_parse(ctx, e, &phentsize, &shentsize);
	if (r == 0)
		r = phdrs_read(ctx, e, phentsize);
	if (r == 0)
		r = sections_check(ctx, e, shentsize);
	if (r == 0)
		r = interp_check(ctx, e);
	if (r == 0)
		r = dynamic_read(ctx, e);
	if (r < 0)
		elf_release(e);
	return r;
}

/* --- version records --- */

/* Verneed (16 bytes) and Verdef (20 bytes) are both a chain of records, each
 * with a chain of auxiliary records holding names. */
struct ver_layout {
	uint64_t tag, num_tag, rec_size, cnt_at, file_at, aux_at, next_at;
	uint64_t aux_size, aux_name_at, aux_next_at;
	const char *what;
};

#define NO_FIELD UINT64_MAX

static const struct ver_layout verneed_layout = {
	DT_VERNEED, DT_VERNEEDNUM, 16, 2, 4, 8, 12, 16, 8, 12, "DT_VERNEED",
};
static const struct ver_layout verdef_layout = {
	DT_VERDEF, DT_VERDEFNUM, 20, 6, NO_FIELD, 12, 16, 8, 0, 4, "DT_VERDEF",
};

/* Called with each string offset; is_file marks a record's own name. */
typedef int (*ver_visit)(struct dos_ctx *ctx, const struct elf *e, void *arg, bool is_file,
			 uint64_t stroff);

static int ver_aux_walk(struct dos_ctx *ctx, const struct elf *e, const struct ver_layout *l,
			uint64_t rec, uint32_t *budget, ver_visit visit, void *arg)
{
	uint64_t cnt = rd(e, rec + l->cnt_at, 2);
	uint64_t a = rec + rd(e, rec + l->aux_at, 4);
	int r;

	for (uint64_t j = 0; j < cnt; j++) {
		if (--*budget == 0)
			return bad(ctx, e, "too many %s entries", l->what);
		if (!in_file(e, a, l->aux_size))
			return bad(ctx, e, "%s auxiliary entry at %#" PRIx64 " is outside the file",
				   l->what, a);
		r = visit(ctx, e, arg, false, rd(e, a + l->aux_name_at, 4));
		if (r < 0)
			return r;
		uint64_t next = rd(e, a + l->aux_next_at, 4);
		if (next == 0)
			break;
		a += next;
	}
	return 0;
}

static int versions_walk(struct dos_ctx *ctx, const struct elf *e, const struct ver_layout *l,
			 ver_visit visit, void *arg)
{
	uint64_t addr, num = 0, rec;
	uint32_t budget = VERSION_BUDGET;
	int r;

	if (!dyn_find(e, l->tag, &addr))
		return 0;
	dyn_find(e, l->num_tag, &num);
	if (!vaddr_to_off(e, addr, l->rec_size, &rec))
		return bad(ctx, e, "%s at %#" PRIx64 " is not in a loaded part of the file",
			   l->what, addr);
	for (uint64_t i = 0; i < num; i++) {
		if (--budget == 0)
			return bad(ctx, e, "too many %s entries", l->what);
		if (!in_file(e, rec, l->rec_size))
			return bad(ctx, e, "%s entry at %#" PRIx64 " is outside the file", l->what, rec);
		if (l->file_at != NO_FIELD) {
			r = visit(ctx, e, arg, true, rd(e, rec + l->file_at, 4));
			if (r < 0)
				return r;
		}
		r = ver_aux_walk(ctx, e, l, rec, &budget, visit, arg);
		if (r < 0)
			return r;
		uint64_t next = rd(e, rec + l->next_at, 4);
		if (next == 0)
			break;
		rec += next;
	}
	return 0;
}

static int verneed_collect(struct dos_ctx *ctx, const struct elf *e, void *arg, bool is_file,
			   uint64_t stroff)
{
	struct dos_elf_info *info = arg;
	const char *s;
	int r = dynstr_get(ctx, e, is_file ? "version need file" : "version need name", stroff, &s);

	if (r < 0)
		return r;
	if (is_file) {
		info->verneed = dos_xrealloc(info->verneed,
					     (info->n_verneed + 1) * sizeof(*info->verneed));
		memset(&info->verneed[info->n_verneed], 0, sizeof(*info->verneed));
		info->verneed[info->n_verneed++].file = dos_xstrdup(s);
	} else if (info->n_verneed > 0) {
		dos_strv_push(&info->verneed[info->n_verneed - 1].versions, s);
	}
	return 0;
}

/* --- the public reader --- */

void dos_elf_info_release(struct dos_elf_info *info)
{
	free(info->interp);
	free(info->soname);
	free(info->rpath);
	free(info->runpath);
	dos_strv_release(&info->needed);
	for (size_t i = 0; i < info->n_verneed; i++) {
		free(info->verneed[i].file);
		dos_strv_release(&info->verneed[i].versions);
	}
	free(info->verneed);
	memset(info, 0, sizeof(*info));
}

static int dyn_string_take(struct dos_ctx *ctx, const struct elf *e, const struct elf_dyn *d,
			   struct dos_elf_info *info)
{
	static const char *const names[] = {
		[DT_NEEDED] = "DT_NEEDED", [DT_SONAME] = "DT_SONAME",
		[DT_RPATH] = "DT_RPATH", [DT_RUNPATH] = "DT_RUNPATH",
	};
	char **slot = NULL;
	const char *s;
	int r;

	if (d->tag != DT_NEEDED && d->tag != DT_SONAME && d->tag != DT_RPATH && d->tag != DT_RUNPATH)
		return 0;
	r = dynstr_get(ctx, e, names[d->tag], d->val, &s);
	if (r < 0)
		return r;
	if (d->tag == DT_NEEDED) {
		dos_strv_push(&info->needed, s);
		return 0;
	}
	slot = d->tag == DT_SONAME ? &info->soname : d->tag == DT_RPATH ? &info->rpath : &info->runpath;
	if (!*slot)
		*slot = dos_xstrdup(s);
	return 0;
}

static int info_fill(struct dos_ctx *ctx, const struct elf *e, struct dos_elf_info *info)
{
	int r = 0;

	memset(info, 0, sizeof(*info));
	info->bits = e->is64 ? 64 : 32;
	info->big_endian = e->be;
	info->type = e->type;
	info->machine = e->machine;
	info->dynamic = e->dyn_ph >= 0;
	if (e->interp_ph >= 0)
		info->interp = dos_xstrdup((const char *)e->buf + e->ph[e->interp_ph].offset);
	for (size_t i = 0; i < e->ndyn && r == 0; i++)
		r = dyn_string_take(ctx, e, &e->dyn[i], info);
	if (r == 0)
		r = versions_walk(ctx, e, &verneed_layout, verneed_collect, info);
	if (r < 0)
		dos_elf_info_release(info);
	return r;
}

int dos_elf_parse(struct dos_ctx *ctx, const char *name, const void *buf, size_t len,
		  struct dos_elf_info *info)
{
	struct elf e;
	int r;

	memset(info, 0, sizeof(*info));
	/* The reader never writes through e.buf; only the rpath writer does. */
	r = elf_load(ctx, &e, name, (uint8_t *)buf, len);
	if (r < 0)
		return r;
	r = info_fill(ctx, &e, info);
	elf_release(&e);
	return r;
}

/* A file mapped private: writes (by the rpath writer) stay in memory. */
struct mapping {
	uint8_t *addr;
	size_t len;
	struct stat st;
};

static int file_map(struct dos_ctx *ctx, const char *path, bool writable, struct mapping *m)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);

	m->addr = NULL;
	m->len = 0;
	if (fd < 0 || fstat(fd, &m->st) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open '%s'", path);
	if (!S_ISREG(m->st.st_mode))
		return dos_error(ctx, DOS_EFORMAT, "'%s': not a regular file", path);
	if (m->st.st_size == 0)
		return 0;
	m->addr = mmap(NULL, (size_t)m->st.st_size, prot, MAP_PRIVATE, fd, 0);
	if (m->addr == MAP_FAILED) {
		m->addr = NULL;
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot map '%s'", path);
	}
	m->len = (size_t)m->st.st_size;
	return 0;
}

static void file_unmap(struct mapping *m)
{
	if (m->addr)
		munmap(m->addr, m->len);
	m->addr = NULL;
}

int dos_elf_read(struct dos_ctx *ctx, const char *path, struct dos_elf_info *info)
{
	struct mapping m;
	int r;

	memset(info, 0, sizeof(*info));
	r = file_map(ctx, path, false, &m);
	if (r < 0)
		return r;
	r = dos_elf_parse(ctx, path, m.addr, m.len, info);
	file_unmap(&m);
	return r;
}

const char *dos_elf_machine_name(uint16_t machine, char buf[24])
{
	switch (machine) {
	case DOS_ELF_EM_386: return "i386";
	case DOS_ELF_EM_ARM: return "arm";
	case DOS_ELF_EM_X86_64: return "x86_64";
	case DOS_ELF_EM_AARCH64: return "aarch64";
	}
	snprintf(buf, 24, "machine %u", machine);
	return buf;
}

const char *dos_elf_rpath_result_name(int result)
{
	switch (result) {
	case DOS_ELF_RPATH_SET: return "set";
	case DOS_ELF_RPATH_UNCHANGED: return "unchanged";
	case DOS_ELF_SKIP_STATIC: return "static";
	case DOS_ELF_SKIP_LOADER: return "dynamic loader";
	case DOS_ELF_SKIP_NO_NEEDED: return "no needed library";
	}
	return result < 0 ? "failed" : "unknown";
}


/* --- the DT_RPATH writer --- */

static bool is_path_tag(uint64_t tag)
{
	return tag == DT_RPATH || tag == DT_RUNPATH;
}

static bool is_string_tag(uint64_t tag)
{
	return tag == DT_NEEDED || tag == DT_SONAME || tag == DT_CONFIG || tag == DT_DEPAUDIT ||
	       tag == DT_AUDIT || tag == DT_AUXILIARY || tag == DT_FILTER || is_path_tag(tag);
}

static uint64_t round_up(uint64_t x, uint64_t align)
{
	return (x + align - 1) & ~(align - 1);
}

struct offsets {
	uint64_t *v;
	size_t n, alloc;
};

static void offsets_push(struct offsets *o, uint64_t x)
{
	if (o->n == o->alloc) {
		o->alloc = o->alloc ? 2 * o->alloc : 64;
		o->v = dos_xrealloc(o->v, o->alloc * sizeof(*o->v));
	}
	o->v[o->n++] = x;
}

static int ref_collect(struct dos_ctx *ctx, const struct elf *e, void *arg, bool is_file,
		       uint64_t stroff)
{
	offsets_push(arg, stroff);
	return 0;
}

static void dynsym_refs(const struct elf *e, struct offsets *o)
{
	size_t ent = e->is64 ? 24 : 16;
	struct elf_shdr sh;

	for (size_t i = 0; i < e->shnum; i++) {
		shdr_get(e, i, &sh);
		if (sh.type != SHT_DYNSYM || sh.entsize != ent || !in_file(e, sh.offset, sh.size))
			continue;
		for (uint64_t j = 0; j < sh.size / ent && j < DYNSYM_MAX; j++)
			offsets_push(o, rd(e, sh.offset + j * ent, 4));
	}
}

/* The linker merges a string into the tail of a longer one, so other names
 * may share the old path's bytes: overwriting is safe only when no other
 * reference (dynamic entries, version names, dynamic symbols) touches them. */
static bool slot_is_private(const struct elf *e, uint64_t slot, size_t slot_len)
{
	struct dos_ctx scratch = { 0 };
	struct offsets o = { 0 };
	bool ok = true;

	for (size_t i = 0; i < e->ndyn; i++)
		if (is_string_tag(e->dyn[i].tag) && !is_path_tag(e->dyn[i].tag))
			offsets_push(&o, e->dyn[i].val);
	if (versions_walk(&scratch, e, &verneed_layout, ref_collect, &o) < 0 ||
	    versions_walk(&scratch, e, &verdef_layout, ref_collect, &o) < 0)
		ok = false;
	dynsym_refs(e, &o);
	for (size_t i = 0; i < o.n && ok; i++) {
		const char *s = dynstr_at(e, o.v[i]);
		if (s && o.v[i] <= slot + slot_len && slot <= o.v[i] + strlen(s))
			ok = false;
	}
	free(o.v);
	return ok;
}

/* Entry keep becomes DT_RPATH, the other path entries go; the entries after
 * them move up and DT_NULLs fill the tail. */
static void dynamic_rewrite_in_place(struct elf *e, size_t keep)
{
	uint8_t *base = e->buf + e->ph[e->dyn_ph].offset;
	size_t n = 0;

	for (size_t i = 0; i < e->ndyn; i++) {
		if (is_path_tag(e->dyn[i].tag) && i != keep)
			continue;
		dyn_put(e, base, n++, i == keep ? DT_RPATH : e->dyn[i].tag, e->dyn[i].val);
	}
	while (n <= e->ndyn)
		dyn_put(e, base, n++, DT_NULL, 0);
}

static bool rpath_in_place(struct elf *e, const char *rpath)
{
	size_t want = strlen(rpath), best_len = 0, best = SIZE_MAX;
	uint8_t *p;

	for (size_t i = 0; i < e->ndyn; i++) {
		const char *s = is_path_tag(e->dyn[i].tag) ? dynstr_at(e, e->dyn[i].val) : NULL;
		if (s && strlen(s) >= want && (best == SIZE_MAX || strlen(s) > best_len)) {
			best = i;
			best_len = strlen(s);
		}
	}
	if (best == SIZE_MAX || !slot_is_private(e, e->dyn[best].val, best_len))
		return false;
	p = e->buf + e->strtab_off + e->dyn[best].val;
	memcpy(p, rpath, want);
	memset(p + want, 0, best_len - want);
	dynamic_rewrite_in_place(e, best);
	return true;
}

/* The block appended to the file: when no program header entry is free, a
 * grown copy of the program header table; then a copy of the dynamic
 * string table with the new path at its end; then the new dynamic section. */
struct block {
	uint8_t *data;
	size_t len;
	uint64_t off, vaddr;  /* where it goes, in the file and in memory */
	size_t keep;          /* bytes of the old file kept before it */
	uint64_t align;       /* of its PT_LOAD */
	bool table;           /* holds the program header table */
	size_t nph;           /* entries in the table after the change */
	uint64_t str_at, str_size, dyn_at, dyn_size;
};

static bool vrange_in(const struct elf_phdr *p, uint64_t a, uint64_t n)
{
	return a >= p->vaddr && a - p->vaddr <= p->filesz && n <= p->filesz - (a - p->vaddr);
}

/* True when [start, start + size) reaches past off. */
static bool ends_after(uint64_t start, uint64_t size, uint64_t off)
{
	return start > off || size > off - start;
}

/* True when nothing but our block's contents (the dynamic section, the
 * string table, maybe the program header table) lies at or after off. */
static bool nothing_after(const struct elf *e, size_t block, uint64_t off)
{
	struct elf_shdr sh;

	if (e->phoff < off && ends_after(e->phoff, e->phnum * phent(e), off))
		return false;
	if (e->shnum && ends_after(e->shoff, e->shnum * shent(e), off))
		return false;
	for (size_t i = 0; i < e->phnum; i++)
		if (i != block && (int)i != e->dyn_ph && e->ph[i].type != PT_PHDR &&
		    e->ph[i].filesz && ends_after(e->ph[i].offset, e->ph[i].filesz, off))
			return false;
	for (size_t i = 0; i < e->shnum; i++) {
		shdr_get(e, i, &sh);
		if (sh.type == SHT_NOBITS || sh.type == SHT_DYNAMIC || !sh.size ||
		    (sh.type == SHT_STRTAB && sh.addr == e->strtab_vaddr))
			continue;
		if (ends_after(sh.offset, sh.size, off))
			return false;
	}
	return true;
}

/* The PT_LOAD a previous run appended, when it is there and can be
 * replaced: rewriting it again needs no new program header. */
static int own_block_slot(const struct elf *e)
{
	const struct elf_phdr *p, *d = &e->ph[e->dyn_ph];
	int last = -1;

	for (size_t i = 0; i < e->phnum; i++)
		if (e->ph[i].type == PT_LOAD && (last < 0 || e->ph[i].vaddr > e->ph[last].vaddr))
			last = (int)i;
	if (last < 0)
		return -1;
	p = &e->ph[last];
	if (p->flags != (PF_R | PF_W) || p->offset % PAGE_MIN || p->offset > e->len ||
	    p->filesz != e->len - p->offset || p->filesz != p->memsz)
		return -1;
	if (!vrange_in(p, e->strtab_vaddr, e->strsz) || !vrange_in(p, d->vaddr, d->filesz))
		return -1;
	return nothing_after(e, (size_t)last, p->offset) ? last : -1;
}

/* A program header entry the new PT_LOAD may take: an unused PT_NULL, else
 * a PT_NOTE duplicated by PT_GNU_PROPERTY (the kernel and ld.so read the
 * latter), else any PT_NOTE: notes only serve debuggers and ABI tags. */
static int spare_slot(const struct elf *e)
{
	int note = -1;

	for (size_t i = 0; i < e->phnum; i++)
		if (e->ph[i].type == PT_NULL)
			return (int)i;
	for (size_t i = 0; i < e->phnum; i++) {
		if (e->ph[i].type != PT_NOTE)
			continue;
		if (note < 0)
			note = (int)i;
		for (size_t j = 0; j < e->phnum; j++)
			if (e->ph[j].type == PT_GNU_PROPERTY && e->ph[j].offset == e->ph[i].offset)
				return (int)i;
	}
	return note;
}

/* The largest PT_LOAD alignment (at least a page) and the end of the
 * highest segment in memory. */
static int loads_span(struct dos_ctx *ctx, const struct elf *e, uint64_t *align, uint64_t *end)
{
	uint64_t size;

	*align = PAGE_MIN;
	*end = 0;
	for (size_t i = 0; i < e->phnum; i++) {
		const struct elf_phdr *p = &e->ph[i];
		if (p->type != PT_LOAD)
			continue;
		if (p->align & (p->align - 1))
			return bad(ctx, e, "PT_LOAD alignment %#" PRIx64 " is not a power of two", p->align);
		if (p->align > *align)
			*align = p->align;
		/* A hostile p_filesz larger than p_memsz: vaddr_to_off() maps
		 * addresses by p_filesz, so the new segment must start past that
		 * too, or its .dynstr would be read from this segment's bytes
		 * (found by fuzzing). */
		size = p->filesz > p->memsz ? p->filesz : p->memsz;
		if (p->vaddr + size < p->vaddr)
			return bad(ctx, e, "PT_LOAD at %#" PRIx64 " wraps around", p->vaddr);
		if (p->vaddr + size > *end)
			*end = p->vaddr + size;
	}
	if (*align > (1u << 30) || *end > UINT64_MAX / 2)
		return bad(ctx, e, "PT_LOAD segments are too large or too far apart");
	return 0;
}

/* With the program header table in the block, the block keeps the first
 * PT_LOAD's difference between address and offset: kernels before 5.18 put
 * AT_PHDR at that segment's address plus e_phoff. */
static int block_place_table(struct dos_ctx *ctx, const struct elf *e, uint64_t end,
			     struct block *b)
{
	const struct elf_phdr *first = NULL;
	uint64_t delta, end_aligned = round_up(end, b->align);

	for (size_t i = 0; i < e->phnum && !first; i++)
		if (e->ph[i].type == PT_LOAD)
			first = &e->ph[i];
	if (!first || first->offset > first->vaddr || (first->vaddr - first->offset) % b->align ||
	    b->nph > 0xfff0)
		return bad(ctx, e, "no program header entry is free and the table cannot move");
	delta = first->vaddr - first->offset;
	if (end_aligned - delta > b->off)
		b->off = end_aligned - delta;
	if (b->off - b->keep > (1u << 30))
		return bad(ctx, e, "the segments end too far past the end of the file");
	b->vaddr = b->off + delta;
	return 0;
}

/* A new block goes after the end of the file, page-aligned, and above every
 * segment in memory with its offset and address congruent modulo the
 * alignment, as the kernel and ld.so require. */
static int block_place(struct dos_ctx *ctx, const struct elf *e, int slot, bool reuse,
		       struct block *b)
{
	uint64_t end;
	int r;

	if (reuse) {
		b->keep = b->off = e->ph[slot].offset;
		b->vaddr = e->ph[slot].vaddr;
		b->align = e->ph[slot].align;
		return 0;
	}
	r = loads_span(ctx, e, &b->align, &end);
	if (r < 0)
		return r;
	b->keep = e->len;
	b->off = round_up(e->len, PAGE_MIN);
	if (b->table)
		return block_place_table(ctx, e, end, b);
	b->vaddr = round_up(end, b->align) + b->off % b->align;
	return 0;
}

static void block_build(const struct elf *e, const char *rpath, struct block *b)
{
	size_t rlen = strlen(rpath) + 1, n = 0, count = 2;
	uint8_t *dyn;

	for (size_t i = 0; i < e->ndyn; i++)
		count += !is_path_tag(e->dyn[i].tag);
	b->str_at = b->table ? round_up(b->nph * phent(e), 8) : 0;
	b->str_size = e->strsz + rlen;
	b->dyn_at = round_up(b->str_at + b->str_size, 8);
	b->dyn_size = count * dynent(e);
	b->len = b->dyn_at + b->dyn_size;
	b->data = dos_xcalloc(1, b->len);
	memcpy(b->data + b->str_at, e->buf + e->strtab_off, e->strsz);
	memcpy(b->data + b->str_at + e->strsz, rpath, rlen);
	dyn = b->data + b->dyn_at;
	for (size_t i = 0; i < e->ndyn; i++) {
		uint64_t tag = e->dyn[i].tag, val = e->dyn[i].val;
		if (is_path_tag(tag))
			continue;
		if (tag == DT_STRTAB)
			val = b->vaddr + b->str_at;
		else if (tag == DT_STRSZ)
			val = b->str_size;
		dyn_put(e, dyn, n++, tag, val);
	}
	dyn_put(e, dyn, n++, DT_RPATH, e->strsz);
	dyn_put(e, dyn, n, DT_NULL, 0);
}

/* So that readelf and debuggers find them: .dynamic and .dynstr now live in
 * the block. */
static void sections_update(struct elf *e, const struct block *b)
{
	struct elf_shdr sh;
	bool dyn_done = false;

	for (size_t i = 0; i < e->shnum; i++) {
		shdr_get(e, i, &sh);
		if (sh.type == SHT_DYNAMIC && !dyn_done) {
			sh.offset = b->off + b->dyn_at;
			sh.addr = b->vaddr + b->dyn_at;
			sh.size = b->dyn_size;
			dyn_done = true;
		} else if (sh.type == SHT_STRTAB && sh.addr && sh.addr == e->strtab_vaddr) {
			sh.offset = b->off + b->str_at;
			sh.addr = b->vaddr + b->str_at;
			sh.size = b->str_size;
		} else {
			continue;
		}
		shdr_put(e, i, &sh);
	}
}

/* The new PT_LOAD goes right after the last PT_LOAD, taking the place of
 * the entry at slot or growing the table: the kernel and ld.so take the
 * mapping's span from the first and last PT_LOAD in table order. Other
 * entries keep their order, so PT_PHDR and PT_INTERP stay in front. */
static void phdrs_insert(struct elf *e, int slot, const struct elf_phdr *load)
{
	size_t at = 0, n = e->phnum;

	if (slot >= 0) {
		n--;
		memmove(&e->ph[slot], &e->ph[slot + 1], (n - (size_t)slot) * sizeof(*e->ph));
	} else {
		e->ph = dos_xrealloc(e->ph, (n + 1) * sizeof(*e->ph));
		e->phnum++;
	}
	for (size_t i = 0; i < n; i++)
		if (e->ph[i].type == PT_LOAD)
			at = i + 1;
	memmove(&e->ph[at + 1], &e->ph[at], (n - at) * sizeof(*e->ph));
	e->ph[at] = *load;
}

/* The table now lives at the start of the block: PT_PHDR and the ELF
 * header follow it. */
static void phdrs_move(struct elf *e, const struct block *b)
{
	unsigned w = e->is64 ? 8 : 4;

	for (size_t i = 0; i < e->phnum; i++) {
		if (e->ph[i].type != PT_PHDR)
			continue;
		e->ph[i].offset = b->off;
		e->ph[i].vaddr = e->ph[i].paddr = b->vaddr;
		e->ph[i].filesz = e->ph[i].memsz = e->phnum * phent(e);
	}
	e->phoff = b->off;
	wr(e, 24 + w, w, e->phoff);
	wr(e, e->is64 ? 56 : 44, 2, e->phnum);
}

static void phdrs_update(struct elf *e, int slot, bool reuse, struct block *b)
{
	struct elf_phdr *d = &e->ph[e->dyn_ph];
	struct elf_phdr load = {
		.type = PT_LOAD, .flags = PF_R | PF_W, .offset = b->off, .vaddr = b->vaddr,
		.paddr = b->vaddr, .filesz = b->len, .memsz = b->len, .align = b->align,
	};

	d->offset = b->off + b->dyn_at;
	d->vaddr = d->paddr = b->vaddr + b->dyn_at;
	d->filesz = d->memsz = b->dyn_size;
	d->align = 8;
	if (reuse)
		e->ph[slot] = load;
	else
		phdrs_insert(e, slot, &load);
	e->dyn_ph = -1; /* the table moved: the index no longer holds */
	if (b->table)
		phdrs_move(e, b);
	for (size_t i = 0; i < e->phnum; i++)
		phdr_put(e, b->table ? b->data : e->buf + e->phoff, i, &e->ph[i]);
}

static int rpath_append(struct dos_ctx *ctx, struct elf *e, const char *rpath, struct block *b)
{
	int slot = own_block_slot(e);
	bool reuse = slot >= 0;
	int r;

	if (reuse) {
		b->table = e->phoff >= e->ph[slot].offset;
	} else {
		slot = spare_slot(e);
		b->table = slot < 0;
	}
	b->nph = e->phnum + (!reuse && slot < 0);
	r = block_place(ctx, e, slot, reuse, b);
	if (r < 0)
		return r;
	block_build(e, rpath, b);
	sections_update(e, b);
	phdrs_update(e, slot, reuse, b);
	return 0;
}

/* Any gap before the block stays a hole: it reads as zeros. */
static int block_write(int fd, const struct block *b)
{
	if (lseek(fd, (off_t)b->off, SEEK_SET) < 0)
		return errno;
	return dos_write_full(fd, b->data, b->len);
}

/* Atomic replacement, keeping mode and (when allowed) owner. No fsync: the
 * bundle is rebuilt as a whole after a crash, and thousands of fsyncs would
 * dominate the finalize step. */
static int file_replace(struct dos_ctx *ctx, const char *path, const struct stat *st,
			const uint8_t *head, size_t head_len, const struct block *b)
{
	_cleanup_free_ char *dir = dos_path_dirname(path);
	_cleanup_free_ char *tmp = dos_xasprintf("%s/.dos-rpath-XXXXXX", dir);
	int fd = mkostemp(tmp, O_CLOEXEC), err;

	if (fd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot create a temporary file beside '%s'",
				       path);
	err = dos_write_full(fd, head, head_len);
	if (!err && b)
		err = block_write(fd, b);
	if (fchown(fd, st->st_uid, st->st_gid) < 0) {
		/* not allowed to give it away: it stays ours */
	}
	err = dos_tmpfile_commit(fd, tmp, path, st->st_mode & 07777, err);
	return err ? dos_error_errno(ctx, DOS_EIO, err, "cannot rewrite '%s'", path) : 0;
}

static bool is_loader(const struct dos_elf_info *info)
{
	const char *s = info->soname;

	return !info->interp && s &&
	       (!strncmp(s, "ld-", 3) || !strncmp(s, "ld64.so", 7) || !strncmp(s, "ld.so", 5));
}

static bool overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return an && bn && a < b + bn && b < a + an;
}

/* The writer rewrites the program header table, the dynamic section and
 * the dynamic string table where they are: when a hostile file makes two
 * of them, or one and the PT_INTERP string, share bytes, writing one
 * corrupts the other (found by fuzzing: a 74-entry table over the
 * interpreter's path). Files from a linker never do. Offsets and sizes
 * were checked against the file when it was read. */
static int layout_check(struct dos_ctx *ctx, const struct elf *e)
{
	const struct elf_phdr *d = &e->ph[e->dyn_ph], *in = e->interp_ph >= 0 ? &e->ph[e->interp_ph] : NULL;
	const uint64_t r[4][2] = {
		{ e->phoff, e->phnum * phent(e) },
		{ d->offset, d->filesz },
		{ e->strtab_off, e->strsz },
		{ in ? in->offset : 0, in ? in->filesz : 0 },
	};

	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			if (overlap(r[i][0], r[i][1], r[j][0], r[j][1]))
				return bad(ctx, e, "the program header table, the dynamic section, its "
					   "string table and the interpreter's path overlap");
	return 0;
}

static int rpath_precheck(struct dos_ctx *ctx, const struct elf *e,
			  const struct dos_elf_info *info, const char *rpath)
{
	size_t paths = 0;
	char m[24];

	if (!info->dynamic)
		return DOS_ELF_SKIP_STATIC;
	if (is_loader(info))
		return DOS_ELF_SKIP_LOADER;
	if (info->needed.n == 0)
		return DOS_ELF_SKIP_NO_NEEDED;
	if (!e->is64 || e->be || (e->machine != DOS_ELF_EM_X86_64 && e->machine != DOS_ELF_EM_AARCH64))
		return bad(ctx, e, "setting DT_RPATH on %d-bit %s-endian %s files is not supported",
			   e->is64 ? 64 : 32, e->be ? "big" : "little",
			   dos_elf_machine_name(e->machine, m));
	if (!e->has_strtab)
		return bad(ctx, e, "no dynamic string table");
	for (size_t i = 0; i < e->ndyn; i++)
		paths += is_path_tag(e->dyn[i].tag);
	if (paths == 1 && info->rpath && !strcmp(info->rpath, rpath))
		return DOS_ELF_RPATH_UNCHANGED;
	return layout_check(ctx, e);
}

static int rpath_write(struct dos_ctx *ctx, const char *name, const char *real,
		       struct mapping *m, const char *rpath)
{
	struct dos_elf_info info;
	struct block b = { 0 };
	struct elf e;
	int r = elf_load(ctx, &e, name, m->addr, m->len);

	if (r < 0)
		return r;
	r = info_fill(ctx, &e, &info);
	if (r == 0) {
		r = rpath_precheck(ctx, &e, &info, rpath);
		dos_elf_info_release(&info);
	}
	if (r == 0 && rpath_in_place(&e, rpath)) {
		r = file_replace(ctx, real, &m->st, e.buf, e.len, NULL);
	} else if (r == 0) {
		r = rpath_append(ctx, &e, rpath, &b);
		if (r == 0)
			r = file_replace(ctx, real, &m->st, e.buf, b.keep, &b);
	}
	free(b.data);
	elf_release(&e);
	return r;
}

int dos_elf_set_rpath(struct dos_ctx *ctx, const char *path, const char *rpath)
{
	_cleanup_free_ char *real = realpath(path, NULL);
	struct mapping m;
	int r;

	if (!real)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot resolve '%s'", path);
	r = file_map(ctx, real, true, &m);
	if (r < 0)
		return r;
	r = rpath_write(ctx, path, real, &m, rpath);
	file_unmap(&m);
	return r;
}

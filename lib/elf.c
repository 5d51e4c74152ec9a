/* elf.c: bounds-checked ELF reading; the DT_RPATH writer built on it is
 * elf_rpath.c.
 *
 * Every read goes through elf_in_file(): a field is decoded only once its bytes
 * are known to lie inside the buffer, a string only once its NUL is known to
 * lie inside its table. Counts read from the file bound loops only after
 * their tables were checked, and chains (version needs) carry a budget. */
#include "elf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where a field lies in a header, for each class. */
struct field {
	uint8_t off, size;
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

int elf_bad(struct dos_ctx *ctx, const struct elf *e, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return dos_error(ctx, DOS_EFORMAT, "ELF file '%s': %s", e->name, what);
}

/* --- decoding --- */

static void fields_get(const struct elf *e, uint64_t off, const struct field *t, size_t n,
		       uint64_t *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = elf_rd(e, off + t[i].off, t[i].size);
}

static void fields_put(const struct elf *e, uint8_t *base, const struct field *t, size_t n,
		       const uint64_t *in)
{
	for (size_t i = 0; i < n; i++)
		elf_put_bytes(base + t[i].off, e->be, t[i].size, in[i]);
}

/* Writes program header i of the table at base (in the file or a block). */
void elf_phdr_put(const struct elf *e, uint8_t *base, size_t i, const struct elf_phdr *ph)
{
	fields_put(e, base + i * elf_phent(e), e->is64 ? ph64 : ph32, 8, (const uint64_t *)ph);
}

/* Section headers were range-checked as a table in sections_check(). */
void elf_shdr_get(const struct elf *e, size_t i, struct elf_shdr *sh)
{
	fields_get(e, e->shoff + i * elf_shent(e), e->is64 ? sh64 : sh32, 10, (uint64_t *)sh);
}

void elf_shdr_put(struct elf *e, size_t i, const struct elf_shdr *sh)
{
	fields_put(e, e->buf + e->shoff + i * elf_shent(e), e->is64 ? sh64 : sh32, 10,
		   (const uint64_t *)sh);
}

/* Writes dynamic entry i of the table at base (the file or a new block). */
void elf_dyn_put(const struct elf *e, uint8_t *base, size_t i, uint64_t tag, uint64_t val)
{
	unsigned w = e->is64 ? 8 : 4;

	elf_put_bytes(base + i * elf_dynent(e), e->be, w, tag);
	elf_put_bytes(base + i * elf_dynent(e) + w, e->be, w, val);
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
		return elf_bad(ctx, e, "truncated identification (%zu bytes)", e->len);
	if (b[4] != 1 && b[4] != 2)
		return elf_bad(ctx, e, "unknown class %u", b[4]);
	if (b[5] != 1 && b[5] != 2)
		return elf_bad(ctx, e, "unknown data encoding %u", b[5]);
	e->is64 = b[4] == 2;
	e->be = b[5] == 2;
	if (e->len < (e->is64 ? 64u : 52u))
		return elf_bad(ctx, e, "truncated ELF header (%zu bytes)", e->len);
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
	e->type = (uint16_t)elf_rd(e, 16, 2);
	e->machine = (uint16_t)elf_rd(e, 18, 2);
	e->phoff = elf_rd(e, 24 + w, w);
	e->shoff = elf_rd(e, 24 + 2 * w, w);
	*phentsize = elf_rd(e, at, 2);
	e->phnum = elf_rd(e, at + 2, 2);
	*shentsize = elf_rd(e, at + 4, 2);
	e->shnum = elf_rd(e, at + 6, 2);
	return 0;
}

static int phdrs_read(struct dos_ctx *ctx, struct elf *e, uint64_t entsize)
{
	if (e->phnum == 0)
		return 0;
	if (e->phnum == 0xffff)
		return elf_bad(ctx, e, "extended program header count is not supported");
	if (entsize != elf_phent(e))
		return elf_bad(ctx, e, "program header size %" PRIu64 ", expected %zu", entsize, elf_phent(e));
	if (!elf_in_file(e, e->phoff, e->phnum * entsize))
		return elf_bad(ctx, e, "program header table (offset %#" PRIx64 ", %zu entries) "
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
	if (entsize != elf_shent(e))
		return elf_bad(ctx, e, "section header size %" PRIu64 ", expected %zu", entsize, elf_shent(e));
	if (!elf_in_file(e, e->shoff, elf_shent(e)))
		return elf_bad(ctx, e, "section header table offset %#" PRIx64 " is past the end of "
			   "the file (%zu bytes)", e->shoff, e->len);
	if (e->shnum == 0) {
		elf_shdr_get(e, 0, &sh0);
		if (sh0.size > e->len / elf_shent(e))
			return elf_bad(ctx, e, "section count %" PRIu64 " is too large", sh0.size);
		e->shnum = sh0.size;
	}
	if (!elf_in_file(e, e->shoff, e->shnum * elf_shent(e)))
		return elf_bad(ctx, e, "section header table (offset %#" PRIx64 ", %zu entries) "
			   "extends past the end of the file (%zu bytes)", e->shoff, e->shnum, e->len);
	return 0;
}

static int interp_check(struct dos_ctx *ctx, const struct elf *e)
{
	const struct elf_phdr *p;

	if (e->interp_ph < 0)
		return 0;
	p = &e->ph[e->interp_ph];
	if (!elf_in_file(e, p->offset, p->filesz))
		return elf_bad(ctx, e, "PT_INTERP (offset %#" PRIx64 ", size %#" PRIx64 ") is outside "
			   "the file", p->offset, p->filesz);
	if (!memchr(e->buf + p->offset, '\0', p->filesz))
		return elf_bad(ctx, e, "PT_INTERP string is not NUL-terminated");
	return 0;
}

/* --- addresses and strings --- */

/* The file offset of [vaddr, vaddr + size), when a PT_LOAD maps all of it
 * from bytes that are in the file. */
bool elf_vaddr_to_off(const struct elf *e, uint64_t vaddr, uint64_t size, uint64_t *off)
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
		if (!elf_in_file(e, p->offset + delta, size))
			continue;
		*off = p->offset + delta;
		return true;
	}
	return false;
}

/* The string at off in the dynamic string table, NULL when off is outside
 * it or the string has no NUL inside it. */
const char *elf_dynstr_at(const struct elf *e, uint64_t off)
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
	*s = elf_dynstr_at(e, off);
	if (!*s)
		return elf_bad(ctx, e, "%s string at offset %#" PRIx64 " is outside the dynamic string "
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
		elf_shdr_get(e, i, &sh);
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
		return elf_bad(ctx, e, "DT_STRTAB without DT_STRSZ");
	if (!elf_vaddr_to_off(e, addr, size, &e->strtab_off))
		return elf_bad(ctx, e, "dynamic string table (address %#" PRIx64 ", size %#" PRIx64 ") "
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
	if (!elf_in_file(e, d->offset, d->filesz))
		return elf_bad(ctx, e, "PT_DYNAMIC (offset %#" PRIx64 ", size %#" PRIx64 ") extends past "
			   "the end of the file (%zu bytes)", d->offset, d->filesz, e->len);
	if (dynamic_is_nobits(e)) {
		e->dyn_ph = -1;
		return 0;
	}
	cap = d->filesz / elf_dynent(e);
	e->dyn = dos_xcalloc(cap + 1, sizeof(*e->dyn));
	for (e->ndyn = 0; e->ndyn < cap; e->ndyn++) {
		uint64_t at = d->offset + e->ndyn * elf_dynent(e);
		e->dyn[e->ndyn].tag = elf_rd(e, at, w);
		e->dyn[e->ndyn].val = elf_rd(e, at + w, w);
		if (e->dyn[e->ndyn].tag == DT_NULL)
			break;
	}
	if (e->ndyn == cap)
		return elf_bad(ctx, e, "the dynamic section has no DT_NULL terminator");
	return strtab_locate(ctx, e);
}

void elf_release(struct elf *e)
{
	free(e->ph);
	free(e->dyn);
	e->ph = NULL;
	e->dyn = NULL;
}

int elf_load(struct dos_ctx *ctx, struct elf *e, const char *name, uint8_t *buf, size_t len)
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

const struct elf_ver_layout elf_verneed_layout = {
	DT_VERNEED, DT_VERNEEDNUM, 16, 2, 4, 8, 12, 16, 8, 12, "DT_VERNEED",
};
const struct elf_ver_layout elf_verdef_layout = {
	DT_VERDEF, DT_VERDEFNUM, 20, 6, NO_FIELD, 12, 16, 8, 0, 4, "DT_VERDEF",
};

static int ver_aux_walk(struct dos_ctx *ctx, const struct elf *e, const struct elf_ver_layout *l,
			uint64_t rec, uint32_t *budget, elf_ver_visit visit, void *arg)
{
	uint64_t cnt = elf_rd(e, rec + l->cnt_at, 2);
	uint64_t a = rec + elf_rd(e, rec + l->aux_at, 4);
	int r;

	for (uint64_t j = 0; j < cnt; j++) {
		if (--*budget == 0)
			return elf_bad(ctx, e, "too many %s entries", l->what);
		if (!elf_in_file(e, a, l->aux_size))
			return elf_bad(ctx, e, "%s auxiliary entry at %#" PRIx64 " is outside the file",
				   l->what, a);
		r = visit(ctx, e, arg, false, elf_rd(e, a + l->aux_name_at, 4));
		if (r < 0)
			return r;
		uint64_t next = elf_rd(e, a + l->aux_next_at, 4);
		if (next == 0)
			break;
		a += next;
	}
	return 0;
}

int elf_versions_walk(struct dos_ctx *ctx, const struct elf *e, const struct elf_ver_layout *l,
			 elf_ver_visit visit, void *arg)
{
	uint64_t addr, num = 0, rec;
	uint32_t budget = VERSION_BUDGET;
	int r;

	if (!dyn_find(e, l->tag, &addr))
		return 0;
	dyn_find(e, l->num_tag, &num);
	if (!elf_vaddr_to_off(e, addr, l->rec_size, &rec))
		return elf_bad(ctx, e, "%s at %#" PRIx64 " is not in a loaded part of the file",
			   l->what, addr);
	for (uint64_t i = 0; i < num; i++) {
		if (--budget == 0)
			return elf_bad(ctx, e, "too many %s entries", l->what);
		if (!elf_in_file(e, rec, l->rec_size))
			return elf_bad(ctx, e, "%s entry at %#" PRIx64 " is outside the file", l->what, rec);
		if (l->file_at != NO_FIELD) {
			r = visit(ctx, e, arg, true, elf_rd(e, rec + l->file_at, 4));
			if (r < 0)
				return r;
		}
		r = ver_aux_walk(ctx, e, l, rec, &budget, visit, arg);
		if (r < 0)
			return r;
		uint64_t next = elf_rd(e, rec + l->next_at, 4);
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

int elf_info_fill(struct dos_ctx *ctx, const struct elf *e, struct dos_elf_info *info)
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
		r = elf_versions_walk(ctx, e, &elf_verneed_layout, verneed_collect, info);
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
	r = elf_info_fill(ctx, &e, info);
	elf_release(&e);
	return r;
}

int elf_file_map(struct dos_ctx *ctx, const char *path, bool writable, struct elf_mapping *m)
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

void elf_file_unmap(struct elf_mapping *m)
{
	if (m->addr)
		munmap(m->addr, m->len);
	m->addr = NULL;
}

int dos_elf_read(struct dos_ctx *ctx, const char *path, struct dos_elf_info *info)
{
	struct elf_mapping m;
	int r;

	memset(info, 0, sizeof(*info));
	r = elf_file_map(ctx, path, false, &m);
	if (r < 0)
		return r;
	r = dos_elf_parse(ctx, path, m.addr, m.len, info);
	elf_file_unmap(&m);
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

/* elf_rpath.c: the in-process DT_RPATH writer. The file is read with
 * elf.c's bounds-checked reader, changed in a private mapping, and written
 * to a temporary file renamed over it. */
#include "elf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
		elf_shdr_get(e, i, &sh);
		if (sh.type != SHT_DYNSYM || sh.entsize != ent || !elf_in_file(e, sh.offset, sh.size))
			continue;
		for (uint64_t j = 0; j < sh.size / ent && j < DYNSYM_MAX; j++)
			offsets_push(o, elf_rd(e, sh.offset + j * ent, 4));
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
	if (elf_versions_walk(&scratch, e, &elf_verneed_layout, ref_collect, &o) < 0 ||
	    elf_versions_walk(&scratch, e, &elf_verdef_layout, ref_collect, &o) < 0)
		ok = false;
	dynsym_refs(e, &o);
	for (size_t i = 0; i < o.n && ok; i++) {
		const char *s = elf_dynstr_at(e, o.v[i]);
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
		elf_dyn_put(e, base, n++, i == keep ? DT_RPATH : e->dyn[i].tag, e->dyn[i].val);
	}
	while (n <= e->ndyn)
		elf_dyn_put(e, base, n++, DT_NULL, 0);
}

static bool rpath_in_place(struct elf *e, const char *rpath)
{
	size_t want = strlen(rpath), best_len = 0, best = SIZE_MAX;
	uint8_t *p;

	for (size_t i = 0; i < e->ndyn; i++) {
		const char *s = is_path_tag(e->dyn[i].tag) ? elf_dynstr_at(e, e->dyn[i].val) : NULL;
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

	if (e->phoff < off && ends_after(e->phoff, e->phnum * elf_phent(e), off))
		return false;
	if (e->shnum && ends_after(e->shoff, e->shnum * elf_shent(e), off))
		return false;
	for (size_t i = 0; i < e->phnum; i++)
		if (i != block && (int)i != e->dyn_ph && e->ph[i].type != PT_PHDR &&
		    e->ph[i].filesz && ends_after(e->ph[i].offset, e->ph[i].filesz, off))
			return false;
	for (size_t i = 0; i < e->shnum; i++) {
		elf_shdr_get(e, i, &sh);
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
			return elf_bad(ctx, e, "PT_LOAD alignment %#" PRIx64 " is not a power of two", p->align);
		if (p->align > *align)
			*align = p->align;
		/* A hostile p_filesz larger than p_memsz: elf_vaddr_to_off() maps
		 * addresses by p_filesz, so the new segment must start past that
		 * too, or its .dynstr would be read from this segment's bytes
		 * (found by fuzzing). */
		size = p->filesz > p->memsz ? p->filesz : p->memsz;
		if (p->vaddr + size < p->vaddr)
			return elf_bad(ctx, e, "PT_LOAD at %#" PRIx64 " wraps around", p->vaddr);
		if (p->vaddr + size > *end)
			*end = p->vaddr + size;
	}
	if (*align > (1u << 30) || *end > UINT64_MAX / 2)
		return elf_bad(ctx, e, "PT_LOAD segments are too large or too far apart");
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
		return elf_bad(ctx, e, "no program header entry is free and the table cannot move");
	delta = first->vaddr - first->offset;
	if (end_aligned - delta > b->off)
		b->off = end_aligned - delta;
	if (b->off - b->keep > (1u << 30))
		return elf_bad(ctx, e, "the segments end too far past the end of the file");
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
	b->str_at = b->table ? round_up(b->nph * elf_phent(e), 8) : 0;
	b->str_size = e->strsz + rlen;
	b->dyn_at = round_up(b->str_at + b->str_size, 8);
	b->dyn_size = count * elf_dynent(e);
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
		elf_dyn_put(e, dyn, n++, tag, val);
	}
	elf_dyn_put(e, dyn, n++, DT_RPATH, e->strsz);
	elf_dyn_put(e, dyn, n, DT_NULL, 0);
}

/* So that readelf and debuggers find them: .dynamic and .dynstr now live in
 * the block. */
static void sections_update(struct elf *e, const struct block *b)
{
	struct elf_shdr sh;
	bool dyn_done = false;

	for (size_t i = 0; i < e->shnum; i++) {
		elf_shdr_get(e, i, &sh);
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
		elf_shdr_put(e, i, &sh);
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
		e->ph[i].filesz = e->ph[i].memsz = e->phnum * elf_phent(e);
	}
	e->phoff = b->off;
	elf_wr(e, 24 + w, w, e->phoff);
	elf_wr(e, e->is64 ? 56 : 44, 2, e->phnum);
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
		elf_phdr_put(e, b->table ? b->data : e->buf + e->phoff, i, &e->ph[i]);
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
		{ e->phoff, e->phnum * elf_phent(e) },
		{ d->offset, d->filesz },
		{ e->strtab_off, e->strsz },
		{ in ? in->offset : 0, in ? in->filesz : 0 },
	};

	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			if (overlap(r[i][0], r[i][1], r[j][0], r[j][1]))
				return elf_bad(ctx, e, "the program header table, the dynamic section, its "
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
		return elf_bad(ctx, e, "setting DT_RPATH on %d-bit %s-endian %s files is not supported",
			   e->is64 ? 64 : 32, e->be ? "big" : "little",
			   dos_elf_machine_name(e->machine, m));
	if (!e->has_strtab)
		return elf_bad(ctx, e, "no dynamic string table");
	for (size_t i = 0; i < e->ndyn; i++)
		paths += is_path_tag(e->dyn[i].tag);
	if (paths == 1 && info->rpath && !strcmp(info->rpath, rpath))
		return DOS_ELF_RPATH_UNCHANGED;
	return layout_check(ctx, e);
}

static int rpath_write(struct dos_ctx *ctx, const char *name, const char *real,
		       struct elf_mapping *m, const char *rpath)
{
	struct dos_elf_info info;
	struct block b = { 0 };
	struct elf e;
	int r = elf_load(ctx, &e, name, m->addr, m->len);

	if (r < 0)
		return r;
	r = elf_info_fill(ctx, &e, &info);
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
	struct elf_mapping m;
	int r;

	if (!real)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot resolve '%s'", path);
	r = elf_file_map(ctx, real, true, &m);
	if (r < 0)
		return r;
	r = rpath_write(ctx, path, real, &m, rpath);
	elf_file_unmap(&m);
	return r;
}

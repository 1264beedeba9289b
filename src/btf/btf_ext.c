/*
 * ub_btf_ext: the .BTF.ext section (func_info, line_info, CO-RE relocations).
 *
 * Layout (libbpf's and LLVM's): a header naming three subsections by offset and length
 * relative to the end of the header; each subsection starts with a u32 record size and
 * then holds blocks { u32 sec_name_off; u32 num_info; num_info records }, one per ELF
 * section, the name being an offset into the .BTF string table. The section is untrusted:
 * every length, record size, count, name and type id is checked here, so callers index
 * without re-checking. The one thing left to callers is insn_off, which only they can
 * compare with the size of the ELF section named.
 */
#include "btf/btf.h"
#include <errno.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The header as LLVM writes it; core_relo_* are absent in the oldest (24-byte) form. */
struct btfx_header {
	uint16_t magic;
	uint8_t version;
	uint8_t flags;
	uint32_t hdr_len;
	uint32_t func_info_off, func_info_len;
	uint32_t line_info_off, line_info_len;
	uint32_t core_relo_off, core_relo_len;
};
#define BTFX_MIN_HDR 24u

struct ub_btf_ext {
	uint8_t *raw;
	size_t size;
	struct ub_btf_ext_sec *secs[3];
	uint32_t nsecs[3];
};

/* Per subsection: its name in messages and the smallest record the kernel accepts. */
static const struct {
	const char *name;
	uint32_t min_rec;
} btfx_kinds[3] = {
	[UB_BTF_EXT_FUNC] = { "func_info", sizeof(struct bpf_func_info) },
	[UB_BTF_EXT_LINE] = { "line_info", sizeof(struct bpf_line_info) },
	[UB_BTF_EXT_CORE] = { "core_relo", sizeof(struct bpf_core_relo) },
};

#define BTFX_ERR(log, ...) (ub_log_printf((log), "BTF.ext: " __VA_ARGS__), ub_log_printf((log), "\n"), -EINVAL)

/* Length of the .BTF string table, so string offsets can be checked (ub_btf_str hides it). */
static uint32_t btfx_str_len(const struct ub_btf *btf)
{
	struct btf_header h;
	size_t sz;
	const void *raw = ub_btf_raw(btf, &sz);

	memcpy(&h, raw, sizeof(h));
	return h.str_len;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

struct btfx_ck {
	const struct ub_btf *btf;
	uint32_t str_len;
	struct ub_log *log;
};

/* A string offset that must name something: within the table and not the empty string. */
static bool btfx_name_ok(const struct btfx_ck *c, uint32_t off)
{
	return off && off < c->str_len;
}

/* A record's instruction offset is in bytes and must land on an instruction. */
static int btfx_check_insn_off(const struct btfx_ck *c, const char *what, size_t at, uint32_t off)
{
	if (off % sizeof(struct bpf_insn))
		return BTFX_ERR(c->log, "%s record at offset 0x%zx: insn_off %u not a multiple of 8",
				what, at, off);
	return 0;
}

static int btfx_check_func(const struct btfx_ck *c, const uint8_t *rec, size_t at)
{
	struct bpf_func_info fi;
	const struct btf_type *t;

	memcpy(&fi, rec, sizeof(fi));
	t = ub_btf_type(c->btf, fi.type_id);
	if (!t || ub_btf_kind(t) != BTF_KIND_FUNC)
		return BTFX_ERR(c->log, "func_info record at offset 0x%zx: type id %u is not a FUNC", at,
				fi.type_id);
	return btfx_check_insn_off(c, "func_info", at, fi.insn_off);
}

static int btfx_check_line(const struct btfx_ck *c, const uint8_t *rec, size_t at)
{
	struct bpf_line_info li;

	memcpy(&li, rec, sizeof(li));
	if (li.file_name_off >= c->str_len || li.line_off >= c->str_len)
		return BTFX_ERR(c->log, "line_info record at offset 0x%zx: string offset %u/%u beyond the "
				"string table (%u)", at, li.file_name_off, li.line_off, c->str_len);
	return btfx_check_insn_off(c, "line_info", at, li.insn_off);
}

static int btfx_check_core(const struct btfx_ck *c, const uint8_t *rec, size_t at)
{
	struct bpf_core_relo r;

	memcpy(&r, rec, sizeof(r));
	if (!r.type_id || r.type_id >= ub_btf_type_cnt(c->btf))
		return BTFX_ERR(c->log, "core_relo record at offset 0x%zx: type id %u out of range (%u types)",
				at, r.type_id, ub_btf_type_cnt(c->btf) - 1);
	if (!btfx_name_ok(c, r.access_str_off))
		return BTFX_ERR(c->log, "core_relo record at offset 0x%zx: access string offset %u invalid",
				at, r.access_str_off);
	if ((uint32_t)r.kind > BPF_CORE_TYPE_MATCHES)
		return BTFX_ERR(c->log, "core_relo record at offset 0x%zx: unknown relocation kind %u", at,
				(uint32_t)r.kind);
	return btfx_check_insn_off(c, "core_relo", at, r.insn_off);
}

static int (*const btfx_check_rec[3])(const struct btfx_ck *, const uint8_t *, size_t) = {
	btfx_check_func, btfx_check_line, btfx_check_core,
};

/*
 * One subsection [off, off + len) of ext->raw (already inside the blob): counts the
 * per-section blocks, checks every record, then fills ext->secs[what].
 */
static int btfx_parse_sub(struct ub_btf_ext *ext, const struct btfx_ck *c, int what, size_t off,
			  size_t len)
{
	const char *nm = btfx_kinds[what].name;
	const uint8_t *base = ext->raw;
	size_t end = off + len, p;
	uint32_t rec_size, n = 0;

	if (!len)
		return 0;
	if (len < 4)
		return BTFX_ERR(c->log, "%s at offset 0x%zx: %zu bytes, too short for the record size",
				nm, off, len);
	rec_size = rd32(base + off);
	if (rec_size < btfx_kinds[what].min_rec || rec_size % 4 || rec_size > 1024)
		return BTFX_ERR(c->log, "%s at offset 0x%zx: record size %u invalid (at least %u, "
				"multiple of 4)", nm, off, rec_size, btfx_kinds[what].min_rec);
	/* Pass 1: walk the blocks, checking bounds and records; pass 2 fills the table. */
	for (int pass = 0; pass < 2; pass++) {
		uint32_t i = 0;
		for (p = off + 4; p < end; i++) {
			if (end - p < 8)
				return BTFX_ERR(c->log, "%s at offset 0x%zx: truncated section block header",
						nm, p);
			uint32_t name = rd32(base + p), cnt = rd32(base + p + 4);
			if (!btfx_name_ok(c, name))
				return BTFX_ERR(c->log, "%s at offset 0x%zx: section name offset %u invalid",
						nm, p, name);
			if (!cnt)
				return BTFX_ERR(c->log, "%s at offset 0x%zx: section '%s' has no records",
						nm, p, ub_btf_str(c->btf, name));
			if ((uint64_t)cnt * rec_size > end - p - 8)
				return BTFX_ERR(c->log, "%s at offset 0x%zx: section '%s': %u records of %u "
						"bytes run past the subsection end (0x%zx)", nm, p,
						ub_btf_str(c->btf, name), cnt, rec_size, end);
			if (pass == 1) {
				ext->secs[what][i] = (struct ub_btf_ext_sec){
					.name = ub_btf_str(c->btf, name), .nr = cnt,
					.recs = base + p + 8, .rec_size = rec_size,
				};
			}
			for (uint32_t r = 0; pass == 0 && r < cnt; r++) {
				size_t at = p + 8 + (size_t)r * rec_size;
				int err = btfx_check_rec[what](c, base + at, at);
				if (err)
					return err;
			}
			p += 8 + (size_t)cnt * rec_size;
		}
		if (pass == 0) {
			n = i;
			ext->secs[what] = calloc(n ? n : 1, sizeof(*ext->secs[what]));
			if (!ext->secs[what])
				return -ENOMEM;
		}
	}
	ext->nsecs[what] = n;
	return 0;
}

static int btfx_check_header(const uint8_t *data, size_t size, struct btfx_header *h,
			     struct ub_log *log)
{
	memset(h, 0, sizeof(*h));
	if (size < BTFX_MIN_HDR)
		return BTFX_ERR(log, "section of %zu bytes is shorter than the %u-byte header", size,
				BTFX_MIN_HDR);
	memcpy(h, data, BTFX_MIN_HDR);
	if (h->magic != BTF_MAGIC)
		return BTFX_ERR(log, "offset 0x0: bad magic 0x%04x (want 0x%04x)", h->magic, BTF_MAGIC);
	if (h->version != BTF_VERSION)
		return BTFX_ERR(log, "offset 0x2: unsupported version %u", h->version);
	if (h->flags)
		return BTFX_ERR(log, "offset 0x3: unsupported flags 0x%x", h->flags);
	if (h->hdr_len < BTFX_MIN_HDR || h->hdr_len > size || h->hdr_len % 4)
		return BTFX_ERR(log, "offset 0x4: header length %u invalid (section %zu bytes)",
				h->hdr_len, size);
	/* A longer header than ours may only add fields we ignore; a shorter one lacks core_relo. */
	memcpy(h, data, h->hdr_len < sizeof(*h) ? h->hdr_len : sizeof(*h));
	return 0;
}

int ub_btf_ext_parse(const void *data, size_t size, const struct ub_btf *btf,
		     struct ub_btf_ext **out, struct ub_log *log)
{
	struct btfx_header h;
	struct ub_btf_ext *ext;
	int err;

	*out = NULL;
	err = btfx_check_header(data, size, &h, log);
	if (err)
		return err;
	const uint32_t offs[3][3] = {	/* subsection, offset, length, header field offset */
		{ h.func_info_off, h.func_info_len, 0x8 },
		{ h.line_info_off, h.line_info_len, 0x10 },
		{ h.core_relo_off, h.core_relo_len, 0x18 },
	};
	for (int i = 0; i < 3; i++)
		if ((uint64_t)h.hdr_len + offs[i][0] + offs[i][1] > size)
			return BTFX_ERR(log, "offset 0x%x: %s [%u, +%u) beyond the section end (%zu)",
					offs[i][2], btfx_kinds[i].name, h.hdr_len + offs[i][0],
					offs[i][1], size);
	ext = calloc(1, sizeof(*ext));
	if (!ext || !(ext->raw = malloc(size ? size : 1))) {
		free(ext);
		return -ENOMEM;
	}
	memcpy(ext->raw, data, size);
	ext->size = size;
	struct btfx_ck c = { btf, btfx_str_len(btf), log };
	for (int i = 0; i < 3 && !err; i++)
		err = btfx_parse_sub(ext, &c, i, (size_t)h.hdr_len + offs[i][0], offs[i][1]);
	if (err) {
		ub_btf_ext_free(ext);
		return err;
	}
	*out = ext;
	return 0;
}

void ub_btf_ext_free(struct ub_btf_ext *ext)
{
	if (!ext)
		return;
	for (int i = 0; i < 3; i++)
		free(ext->secs[i]);
	free(ext->raw);
	free(ext);
}

const struct ub_btf_ext_sec *ub_btf_ext_find(const struct ub_btf_ext *ext, int what,
					     const char *sec_name)
{
	if (!ext || what < 0 || what > 2)
		return NULL;
	for (uint32_t i = 0; i < ext->nsecs[what]; i++)
		if (!strcmp(ext->secs[what][i].name, sec_name))
			return &ext->secs[what][i];
	return NULL;
}

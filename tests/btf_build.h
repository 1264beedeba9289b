/*
 * btf_build: hand-built BTF blobs for tests (the kernel's UAPI encoding, <linux/btf.h>).
 * Each bb_* call appends one type and returns its id (ids start at 1 in call order), so
 * a test reads like the C it describes.
 */
#ifndef TESTS_BTF_BUILD_H
#define TESTS_BTF_BUILD_H
#include <linux/btf.h>
#include <stdint.h>
#include <string.h>

/* <linux/btf.h> has no encoders (libbpf's btf.h does) */
#define BB_INFO(kind, kflag, vlen) ((uint32_t)(kflag) << 31 | (uint32_t)(kind) << 24 | (vlen))
#define BB_INT(enc, off, bits) ((uint32_t)(enc) << 24 | (uint32_t)(off) << 16 | (bits))

struct bb {
	uint8_t types[16384];
	size_t tlen;
	char strs[4096];
	size_t slen;
	uint32_t n;		/* last id */
	uint8_t blob[24 + 16384 + 4096];
	size_t size;
};

static inline void bb_init(struct bb *b)
{
	memset(b, 0, sizeof(*b));
	b->slen = 1;		/* offset 0: the empty name */
}

static inline uint32_t bb_str(struct bb *b, const char *s)
{
	if (!s || !*s)
		return 0;
	for (size_t off = 1; off < b->slen; off += strlen(b->strs + off) + 1)
		if (!strcmp(b->strs + off, s))
			return (uint32_t)off;
	uint32_t off = (uint32_t)b->slen;
	memcpy(b->strs + off, s, strlen(s) + 1);
	b->slen += strlen(s) + 1;
	return off;
}

static inline void bb_put(struct bb *b, const void *p, size_t n)
{
	memcpy(b->types + b->tlen, p, n);
	b->tlen += n;
}

static inline uint32_t bb_type(struct bb *b, const char *name, uint32_t kind, uint32_t vlen,
			       int kflag, uint32_t size_or_type)
{
	struct btf_type t = { .name_off = bb_str(b, name),
			      .info = BB_INFO(kind, kflag, vlen), .size = size_or_type };
	bb_put(b, &t, sizeof(t));
	return ++b->n;
}

static inline uint32_t bb_int(struct bb *b, const char *name, uint32_t size, uint32_t enc)
{
	uint32_t id = bb_type(b, name, BTF_KIND_INT, 0, 0, size), v = BB_INT(enc, 0, size * 8);
	bb_put(b, &v, 4);
	return id;
}

static inline uint32_t bb_ref(struct bb *b, uint32_t kind, const char *name, uint32_t type)
{
	return bb_type(b, name, kind, 0, 0, type);
}

static inline uint32_t bb_array(struct bb *b, uint32_t elem, uint32_t index, uint32_t n)
{
	uint32_t id = bb_type(b, NULL, BTF_KIND_ARRAY, 0, 0, 0);
	struct btf_array a = { elem, index, n };
	bb_put(b, &a, sizeof(a));
	return id;
}

/* A struct or union header; follow with vlen bb_member calls. kflag: bit-field encoding. */
static inline uint32_t bb_comp(struct bb *b, uint32_t kind, const char *name, uint32_t size,
			       uint32_t vlen, int kflag)
{
	return bb_type(b, name, kind, vlen, kflag, size);
}

static inline void bb_member(struct bb *b, const char *name, uint32_t type, uint32_t bit_off,
			     uint32_t bitfield)
{
	struct btf_member m = { bb_str(b, name), type, bitfield << 24 | bit_off };
	bb_put(b, &m, sizeof(m));
}

static inline uint32_t bb_enum(struct bb *b, const char *name, uint32_t size, uint32_t vlen,
			       int is_signed)
{
	return bb_type(b, name, BTF_KIND_ENUM, vlen, is_signed, size);
}

static inline void bb_enumval(struct bb *b, const char *name, int32_t val)
{
	struct btf_enum e = { bb_str(b, name), val };
	bb_put(b, &e, sizeof(e));
}

static inline uint32_t bb_enum64(struct bb *b, const char *name, uint32_t size, uint32_t vlen,
				 int is_signed)
{
	return bb_type(b, name, BTF_KIND_ENUM64, vlen, is_signed, size);
}

static inline void bb_enum64val(struct bb *b, const char *name, uint64_t val)
{
	struct btf_enum64 e = { bb_str(b, name), (uint32_t)val, (uint32_t)(val >> 32) };
	bb_put(b, &e, sizeof(e));
}

static inline uint32_t bb_var(struct bb *b, const char *name, uint32_t type, uint32_t linkage)
{
	uint32_t id = bb_type(b, name, BTF_KIND_VAR, 0, 0, type);
	bb_put(b, &linkage, 4);
	return id;
}

/* A DATASEC header; follow with vlen bb_secinfo calls. */
static inline uint32_t bb_datasec(struct bb *b, const char *name, uint32_t size, uint32_t vlen)
{
	return bb_type(b, name, BTF_KIND_DATASEC, vlen, 0, size);
}

static inline void bb_secinfo(struct bb *b, uint32_t var, uint32_t off, uint32_t size)
{
	struct btf_var_secinfo v = { var, off, size };
	bb_put(b, &v, sizeof(v));
}

/* The finished blob: header, types, strings. */
static inline const void *bb_finish(struct bb *b, size_t *size)
{
	struct btf_header h = {
		.magic = BTF_MAGIC, .version = BTF_VERSION, .hdr_len = sizeof(h),
		.type_off = 0, .type_len = (uint32_t)b->tlen,
		.str_off = (uint32_t)b->tlen, .str_len = (uint32_t)b->slen,
	};
	memcpy(b->blob, &h, sizeof(h));
	memcpy(b->blob + sizeof(h), b->types, b->tlen);
	memcpy(b->blob + sizeof(h) + b->tlen, b->strs, b->slen);
	b->size = sizeof(h) + b->tlen + b->slen;
	*size = b->size;
	return b->blob;
}

#endif

/*
 * A small JSON reader for the verifier selftest vectors (tests.jsonl): one object per
 * line, parsed into a tree of nodes. Only what the runner needs: objects, arrays,
 * strings (with the common escapes), numbers (as int64 and double), true/false/null.
 * Included by test_verifier_selftests.c only.
 */
#ifndef VST_JSON_H
#define VST_JSON_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum vj_kind { VJ_NULL, VJ_BOOL, VJ_NUM, VJ_STR, VJ_ARR, VJ_OBJ };

struct vj {
	enum vj_kind kind;
	char *key;		/* member name inside an object */
	char *str;		/* VJ_STR */
	int64_t num;		/* VJ_NUM, VJ_BOOL */
	struct vj *child;	/* first element / member */
	struct vj *next;	/* next sibling */
};

struct vj_parser {
	const char *p, *end;
	int depth;
	int err;
};

static struct vj *vj_value(struct vj_parser *ps);

static void vj_ws(struct vj_parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
				   *ps->p == '\r'))
		ps->p++;
}

static struct vj *vj_new(enum vj_kind k)
{
	struct vj *v = calloc(1, sizeof(*v));
	if (v)
		v->kind = k;
	return v;
}

static int vj_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parses a string literal; \uXXXX outside ASCII becomes '?' (names only). */
static char *vj_string(struct vj_parser *ps)
{
	if (ps->p >= ps->end || *ps->p != '"')
		return ps->err = 1, NULL;
	ps->p++;
	size_t cap = 16, n = 0;
	char *s = malloc(cap);
	while (s && ps->p < ps->end && *ps->p != '"') {
		char c = *ps->p++;
		if (c == '\\' && ps->p < ps->end) {
			char e = *ps->p++;
			c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' :
			    e == 'f' ? '\f' : e;
			if (e == 'u' && ps->end - ps->p >= 4) {
				int v = 0;
				for (int i = 0; i < 4; i++)
					v = v * 16 + (vj_hex(ps->p[i]) < 0 ? 0 : vj_hex(ps->p[i]));
				ps->p += 4;
				c = v < 128 ? (char)v : '?';
			}
		}
		if (n + 2 > cap) {
			char *t = realloc(s, cap *= 2);
			if (!t) {
				free(s);
				return ps->err = 1, NULL;
			}
			s = t;
		}
		s[n++] = c;
	}
	if (!s || ps->p >= ps->end) {
		free(s);
		return ps->err = 1, NULL;
	}
	ps->p++;
	s[n] = 0;
	return s;
}

static struct vj *vj_list(struct vj_parser *ps, enum vj_kind k, char close)
{
	struct vj *v = vj_new(k), **tail;
	if (!v)
		return ps->err = 1, NULL;
	tail = &v->child;
	ps->p++;
	vj_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return v;
	}
	while (!ps->err && ps->p < ps->end) {
		char *key = NULL;
		vj_ws(ps);
		if (k == VJ_OBJ) {
			key = vj_string(ps);
			vj_ws(ps);
			if (ps->err || ps->p >= ps->end || *ps->p != ':') {
				free(key);
				ps->err = 1;
				break;
			}
			ps->p++;
		}
		struct vj *c = vj_value(ps);
		if (!c) {
			free(key);
			break;
		}
		c->key = key;
		*tail = c;
		tail = &c->next;
		vj_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return v;
		}
		ps->err = 1;
	}
	ps->err = 1;
	return v;
}

static struct vj *vj_value(struct vj_parser *ps)
{
	vj_ws(ps);
	if (ps->p >= ps->end || ps->depth > 64)
		return ps->err = 1, NULL;
	char c = *ps->p;
	struct vj *v = NULL;
	ps->depth++;
	if (c == '{')
		v = vj_list(ps, VJ_OBJ, '}');
	else if (c == '[')
		v = vj_list(ps, VJ_ARR, ']');
	else if (c == '"') {
		v = vj_new(VJ_STR);
		if (v)
			v->str = vj_string(ps);
	} else if (!strncmp(ps->p, "true", 4) || !strncmp(ps->p, "false", 5)) {
		v = vj_new(VJ_BOOL);
		if (v)
			v->num = c == 't';
		ps->p += c == 't' ? 4 : 5;
	} else if (!strncmp(ps->p, "null", 4)) {
		v = vj_new(VJ_NULL);
		ps->p += 4;
	} else {
		char *e;
		v = vj_new(VJ_NUM);
		if (v)
			v->num = strtoll(ps->p, &e, 10);
		if (!v || e == ps->p)
			ps->err = 1;
		else
			ps->p = e;
		/* skip a fraction or exponent, never used by the vectors */
		while (ps->p < ps->end && strchr(".eE+-0123456789", *ps->p))
			ps->p++;
	}
	ps->depth--;
	if (!v)
		ps->err = 1;
	return v;
}

static void vj_free(struct vj *v)
{
	while (v) {
		struct vj *n = v->next;
		vj_free(v->child);
		free(v->key);
		free(v->str);
		free(v);
		v = n;
	}
}

static struct vj *vj_parse(const char *s, size_t len)
{
	struct vj_parser ps = { .p = s, .end = s + len };
	struct vj *v = vj_value(&ps);
	if (ps.err) {
		vj_free(v);
		return NULL;
	}
	return v;
}

static struct vj *vj_get(const struct vj *o, const char *key)
{
	for (struct vj *c = o && o->kind == VJ_OBJ ? o->child : NULL; c; c = c->next)
		if (c->key && !strcmp(c->key, key))
			return c;
	return NULL;
}

static const char *vj_str(const struct vj *o, const char *key)
{
	struct vj *v = vj_get(o, key);
	return v && v->kind == VJ_STR ? v->str : NULL;
}

static int64_t vj_num(const struct vj *o, const char *key, int64_t def)
{
	struct vj *v = vj_get(o, key);
	return v && (v->kind == VJ_NUM || v->kind == VJ_BOOL) ? v->num : def;
}

#endif

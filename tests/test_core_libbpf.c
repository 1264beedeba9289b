/*
 * CO-RE against libbpf itself: for every BPF object embedded in Debian's libbpf-tools
 * binaries, a small helper linked with the system libbpf (a separate executable, built
 * here with `cc -lbpf`: uebpf never links libbpf) loads the object with debug logging;
 * libbpf's log says, for each CO-RE record of each section, the value it patched in or
 * that it poisoned the instruction. uebpf resolves the same records (src/btf/core.c)
 * against the same kernel BTF, and every decision and value must agree.
 * Skips without /sys/kernel/btf/vmlinux, libbpf-dev or libbpf-tools.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/bpf.h>
#include "btf/btf.h"
#include "ut.h"

static const char helper_src[] =
	"#include <stdio.h>\n#include <stdarg.h>\n#include <bpf/libbpf.h>\n"
	"static int pr(enum libbpf_print_level l, const char *f, va_list ap)\n"
	"{ return vfprintf(stdout, f, ap); }\n"
	"int main(int argc, char **argv)\n{\n"
	"\tlibbpf_set_print(pr);\n"
	"\tstruct bpf_object *o = bpf_object__open_file(argv[1], NULL);\n"
	"\tif (!o) return 1;\n"
	"\tbpf_object__load(o);\n"
	"\tbpf_object__close(o);\n"
	"\treturn 0;\n}\n";

#define MAX_RELO 4096
struct sec_res {
	char name[128];
	int n;
	char what[MAX_RELO];		/* 0 unknown, 'P' patched, 'X' poisoned */
	unsigned long long val[MAX_RELO];
};

struct run {
	struct sec_res secs[64];
	int nsecs;
};

static struct sec_res *run_sec(struct run *r, const char *name)
{
	for (int i = 0; i < r->nsecs; i++)
		if (!strcmp(r->secs[i].name, name))
			return &r->secs[i];
	if (r->nsecs == 64)
		return NULL;
	struct sec_res *s = &r->secs[r->nsecs++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	return s;
}

/* libbpf's decisions, from its debug log. */
static void libbpf_decisions(const char *helper, const char *obj, struct run *r)
{
	char cmd[512], line[1024];
	struct sec_res *cur = NULL;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", helper, obj);
	FILE *p = popen(cmd, "r");
	if (!p)
		return;
	while (fgets(line, sizeof(line), p)) {
		char name[128];
		const char *s = strstr(line, "sec '"), *rel = strstr(line, "': relo #");
		if (s && strstr(line, "CO-RE relocations") && sscanf(s, "sec '%127[^']'", name) == 1) {
			cur = run_sec(r, name);
			continue;
		}
		if (!cur || !rel || !strstr(line, "prog '") || strstr(line, "mem_sz"))
			continue;
		int i = atoi(rel + 9);
		if (i < 0 || i >= MAX_RELO)
			continue;
		const char *arrow = strstr(line, " -> ");
		if (strstr(line, "patched insn") && arrow) {
			cur->what[i] = 'P';
			cur->val[i] = strtoull(arrow + 4, NULL, 0);
		} else if (strstr(line, "substituting insn")) {
			cur->what[i] = 'X';
		}
		if (i + 1 > cur->n)
			cur->n = i + 1;
	}
	pclose(p);
}

/* The BPF ELF embedded in a libbpf-tools binary (e_machine EM_BPF), written to out. */
static int extract(const char *bin, const char *out)
{
	struct stat st;
	int fd = open(bin, O_RDONLY), rc = -1;
	uint8_t *d = NULL;

	if (fd < 0 || fstat(fd, &st) || !(d = malloc((size_t)st.st_size)) ||
	    read(fd, d, (size_t)st.st_size) != st.st_size)
		goto out;
	for (size_t i = 1; i + 64 <= (size_t)st.st_size; i++) {
		uint16_t mach, shentsize, shnum;
		uint64_t shoff;
		if (memcmp(d + i, "\177ELF", 4))
			continue;
		memcpy(&mach, d + i + 18, 2);
		if (mach != 247)
			continue;
		memcpy(&shoff, d + i + 40, 8);
		memcpy(&shentsize, d + i + 58, 2);
		memcpy(&shnum, d + i + 60, 2);
		uint64_t size = shoff + (uint64_t)shentsize * shnum;
		if (size > (uint64_t)st.st_size - i)
			continue;
		FILE *f = fopen(out, "wb");
		if (f) {
			rc = fwrite(d + i, 1, size, f) == size ? 0 : -1;
			fclose(f);
		}
		break;
	}
out:
	free(d);
	if (fd >= 0)
		close(fd);
	return rc;
}

static Elf_Data *sec_data(Elf *e, size_t shstrndx, const char *want)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn)))
		if (gelf_getshdr(scn, &sh) && !strcmp(elf_strptr(e, shstrndx, sh.sh_name), want))
			return elf_getdata(scn, NULL);
	return NULL;
}

struct tally {
	int objects, compared, agree;
};

/* uebpf's decisions for the same records; compared with libbpf's. */
static void compare(const char *obj, const struct run *r, const struct ub_btf *vm, struct tally *t)
{
	int fd = open(obj, O_RDONLY);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	size_t shstrndx;
	struct ub_btf *btf = NULL;
	struct ub_btf_ext *ext = NULL;
	char msg[1024];
	struct ub_log log;

	if (!e || elf_getshdrstrndx(e, &shstrndx))
		goto out;
	Elf_Data *bd = sec_data(e, shstrndx, ".BTF"), *xd = sec_data(e, shstrndx, ".BTF.ext");
	ub_log_init(&log, msg, sizeof(msg));
	if (!bd || !xd || ub_btf_parse(bd->d_buf, bd->d_size, &btf, &log) ||
	    ub_btf_ext_parse(xd->d_buf, xd->d_size, btf, &ext, &log))
		goto out;
	t->objects++;
	for (int s = 0; s < r->nsecs; s++) {
		const struct ub_btf_ext_sec *es = ub_btf_ext_find(ext, UB_BTF_EXT_CORE, r->secs[s].name);
		for (int i = 0; es && i < r->secs[s].n && i < (int)es->nr; i++) {
			if (!r->secs[s].what[i])
				continue;
			struct bpf_core_relo rec;
			struct ub_core_res res;
			memcpy(&rec, (const uint8_t *)es->recs + (size_t)i * es->rec_size, sizeof(rec));
			ub_log_init(&log, msg, sizeof(msg));
			int err = ub_core_calc(btf, vm, &rec, &res, &log);
			/* patch a copy of the instruction as the loader would: whether it ends
			 * poisoned depends on the instruction too (a size mismatch only matters
			 * to a load or store) */
			Elf_Data *code = sec_data(e, shstrndx, r->secs[s].name);
			struct bpf_insn in[2] = { { 0 } };
			size_t at = rec.insn_off / sizeof(struct bpf_insn);
			size_t cnt = code ? code->d_size / sizeof(struct bpf_insn) : 0;
			if (!err && at < cnt) {
				memcpy(in, (const struct bpf_insn *)code->d_buf + at,
				       (at + 1 < cnt ? 2 : 1) * sizeof(in[0]));
				rec.insn_off = 0;
				err = ub_core_patch(&rec, &res, in, at + 1 < cnt ? 2 : 1, &log);
			}
			bool poison = !err && in[0].code == (BPF_JMP | BPF_CALL) && in[0].imm == 0xbad2310;
			bool same = !err && (r->secs[s].what[i] == 'X' ? poison
					     : !poison && res.new_val == r->secs[s].val[i]);
			t->compared++;
			t->agree += same;
			UT_CHECK(same, "%s: section '%s' relo #%d: libbpf %c %llu, uebpf err %d poison %d "
				 "value %llu %s", obj, r->secs[s].name, i, r->secs[s].what[i],
				 r->secs[s].val[i], err, poison, (unsigned long long)res.new_val, msg);
		}
	}
out:
	ub_btf_ext_free(ext);
	ub_btf_free(btf);
	if (e)
		elf_end(e);
	close(fd);
}

UT_TEST(core_matches_libbpf_on_libbpf_tools)
{
	char dir[] = "/tmp/uebpf-corelb-XXXXXX", cmd[1024], helper[64], obj[64], line[512];
	struct ub_btf *vm = NULL;
	struct ub_log log;
	char msg[256];
	struct tally t = { 0 };
	static struct run r;

	ub_log_init(&log, msg, sizeof(msg));
	if (ub_btf_load_file("/sys/kernel/btf/vmlinux", &vm, &log)) {
		ut_skip("no /sys/kernel/btf/vmlinux");
		return;
	}
	FILE *list = fopen("/var/lib/dpkg/info/libbpf-tools.list", "r");
	if (!list || !mkdtemp(dir)) {
		ut_skip("libbpf-tools is not installed");
		goto done;
	}
	snprintf(helper, sizeof(helper), "%s/lb", dir);
	snprintf(obj, sizeof(obj), "%s/x.o", dir);
	snprintf(cmd, sizeof(cmd), "printf '%%s' '%s' | cc -x c - -o %s -lbpf 2>/dev/null", helper_src,
		 helper);
	if (system(cmd)) {
		ut_skip("cannot build a helper against the system libbpf (libbpf-dev)");
		goto done;
	}
	elf_version(EV_CURRENT);
	while (fgets(line, sizeof(line), list)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "/usr/sbin/", 10) || extract(line, obj))
			continue;
		memset(&r, 0, sizeof(r));
		libbpf_decisions(helper, obj, &r);
		compare(obj, &r, vm, &t);
	}
	printf("CO-RE: %d relocations of %d libbpf-tools objects compared with libbpf, %d agree\n",
	       t.compared, t.objects, t.agree);
	UT_CHECK(t.compared > 0, "nothing compared");
done:
	if (list)
		fclose(list);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	UT_CHECK(!system(cmd), "cleanup");
	ub_btf_free(vm);
}

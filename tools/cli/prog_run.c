/*
 * uebpf prog run: BPF_PROG_TEST_RUN with bpftool's grammar and output, and --pcap IN
 * [--out OUT], which runs the program over every packet of a capture file (read and
 * written with libpcap) and prints how many packets got each verdict.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <uebpf/uebpf.h>
#include "cli.h"

#define RUN_OUT_DEFAULT (64u << 10)	/* data_out / ctx_out buffer when no size is given */
#define RUN_MAX_OUT (16u << 20)

struct run_args {
	int fd;
	struct bpf_prog_info info;
	const char *data_in, *data_out, *ctx_in, *ctx_out, *pcap_in, *pcap_out;
	uint64_t data_size_out, ctx_size_out, repeat;
	uint8_t *din, *cin;
	size_t din_len, cin_len;
};

/* Keyword arguments: the field each fills (a file name or a number). */
struct run_kw {
	const char *name;
	size_t file_off;	/* offsetof a const char * field, or 0 */
	size_t num_off;		/* offsetof a uint64_t field, or 0 */
	uint64_t max;
};

static const struct run_kw run_kws[] = {
	{ "data_in", offsetof(struct run_args, data_in), 0, 0 },
	{ "data_out", offsetof(struct run_args, data_out), 0, 0 },
	{ "data_size_out", 0, offsetof(struct run_args, data_size_out), RUN_MAX_OUT },
	{ "ctx_in", offsetof(struct run_args, ctx_in), 0, 0 },
	{ "ctx_out", offsetof(struct run_args, ctx_out), 0, 0 },
	{ "ctx_size_out", 0, offsetof(struct run_args, ctx_size_out), RUN_MAX_OUT },
	{ "repeat", 0, offsetof(struct run_args, repeat), INT32_MAX },
	{ "--pcap", offsetof(struct run_args, pcap_in), 0, 0 },
	{ "--out", offsetof(struct run_args, pcap_out), 0, 0 },
	{ NULL, 0, 0, 0 },
};

static int take_kw(struct run_args *a, const struct run_kw *k, const char *val)
{
	if (k->file_off) {
		const char **f = (const char **)((char *)a + k->file_off);
		if (*f)
			return cli_bt_usage("%s given twice", k->name);
		*f = val;
		return CLI_OK;
	}
	uint64_t *n = (uint64_t *)((char *)a + k->num_off);
	return cli_number("prog", k->name, val, 1, k->max, n) ? CLI_USAGE : CLI_OK;
}

static int parse_run(struct run_args *a, int argc, char **argv)
{
	while (argc) {
		const struct run_kw *k = run_kws;
		for (; k->name; k++)
			if (k->name[0] == '-' ? !strcmp(argv[0], k->name) : cli_is_prefix(argv[0], k->name))
				break;
		if (!k->name)
			return cli_bt_usage("expected no more arguments, 'data_in', "
					     "'data_out', 'data_size_out', 'ctx_in', 'ctx_out', "
					     "'ctx_size_out', 'repeat', '--pcap' or '--out', got: '%s'?",
					     argv[0]);
		if (argc < 2)
			return cli_bt_usage("'%s' needs a value", k->name);
		int rc = take_kw(a, k, argv[1]);
		if (rc != CLI_OK)
			return rc;
		argc -= 2;
		argv += 2;
	}
	if (a->data_size_out && !a->data_out)
		return cli_bt_usage("data_size_out given without data_out");
	if (a->ctx_size_out && !a->ctx_out)
		return cli_bt_usage("ctx_size_out given without ctx_out");
	if (a->pcap_out && !a->pcap_in)
		return cli_bt_usage("--out given without --pcap");
	if (a->pcap_in && (a->data_in || a->data_out || a->ctx_out || a->repeat))
		return cli_bt_usage("--pcap gives the packets and runs each once: no data_in, "
				    "data_out, ctx_out or repeat");
	if (a->ctx_in && a->data_in && !strcmp(a->ctx_in, "-") && !strcmp(a->data_in, "-"))
		return cli_bt_usage("data_in and ctx_in cannot both be standard input");
	return CLI_OK;
}

/* bpftool's hex_print: offset, 16 bytes in pairs, and their printable characters. */
static void hex_print(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i += 16) {
		size_t j;
		printf("%07zx\t", i);
		for (j = i; j < i + 16 && j < n; j++)
			printf("%02x%s", d[j], j % 2 ? " " : "");
		for (; j < i + 16; j++)
			printf("  %s", j % 2 ? " " : "");
		printf("| ");
		for (j = i; j < i + 16 && j < n; j++)
			printf("%c%s", d[j] < ' ' || d[j] > '~' ? '.' : d[j], j == i + 7 ? " " : "");
		printf("\n");
	}
}

/* data_out / ctx_out: "-" prints (hex, or a JSON array of numbers), else a file. */
static int put_out(const char *key, const char *path, const uint8_t *d, size_t n)
{
	if (strcmp(path, "-"))
		return cli_write_file(path, d, n) ? CLI_FAIL : CLI_OK;
	if (!cli_json) {
		hex_print(d, n);
		return CLI_OK;
	}
	jw_key(key);
	jw_begin_array();
	for (size_t i = 0; i < n; i++)
		jw_uint(d[i]);
	jw_end_array();
	return CLI_OK;
}

static int run_once(struct run_args *a)
{
	uint32_t dsz = a->data_out ? (uint32_t)(a->data_size_out ? a->data_size_out
								  : RUN_OUT_DEFAULT) : 0;
	uint32_t csz = a->ctx_out ? (uint32_t)(a->ctx_size_out ? a->ctx_size_out
							       : RUN_OUT_DEFAULT) : 0;
	uint8_t *dout = dsz ? calloc(1, dsz) : NULL, *cout = csz ? calloc(1, csz) : NULL;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = a->din, .data_size_in = (uint32_t)a->din_len,
		    .data_out = dout, .data_size_out = dsz, .ctx_in = a->cin,
		    .ctx_size_in = (uint32_t)a->cin_len, .ctx_out = cout, .ctx_size_out = csz,
		    .repeat = (int)a->repeat);
	int rc = CLI_OK;

	if ((dsz && !dout) || (csz && !cout))
		rc = cli_err("out of memory");
	else if (bpf_prog_test_run_opts(a->fd, &o))
		rc = cli_err("failed to run program: %s", strerror(errno));
	if (rc == CLI_OK && cli_json)
		jw_begin_object();
	if (rc == CLI_OK && a->data_out)
		rc = put_out("data_out", a->data_out, dout, o.data_size_out);
	if (rc == CLI_OK && a->ctx_out)
		rc = put_out("ctx_out", a->ctx_out, cout, o.ctx_size_out);
	if (rc == CLI_OK && cli_json) {
		jw_kuint("retval", o.retval);
		jw_kuint("duration", o.duration);
		jw_end_object();
	} else if (rc == CLI_OK) {
		printf("Return value: %u, duration%s: %uns\n", o.retval,
		       a->repeat > 1 ? " (average)" : "", o.duration);
	}
	free(dout);
	free(cout);
	return rc;
}

/* ---- --pcap ---- */

/* What a return value means for the program's type, as a name; *keep: the packet goes on. */
static const char *verdict(uint32_t type, uint32_t ret, uint32_t len, int *keep, char *buf,
			   size_t n)
{
	static const char *const xdp[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
					    "XDP_REDIRECT" };
	static const char *const tc[] = { "TC_ACT_UNSPEC", "TC_ACT_OK", "TC_ACT_RECLASSIFY",
					   "TC_ACT_SHOT", "TC_ACT_PIPE", "TC_ACT_STOLEN",
					   "TC_ACT_QUEUED", "TC_ACT_REPEAT", "TC_ACT_REDIRECT",
					   "TC_ACT_TRAP" };
	int32_t s = (int32_t)ret;

	*keep = 0;
	switch (type) {
	case BPF_PROG_TYPE_XDP:
		*keep = ret == XDP_PASS || ret == XDP_TX || ret == XDP_REDIRECT;
		if (ret < 5)
			return xdp[ret];
		snprintf(buf, n, "XDP_%u (unknown: the kernel treats it as XDP_ABORTED)", ret);
		return buf;
	case BPF_PROG_TYPE_SCHED_CLS:
	case BPF_PROG_TYPE_SCHED_ACT:
		*keep = s == TC_ACT_UNSPEC || s == TC_ACT_OK || s == TC_ACT_PIPE ||
			s == TC_ACT_RECLASSIFY || s == TC_ACT_REDIRECT;
		if (s >= -1 && s <= 8)
			return tc[s + 1];
		snprintf(buf, n, "TC_ACT_%d (unknown)", s);
		return buf;
	case BPF_PROG_TYPE_SOCKET_FILTER:
		*keep = ret != 0;
		return ret == 0 ? "drop" : ret >= len ? "accept" : "trim";
	default:
		*keep = 1;
		snprintf(buf, n, "retval %u", ret);
		return buf;
	}
}

/* A redirect names where the packet went: "XDP_REDIRECT ifindex 7", "... map 3 key 1". */
static const char *with_target(const char *name, const struct uebpf_pkt_outcome *oc, char *buf,
			       size_t n)
{
	if (!oc->redirected)
		return name;
	if (oc->target.map_id)
		snprintf(buf, n, "%.40s map %u key %u", name, oc->target.map_id, oc->target.key);
	else
		snprintf(buf, n, "%.40s ifindex %u", name, oc->target.ifindex);
	return buf;
}

#define PCAP_MAX_VERDICTS 32

struct pcap_stats {
	uint64_t packets, bytes, errors, written, duration;
	char first_error[256];
	struct { char name[80]; uint64_t n; } v[PCAP_MAX_VERDICTS];	/* in order of first use */
	int nv;
};

static void count_verdict(struct pcap_stats *st, const char *name)
{
	int i = 0;

	while (i < st->nv && strcmp(st->v[i].name, name))
		i++;
	if (i == st->nv) {
		if (st->nv == PCAP_MAX_VERDICTS)
			i = st->nv - 1;	/* more kinds than slots: the last one collects */
		else
			snprintf(st->v[st->nv++].name, sizeof(st->v[0].name), "%s", name);
	}
	st->v[i].n++;
}

static void pcap_report(const struct run_args *a, const struct pcap_stats *st)
{
	uint64_t mean = st->packets ? st->duration / st->packets : 0;

	if (cli_json) {
		jw_begin_object();
		jw_kuint("packets", st->packets);
		jw_kuint("bytes", st->bytes);
		jw_key("verdicts");
		jw_begin_object();
		for (int i = 0; i < st->nv; i++)
			jw_kuint(st->v[i].name, st->v[i].n);
		jw_end_object();
		jw_kuint("errors", st->errors);
		if (st->errors)
			jw_kstring("first_error", st->first_error);
		jw_kuint("duration", mean);
		if (a->pcap_out) {
			jw_kuint("written", st->written);
			jw_kstring("out", a->pcap_out);
		}
		jw_end_object();
		return;
	}
	printf("Packets: %llu (%llu bytes), duration (average): %lluns\n",
	       (unsigned long long)st->packets, (unsigned long long)st->bytes,
	       (unsigned long long)mean);
	for (int i = 0; i < st->nv; i++)
		printf("  %-16s %llu\n", st->v[i].name, (unsigned long long)st->v[i].n);
	if (st->errors)
		printf("  %-16s %llu (first: %s)\n", "errors", (unsigned long long)st->errors,
		       st->first_error);
	if (a->pcap_out)
		printf("Written: %llu packets to %s\n", (unsigned long long)st->written,
		       a->pcap_out);
}

static void pcap_one(struct run_args *a, struct cli_pcap *in, struct cli_pcap *out,
		     struct pcap_stats *st, const uint8_t *pkt, uint32_t caplen, uint8_t *buf,
		     uint32_t bufsz)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = caplen,
		    .data_out = buf, .data_size_out = bufsz, .ctx_in = a->cin,
		    .ctx_size_in = (uint32_t)a->cin_len);
	struct uebpf_pkt_outcome oc = { .sz = sizeof(oc) };
	char name[80], full[80];
	int keep;

	st->packets++;
	st->bytes += caplen;
	if (uebpf_prog_test_run_pkt(a->fd, &o, &oc)) {
		if (!st->errors++)
			snprintf(st->first_error, sizeof(st->first_error), "packet %llu: %s",
				 (unsigned long long)st->packets, strerror(errno));
		return;
	}
	st->duration += o.duration;
	count_verdict(st, with_target(verdict(a->info.type, o.retval, caplen, &keep, name,
					      sizeof(name)), &oc, full, sizeof(full)));
	if (!keep || !out)
		return;
	/* A socket filter cannot change the packet, only say how many bytes to keep (the test
	 * run's data_out has the link-layer header zeroed, as the kernel's: not written). */
	if (a->info.type == BPF_PROG_TYPE_SOCKET_FILTER)
		cli_pcap_write(out, in, pkt, o.retval < caplen ? o.retval : caplen);
	else
		cli_pcap_write(out, in, buf, o.data_size_out);
	st->written++;
}

static int run_pcap(struct run_args *a)
{
	struct pcap_stats st = { 0 };
	const uint32_t bufsz = 256u << 10;	/* any packet, grown by adjust_head/tail */
	uint8_t *buf = malloc(bufsz);
	struct cli_pcap *in = buf ? cli_pcap_open_read(a->pcap_in) : NULL, *out = NULL;
	int rc = !buf ? cli_err("out of memory") : in ? CLI_OK : CLI_FAIL;
	char err[256];

	if (rc == CLI_OK && a->pcap_out && !(out = cli_pcap_open_write(in, a->pcap_out)))
		rc = CLI_FAIL;
	if (rc == CLI_OK && !cli_pcap_is_ethernet(in) && !cli_json)
		fprintf(stderr, "Warning: %s: link type %s, not Ethernet: the program gets each "
			"packet as if it were an Ethernet frame\n", cli_display_name(a->pcap_in),
			cli_pcap_linktype(in));
	while (rc == CLI_OK) {
		const uint8_t *pkt;
		uint32_t caplen;
		int r = cli_pcap_next(in, &pkt, &caplen, err, sizeof(err));
		if (r == 0)
			break;
		if (r < 0)
			rc = cli_err("%s: packet %llu: %s", cli_display_name(a->pcap_in),
				     (unsigned long long)st.packets + 1, err);
		else
			pcap_one(a, in, out, &st, pkt, caplen, buf, bufsz);
	}
	if (cli_pcap_close(out) && rc == CLI_OK)
		rc = cli_err("%s: write failed", a->pcap_out);
	cli_pcap_close(in);
	free(buf);
	if (rc == CLI_OK)
		pcap_report(a, &st);
	return rc == CLI_OK && st.errors ? CLI_FAIL : rc;
}

static int read_inputs(struct run_args *a)
{
	if (a->data_in && cli_read_file(a->data_in, &a->din, &a->din_len))
		return CLI_FAIL;
	if (a->ctx_in && cli_read_file(a->ctx_in, &a->cin, &a->cin_len))
		return CLI_FAIL;
	if (a->din_len > UINT32_MAX || a->cin_len > UINT32_MAX)
		return cli_err("input larger than 4 GiB");
	return CLI_OK;
}

int cli_prog_run(int argc, char **argv)
{
	struct run_args a = { .fd = -1 };
	int usage, rc;
	uint32_t len = sizeof(a.info);

	a.fd = cli_prog_ref("prog", &argc, &argv, &usage);
	if (a.fd < 0)
		return usage ? CLI_USAGE : CLI_FAIL;
	rc = parse_run(&a, argc, argv);
	if (rc == CLI_OK && bpf_obj_get_info_by_fd(a.fd, &a.info, &len))
		rc = cli_err("can't get prog info: %s", strerror(errno));
	if (rc == CLI_OK)
		rc = read_inputs(&a);
	if (rc == CLI_OK)
		rc = a.pcap_in ? run_pcap(&a) : run_once(&a);
	free(a.din);
	free(a.cin);
	close(a.fd);
	return rc;
}

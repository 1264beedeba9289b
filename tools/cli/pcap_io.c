/*
 * cli_pcap: capture files through libpcap, behind a small interface of our own: libpcap's
 * headers define the classic-BPF `struct bpf_insn` and `struct bpf_program`, which clash
 * with <linux/bpf.h> and <bpf/libbpf.h>, so no other file of the CLI includes them.
 *
 * Packets are read with nanosecond timestamps; a writer keeps the input's precision
 * (nanosecond files, magic a1b23c4d, stay nanosecond; others are written in microseconds).
 */
#include <stdlib.h>
#include <string.h>
#include <pcap/pcap.h>
#include "cli.h"

struct cli_pcap {
	pcap_t *p;
	pcap_dumper_t *d;
	int nano;		/* writer: timestamps in nanoseconds */
	struct pcap_pkthdr *h;	/* reader: the current packet */
};

/* Is the classic pcap file at path in nanoseconds (either byte order)? */
static int file_is_nano(const char *path)
{
	uint8_t m[4];
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : NULL;
	int nano = 0;

	if (f && fread(m, 1, 4, f) == 4)
		nano = (m[0] == 0x4d && m[1] == 0x3c && m[2] == 0xb2 && m[3] == 0xa1) ||
		       (m[0] == 0xa1 && m[1] == 0xb2 && m[2] == 0x3c && m[3] == 0x4d);
	if (f)
		fclose(f);
	return nano;
}

struct cli_pcap *cli_pcap_open_read(const char *path)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	struct cli_pcap *c = calloc(1, sizeof(*c));

	if (!c) {
		cli_err("out of memory");
		return NULL;
	}
	c->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!c->p) {
		cli_err("%s: %s", cli_display_name(path), eb);
		free(c);
		return NULL;
	}
	c->nano = file_is_nano(path);
	return c;
}

struct cli_pcap *cli_pcap_open_write(const struct cli_pcap *in, const char *path)
{
	struct cli_pcap *c = calloc(1, sizeof(*c));
	int snap = pcap_snapshot(in->p);

	if (!c) {
		cli_err("out of memory");
		return NULL;
	}
	c->nano = in->nano;
	c->p = pcap_open_dead_with_tstamp_precision(pcap_datalink(in->p), snap > 0 ? snap : 262144,
						    c->nano ? PCAP_TSTAMP_PRECISION_NANO
							    : PCAP_TSTAMP_PRECISION_MICRO);
	if (c->p)
		c->d = pcap_dump_open(c->p, path);
	if (!c->d) {
		cli_err("%s: %s", path, c->p ? pcap_geterr(c->p) : "out of memory");
		cli_pcap_close(c);
		return NULL;
	}
	return c;
}

int cli_pcap_is_ethernet(const struct cli_pcap *c)
{
	return pcap_datalink(c->p) == DLT_EN10MB;
}

const char *cli_pcap_linktype(const struct cli_pcap *c)
{
	const char *n = pcap_datalink_val_to_name(pcap_datalink(c->p));
	return n ? n : "unknown";
}

int cli_pcap_next(struct cli_pcap *c, const uint8_t **pkt, uint32_t *caplen, char *err,
		  size_t errsz)
{
	const u_char *data;
	int r = pcap_next_ex(c->p, &c->h, &data);

	if (r == PCAP_ERROR_BREAK)
		return 0;
	if (r < 0) {
		snprintf(err, errsz, "%s", pcap_geterr(c->p));
		return -1;
	}
	*pkt = data;
	*caplen = c->h->caplen;
	return 1;
}

void cli_pcap_write(struct cli_pcap *out, const struct cli_pcap *in, const uint8_t *pkt,
		    uint32_t len)
{
	struct pcap_pkthdr h = *in->h;	/* the packet's timestamp */

	h.caplen = h.len = len;
	if (!out->nano)
		h.ts.tv_usec /= 1000;	/* read in nanoseconds */
	pcap_dump((u_char *)out->d, &h, pkt);
}

int cli_pcap_close(struct cli_pcap *c)
{
	int err = 0;

	if (!c)
		return 0;
	if (c->d) {
		err = pcap_dump_flush(c->d);
		pcap_dump_close(c->d);
	}
	if (c->p)
		pcap_close(c->p);
	free(c);
	return err ? -1 : 0;
}

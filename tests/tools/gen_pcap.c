/*
 * gen_pcap: writes a small, fully determined capture file for the CLI's --pcap tests, in
 * the classic pcap format written byte by byte (no libpcap: the reader under test must not
 * be the writer too).
 *
 *   gen_pcap OUT [--count N] [--nano] [--runt]   the capture file
 *   gen_pcap --packet I                          packet I alone, raw, on standard output
 *
 * Packet i (0-based) is Ethernet + IPv4 + UDP: source 10.0.0.(i % 4 + 1) port 1000 + i,
 * destination 10.0.1.1 port 53 when i % 3 == 0 and 80 otherwise, (i % 7) * 8 payload
 * bytes of value i, MACs 02:00:00:00:00:01 -> 02:00:00:00:00:02, timestamp
 * 1700000000 + i seconds and i * 1000 + 7 micro- (or nano-) seconds. --runt adds a last
 * packet of 10 bytes, too short for Ethernet.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PKT 128

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* The IPv4 header checksum (RFC 791): ones' complement of the ones' complement sum. */
static uint16_t ip_csum(const uint8_t *h, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static size_t make_packet(unsigned i, uint8_t *p)
{
	size_t payload = (i % 7) * 8, len = 14 + 20 + 8 + payload;
	static const uint8_t dst_mac[6] = { 2, 0, 0, 0, 0, 2 }, src_mac[6] = { 2, 0, 0, 0, 0, 1 };

	memset(p, 0, MAX_PKT);
	memcpy(p, dst_mac, 6);
	memcpy(p + 6, src_mac, 6);
	put16(p + 12, 0x0800);
	uint8_t *ip = p + 14;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + 8 + payload));
	put16(ip + 4, (uint16_t)i);
	ip[8] = 64;
	ip[9] = 17;	/* UDP */
	ip[12] = 10, ip[13] = 0, ip[14] = 0, ip[15] = (uint8_t)(i % 4 + 1);
	ip[16] = 10, ip[17] = 0, ip[18] = 1, ip[19] = 1;
	put16(ip + 10, ip_csum(ip, 20));
	uint8_t *udp = ip + 20;
	put16(udp, (uint16_t)(1000 + i));
	put16(udp + 2, i % 3 == 0 ? 53 : 80);
	put16(udp + 4, (uint16_t)(8 + payload));	/* checksum 0: none (IPv4 allows it) */
	memset(udp + 8, (int)i, payload);
	return len;
}

static void le32(FILE *f, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	fwrite(b, 1, 4, f);
}

static void record(FILE *f, unsigned i, const uint8_t *p, size_t n)
{
	le32(f, 1700000000u + i);
	le32(f, i * 1000u + 7);
	le32(f, (uint32_t)n);	/* captured */
	le32(f, (uint32_t)n);	/* on the wire */
	fwrite(p, 1, n, f);
}

static int usage(void)
{
	fprintf(stderr, "usage: gen_pcap OUT [--count N] [--nano] [--runt] | gen_pcap --packet I\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	unsigned count = 30;
	int nano = 0, runt = 0;
	uint8_t p[MAX_PKT];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--packet") && i + 1 < argc) {
			size_t n = make_packet((unsigned)atoi(argv[i + 1]), p);
			return fwrite(p, 1, n, stdout) == n ? 0 : 1;
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			count = (unsigned)atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--nano")) {
			nano = 1;
		} else if (!strcmp(argv[i], "--runt")) {
			runt = 1;
		} else if (!out && argv[i][0] != '-') {
			out = argv[i];
		} else {
			return usage();
		}
	}
	if (!out)
		return usage();
	FILE *f = fopen(out, "wb");
	if (!f) {
		perror(out);
		return 1;
	}
	le32(f, nano ? 0xa1b23c4du : 0xa1b2c3d4u);	/* magic: a little-endian file */
	fputc(2, f), fputc(0, f), fputc(4, f), fputc(0, f);	/* version 2.4 */
	le32(f, 0);		/* thiszone */
	le32(f, 0);		/* sigfigs */
	le32(f, 65535);		/* snaplen */
	le32(f, 1);		/* LINKTYPE_ETHERNET */
	for (unsigned i = 0; i < count; i++)
		record(f, i, p, make_packet(i, p));
	if (runt) {
		memset(p, 0xee, 10);
		record(f, count, p, 10);
	}
	return fclose(f) ? 1 : 0;
}

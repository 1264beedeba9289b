/*
 * ex_pkt.h: builds the Ethernet/IPv4 test packets the examples feed to their programs,
 * with correct IP and UDP/TCP checksums (RFC 791, RFC 768, RFC 793), so the results can
 * be checked independently of the programs.
 */
#ifndef EX_PKT_H
#define EX_PKT_H
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>

/* The Internet checksum over len bytes, folded, not yet inverted, starting from sum. */
static inline uint32_t ex_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* The TCP/UDP checksum (pseudo-header included) of an IPv4 packet's payload at l4. */
static inline uint16_t ex_l4_csum(const struct iphdr *ip, const void *l4, size_t l4len)
{
	uint8_t pseudo[12];
	memcpy(pseudo, &ip->saddr, 4);
	memcpy(pseudo + 4, &ip->daddr, 4);
	pseudo[8] = 0;
	pseudo[9] = ip->protocol;
	pseudo[10] = (uint8_t)(l4len >> 8);
	pseudo[11] = (uint8_t)l4len;
	uint32_t sum = ex_csum_add(0, pseudo, sizeof(pseudo));
	return (uint16_t)~ex_csum_add(sum, l4, l4len);
}

/*
 * Writes an Ethernet + IPv4 packet to buf (at least 14 + 20 + 20 + payload bytes):
 * proto IPPROTO_UDP / IPPROTO_TCP get a header with dport and valid checksums, others
 * (ICMP) just the payload. Addresses in dotted form. Returns the frame's length.
 */
static inline size_t ex_pkt_build(uint8_t *buf, const char *src, const char *dst, uint8_t proto,
				  uint16_t dport, size_t payload)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	uint8_t *l4 = (uint8_t *)(ip + 1);
	size_t l4hdr = proto == IPPROTO_UDP ? sizeof(struct udphdr)
		     : proto == IPPROTO_TCP ? sizeof(struct tcphdr) : 0;
	size_t l4len = l4hdr + payload;

	memset(buf, 0, sizeof(*eth) + sizeof(*ip) + l4len);
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = proto;
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + l4len));
	inet_pton(AF_INET, src, &ip->saddr);
	inet_pton(AF_INET, dst, &ip->daddr);
	for (size_t i = 0; i < payload; i++)
		l4[l4hdr + i] = (uint8_t)('a' + i % 26);
	if (proto == IPPROTO_UDP) {
		struct udphdr *uh = (struct udphdr *)l4;
		uh->source = htons(40000);
		uh->dest = htons(dport);
		uh->len = htons((uint16_t)l4len);
		uh->check = htons(ex_l4_csum(ip, l4, l4len));
	} else if (proto == IPPROTO_TCP) {
		struct tcphdr *th = (struct tcphdr *)l4;
		th->source = htons(40000);
		th->dest = htons(dport);
		th->doff = 5;
		th->syn = 1;
		th->check = htons(ex_l4_csum(ip, l4, l4len));
	}
	ip->check = htons((uint16_t)~ex_csum_add(0, ip, sizeof(*ip)));
	return sizeof(*eth) + sizeof(*ip) + l4len;
}

#endif

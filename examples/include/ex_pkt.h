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
 * Headers are built in local structs and copied: in the frame the IP header sits at
 * offset 14, where a struct iphdr pointer would be misaligned.
 */
static inline size_t ex_pkt_build(uint8_t *buf, const char *src, const char *dst, uint8_t proto,
				  uint16_t dport, size_t payload)
{
	struct ethhdr eth = { .h_proto = htons(ETH_P_IP) };
	struct iphdr ip = { .version = 4, .ihl = 5, .ttl = 64, .protocol = proto };
	uint8_t *l4 = buf + sizeof(eth) + sizeof(ip);
	size_t l4hdr = proto == IPPROTO_UDP ? sizeof(struct udphdr)
		     : proto == IPPROTO_TCP ? sizeof(struct tcphdr) : 0;
	size_t l4len = l4hdr + payload;

	memcpy(eth.h_dest, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	memcpy(eth.h_source, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	ip.tot_len = htons((uint16_t)(sizeof(ip) + l4len));
	inet_pton(AF_INET, src, &ip.saddr);
	inet_pton(AF_INET, dst, &ip.daddr);
	memset(l4, 0, l4hdr);
	for (size_t i = 0; i < payload; i++)
		l4[l4hdr + i] = (uint8_t)('a' + i % 26);
	if (proto == IPPROTO_UDP) {
		struct udphdr uh = { .source = htons(40000), .dest = htons(dport),
				     .len = htons((uint16_t)l4len) };
		memcpy(l4, &uh, sizeof(uh));
		uh.check = htons(ex_l4_csum(&ip, l4, l4len));
		memcpy(l4, &uh, sizeof(uh));
	} else if (proto == IPPROTO_TCP) {
		struct tcphdr th = { .source = htons(40000), .dest = htons(dport), .doff = 5,
				     .syn = 1 };
		memcpy(l4, &th, sizeof(th));
		th.check = htons(ex_l4_csum(&ip, l4, l4len));
		memcpy(l4, &th, sizeof(th));
	}
	ip.check = htons((uint16_t)~ex_csum_add(0, &ip, sizeof(ip)));
	memcpy(buf, &eth, sizeof(eth));
	memcpy(buf + sizeof(eth), &ip, sizeof(ip));
	return sizeof(eth) + sizeof(ip) + l4len;
}

/* The IPv4 header of a frame built as above, copied out (aligned). */
static inline struct iphdr ex_pkt_ip(const uint8_t *frame)
{
	struct iphdr ip;
	memcpy(&ip, frame + sizeof(struct ethhdr), sizeof(ip));
	return ip;
}

#endif

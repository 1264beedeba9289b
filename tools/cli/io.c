/*
 * cli_io: reading and writing files, hex bytes, and instructions as bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uebpf/uebpf.h>
#include "cli.h"

#define CLI_MAX_FILE (256u << 20)	/* 256 MiB: no input of ours is anywhere near this */

const char *cli_display_name(const char *path)
{
	return strcmp(path, "-") ? path : "<stdin>";
}

/* Reads f to its end into a growing buffer, NUL-terminated. 0, or -1 (reported). */
static int slurp(FILE *f, const char *name, uint8_t **bufp, size_t *lenp)
{
	size_t cap = 4096, len = 0, n;
	uint8_t *buf = malloc(cap);

	do {
		if (buf && cap - len < 2) {	/* room for one more byte and the NUL */
			uint8_t *nb = cap < CLI_MAX_FILE ? realloc(buf, cap *= 2) : NULL;
			if (!nb)
				free(buf);
			buf = nb;
		}
		if (!buf) {
			cli_err("%s: %s", name, cap >= CLI_MAX_FILE ? "over 256 MiB, too large for an "
						"input of uebpf" : "out of memory");
			return -1;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		cli_err("%s: %s", name, strerror(errno ? errno : EIO));
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}

int cli_read_file(const char *path, uint8_t **bufp, size_t *lenp)
{
	const char *name = cli_display_name(path);
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;

	if (!f) {
		cli_err("%s: %s", name, strerror(errno));
		return -1;
	}
	int rc = slurp(f, name, bufp, lenp);
	if (f != stdin)
		fclose(f);
	return rc;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A regular file (or a new one) is replaced whole by renaming a finished temporary. */
static int replace_file(const char *path, const void *buf, size_t len)
{
	size_t n = strlen(path) + sizeof(".tmpXXXXXX");
	char *tmp = malloc(n);
	int fd = -1, err = ENOMEM;

	if (tmp) {
		snprintf(tmp, n, "%s.tmpXXXXXX", path);
		fd = mkstemp(tmp);
		err = errno;
	}
	if (fd >= 0) {
		mode_t mask = umask(0);
		umask(mask);
		if (fchmod(fd, 0666 & ~mask) || write_all(fd, buf, len))
			err = errno;
		else
			err = 0;
		if (close(fd) && !err)
			err = errno;
		if (!err && rename(tmp, path))
			err = errno;
		if (err)
			unlink(tmp);
	}
	free(tmp);
	if (err)
		cli_err("%s: %s", path, strerror(err));
	return err ? -1 : 0;
}

int cli_write_file(const char *path, const void *buf, size_t len)
{
	struct stat st;

	if (!strcmp(path, "-")) {
		if (fwrite(buf, 1, len, stdout) != len || fflush(stdout)) {
			cli_err("<stdout>: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (stat(path, &st) || S_ISREG(st.st_mode))
		return replace_file(path, buf, len);
	/* A device or a pipe (/dev/null, a fifo): write into it, never replace it. */
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0 || write_all(fd, buf, len)) {
		cli_err("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int cli_parse_hex(const char *s, uint8_t **bufp, size_t *lenp, char *why, size_t whysz)
{
	uint8_t *buf = malloc(strlen(s) / 2 + 1);
	size_t len = 0;
	int hi = -1;

	if (!buf) {
		snprintf(why, whysz, "out of memory");
		return -1;
	}
	for (const char *p = s; *p; p++) {
		if (isspace((unsigned char)*p))
			continue;
		/* "0x" may start a group: "0x0102 0x03" */
		if (hi < 0 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
		    (p == s || isspace((unsigned char)p[-1]))) {
			p++;
			continue;
		}
		int v = hexval((unsigned char)*p);
		if (v < 0) {
			snprintf(why, whysz, "'%c' at position %zu is not a hex digit", *p,
				 (size_t)(p - s) + 1);
			free(buf);
			return -1;
		}
		if (hi < 0) {
			hi = v;
		} else {
			buf[len++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		snprintf(why, whysz, "odd number of hex digits (two make a byte)");
		free(buf);
		return -1;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

void cli_insn_encode(const struct bpf_insn *in, uint8_t out[8])
{
	uint16_t off = (uint16_t)in->off;
	uint32_t imm = (uint32_t)in->imm;

	out[0] = in->code;
	out[1] = (uint8_t)(in->src_reg << 4 | in->dst_reg);
	out[2] = (uint8_t)off;
	out[3] = (uint8_t)(off >> 8);
	for (int k = 0; k < 4; k++)
		out[4 + k] = (uint8_t)(imm >> (8 * k));
}

void cli_insn_decode(const uint8_t in[8], struct bpf_insn *out)
{
	uint32_t imm = 0;

	for (int k = 0; k < 4; k++)
		imm |= (uint32_t)in[4 + k] << (8 * k);
	*out = (struct bpf_insn){ .code = in[0], .dst_reg = in[1] & 0xf, .src_reg = in[1] >> 4,
				  .off = (int16_t)(in[2] | in[3] << 8), .imm = (int32_t)imm };
}

/* Assembler messages are "LINE:COL: reason" lines; each gets the file's name in front. */
static void report_asm_error(const char *name, const char *log, int rc)
{
	char *msg = NULL;
	size_t msz = 0;
	FILE *m = open_memstream(&msg, &msz);

	if (!m || !*log) {
		if (m)
			fclose(m);
		free(msg);
		cli_err("%s: cannot assemble: %s", name, strerror(-rc));
		return;
	}
	for (const char *p = log; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n)
			fprintf(m, "%s%s:%.*s", p == log ? "" : "\n", name, (int)n, p);
		p += n + (nl != NULL);
	}
	fclose(m);
	cli_err("%s", msg);
	free(msg);
}

int cli_load_insns(const char *path, int as_asm, struct bpf_insn **insnsp, size_t *cntp)
{
	const char *name = cli_display_name(path);
	uint8_t *buf;
	size_t len;

	if (cli_read_file(path, &buf, &len))
		return -1;
	if (as_asm) {
		char log[4096] = "";
		int rc = uebpf_asm((const char *)buf, len, insnsp, cntp, log, sizeof(log));
		if (rc)
			report_asm_error(name, log, rc);
		free(buf);
		return rc ? -1 : 0;
	}
	if (len >= 4 && !memcmp(buf, "\177ELF", 4)) {
		cli_err("%s: an ELF object, not raw instructions (extract a section with "
			"'llvm-objcopy -O binary --only-section=SEC')", name);
		free(buf);
		return -1;
	}
	if (len % 8) {
		cli_err("%s: %zu bytes is not a whole number of instructions (8 bytes each)",
			name, len);
		free(buf);
		return -1;
	}
	struct bpf_insn *insns = calloc(len / 8 ? len / 8 : 1, sizeof(*insns));
	if (!insns) {
		cli_err("%s: out of memory", name);
		free(buf);
		return -1;
	}
	for (size_t i = 0; i < len / 8; i++)
		cli_insn_decode(buf + 8 * i, &insns[i]);
	free(buf);
	*insnsp = insns;
	*cntp = len / 8;
	return 0;
}

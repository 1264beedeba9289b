/* ALU forms: 64- and 32-bit (with -mcpu=v3, w registers), immediates of every size. */
typedef unsigned long u64;
typedef unsigned int u32;
typedef long s64;
typedef int s32;

u64 alu64(u64 a, u64 b, s64 c)
{
	a += b; a -= 3; a *= b; a /= b; a |= 0x1234; a &= ~b; a ^= 0xffffffffUL;
	a <<= (b & 63); a >>= 7; c >>= 5; c >>= (s64)(b & 31);
	return a + (u64)c + (u64)-(s64)b + (b % 10) + 0x1122334455667788UL;
}

u32 alu32(u32 a, u32 b, s32 c)
{
	a += b; a -= 0x7fffffff; a *= 7; a /= b; a |= b; a &= 0xff00; a ^= b;
	a <<= (b & 31); a >>= 3; c >>= 2; c >>= (s32)(b & 7);
	return a + (u32)c - (u32)-(s32)b;
}

u64 swaps(u64 a, u32 b, unsigned short c)
{
	return __builtin_bswap64(a) + __builtin_bswap32(b) + __builtin_bswap16(c);
}

s64 branches(s64 a, s64 b, s32 c, u32 d)
{
	s64 r = 0;
	if (a < b) r += 1;
	if (a > 100) r += 2;
	if ((u64)a <= (u64)b) r += 3;
	if (c >= -5) r += 4;
	if (d != 9) r += 5;
	if (c == (s32)d) r += 6;
	for (s64 i = 0; i < a && i < 50; i++)
		r = (r ^ i) * b;
	return r;
}

/* Legacy packet loads (LD_ABS, LD_IND) through the BPF backend's intrinsics. */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

unsigned long long packet(void *skb, unsigned long long x)
{
	return load_byte(skb, 14) + load_half(skb, 12) + load_word(skb, 26) +
	       load_byte(skb, x) + load_half(skb, x + 2) + load_word(skb, x + 4);
}

/* Atomics, all 64- and 32-bit forms. objdump.sh: -mcpu=v3 only (clang 14 refuses them for v1). */
unsigned long atomics64(unsigned long *p, unsigned long v)
{
	unsigned long r = 0;
	__sync_fetch_and_add(p, v);
	r += __sync_fetch_and_add(p, v);
	r += __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);
	r += __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);
	r += __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);
	__atomic_fetch_or(p + 1, v, __ATOMIC_SEQ_CST);
	__atomic_fetch_and(p + 2, v, __ATOMIC_SEQ_CST);
	__atomic_fetch_xor(p + 3, v, __ATOMIC_SEQ_CST);
	r += __sync_lock_test_and_set(p, v);
	r += __sync_val_compare_and_swap(p, r, v);
	return r;
}

unsigned int atomics32(unsigned int *p, unsigned int v)
{
	unsigned int r = 0;
	__sync_fetch_and_add(p, v);
	r += __sync_fetch_and_add(p, v);
	r += __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);
	r += __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);
	r += __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);
	__atomic_fetch_or(p + 1, v, __ATOMIC_SEQ_CST);
	__atomic_fetch_and(p + 2, v, __ATOMIC_SEQ_CST);
	__atomic_fetch_xor(p + 3, v, __ATOMIC_SEQ_CST);
	r += __sync_lock_test_and_set(p, v);
	r += __sync_val_compare_and_swap(p, r, v);
	return r;
}

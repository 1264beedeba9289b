; oob.s: reads one byte past the memory it was given. Unverified programs run with
; runtime checks, so this stops with a clear error instead of reading stray memory.
    r0 = *(u8 *)(r1 + 4)
    exit

# fib.s: the 50th Fibonacci number, in the bpf_conformance syntax.
    mov %r0, 0          # fib(0)
    mov %r1, 1          # fib(1)
    mov %r2, 50         # iterations left
loop:
    jeq %r2, 0, done
    mov %r3, %r0
    add %r3, %r1        # next = a + b
    mov %r0, %r1
    mov %r1, %r3
    sub %r2, 1
    ja loop
done:
    exit

/* PLACEHOLDER: the CLI entry point; real commands land with the assembler. */
#include <stdio.h>
int main(void) { fprintf(stderr, "uebpf: not built yet\n"); return 1; }

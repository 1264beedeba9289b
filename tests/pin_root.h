/*
 * A private pin root for one test program: /dev/shm/uebpf-test-<PIN_ROOT_TAG>-XXXXXX,
 * made before main (UEBPF_PIN_ROOT names it, so pins never touch the real root) and
 * removed at exit. `root` is empty when it could not be made: tests that pin then skip.
 * Define PIN_ROOT_TAG (a string) before including.
 */
#ifndef TESTS_PIN_ROOT_H
#define TESTS_PIN_ROOT_H
#include <stdio.h>
#include <stdlib.h>

#ifndef PIN_ROOT_TAG
#error "define PIN_ROOT_TAG before including pin_root.h"
#endif

static char root[64];

static void rm_root(void)
{
	char cmd[128];

	if (!root[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", root);
}

__attribute__((constructor)) static void set_pin_root(void)
{
	snprintf(root, sizeof(root), "/dev/shm/uebpf-test-" PIN_ROOT_TAG "-XXXXXX");
	if (!mkdtemp(root)) {
		root[0] = '\0';
		return;
	}
	setenv("UEBPF_PIN_ROOT", root, 1);
	atexit(rm_root);
}

#endif

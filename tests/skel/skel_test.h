/* Types shared by skel_test.bpf.c and skel_user.c (a skeleton names them, as bpftool's). */
#ifndef SKEL_TEST_H
#define SKEL_TEST_H
struct pair {
	int a;
	long b;
};
#endif

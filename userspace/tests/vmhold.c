// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test and benchmark helper: vmhold N holds N VMs open, each of which has run the smoke
 * guest to its HLT (so KVM has statistics for it). It prints "ready <pid>" and waits until
 * its standard input is closed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvm.h"
#include "x86-guest.h"

static int run_to_hlt(struct x86_guest *g)
{
	for (int i = 0; i < 16; i++) {
		int r = x86_guest_run(g);

		if (r < 0)
			return r;
		if (r == KVM_EXIT_HLT)
			return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1, kvm = kvm_open();
	struct x86_guest *g = calloc((size_t)(n > 0 ? n : 1), sizeof(*g));
	char c;

	if (kvm < 0 || !g || n < 1) {
		fprintf(stderr, "vmhold: %s\n", kvm < 0 ? strerror(-kvm) : "usage: vmhold N");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		int r = x86_guest_create(kvm, &g[i], 0);

		if (r || run_to_hlt(&g[i])) {
			fprintf(stderr, "vmhold: VM %d: %s\n", i, r ? strerror(-r) : "no HLT");
			return 1;
		}
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	for (int i = 0; i < n; i++)
		x86_guest_destroy(&g[i]);
	free(g);
	return 0;
}

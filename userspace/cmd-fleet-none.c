// SPDX-License-Identifier: GPL-2.0-only
/* ekvm fleet in a build without libvirt (the static binary, FLEET=0): says so. */
#include <stdio.h>

#include "ekvm.h"

int cmd_fleet(int argc, char **argv, struct ekvm_ctx *ctx)
{
	(void)argc;
	(void)argv;
	(void)ctx;
	fprintf(stderr, "ekvm fleet: this ekvm was built without libvirt (static or FLEET=0): "
			"use the dynamic build\n");
	return EKVM_EXIT_USAGE;
}

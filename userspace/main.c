// SPDX-License-Identifier: GPL-2.0-only
/* ekvm: the matched userspace tool of ekvm. Subcommands live in cmd-*.c; see cmd.c. */
#include "ekvm.h"

int main(int argc, char **argv)
{
	return ekvm_main(argc, argv);
}

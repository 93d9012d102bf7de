// SPDX-License-Identifier: GPL-2.0-only
/* ekvm validate: host checks in the style of virt-host-validate. */
#include <stdio.h>

#include "checks.h"
#include "ekvm.h"
#include "out.h"

static void print_check(const struct check *k, bool quiet)
{
	char what[128];
	bool show = !quiet || k->result == CHECK_WARN || k->result == CHECK_FAIL;

	snprintf(what, sizeof(what), "Checking %s", k->what);
	out_obj_begin(NULL);
	out_str("check", NULL, k->key);
	out_str("what", show ? "  KVM: %-62s: " : NULL, what);
	out_str("result", show ? "%s" : NULL, check_result_name(k->result));
	out_str("note", show && k->note[0] ? " (%s)" : NULL, k->note[0] ? k->note : NULL);
	out_txt("%s", show ? "\n" : "");
	out_obj_end();
}

int cmd_validate(int argc, char **argv, struct ekvm_ctx *ctx)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	void (*const all[])(struct checks *) = {
		check_cpu,     check_kvm,     check_nested,  check_iommu,	check_hugepages,
		check_devices, check_cgroups, check_headers, check_secure_boot,
	};
	bool quiet = false, json = false;
	struct checks checks = { .n = 0 };
	int c, failed = 0, warned = 0;

	while ((c = getopt_long(argc, argv, ":q", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'j':
			json = true;
			break;
		default:
			return arg_error(ctx, argv, c);
		}
	}
	if (optind < argc)
		return arg_extra(ctx, argv[optind]);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		all[i](&checks);
	out_init(stdout, json);
	out_obj_begin(NULL);
	out_arr_begin("checks");
	for (int i = 0; i < checks.n; i++) {
		failed += checks.items[i].result == CHECK_FAIL;
		warned += checks.items[i].result == CHECK_WARN;
		print_check(&checks.items[i], quiet);
	}
	out_arr_end();
	out_int("failed", quiet ? NULL : "%lld failed", failed);
	out_int("warnings", quiet ? NULL : ", %lld warnings\n", warned);
	out_obj_end();
	out_flush();
	return failed ? EKVM_EXIT_FAIL : EKVM_EXIT_OK;
}

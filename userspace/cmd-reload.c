// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm reload: the local step of a rollout once a host has no VMs: refuse while any VM is
 * open, unload the vendor module and kvm, load them again (modprobe, or insmod from --ko
 * DIR), check the version. If the new modules do not load, load what modprobe finds so that
 * the host keeps a working KVM, and say so. rmmod, modprobe and insmod are found in PATH.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ekvm.h"
#include "instances.h"
#include "out.h"
#include "runprog.h"
#include "sysfs.h"

struct reload {
	char vendor[16];
	char before[64], after[64];
	const char *expect, *ko;
	const char *result;
	char error[512];
};

static void kvm_version(char *buf, size_t size)
{
	if (read_root_file(ROOT_SYS, "module/kvm/ekvm/version", buf, size) < 0 &&
	    read_root_file(ROOT_SYS, "module/kvm/version", buf, size) < 0)
		snprintf(buf, size, "%s", root_exists(ROOT_SYS, "module/kvm") ? "none" : "stock");
}

static bool loaded(const char *mod)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "module/%s/initstate", mod);
	return root_exists(ROOT_SYS, rel) == 0;
}

static int run(const char *a0, const char *a1, char *err, size_t size)
{
	char *argv[] = { (char *)a0, (char *)a1, NULL };

	return spawn_wait(argv, err, size);
}

static void pick_vendor(struct reload *r)
{
	char info[8192] = "";

	if (r->vendor[0])
		return;
	if (loaded("kvm_intel") || loaded("kvm_amd")) {
		snprintf(r->vendor, sizeof(r->vendor),
			 loaded("kvm_intel") ? "kvm_intel" : "kvm_amd");
		return;
	}
	read_root_file(ROOT_PROC, "cpuinfo", info, sizeof(info));
	snprintf(r->vendor, sizeof(r->vendor),
		 strstr(info, "AuthenticAMD") ? "kvm_amd" : "kvm_intel");
}

/*
 * Why KVM cannot be unloaded now, or "". What holds KVM on a real host:
 * - every VM, vCPU and open /dev/kvm holds the vendor module (KVM makes it the owner of those
 *   files: kvm_init() sets kvm_chardev_ops.owner and the VM and vCPU fops' to the vendor
 *   module), and ekvm counts its live VMs in /sys/module/kvm/ekvm/vms;
 * - every loaded module that uses kvm's symbols holds kvm once (ref_module(), listed in
 *   /sys/module/kvm/holders/): kvm_amd or kvm_intel always, so kvm's refcnt is 1 on an idle
 *   host. Another holder (i915's kvmgt, someone's module) must go first; a reference beyond the
 *   holders' (try_module_get by other code) means kvm is in use.
 */
static void busy(struct reload *r)
{
	uint64_t vms = 0, ref_kvm = 0, ref_vendor = 0;
	char rel[64], holders[256] = "", others[256] = "", *h, *save;
	int nr_holders;
	size_t len = 0;

	if (root_exists(ROOT_SYS, "module/kvm") == 0 && !loaded("kvm")) {
		snprintf(r->error, sizeof(r->error),
			 "KVM is built into this kernel: it cannot be "
			 "reloaded, only rebooted into");
		return;
	}
	read_root_u64(ROOT_SYS, "module/kvm/ekvm/vms", &vms);
	read_root_u64(ROOT_SYS, "module/kvm/refcnt", &ref_kvm);
	snprintf(rel, sizeof(rel), "module/%s/refcnt", r->vendor);
	read_root_u64(ROOT_SYS, rel, &ref_vendor);
	nr_holders = read_root_dir(ROOT_SYS, "module/kvm/holders", holders, sizeof(holders));
	if (nr_holders < 0)
		nr_holders = 0;
	for (h = strtok_r(holders, " ", &save); h; h = strtok_r(NULL, " ", &save))
		if (strcmp(h, "kvm_amd") && strcmp(h, "kvm_intel") && len < sizeof(others))
			len += (size_t)snprintf(others + len, sizeof(others) - len, "%s%s",
						len ? ", " : "", h);
	if (others[0])
		snprintf(r->error, sizeof(r->error), "kvm is used by module %s: unload it first",
			 others);
	else if (vms || ref_vendor || ref_kvm > (uint64_t)nr_holders)
		snprintf(r->error, sizeof(r->error),
			 "KVM is in use (%llu VMs, %s refcnt %llu, kvm refcnt %llu with %d "
			 "module%s holding it): migrate or stop the VMs first (ekvm drain on "
			 "--wait)",
			 (unsigned long long)vms, r->vendor, (unsigned long long)ref_vendor,
			 (unsigned long long)ref_kvm, nr_holders, nr_holders == 1 ? "" : "s");
}

static int load_new(struct reload *r)
{
	char path[4096], mod[24];

	if (!r->ko)
		return run("modprobe", r->vendor, r->error, sizeof(r->error));
	snprintf(path, sizeof(path), "%.4000s/kvm.ko", r->ko);
	if (run("insmod", path, r->error, sizeof(r->error)))
		return 1;
	snprintf(mod, sizeof(mod), "%s", r->vendor);
	mod[3] = '-'; /* kvm_amd -> kvm-amd.ko */
	snprintf(path, sizeof(path), "%.4000s/%s.ko", r->ko, mod);
	return run("insmod", path, r->error, sizeof(r->error));
}

static int reload(struct reload *r)
{
	char err[512];

	busy(r);
	if (r->error[0]) {
		r->result = "refused";
		return EKVM_EXIT_FAIL;
	}
	if ((loaded(r->vendor) && run("rmmod", r->vendor, r->error, sizeof(r->error))) ||
	    (loaded("kvm") && run("rmmod", "kvm", r->error, sizeof(r->error)))) {
		if (!loaded(r->vendor))
			run("modprobe", r->vendor, err, sizeof(err));
		r->result = "failed";
		return EKVM_EXIT_FAIL;
	}
	if (load_new(r)) {
		/* leave a working KVM: what modprobe finds */
		if (loaded(r->vendor))
			run("rmmod", r->vendor, err, sizeof(err));
		if (loaded("kvm"))
			run("rmmod", "kvm", err, sizeof(err));
		r->result = run("modprobe", r->vendor, err, sizeof(err)) ? "failed" : "fallback";
		kvm_version(r->after, sizeof(r->after));
		return EKVM_EXIT_FAIL;
	}
	kvm_version(r->after, sizeof(r->after));
	if (r->expect && strcmp(r->after, r->expect)) {
		snprintf(r->error, sizeof(r->error), "the reloaded KVM is %s, expected %s",
			 r->after, r->expect);
		r->result = "wrong-version";
		return EKVM_EXIT_FAIL;
	}
	r->result = "reloaded";
	return EKVM_EXIT_OK;
}

static void print(const struct reload *r)
{
	out_obj_begin(NULL);
	out_str("vendor", "reload %s:", r->vendor);
	out_str("before", " KVM %s", r->before);
	out_str("after", " -> %s", r->after[0] ? r->after : NULL);
	out_str("expected", r->expect ? " (expected %s)" : NULL, r->expect);
	out_str("result", ": %s\n", r->result);
	out_str("error", NULL, r->error[0] ? r->error : NULL);
	out_obj_end();
	out_flush();
	if (r->error[0])
		fprintf(stderr, "ekvm reload: %s%s\n", r->error,
			!strcmp(r->result, "fallback") ? "; loaded what modprobe finds instead"
			: !strcmp(r->result, "failed") ? "; no KVM may be loaded now"
						       : "");
}

int cmd_reload(int argc, char **argv, struct ekvm_ctx *ctx)
{
	static const struct option opts[] = {
		{ "expect", required_argument, NULL, 'e' },
		{ "ko", required_argument, NULL, 'k' },
		{ "vendor", required_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	struct reload r = { .result = "" };
	bool json = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'e' && *optarg)
			r.expect = optarg;
		else if (c == 'k' && *optarg)
			r.ko = optarg;
		else if (c == 'v' && (!strcmp(optarg, "kvm_amd") || !strcmp(optarg, "kvm_intel")))
			snprintf(r.vendor, sizeof(r.vendor), "%s", optarg);
		else if (c == 'v')
			return arg_invalid(ctx, "--vendor", optarg, "kvm_amd or kvm_intel");
		else if (c == 'j')
			json = true;
		else if (c == 'e' || c == 'k')
			return arg_invalid(ctx, argv[optind - 1], optarg, "a value");
		else
			return arg_error(ctx, argv, c);
	}
	if (optind < argc)
		return arg_extra(ctx, argv[optind]);
	if (geteuid() != 0)
		return env_error(ctx, "reload", EPERM, "loading modules needs root");
	if (r.ko && access(r.ko, R_OK | X_OK))
		return env_error(ctx, r.ko, errno, "--ko names the folder of kvm.ko");
	/* the instance read as KVM, else the base module with its instances */
	if (kvm_instance(r.error, sizeof(r.error)) != 1 &&
	    !root_exists(ROOT_SYS, "module/" VAC_MODULE))
		snprintf(r.error, sizeof(r.error), "%s", VAC_MODULE);
	if (r.error[0])
		return env_error(ctx, r.error, EBUSY,
				 "a KVM instance is loaded: ekvm reload replaces kvm.ko and the "
				 "vendor module; unload the instances (ekvm instance unload) and "
				 "ekvm_vac first");
	pick_vendor(&r);
	kvm_version(r.before, sizeof(r.before));
	rc = reload(&r);
	out_init(stdout, json);
	print(&r);
	return rc;
}

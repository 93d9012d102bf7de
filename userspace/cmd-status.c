// SPDX-License-Identifier: GPL-2.0-only
/* ekvm status: the tool, the KVM loaded now, and the kvm.ko of every installed kernel. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "ekvm.h"
#include "ekvmfeat.h"
#include "ident.h"
#include "include/ekvm-abi.h"
#include "kvm.h"
#include "modinfo.h"
#include "out.h"
#include "sysfs.h"

static const char *opt(const char *s)
{
	return s && *s ? s : NULL;
}

static void print_series(const char *series)
{
	char buf[sizeof(((struct kvm_ident *)0)->series)];

	snprintf(buf, sizeof(buf), "%s", series);
	out_arr_begin("series");
	for (char *save, *p = strtok_r(buf, "\n", &save); p; p = strtok_r(NULL, "\n", &save))
		out_str(NULL, "    %s\n", p);
	out_arr_end();
}

static void print_loaded(const struct kvm_ident *id)
{
	out_obj_begin("loaded");
	out_str("flavour", "loaded KVM:  %s", ident_flavour(id));
	out_bool("builtin", id->builtin ? ", built in" : NULL, id->builtin);
	out_str("vendor_module", id->vendor[0] ? ", vendor module %s" : NULL, opt(id->vendor));
	out_str("instance", id->instance[0] ? ", KVM instance %s" : NULL, opt(id->instance));
	out_str("version", "\n  version:   %s\n", opt(id->version));
	out_str("base", id->ekvm ? "  base:      %s\n" : NULL, opt(id->base));
	out_str("release", id->ekvm ? "  release:   %s\n" : NULL, opt(id->release));
	if (id->sysfs_abi >= 0)
		out_int("sysfs_abi", id->ekvm ? "  sysfs abi: %lld\n" : NULL, id->sysfs_abi);
	else
		out_str("sysfs_abi", NULL, NULL);
	out_txt(id->ekvm ? "  series:\n" : "");
	print_series(id->series);
	out_str("dev_kvm", "  %s: ", kvm_dev_path());
	out_str("dev_kvm_error", id->dev_err ? "%s" : NULL,
		id->dev_err ? strerror(id->dev_err) : NULL);
	if (id->cap_ekvm >= 0)
		out_int("cap_ekvm", "KVM_CAP_EKVM = %lld", id->cap_ekvm);
	else
		out_str("cap_ekvm", NULL, NULL);
	out_txt("%s\n", id->cap_ekvm == 0 ? " (not ekvm)" : "");
	out_obj_end();
	print_instances("  ");
}

/* A feature value, or null when the loaded ekvm does not have it (-errno). */
static void out_feat(const char *key, long long v, bool is_bool)
{
	if (v < 0)
		out_str(key, NULL, NULL);
	else if (is_bool)
		out_bool(key, NULL, v);
	else
		out_int(key, NULL, v);
}

static const char *limit(char *buf, size_t size, long long v)
{
	snprintf(buf, size, v < 0 ? "-" : v ? "%lld" : "unlimited", v);
	return buf;
}

/* ekvm ABI 2: drain, live counts, per-user limits, audit log, exit histograms; null on stock. */
static void print_features(const struct kvm_ident *id)
{
	struct ekvm_feat f;
	char vms[24], vcpus[24], period[48] = "";

	if (!id->ekvm) {
		out_str("features", NULL, NULL);
		return;
	}
	feat_read(&f);
	out_obj_begin("features");
	out_feat("drain", f.drain, true);
	out_feat("vms", f.vms, false);
	out_feat("vcpus", f.vcpus, false);
	out_feat("max_vms_per_user", f.max_vms, false);
	out_feat("max_vcpus_per_user", f.max_vcpus, false);
	out_feat("audit_log", f.audit_log, true);
	out_feat("exit_hist", f.exit_hist, true);
	out_feat("exit_hist_period", f.exit_hist_period, false);
	out_obj_end();
	if (f.drain >= 0)
		out_txt("  drain:     %s\n", f.drain ? "on: new VMs are refused" : "off");
	if (f.vms >= 0 && f.vcpus >= 0)
		out_txt("  live:      %lld VM%s, %lld vCPU%s\n", f.vms, f.vms == 1 ? "" : "s",
			f.vcpus, f.vcpus == 1 ? "" : "s");
	if (f.max_vms >= 0 || f.max_vcpus >= 0)
		out_txt("  per user:  %s VMs, %s vCPUs\n", limit(vms, sizeof(vms), f.max_vms),
			limit(vcpus, sizeof(vcpus), f.max_vcpus));
	if (f.audit_log >= 0)
		out_txt("  audit log: %s\n", f.audit_log ? "on" : "off");
	if (f.exit_hist == 1 && f.exit_hist_period > 0)
		snprintf(period, sizeof(period), ", about 1 exit in %lld sampled",
			 f.exit_hist_period);
	if (f.exit_hist >= 0)
		out_txt("  exit hist: %s%s\n", f.exit_hist ? "on" : "off", period);
}

/* The tool's ABI against the module's: a warning with what to do, or nothing. */
static void print_abi_match(const struct kvm_ident *id)
{
	int abi = ident_abi(id);
	char msg[256] = "";

	if (abi == 0)
		snprintf(msg, sizeof(msg),
			 "the loaded KVM is not ekvm: install the ekvm modules (DKMS) and reload "
			 "kvm to use ekvm features");
	else if (abi > 0 && abi != EKVM_ABI_LEVEL)
		snprintf(msg, sizeof(msg),
			 "the loaded ekvm has ABI %d but this tool is built for ABI %d: install "
			 "the ekvm tool of the same release as the modules (%s)",
			 abi, EKVM_ABI_LEVEL, id->version[0] ? id->version : "unknown");
	out_bool("abi_match", NULL, abi == EKVM_ABI_LEVEL);
	out_str("warning", msg[0] ? "warning: %s\n" : NULL, opt(msg));
}

static const char *lookup_error(const char *kver, int r, bool builtin)
{
	char rel[300];

	if (!r || builtin)
		return NULL;
	snprintf(rel, sizeof(rel), "%.256s/modules.dep", kver);
	if (r == -ENOENT && root_exists(ROOT_MODULES, rel))
		return "no modules installed, only headers or nothing";
	if (r == -ENOENT)
		return "no kvm module";
	if (r == -ENOSYS)
		return "built without libkmod";
	return strerror(-r);
}

static void print_kernel(const char *kver, bool running, const struct kvm_ident *id)
{
	struct modinfo mi;
	int r = modinfo_lookup(kver, "kvm", &mi);
	bool found = r == 0, builtin_now = running && id->builtin;
	const char *err;
	char note[512];

	out_obj_begin(NULL);
	out_str("kernel", "  %-24s", kver);
	out_bool("running", "  %-7s", running);
	if (!found && builtin_now)
		mi.origin = "builtin";
	out_str("origin", "  %-8s",
		found || builtin_now ? mi.origin
		: r == -ENOSYS	     ? "unknown"
				     : "none");
	out_bool("ekvm", NULL, found && mi.version[0]);
	out_str("version", "  %-12s", found ? opt(mi.version) : NULL);
	out_bool("signed", "  %-6s", found && mi.is_signed);
	out_str("signer", "  %-7s", found ? opt(mi.signer) : NULL);
	out_str("sig_key", NULL, found ? opt(mi.sig_key) : NULL);
	out_str("sig_hashalgo", NULL, found ? opt(mi.sig_hashalgo) : NULL);
	out_str("path", "  %s", found ? opt(mi.path) : NULL);
	err = lookup_error(kver, r, builtin_now);
	out_str("error", err ? " (%s)" : NULL, err);
	out_txt("\n");
	out_str("skipped", NULL, modinfo_skip_note(kver, note, sizeof(note)) > 0 ? note : NULL);
	out_obj_end();
}

/* After the table: each kernel ekvm-dkms gave no ekvm modules, and why (it runs stock KVM). */
static void print_skip_warning(const char *kver)
{
	char note[512];

	if (modinfo_skip_note(kver, note, sizeof(note)) > 0)
		out_txt("warning: %s\n", note);
}

static void print_kernels(void)
{
	struct dirent **names = NULL;
	struct utsname u;
	bool seen_running = false;
	int n = scandir(root_dir(ROOT_MODULES), &names, NULL, versionsort);
	struct kvm_ident id;

	uname(&u);
	ident_read_sysfs(&id);
	out_txt("kernels in %s (which kvm.ko modprobe loads%s):\n", root_dir(ROOT_MODULES),
		modinfo_available() ? "" : "; this build has no libkmod");
	out_txt("  %-24s  %-7s  %-8s  %-12s  %-6s  %s\n", "KERNEL", "RUNNING", "ORIGIN", "VERSION",
		"SIGNED", "SIGNER   PATH");
	out_arr_begin("kernels");
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			bool running = !strcmp(names[i]->d_name, u.release);

			seen_running |= running;
			print_kernel(names[i]->d_name, running, &id);
		}
	}
	if (!seen_running)
		print_kernel(u.release, true, &id);
	out_arr_end();
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.')
			print_skip_warning(names[i]->d_name);
		free(names[i]);
	}
	free(names);
	if (!seen_running)
		print_skip_warning(u.release);
	out_str("modules_error", n < 0 ? "  (cannot read the modules folder: %s)\n" : NULL,
		n < 0 ? strerror(errno) : NULL);
}

/*
 * The sysfs values status shows, checked before anything is printed: one that is there but
 * malformed (not a number or a bool, or longer than its field) is an error, exit 2, not a
 * null or "-". One that is missing or cannot be read is shown as null or "-".
 */
static int check_values(struct ekvm_ctx *ctx)
{
	enum kind { COUNT, BOOL, TEXT };
	static const struct {
		const char *rel;
		enum kind kind;
		size_t size;
	} vals[] = {
		{ "module/kvm/ekvm/abi", COUNT, 0 },
		{ "module/kvm/ekvm/version", TEXT, sizeof(((struct kvm_ident *)0)->version) },
		{ "module/kvm/ekvm/base", TEXT, sizeof(((struct kvm_ident *)0)->base) },
		{ "module/kvm/ekvm/release", TEXT, sizeof(((struct kvm_ident *)0)->release) },
		{ "module/kvm/ekvm/series", TEXT, sizeof(((struct kvm_ident *)0)->series) },
		{ "module/kvm/version", TEXT, sizeof(((struct kvm_ident *)0)->version) },
		{ FEAT_DRAIN, BOOL, 0 },
		{ FEAT_VMS, COUNT, 0 },
		{ FEAT_VCPUS, COUNT, 0 },
		{ FEAT_MAX_VMS, COUNT, 0 },
		{ FEAT_MAX_VCPUS, COUNT, 0 },
		{ FEAT_AUDIT_LOG, BOOL, 0 },
		{ FEAT_EXIT_HIST, BOOL, 0 },
		{ FEAT_EXIT_HIST_PERIOD, COUNT, 0 },
	};
	char path[4096], buf[64];
	long long r;

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		const char *expected = vals[i].kind == BOOL ? "Y, N, 1 or 0" : "a number";

		if (vals[i].kind == TEXT) {
			char *text = malloc(vals[i].size);

			r = text ? read_root_file(ROOT_SYS, vals[i].rel, text, vals[i].size) : 0;
			free(text);
		} else if (vals[i].kind == BOOL) {
			r = feat_read_bool(vals[i].rel);
		} else if (!strcmp(vals[i].rel, "module/kvm/ekvm/abi")) {
			uint64_t abi;

			r = read_root_u64(ROOT_SYS, vals[i].rel, &abi);
			r = !r && abi > INT_MAX ? -ERANGE : r;
		} else {
			r = feat_read_count(vals[i].rel);
		}
		if (r != -EINVAL && r != -ERANGE && r != -EFBIG)
			continue;
		root_path(path, sizeof(path), ROOT_SYS, vals[i].rel);
		if (r == -EFBIG && vals[i].kind == TEXT) {
			fprintf(stderr, "ekvm %s: %s: malformed: longer than %zu bytes\n",
				ctx->cmd->name, path, vals[i].size - 1);
		} else {
			if (read_root_file(ROOT_SYS, vals[i].rel, buf, sizeof(buf)) == -EFBIG)
				memcpy(buf + sizeof(buf) - 4, "...", 4);
			fprintf(stderr, "ekvm %s: %s: malformed value '%s' (expected %s)\n",
				ctx->cmd->name, path, out_esc(buf), expected);
		}
		return EKVM_EXIT_USAGE;
	}
	return 0;
}

int cmd_status(int argc, char **argv, struct ekvm_ctx *ctx)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' }, { 0 } };
	struct kvm_ident id;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c != 'j')
			return arg_error(ctx, argv, c);
		json = true;
	}
	if (optind < argc)
		return arg_extra(ctx, argv[optind]);
	c = check_values(ctx);
	if (c)
		return c;
	ident_read(&id, -1);
	out_init(stdout, json);
	out_obj_begin(NULL);
	out_obj_begin("tool");
	out_str("version", "ekvm tool:   %s", EKVM_VERSION);
	out_int("abi", ", built for ekvm ABI %lld\n", EKVM_ABI_LEVEL);
	out_obj_end();
	print_loaded(&id);
	print_features(&id);
	print_abi_match(&id);
	print_kernels();
	out_obj_end();
	out_flush();
	return EKVM_EXIT_OK;
}

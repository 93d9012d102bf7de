// SPDX-License-Identifier: GPL-2.0-only
/* Host checks for `ekvm validate` (the EFI ones are in efi.c). */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "checks.h"
#include "ident.h"
#include "include/ekvm-abi.h"
#include "kvm.h"
#include "modinfo.h"
#include "parse.h"
#include "smoke.h"
#include "sysfs.h"

const char *check_result_name(enum check_result r)
{
	static const char *const names[] = { "PASS", "WARN", "FAIL", "N/A" };

	return names[r];
}

void check_add(struct checks *c, const char *key, const char *what, enum check_result r,
	       const char *note, ...)
{
	struct check *k;
	va_list ap;

	if (c->n >= MAX_CHECKS)
		return;
	k = &c->items[c->n++];
	snprintf(k->key, sizeof(k->key), "%s", key);
	snprintf(k->what, sizeof(k->what), "%s", what);
	k->result = r;
	k->note[0] = 0;
	if (note) {
		va_start(ap, note);
		vsnprintf(k->note, sizeof(k->note), note, ap);
		va_end(ap);
	}
}

/* Entries of a directory other than . and ..; -errno when it cannot be read. */
static int count_entries(enum ekvm_root root, const char *rel)
{
	char path[4096];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	if (root_path(path, sizeof(path), root, rel))
		return -ENAMETOOLONG;
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

void check_cpu(struct checks *c)
{
	static const char what[] = "for hardware virtualization";
	char *buf = malloc(1 << 20);
	int r;

	if (!buf) {
		check_add(c, "cpu_virtualization", what, CHECK_WARN, "out of memory");
		return;
	}
	r = read_root_file(ROOT_PROC, "cpuinfo", buf, 1 << 20);
	/* a host with many CPUs: the first MiB has the first CPUs' flags, that is enough */
	if (r < 0 && r != -EFBIG)
		check_add(c, "cpu_virtualization", what, CHECK_WARN, "cannot read cpuinfo: %s",
			  strerror(-r));
	else if (strstr(buf, " vmx") || strstr(buf, " svm"))
		check_add(c, "cpu_virtualization", what, CHECK_PASS, "%s",
			  strstr(buf, " vmx") ? "VMX" : "SVM");
	else
		check_add(c, "cpu_virtualization", what, CHECK_WARN,
			  "no VMX/SVM in CPUID; a paravirtual KVM may still work, see the "
			  "smoke guest check");
	free(buf);
}

static void check_abi(struct checks *c, const struct kvm_ident *id)
{
	int abi = ident_abi(id);
	char what[96], note[512];
	struct utsname u;

	snprintf(what, sizeof(what), "if the KVM's ekvm ABI is the tool's (%d)", EKVM_ABI_LEVEL);
	uname(&u);
	if (abi < 0)
		check_add(c, "ekvm_abi", what, CHECK_FAIL, "no KVM to ask: %s",
			  strerror(id->dev_err ? id->dev_err : ENOENT));
	else if (abi == 0 && modinfo_skip_note(u.release, note, sizeof(note)) > 0)
		/* ekvm-dkms noted why this kernel has no ekvm modules: say that, not "install" */
		check_add(c, "ekvm_abi", what, CHECK_WARN, "stock KVM is loaded: %s", note);
	else if (abi == 0)
		check_add(c, "ekvm_abi", what, CHECK_WARN,
			  "stock KVM is loaded, not ekvm: install the ekvm modules and reload kvm");
	else if (abi != EKVM_ABI_LEVEL)
		check_add(c, "ekvm_abi", what, CHECK_WARN,
			  "KVM has ekvm ABI %d: install the ekvm tool that matches the modules",
			  abi);
	else
		check_add(c, "ekvm_abi", what, CHECK_PASS, NULL);
}

static void check_module(struct checks *c, const struct kvm_ident *id)
{
	static const char what[] = "for the KVM module";

	if (!id->loaded && id->dev_err)
		check_add(c, "kvm_module", what, CHECK_FAIL,
			  "not loaded: modprobe kvm_intel or modprobe kvm_amd");
	else if (id->ekvm)
		check_add(c, "kvm_module", what, CHECK_PASS, "ekvm %s",
			  id->version[0] ? id->version : "(no version)");
	else
		check_add(c, "kvm_module", what, CHECK_PASS, "stock KVM%s%s%s",
			  id->builtin ? ", built in" : "", id->version[0] ? " " : "", id->version);
}

static void check_smoke(struct checks *c, int fd)
{
	static const char what[] = "if KVM runs a guest (ekvm smoke)";
	struct smoke_report rep;

	if (fd < 0) {
		check_add(c, "kvm_usable", what, CHECK_FAIL, "no usable /dev/kvm");
		return;
	}
	if (smoke_run(fd, 0, &rep))
		check_add(c, "kvm_usable", what, CHECK_FAIL, "%s: %s",
			  smoke_step_key((enum smoke_step)rep.failed), rep.detail);
	else
		check_add(c, "kvm_usable", what, CHECK_PASS, "%.1f ms", rep.total_ms);
}

void check_kvm(struct checks *c)
{
	const char *dev = kvm_dev_path();
	struct kvm_ident id;
	char what[96];
	int fd = -1;

	snprintf(what, sizeof(what), "if device %s exists", dev);
	if (access(dev, F_OK))
		check_add(c, "dev_kvm_exists", what, CHECK_FAIL, "%s", kvm_open_hint(ENOENT));
	else
		check_add(c, "dev_kvm_exists", what, CHECK_PASS, NULL);
	snprintf(what, sizeof(what), "if device %s is accessible", dev);
	fd = kvm_open();
	if (fd < 0)
		check_add(c, "dev_kvm_access", what, CHECK_FAIL, "%s%s%s", strerror(-fd),
			  kvm_open_hint(-fd) ? ": " : "",
			  kvm_open_hint(-fd) ? kvm_open_hint(-fd) : "");
	else
		check_add(c, "dev_kvm_access", what, CHECK_PASS, NULL);
	ident_read(&id, fd);
	check_module(c, &id);
	check_abi(c, &id);
	check_smoke(c, fd);
	if (fd >= 0)
		close(fd);
}

void check_nested(struct checks *c)
{
	static const char what[] = "for nested virtualization";
	static const char *const mods[] = { "kvm_intel", "kvm_amd" };
	struct kvm_ident id;
	char rel[96], val[16];

	for (size_t i = 0; i < 2; i++) {
		snprintf(rel, sizeof(rel), "module/%s/parameters/nested", mods[i]);
		if (read_root_file(ROOT_SYS, rel, val, sizeof(val)) < 0)
			continue;
		if (val[0] == 'Y' || val[0] == '1')
			check_add(c, "nested", what, CHECK_PASS, NULL);
		else
			check_add(c, "nested", what, CHECK_WARN,
				  "disabled: modprobe -r %s; modprobe %s nested=1", mods[i],
				  mods[i]);
		return;
	}
	ident_read_sysfs(&id);
	check_add(c, "nested", what, CHECK_NA, "%s has no nested parameter",
		  id.vendor[0] ? id.vendor : "no KVM vendor module loaded;");
}

void check_iommu(struct checks *c)
{
	static const char what[] = "for device assignment IOMMU support";

	if (count_entries(ROOT_SYS, "kernel/iommu_groups") > 0)
		check_add(c, "iommu", what, CHECK_PASS, NULL);
	else
		check_add(c, "iommu", what, CHECK_WARN,
			  "no IOMMU groups: enable VT-d/AMD-Vi in the firmware and add "
			  "intel_iommu=on or amd_iommu=on to the kernel command line");
}

void check_hugepages(struct checks *c)
{
	static const char what[] = "for hugepage support";
	char note[160] = "", rel[160];
	struct dirent *d;
	char path[4096];
	size_t len = 0;
	uint64_t nr;
	DIR *dir;

	if (root_path(path, sizeof(path), ROOT_SYS, "kernel/mm/hugepages") ||
	    !(dir = opendir(path))) {
		check_add(c, "hugepages", what, CHECK_WARN, "the kernel has no hugetlbfs support");
		return;
	}
	while ((d = readdir(dir)) && len < sizeof(note) - 48) {
		if (strncmp(d->d_name, "hugepages-", 10))
			continue;
		snprintf(rel, sizeof(rel), "kernel/mm/hugepages/%.64s/nr_hugepages", d->d_name);
		if (read_root_u64(ROOT_SYS, rel, &nr) == 0)
			len += (size_t)snprintf(note + len, sizeof(note) - len,
						"%s%.24s %llu reserved", len ? ", " : "",
						d->d_name + 10, (unsigned long long)nr);
	}
	closedir(dir);
	check_add(c, "hugepages", what, len ? CHECK_PASS : CHECK_WARN, "%s",
		  len ? note : "no hugepage sizes");
}

void check_devices(struct checks *c)
{
	if (root_exists(ROOT_DEV, "vhost-net"))
		check_add(c, "dev_vhost_net", "if device /dev/vhost-net exists", CHECK_WARN,
			  "load the 'vhost_net' module for faster virtio networking");
	else
		check_add(c, "dev_vhost_net", "if device /dev/vhost-net exists", CHECK_PASS, NULL);
	if (root_exists(ROOT_DEV, "net/tun"))
		check_add(c, "dev_net_tun", "if device /dev/net/tun exists", CHECK_FAIL,
			  "load the 'tun' module to enable networking for guests");
	else
		check_add(c, "dev_net_tun", "if device /dev/net/tun exists", CHECK_PASS, NULL);
}

void check_headers(struct checks *c)
{
	struct utsname u;
	char rel[256 + 32], what[96];

	uname(&u);
	snprintf(what, sizeof(what), "for the running kernel's headers (%.40s)", u.release);
	snprintf(rel, sizeof(rel), "%.256s/build/Makefile", u.release);
	if (root_exists(ROOT_MODULES, rel))
		check_add(c, "kernel_headers", what, CHECK_WARN,
			  "install linux-headers-%.64s so DKMS can rebuild ekvm", u.release);
	else
		check_add(c, "kernel_headers", what, CHECK_PASS, NULL);
}

/* The controllers of a cgroup v2 hierarchy, from <mountpoint>/cgroup.controllers. */
static void read_v2_controllers(const char *mnt, char *buf, size_t size)
{
	char path[4096];
	size_t len = strlen(buf);

	snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt);
	if (len + 2 < size && read_file(path, buf + len + 1, size - len - 1) >= 0)
		buf[len] = ' ';
}

/* v1 controllers mounted (from the mount options) and v2 controllers available. */
static int read_cgroups(char *v1, size_t v1size, char *v2, size_t v2size)
{
	char path[4096], line[1024], dev[256], mnt[1024], type[64], opts[512];
	FILE *f;
	int r = root_path(path, sizeof(path), ROOT_PROC, "self/mounts");

	if (r)
		return r;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %1023s %63s %511s", dev, mnt, type, opts) != 4)
			continue;
		if (!strcmp(type, "cgroup") && strlen(v1) + strlen(opts) + 2 < v1size)
			strcat(strcat(v1, " "), opts);
		else if (!strcmp(type, "cgroup2"))
			read_v2_controllers(mnt, v2, v2size);
	}
	fclose(f);
	for (char *p = v1; *p; p++)
		if (*p == ',')
			*p = ' ';
	return 0;
}

void check_cgroups(struct checks *c)
{
	/* v1 name, and its v2 counterpart ("" = always there with cgroup v2) */
	static const char *const ctl[][2] = {
		{ "cpu", "cpu" },	{ "cpuacct", "cpu" }, { "cpuset", "cpuset" },
		{ "memory", "memory" }, { "devices", "" },    { "freezer", "" },
		{ "blkio", "io" },	{ "pids", "pids" },
	};
	char v1[1024] = "", v2[1024] = "", key[48], what[96];
	int r = read_cgroups(v1, sizeof(v1), v2, sizeof(v2));
	bool have_v2 = v2[0] != 0;

	for (size_t i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++) {
		bool ok = has_word(v1, ctl[i][0]) ||
			  (have_v2 && (!ctl[i][1][0] || has_word(v2, ctl[i][1])));

		snprintf(key, sizeof(key), "cgroup_%s", ctl[i][0]);
		snprintf(what, sizeof(what), "for cgroup '%s' controller support", ctl[i][0]);
		if (r)
			check_add(c, key, what, CHECK_WARN, "cannot read mounts: %s", strerror(-r));
		else if (ok)
			check_add(c, key, what, CHECK_PASS, NULL);
		else
			check_add(c, key, what, CHECK_WARN,
				  "enable the '%s' controller and mount it (cgroup v1) or use "
				  "cgroup v2",
				  ctl[i][0]);
	}
}

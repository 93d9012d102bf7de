// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm identity test: the loaded KVM says which ekvm build it is.
 *
 * On ekvm, KVM_CHECK_EXTENSION(KVM_CAP_EKVM) returns the ekvm ABI level, on /dev/kvm and on a
 * VM, and /sys/module/kvm/ekvm/ holds version, base, release, abi and series, consistent with
 * each other and with the capability. On stock KVM the capability is 0 and the directory is
 * absent: the test skips (KSFT_SKIP), unless the harness said ekvm is loaded
 * (EKVM_EXPECT_VERSION set), in which case that is a failure.
 *
 * The harness may pass what it expects (from the module file and the patch series):
 *   EKVM_EXPECT_VERSION  e.g. 6.1.192.1 (modinfo -F version of kvm.ko)
 *   EKVM_EXPECT_ABI      e.g. 1
 *   EKVM_EXPECT_SERIES   the patch file names, one a line
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "kvm_util.h"

#define KVM_CAP_EKVM	0x454b564d	/* "EKVM" */
#define EKVM_SYSFS	"/sys/module/kvm/ekvm"

/* Reads a sysfs attribute; the value must end with exactly one newline, which is removed. */
static char *read_attr(const char *name)
{
	char path[256], *buf;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), EKVM_SYSFS "/%s", name);
	fd = open(path, O_RDONLY);
	TEST_ASSERT(fd >= 0, "open %s: %s", path, strerror(errno));
	buf = calloc(1, 4096);
	TEST_ASSERT(buf, "calloc");
	n = read(fd, buf, 4095);
	TEST_ASSERT(n > 0, "read %s: %zd (%s)", path, n, strerror(errno));
	close(fd);
	TEST_ASSERT(buf[n - 1] == '\n', "%s does not end with a newline", path);
	buf[n - 1] = '\0';
	TEST_ASSERT(n == 1 || buf[n - 2] != '\n', "%s ends with an empty line", path);
	return buf;
}

/* The attribute is read-only for everyone, root included. */
static void check_read_only(const char *name)
{
	char path[256];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), EKVM_SYSFS "/%s", name);
	TEST_ASSERT(!stat(path, &st), "stat %s: %s", path, strerror(errno));
	TEST_ASSERT(!(st.st_mode & 0222), "%s is writable (mode %o)", path, st.st_mode & 0777);
	fd = open(path, O_WRONLY);
	TEST_ASSERT(fd < 0, "%s could be opened for writing", path);
}

static int is_number(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* One patch file name: NNNN-something.patch, no blanks. */
static int is_patch_name(const char *s, size_t len)
{
	size_t i;

	if (len < 12 || strncmp(s + len - 6, ".patch", 6) || s[4] != '-')
		return 0;
	for (i = 0; i < 4; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	for (i = 0; i < len; i++)
		if (isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

static void check_series(const char *series, const char *expect)
{
	const char *line = series, *nl;
	int n = 0;

	TEST_ASSERT(*series, "series is empty: an ekvm build has at least its identity patch");
	do {
		size_t len;

		nl = strchr(line, '\n');
		len = nl ? (size_t)(nl - line) : strlen(line);
		TEST_ASSERT(is_patch_name(line, len), "series line %d is not a patch name: '%.*s'",
			    n + 1, (int)len, line);
		n++;
		line = nl + 1;
	} while (nl);
	pr_info("series: %d patch(es)\n", n);

	if (expect) {
		char *want = strdup(expect);
		size_t l = strlen(want);

		while (l && want[l - 1] == '\n')
			want[--l] = '\0';
		TEST_ASSERT(!strcmp(series, want), "series differs from the expected one:\n%s\n--- expected:\n%s",
			    series, want);
		free(want);
	}
}

int main(void)
{
	const char *expect_version = getenv("EKVM_EXPECT_VERSION");
	const char *expect_abi = getenv("EKVM_EXPECT_ABI");
	const char *expect_series = getenv("EKVM_EXPECT_SERIES");
	char *version, *base, *release, *abi, *series, *joined;
	struct kvm_vm *vm;
	struct stat st;
	int cap, has_sysfs;

	if (expect_version && !*expect_version)
		expect_version = NULL;

	cap = kvm_check_cap(KVM_CAP_EKVM);
	has_sysfs = !stat(EKVM_SYSFS, &st) && S_ISDIR(st.st_mode);
	pr_info("KVM_CAP_EKVM on /dev/kvm: %d, %s: %s\n", cap, EKVM_SYSFS,
		has_sysfs ? "present" : "absent");

	/* Either both say ekvm or neither does. */
	TEST_ASSERT(!cap == !has_sysfs,
		    "KVM_CAP_EKVM is %d but %s is %s", cap, EKVM_SYSFS,
		    has_sysfs ? "present" : "absent");
	if (!cap) {
		TEST_ASSERT(!expect_version,
			    "ekvm %s should be loaded, but KVM does not report ekvm", expect_version);
		/* stock KVM: nothing to check */
		__TEST_REQUIRE(cap, "not ekvm: KVM_CAP_EKVM is 0 (stock KVM)");
	}

	vm = vm_create_barebones();
	TEST_ASSERT(vm_check_cap(vm, KVM_CAP_EKVM) == cap,
		    "KVM_CAP_EKVM on a VM is %d, on /dev/kvm %d", vm_check_cap(vm, KVM_CAP_EKVM), cap);
	kvm_vm_free(vm);

	version = read_attr("version");
	base = read_attr("base");
	release = read_attr("release");
	abi = read_attr("abi");
	series = read_attr("series");
	check_read_only("version");
	check_read_only("base");
	check_read_only("release");
	check_read_only("abi");
	check_read_only("series");
	pr_info("version %s base %s release %s abi %s\n", version, base, release, abi);

	/* abi is the capability's value */
	TEST_ASSERT(is_number(abi) && atoi(abi) == cap, "abi '%s' but KVM_CAP_EKVM is %d", abi, cap);
	TEST_ASSERT(cap >= 1, "KVM_CAP_EKVM is %d: an ekvm ABI level starts at 1", cap);
	if (expect_abi)
		TEST_ASSERT(cap == atoi(expect_abi), "KVM_CAP_EKVM is %d, expected %s", cap, expect_abi);

	/* version is <base>.<release>; base is a Linux point release x.y.z */
	TEST_ASSERT(is_number(release) && atoi(release) >= 1, "release '%s' is not a number >= 1", release);
	TEST_ASSERT(asprintf(&joined, "%s.%s", base, release) > 0, "asprintf");
	TEST_ASSERT(!strcmp(version, joined), "version '%s' is not base.release '%s'", version, joined);
	{
		unsigned int a, b, c;
		char extra;

		TEST_ASSERT(sscanf(base, "%u.%u.%u%c", &a, &b, &c, &extra) == 3,
			    "base '%s' is not a Linux point release x.y.z", base);
	}
	if (expect_version)
		TEST_ASSERT(!strcmp(version, expect_version), "version '%s', the module file says '%s'",
			    version, expect_version);

	check_series(series, expect_series);
	free(joined);
	return 0;
}

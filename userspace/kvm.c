// SPDX-License-Identifier: GPL-2.0-only
/* /dev/kvm helpers: no printing, -errno on error. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "include/ekvm-abi.h"
#include "kvm.h"

const char *kvm_dev_path(void)
{
	static char path[4096];
	const char *p = getenv("EKVM_DEV_KVM");

	if (p && *p)
		return p;
	p = getenv("EKVM_DEV_ROOT");
	if (!p || !*p)
		return "/dev/kvm";
	snprintf(path, sizeof(path), "%s/kvm", p);
	return path;
}

int kvm_open(void)
{
	int fd = open(kvm_dev_path(), O_RDWR | O_CLOEXEC);
	int ver;

	if (fd < 0)
		return -errno;
	ver = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION) {
		int err = ver < 0 ? errno : EPROTO;

		close(fd);
		return -err;
	}
	return fd;
}

const char *kvm_open_hint(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
		return "add the user to the 'kvm' group, or run as root";
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return "load the KVM module: modprobe kvm_intel or modprobe kvm_amd";
	case ENOTTY:
	case EINVAL:
	case EPROTO:
		return "this is not a KVM device";
	default:
		return NULL;
	}
}

int kvm_check_extension(int fd, unsigned long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? -errno : r;
}

int kvm_ekvm_abi(int kvm_fd)
{
	return kvm_check_extension(kvm_fd, KVM_CAP_EKVM);
}

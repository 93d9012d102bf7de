// SPDX-License-Identifier: GPL-2.0-only
/* modprobe's view of a kernel's modules, through libkmod. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "modinfo.h"
#include "sysfs.h"

const char *modinfo_origin(const char *path)
{
	if (!*path)
		return "builtin";
	if (strstr(path, "/updates/"))
		return "updates";
	if (strstr(path, "/kernel/"))
		return "distro";
	if (strstr(path, "/extra/"))
		return "extra";
	return "other";
}

int modinfo_skip_note(const char *kver, char *buf, size_t size)
{
	char rel[300];
	size_t skip = 0, len;
	int r;

	buf[0] = 0;
	if (!*kver || *kver == '.' || strchr(kver, '/') || strlen(kver) > 256)
		return -EINVAL;
	snprintf(rel, sizeof(rel), "skipped/%s", kver);
	r = read_root_file(ROOT_EKVM_DKMS, rel, buf, size);
	if (r < 0 && r != -EFBIG)
		return r;
	buf[strcspn(buf, "\n")] = 0;
	if (!strncmp(buf, "ekvm: ", 6))
		skip = 6;
	len = strlen(buf + skip);
	memmove(buf, buf + skip, len + 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	return len ? (int)len : -ENOENT;
}

#ifdef EKVM_NO_KMOD

bool modinfo_available(void)
{
	return false;
}

int modinfo_lookup(const char *kver, const char *module, struct modinfo *mi)
{
	(void)kver;
	(void)module;
	(void)mi;
	return -ENOSYS;
}

#else

#include <libkmod.h>

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static void read_info(struct kmod_module *mod, struct modinfo *mi)
{
	struct kmod_list *info = NULL, *l;

	if (kmod_module_get_info(mod, &info) < 0)
		return;
	kmod_list_foreach(l, info)
	{
		const char *key = kmod_module_info_get_key(l);
		const char *val = kmod_module_info_get_value(l);

		if (!strcmp(key, "version"))
			copy(mi->version, sizeof(mi->version), val);
		else if (!strcmp(key, "signer"))
			copy(mi->signer, sizeof(mi->signer), val);
		else if (!strcmp(key, "sig_key"))
			copy(mi->sig_key, sizeof(mi->sig_key), val);
		else if (!strcmp(key, "sig_hashalgo"))
			copy(mi->sig_hashalgo, sizeof(mi->sig_hashalgo), val);
	}
	mi->is_signed = mi->signer[0] || mi->sig_key[0];
	kmod_module_info_free_list(info);
}

bool modinfo_available(void)
{
	return true;
}

int modinfo_lookup(const char *kver, const char *module, struct modinfo *mi)
{
	struct kmod_list *list = NULL;
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	char dir[PATH_MAX];
	int r = root_path(dir, sizeof(dir), ROOT_MODULES, kver);

	memset(mi, 0, sizeof(*mi));
	if (r)
		return r;
	ctx = kmod_new(dir, NULL);
	if (!ctx)
		return -ENOMEM;
	kmod_set_log_priority(ctx, 0);
	r = kmod_module_new_from_lookup(ctx, module, &list);
	if (r < 0 || !list) {
		kmod_unref(ctx);
		return r < 0 ? r : -ENOENT;
	}
	mod = kmod_module_get_module(list);
	copy(mi->path, sizeof(mi->path), kmod_module_get_path(mod));
	mi->origin = modinfo_origin(mi->path);
	if (mi->path[0])
		read_info(mod, mi);
	kmod_module_unref(mod);
	kmod_module_unref_list(list);
	kmod_unref(ctx);
	return 0;
}

#endif

// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm instance: the KVM instances behind the base module ekvm_vac (docs/multi-kvm.md). An
 * instance is a whole KVM in one module named after its release; several run VMs at once and
 * /dev/kvm hands each new open to the active one. So a new KVM goes in beside the running one:
 * load it, make it active (new VMs start on it), and unload the old one once its VMs are gone
 * (live-migrated, or ended). list (the default), load, activate, unload; modprobe, insmod and
 * rmmod are found in PATH.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ekvm.h"
#include "instances.h"
#include "out.h"
#include "runprog.h"
#include "sysfs.h"

#define KO_MAX (256UL << 20) /* a module file read for its dependencies */

enum inst_action { INST_LIST, INST_LOAD, INST_ACTIVATE, INST_UNLOAD };
static const char *const action_names[] = { "list", "load", "activate", "unload" };

struct inst_opts {
	enum inst_action action;
	bool json, activate;
	const char *arg; /* load: the module file; activate, unload: the name */
	char **params; /* load: PARAM=VALUE... */
	int nr_params;
};

static const char *plural(long long n)
{
	return n == 1 ? "" : "s";
}

void print_instances(const char *indent)
{
	struct kvm_instance_info list[MAX_INSTANCES];
	char active[64];
	int n = instances_read(list, MAX_INSTANCES);

	if (n < 0) {
		out_str("instances", NULL, NULL);
		out_txt("%sKVM instances: none (the base module %s is not loaded)\n", indent,
			VAC_MODULE);
		return;
	}
	instances_active(active, sizeof(active));
	out_obj_begin("instances");
	out_int("count", NULL, n);
	out_txt("%sKVM instances (%s): %d, active: ", indent, VAC_MODULE, n);
	out_str("active", "%s\n", strcmp(active, "none") && active[0] ? active : NULL);
	out_arr_begin("list");
	for (int i = 0; i < n; i++) {
		out_obj_begin(NULL);
		out_txt("%s  ", indent);
		out_str("name", "%s: ", list[i].name);
		out_str("version", "version %s", list[i].version[0] ? list[i].version : NULL);
		if (list[i].vms >= 0) {
			out_int("vms", ", %lld VM", list[i].vms);
			out_txt("%s", plural(list[i].vms));
		} else {
			out_str("vms", NULL, NULL);
		}
		if (list[i].vcpus >= 0) {
			out_int("vcpus", ", %lld vCPU", list[i].vcpus);
			out_txt("%s", plural(list[i].vcpus));
		} else {
			out_str("vcpus", NULL, NULL);
		}
		out_bool("active", list[i].active ? ", active" : NULL, list[i].active);
		out_txt("\n");
		out_obj_end();
	}
	out_arr_end();
	out_obj_end();
}

static int parse_args(struct inst_opts *o, int argc, char **argv, struct ekvm_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "activate", no_argument, NULL, 'a' },
		{ 0 },
	};
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'j')
			o->json = true;
		else if (c == 'a')
			o->activate = true;
		else
			return arg_error(ctx, argv, c);
	}
	if (optind < argc) {
		for (i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++)
			if (!strcmp(argv[optind], action_names[i]))
				break;
		if (i == sizeof(action_names) / sizeof(action_names[0]))
			return arg_invalid(ctx, "action", argv[optind],
					   "list, load, activate or unload");
		o->action = (enum inst_action)i;
		optind++;
	}
	if (o->activate && o->action != INST_LOAD)
		return arg_conflict(ctx, action_names[o->action], "--activate");
	if (o->action == INST_LIST) {
		if (optind < argc)
			return arg_extra(ctx, argv[optind]);
		return 0;
	}
	if (optind >= argc)
		return arg_usage(ctx, "%s needs %s", action_names[o->action],
				 o->action == INST_LOAD ? "a module file" : "an instance's name");
	o->arg = argv[optind++];
	if (o->action == INST_LOAD) {
		o->params = argv + optind;
		o->nr_params = argc - optind;
		for (int k = 0; k < o->nr_params; k++)
			if (!strchr(o->params[k], '=') || o->params[k][0] == '=')
				return arg_invalid(ctx, "PARAM", o->params[k],
						   "a module parameter, NAME=VALUE");
		return 0;
	}
	if (optind < argc)
		return arg_extra(ctx, argv[optind]);
	if (strcmp(o->arg, "none") && !instance_name_ok(o->arg))
		return arg_invalid(ctx, "NAME", o->arg, "a loaded instance's name, or none");
	if (o->action == INST_UNLOAD && !strcmp(o->arg, "none"))
		return arg_invalid(ctx, "NAME", o->arg, "a loaded instance's name");
	return 0;
}

/* "ekvm instance: <message>" on stderr; returns EKVM_EXIT_FAIL. */
static __attribute__((format(printf, 2, 3))) int fail(const struct ekvm_ctx *ctx, const char *fmt,
						      ...)
{
	va_list ap;

	fprintf(stderr, "ekvm %s: ", ctx->cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EKVM_EXIT_FAIL;
}

/* /sys/module/NAME as it is: root_path() would read an instance for "kvm" (sysfs.h). */
static bool module_loaded(const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/module/%s", root_dir(ROOT_SYS), name);
	return access(path, F_OK) == 0;
}

static int find_instance(const char *name, struct kvm_instance_info *found)
{
	struct kvm_instance_info list[MAX_INSTANCES];
	int n = instances_read(list, MAX_INSTANCES);

	for (int i = 0; i < n; i++) {
		if (!strcmp(list[i].name, name)) {
			*found = list[i];
			return 0;
		}
	}
	return n < 0 ? n : -ENOENT;
}

static int do_activate(const struct inst_opts *o, struct ekvm_ctx *ctx)
{
	char was[64];
	int r;

	if (instances_active(was, sizeof(was)) < 0)
		return fail(ctx, "no KVM instance: the base module %s is not loaded", VAC_MODULE);
	r = instances_activate(o->arg);
	if (r == -ENOENT)
		return fail(ctx, "no loaded KVM instance is named %s", o->arg);
	if (r)
		return env_error(ctx, VAC_ACTIVE, -r, r == -EACCES ? "root only" : NULL);
	out_obj_begin(NULL);
	out_str("action", NULL, "activate");
	out_str("active", "active KVM instance: %s", o->arg);
	out_str("was", " (was %s)\n", was);
	out_obj_end();
	return EKVM_EXIT_OK;
}

static int do_unload(const struct inst_opts *o, struct ekvm_ctx *ctx)
{
	struct kvm_instance_info i;
	char *argv[] = { "rmmod", (char *)o->arg, NULL };
	char err[256], n[24];
	int r = find_instance(o->arg, &i);

	if (r == -ENOENT)
		return fail(ctx, "no loaded KVM instance is named %s", o->arg);
	if (r < 0)
		return fail(ctx, "no KVM instance: the base module %s is not loaded", VAC_MODULE);
	if (i.active)
		return fail(ctx,
			    "%s is the active instance: make another one (or none) active first",
			    o->arg);
	if (i.vms > 0) {
		snprintf(n, sizeof(n), "%lld VM%s", i.vms, plural(i.vms));
		return fail(ctx,
			    "%s still has %s: it can unload once its VMs are gone (migrated "
			    "or ended)",
			    o->arg, n);
	}
	r = spawn_wait(argv, err, sizeof(err));
	if (r)
		return fail(ctx, "%s%s", err, r > 0 ? " (open /dev/kvm files hold it)" : "");
	out_obj_begin(NULL);
	out_str("action", NULL, "unload");
	out_str("unloaded", "unloaded %s\n", o->arg);
	out_obj_end();
	return EKVM_EXIT_OK;
}

/*
 * The modules a module file depends on, from its .modinfo ("depends=a,b"), into buf: -ENOENT
 * when it has no such entry.
 */
static int ko_depends(const char *path, char *buf, size_t size)
{
	static const char key[] = "depends=";
	const long klen = (long)sizeof(key) - 1;
	unsigned char *data;
	long len = read_whole_file(path, &data, KO_MAX);
	int r = -ENOENT;

	if (len < 0)
		return (int)len;
	for (long i = 1; i + klen < len; i++) {
		const char *v = (const char *)data + i + klen;

		if (data[i - 1] || memcmp(data + i, key, (size_t)klen))
			continue;
		snprintf(buf, size, "%.*s", (int)strnlen(v, (size_t)(len - i - klen)), v);
		r = 0;
		break;
	}
	free(data);
	return r;
}

/* The base module: ekvm_vac.ko beside the instance's file, else what modprobe finds. */
static int load_base(const char *ko, char *err, size_t size)
{
	char path[4096];
	const char *slash = strrchr(ko, '/');
	char *insmod[] = { "insmod", path, NULL };
	char *modprobe[] = { "modprobe", VAC_MODULE, NULL };

	snprintf(path, sizeof(path), "%.*s%s.ko", slash ? (int)(slash - ko + 1) : 0, ko,
		 VAC_MODULE);
	if (!access(path, R_OK))
		return spawn_wait(insmod, err, size);
	return spawn_wait(modprobe, err, size);
}

/* A failed load leaves the host as it was: the modules it loaded go, the last first. */
static void unload_loaded(char *const loaded[], int n)
{
	char err[256];

	while (n-- > 0) {
		char *argv[] = { "rmmod", loaded[n], NULL };

		spawn_wait(argv, err, sizeof(err));
	}
}

static int do_load(const struct inst_opts *o, struct ekvm_ctx *ctx)
{
	char name[64], deps[512], err[512], version[64] = "", rel[128];
	const char *base = strrchr(o->arg, '/');
	char *argv[3 + 64], *loaded[16];
	int r, k = 0, nr_loaded = 0;
	size_t len;

	base = base ? base + 1 : o->arg;
	len = strlen(base);
	if (len < 4 || strcmp(base + len - 3, ".ko") || strncmp(base, "kvm_ekvm_", 9) ||
	    len - 3 >= sizeof(name))
		return arg_invalid(ctx, "KO", o->arg,
				   "a KVM instance's module file, kvm_ekvm_<version>_<release>.ko");
	snprintf(name, sizeof(name), "%.*s", (int)(len - 3), base);
	if (!instance_name_ok(name))
		return arg_invalid(ctx, "KO", o->arg,
				   "a KVM instance's module file, kvm_ekvm_<version>_<release>.ko");
	if (o->nr_params > 60)
		return arg_usage(ctx, "too many module parameters (%d)", o->nr_params);
	if (access(o->arg, R_OK))
		return env_error(ctx, o->arg, errno, NULL);
	if (module_loaded("kvm"))
		return fail(ctx,
			    "the kvm module is loaded: %s does not load beside it (unload "
			    "kvm_amd and kvm first, with no VM running)",
			    VAC_MODULE);
	if (module_loaded(name))
		return fail(ctx, "%s is loaded already", name);
	r = ko_depends(o->arg, deps, sizeof(deps));
	if (r)
		return fail(ctx, "%s: no dependency list: not a kernel module?", o->arg);
	for (char *save, *d = strtok_r(deps, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
		char *modprobe[] = { "modprobe", d, NULL };

		if (module_loaded(d))
			continue;
		if (nr_loaded == (int)(sizeof(loaded) / sizeof(loaded[0]))) {
			unload_loaded(loaded, nr_loaded);
			return fail(ctx, "%s: too many dependencies", o->arg);
		}
		r = !strcmp(d, VAC_MODULE) ? load_base(o->arg, err, sizeof(err))
					   : spawn_wait(modprobe, err, sizeof(err));
		if (r) {
			unload_loaded(loaded, nr_loaded);
			return fail(ctx, "%s (a module %s needs)", err, name);
		}
		loaded[nr_loaded++] = d;
	}
	argv[k++] = "insmod";
	argv[k++] = (char *)o->arg;
	for (int i = 0; i < o->nr_params; i++)
		argv[k++] = o->params[i];
	argv[k] = NULL;
	r = spawn_wait(argv, err, sizeof(err));
	if (r) {
		unload_loaded(loaded, nr_loaded);
		return fail(ctx, "%s%s", err, r > 0 ? " (see the kernel log)" : "");
	}
	if (o->activate) {
		r = instances_activate(name);
		if (r)
			return fail(ctx, "%s is loaded but could not be made active: %s", name,
				    strerror(-r));
	}
	snprintf(rel, sizeof(rel), "module/%s/ekvm/version", name);
	read_root_file(ROOT_SYS, rel, version, sizeof(version));
	out_obj_begin(NULL);
	out_str("action", NULL, "load");
	out_str("loaded", "loaded %s", name);
	out_str("version", " (%s)", version[0] ? version : NULL);
	out_bool("active", o->activate ? ", active" : NULL, o->activate);
	out_txt("\n");
	out_obj_end();
	return EKVM_EXIT_OK;
}

int cmd_instance(int argc, char **argv, struct ekvm_ctx *ctx)
{
	struct inst_opts o = { 0 };
	int r = parse_args(&o, argc, argv, ctx);

	if (r)
		return r;
	out_init(stdout, o.json);
	switch (o.action) {
	case INST_LOAD:
		r = do_load(&o, ctx);
		break;
	case INST_ACTIVATE:
		r = do_activate(&o, ctx);
		break;
	case INST_UNLOAD:
		r = do_unload(&o, ctx);
		break;
	default:
		out_obj_begin(NULL);
		print_instances("");
		out_obj_end();
		r = EKVM_EXIT_OK;
	}
	if (r == EKVM_EXIT_OK && out_flush())
		return EKVM_EXIT_FAIL;
	return r;
}

// SPDX-License-Identifier: GPL-2.0-only
/* The plan (preflight checks, batches, moves) and the report, through out.h: text or JSON. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "out.h"

/* As many checks as the fleet has (two or more a VM): the array grows. */
static struct fleet_check *checks;
static int nr_checks, cap_checks, nr_failed, nr_lost;

void fleet_checks_reset(void)
{
	nr_checks = nr_failed = nr_lost = 0;
}

int fleet_checks_failed(void)
{
	return nr_failed;
}

void fleet_check_add(const char *check, int host, const char *result, const char *fmt, ...)
{
	struct fleet_check *c;
	va_list ap;

	nr_failed += !strcmp(result, "FAIL");
	if (nr_checks == cap_checks) {
		int cap = cap_checks ? cap_checks * 2 : 256;
		struct fleet_check *n = realloc(checks, (size_t)cap * sizeof(*n));

		if (!n) {
			nr_lost++; /* said in the plan: "N checks not shown (out of memory)" */
			return;
		}
		checks = n;
		cap_checks = cap;
	}
	c = &checks[nr_checks++];
	snprintf(c->check, sizeof(c->check), "%s", check);
	snprintf(c->result, sizeof(c->result), "%s", result);
	c->host = host;
	va_start(ap, fmt);
	vsnprintf(c->note, sizeof(c->note), fmt, ap);
	va_end(ap);
}

void fleet_checks_log(const struct fleet *f)
{
	for (int i = 0; i < nr_checks; i++)
		fleet_log(f, checks[i].host, "preflight: %s %s: %s", checks[i].result,
			  checks[i].check, checks[i].note);
}

static const char *host_name(const struct fleet *f, int h)
{
	return h >= 0 ? f->hosts[h].name : h == -2 ? "unreachable" : NULL;
}

static void print_checks(const struct fleet *f)
{
	out_txt("preflight:\n");
	out_arr_begin("checks");
	for (int i = 0; i < nr_checks; i++) {
		const struct fleet_check *c = &checks[i];

		out_obj_begin(NULL);
		out_str("result", "  %-4s", c->result);
		out_str("check", "  %-12s", c->check);
		out_str("host", "  %-12s", c->host >= 0 ? f->hosts[c->host].name : NULL);
		out_str("note", "  %s\n", c->note);
		out_obj_end();
	}
	out_arr_end();
	if (nr_lost)
		out_int("checks_not_shown", "  %lld checks not shown (out of memory)\n", nr_lost);
	out_int("failed", "  %lld preflight checks failed\n", nr_failed);
}

void fleet_print_plan(const struct fleet *f, const int *order, const int *batch_of, int nr_batches)
{
	out_obj_begin(NULL);
	out_str("inventory", "inventory: %s\n", f->inventory);
	out_txt("hosts:\n");
	out_arr_begin("hosts");
	for (int h = 0; h < f->nr_hosts; h++) {
		const struct fleet_host *x = &f->hosts[h];

		out_obj_begin(NULL);
		out_str("name", "  %-12s", x->name);
		out_int("batch", batch_of[h] >= 0 ? "  batch %-3lld" : "  %.0lld(pinned) ",
			batch_of[h] + 1);
		out_bool("reachable", "  reachable %-3s", x->reachable);
		out_u64("avail_mib", "  %6llu MiB available", x->avail_kib >> 10);
		out_int("vms", "  %3lld VMs", fleet_count_on(f, h));
		out_str("status", "  %s", host_status_name(x->status));
		out_str("uri", "  %s\n", x->uri);
		out_str("uuid", NULL, x->uuid[0] ? x->uuid : NULL);
		out_str("pinned_by", NULL, x->pinned ? x->pin_vm : NULL);
		out_obj_end();
	}
	out_arr_end();
	print_checks(f);
	out_txt("plan:\n");
	out_arr_begin("batches");
	for (int b = 0; b < nr_batches; b++) {
		out_obj_begin(NULL);
		out_int("batch", "  batch %lld", b + 1);
		out_bool("canary", b == 0 ? " (canary)" : NULL, b == 0);
		out_txt(":");
		out_arr_begin("hosts");
		for (int i = 0; i < f->nr_hosts; i++)
			if (batch_of[order[i]] == b)
				out_str(NULL, " %s", f->hosts[order[i]].name);
		out_arr_end();
		out_txt("\n");
		out_arr_begin("moves");
		for (int i = 0; i < f->nr_vms; i++) {
			const struct fleet_vm *v = &f->vms[i];

			if (v->host < 0 || batch_of[v->host] != b)
				continue;
			out_obj_begin(NULL);
			out_str("vm", "    %-16s", v->name);
			out_str("uuid", "  %s", v->uuid);
			out_u64("mem_mib", "  %5llu MiB", v->mem_kib >> 10);
			out_str("from", "  %s", f->hosts[v->host].name);
			out_str("to", " -> %s", host_name(f, v->dest));
			out_str("policy", v->policy != POLICY_MIGRATE ? "  policy %s" : NULL,
				fleet_policy_name(v->policy));
			out_bool("copy_storage", v->copy_storage ? "  copying its disks" : NULL,
				 v->copy_storage);
			out_str("error", v->dest < 0 ? "  (%s)" : NULL,
				v->dest < 0 ? v->error : NULL);
			out_txt("\n");
			out_obj_end();
		}
		out_arr_end();
		out_obj_end();
	}
	out_arr_end();
	out_obj_end();
	out_flush();
}

static void print_host(const struct fleet *f, int h)
{
	const struct fleet_host *x = &f->hosts[h];

	out_obj_begin(NULL);
	out_str("name", "  %-12s", x->name);
	out_str("status", "  %-8s", host_status_name(x->status));
	out_str("failed_step", x->status == HOST_FAILED ? "  failed at %s" : NULL,
		x->status == HOST_FAILED ? fleet_step_name(x->failed_step) : NULL);
	out_bool("reachable", x->reachable ? NULL : "  UNREACHABLE", x->reachable);
	out_bool("drained", x->drained ? "  drained" : NULL, x->drained);
	out_str("kvm", "  kvm %s", x->ekvm == 1 ? "ekvm" : x->ekvm == 0 ? "not-ekvm" : "unknown");
	out_int("vms", "  %lld VMs", fleet_count_on(f, h));
	out_str("version", x->found_version[0] ? "  version %s" : NULL,
		x->found_version[0] ? x->found_version : NULL);
	out_str("error", x->error[0] ? "\n      error: %s" : NULL, x->error[0] ? x->error : NULL);
	out_txt("\n");
	if (x->t_total > 0) {
		out_obj_begin("times");
		out_dbl("total_s", "      %.2f s:", x->t_total);
		out_dbl("migrate_s", " migrations %.2f s,", x->t_migrate);
		out_dbl("upgrade_s", " upgrade %.2f s,", x->t_upgrade);
		out_dbl("overhead_s", " the rest %.2f s\n",
			x->t_total - x->t_migrate - x->t_upgrade);
		out_obj_end();
	}
	out_obj_end();
}

void fleet_print_report(const struct fleet *f, const struct invariant *inv)
{
	out_obj_begin(NULL);
	out_str("result", "rollout: %s", f->result);
	if (f->failure[0]) {
		out_obj_begin("failure");
		out_str("host", f->fail_host >= 0 ? " at %s" : NULL,
			f->fail_host >= 0 ? f->hosts[f->fail_host].name : NULL);
		out_str("step", f->fail_step != STEP_NONE ? " (%s)" : NULL,
			fleet_step_name(f->fail_step));
		out_str("error", ": %s", f->failure);
		out_obj_end();
	} else {
		out_str("failure", NULL, NULL);
	}
	out_txt("\n");
	out_str("started", "started: %s", f->started[0] ? f->started : NULL);
	out_str("rollout", f->rollout_id[0] ? " (rollout %s)\n" : "\n",
		f->rollout_id[0] ? f->rollout_id : NULL);
	out_str("inventory_copy",
		f->inventory_copy[0] ? "inventory as the rollout began: %s\n" : NULL,
		f->inventory_copy[0] ? f->inventory_copy : NULL);
	out_obj_begin("invariant");
	out_bool("holds", "invariant holds: %s", inv->holds);
	out_int("before", " (%lld VMs recorded", inv->before);
	out_int("running", ", %lld running now", inv->after);
	out_int("missing", ", %lld missing", inv->missing);
	out_int("new", ", %lld new", inv->extra);
	out_int("unverified", ", %lld on unreachable hosts", inv->unverified);
	out_int("duplicates", ", %lld running twice", inv->duplicates);
	out_int("shut", inv->shut ? ", %lld shut down by the rollout" : NULL, inv->shut);
	out_int("skipped", inv->skipped ? ", %lld on skipped hosts, not verified)\n" : ")\n",
		inv->skipped);
	out_obj_end();
	out_txt("hosts:\n");
	out_arr_begin("hosts");
	for (int h = 0; h < f->nr_hosts; h++)
		print_host(f, h);
	out_arr_end();
	out_txt("VMs:\n");
	out_arr_begin("vms");
	for (int i = 0; i < f->nr_vms; i++) {
		const struct fleet_vm *v = &f->vms[i];
		const char *where = host_name(f, v->host);

		out_obj_begin(NULL);
		out_str("name", "  %-16s", v->name);
		out_str("uuid", "  %s", v->uuid);
		out_str("host", "  on %-12s",
			where || (v->shut_on >= 0 && v->host == -1) ? where : "NOT RUNNING");
		out_str("home", "  home %s", host_name(f, v->home));
		out_bool("recorded", i < f->baseline ? NULL : "  (new)", i < f->baseline);
		out_str("shut", v->shut_on >= 0 ? "  shut down by the rollout on %s" : NULL,
			v->shut_on >= 0 ? f->hosts[v->shut_on].name : NULL);
		/* copy-storage: the disk copies its evacuation created (in use while it is away;
		 * at home: left, their deletion failed) */
		out_str("copies_on", v->copied_on >= 0 ? "\n      disk copies on %s" : NULL,
			v->copied_on >= 0 ? f->hosts[v->copied_on].name : NULL);
		out_str("copies", v->copied_on >= 0 ? ": %s" : NULL,
			v->copied_on >= 0 ? v->copied : NULL);
		out_bool("copies_left",
			 v->copied_on >= 0 && v->host == v->home ? " (left: not deleted)" : NULL,
			 v->copied_on >= 0 && v->host == v->home);
		out_str("error", v->error[0] ? "\n      last error: %s" : NULL,
			v->error[0] ? v->error : NULL);
		out_txt("\n");
		out_obj_end();
	}
	out_arr_end();
	if (out_is_json() || f->fail_step == STEP_PREFLIGHT)
		print_checks(f);
	out_str("state", "state: %s\n", f->state_path[0] ? f->state_path : NULL);
	out_str("log", "log: %s\n", f->log_path[0] ? f->log_path : NULL);
	out_obj_end();
	out_flush();
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rollout, one batch at a time (the canary first): drain, evacuate, upgrade, verify,
 * return, undrain. The first failure halts it: the host that failed stays drained (and,
 * after the evacuation, empty), every VM keeps running where it is, the state file records
 * it all for `ekvm fleet resume`, which runs the halted batch again from the drain.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet.h"

/*
 * Saves the state. When it cannot be saved the rollout halts (returns -1) with one line: the
 * file keeps the last state that was saved, every VM stays where it runs.
 */
static int save(struct fleet *f, enum fleet_step step)
{
	int r = fleet_state_save(f), again = f->state_errno == -r;

	f->state_errno = -r;
	if (!r)
		return 0;
	if (!again)
		fleet_log(f, -1,
			  "rollout halted: cannot save the state to %s: %s (it keeps the last "
			  "state saved; every VM stays where it runs)",
			  f->state_path, strerror(-r));
	if (strcmp(f->result, "halted")) {
		f->fail_host = -1;
		f->fail_step = step;
		snprintf(f->failure, sizeof(f->failure), "cannot save the state to %.300s: %s",
			 f->state_path, strerror(-r));
		snprintf(f->result, sizeof(f->result), "halted");
	}
	return -1;
}

int fleet_exit_code(const struct fleet *f, const struct invariant *inv)
{
	if (inv->missing || inv->extra || inv->duplicates)
		return FLEET_EXIT_INVARIANT;
	for (int h = 0; h < f->nr_hosts; h++)
		if (!f->hosts[h].reachable)
			return FLEET_EXIT_UNREACHABLE;
	return inv->unverified ? FLEET_EXIT_UNREACHABLE : 0;
}

static int fail(struct fleet *f, int h, enum fleet_step step, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct fleet *f, int h, enum fleet_step step, const char *fmt, ...)
{
	struct fleet_host *host = &f->hosts[h];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(host->error, sizeof(host->error), fmt, ap);
	va_end(ap);
	host->status = HOST_FAILED;
	host->failed_step = step;
	f->fail_host = h;
	f->fail_step = step;
	snprintf(f->failure, sizeof(f->failure), "%s", host->error);
	snprintf(f->result, sizeof(f->result), "halted");
	fleet_log(f, h, "%s FAILED: %s", fleet_step_name(step), host->error);
	fleet_log(f, -1, "rollout halted at %s (%s); fix it, then: ekvm fleet resume", host->name,
		  fleet_step_name(step));
	save(f, step);
	return -1;
}

static int host_cmd(struct fleet *f, int h, const char *what, const char *cmd, unsigned int tmo,
		    char *out, size_t size)
{
	double t0 = fleet_mono();
	int rc;

	fleet_log(f, h, "%s: %s", what, cmd);
	rc = fleet_exec(f->hosts[h].exec, cmd, tmo, out, size);
	fleet_log(f, h, "%s: exit %d in %.2f s%s%.300s", what, rc, fleet_mono() - t0,
		  out[0] ? ": " : "", out[0] ? fleet_last_line(out) : "");
	return rc;
}

static bool in_batch(const int *hosts, int n, int h)
{
	for (int i = 0; i < n; i++)
		if (hosts[i] == h)
			return true;
	return false;
}

static int drain(struct fleet *f, int h, bool on)
{
	char cmd[FLEET_STR + 32], out[2048];
	int rc;

	snprintf(cmd, sizeof(cmd), "%s drain %s", f->ekvm, on ? "on" : "off");
	rc = host_cmd(f, h, on ? "drain" : "undrain", cmd, 120, out, sizeof(out));
	if (rc == 0) {
		f->hosts[h].ekvm = 1;
		f->hosts[h].drained = on;
		return 0;
	}
	if (rc == 3) {
		f->hosts[h].ekvm = 0;
		fleet_log(f, h, "%s",
			  on ? "KVM is not ekvm: no drain to set; evacuating anyway"
			     : "KVM is not ekvm: no drain to clear");
		return 0;
	}
	return fail(f, h, on ? STEP_DRAIN : STEP_UNDRAIN, "'%s' exited %d: %.300s", cmd, rc,
		    fleet_last_line(out));
}

/* Moves the VMs of the batch's hosts elsewhere (evacuate) or home (return). */
static int move_vms(struct fleet *f, const int *batch_of, int b, const int *hosts, int nh,
		    bool home)
{
	enum fleet_step step = home ? STEP_RETURN : STEP_EVACUATE;
	int *list = calloc((size_t)f->nr_vms + 1, sizeof(int)), n = 0, failed;
	double t0 = fleet_mono();

	if (!list)
		return fail(f, hosts[0], step, "out of memory");
	fleet_scan(f);
	if (home) {
		for (int i = 0; i < f->nr_vms; i++) {
			struct fleet_vm *v = &f->vms[i];

			v->dest = -1;
			if (v->host >= 0 && in_batch(hosts, nh, v->home) && v->host != v->home) {
				v->dest = v->home;
				list[n++] = i;
			}
		}
	} else {
		for (int h = 0; h < f->nr_hosts; h++)
			if (!in_batch(hosts, nh, h) && f->hosts[h].reachable)
				fleet_host_facts(f, h, (char[FLEET_ERR]){ 0 }, FLEET_ERR);
		fleet_place(f, batch_of, b, fleet_cpu_compatible);
		for (int i = 0; i < f->nr_vms; i++) {
			struct fleet_vm *v = &f->vms[i];

			if (v->host < 0 || !in_batch(hosts, nh, v->host))
				continue;
			if (v->dest < 0) {
				free(list);
				return fail(f, v->host, step, "%s: %s", v->name, v->error);
			}
			list[n++] = i;
		}
	}
	fleet_log(f, -1, "%s: %d VM%s to move", fleet_step_name(step), n, n == 1 ? "" : "s");
	f->moving = fleet_step_name(step);
	failed = n ? fleet_migrate(f, list, n) : 0;
	for (int i = 0; i < nh; i++)
		f->hosts[hosts[i]].t_migrate += fleet_mono() - t0;
	for (int i = 0; failed && i < n; i++) {
		struct fleet_vm *v = &f->vms[list[i]];
		int src = v->host;

		if (!v->error[0])
			continue;
		fleet_resume_paused(f, src);
		free(list);
		return fail(f, home ? v->home : src, step, "%s: %s", v->name, v->error);
	}
	free(list);
	return save(f, step);
}

static int evacuate(struct fleet *f, const int *batch_of, int b, const int *hosts, int nh)
{
	for (int round = 0; round < 3; round++) {
		int left = 0;

		if (move_vms(f, batch_of, b, hosts, nh, false))
			return -1;
		fleet_scan(f);
		for (int i = 0; i < nh; i++)
			left += fleet_count_on(f, hosts[i]);
		if (!left)
			return 0;
		fleet_log(f, -1, "evacuate: %d VM%s started meanwhile: again", left,
			  left == 1 ? "" : "s");
	}
	return fail(f, hosts[0], STEP_EVACUATE, "VMs keep starting on the batch's hosts");
}

static int verify(struct fleet *f, int h)
{
	struct fleet_host *host = &f->hosts[h];
	char out[2048], *v;
	double t0 = fleet_mono();
	struct timespec two = { 2, 0 };
	int rc;

	fleet_disconnect(f, h);
	while (fleet_connect(f, h)) {
		if (fleet_mono() - t0 > f->cmd_timeout_s)
			return fail(f, h, STEP_VERIFY, "libvirt does not answer after %u s: %s",
				    f->cmd_timeout_s, host->error);
		nanosleep(&two, NULL);
	}
	host->error[0] = 0;
	fleet_log(f, h, "verify: libvirt answers at %s", host->uri);
	rc = host_cmd(f, h, "verify version", host->version_cmd, 120, out, sizeof(out));
	v = (char *)fleet_last_line(out);
	snprintf(host->found_version, sizeof(host->found_version), "%s", rc ? "" : v);
	if (rc)
		return fail(f, h, STEP_VERIFY, "'%s' exited %d: %.300s", host->version_cmd, rc, v);
	if (host->version[0] && strcmp(v, host->version))
		return fail(f, h, STEP_VERIFY, "KVM version is '%.100s', expected '%s'", v,
			    host->version);
	rc = host_cmd(f, h, "verify smoke", host->smoke_cmd, 300, out, sizeof(out));
	if (rc)
		return fail(f, h, STEP_VERIFY, "'%s' exited %d: %.300s", host->smoke_cmd, rc,
			    fleet_last_line(out));
	return 0;
}

static int run_batch(struct fleet *f, const int *batch_of, int b, const int *hosts, int nh)
{
	char out[4096];
	double t0 = fleet_mono();

	fleet_log(f, -1, "batch %d%s: %d host%s", b + 1, b == 0 ? " (canary)" : "", nh,
		  nh == 1 ? "" : "s");
	for (int i = 0; i < nh; i++) {
		struct fleet_host *h = &f->hosts[hosts[i]];

		h->status = HOST_PENDING;
		h->failed_step = STEP_NONE;
		h->error[0] = 0;
		h->t_migrate = h->t_upgrade = 0;
		if (drain(f, hosts[i], true))
			return -1;
	}
	if (save(f, STEP_DRAIN))
		return -1;
	if (evacuate(f, batch_of, b, hosts, nh))
		return -1;
	for (int i = 0; i < nh; i++) {
		int h = hosts[i], rc;
		double tu = fleet_mono();

		rc = host_cmd(f, h, "upgrade", f->hosts[h].upgrade, f->cmd_timeout_s, out,
			      sizeof(out));
		f->hosts[h].t_upgrade = fleet_mono() - tu;
		if (rc)
			return fail(f, h, STEP_UPGRADE, "upgrade command exited %d: %.300s", rc,
				    fleet_last_line(out));
		if (verify(f, h))
			return -1;
		fleet_log(f, h, "verify: passed%s%s", f->hosts[h].found_version[0] ? ", KVM " : "",
			  f->hosts[h].found_version);
	}
	if (!f->no_return && move_vms(f, batch_of, b, hosts, nh, true))
		return -1;
	for (int i = 0; i < nh; i++) {
		struct fleet_host *h = &f->hosts[hosts[i]];

		if (h->ekvm == 1 && drain(f, hosts[i], false))
			return -1;
		h->drained = false;
		h->status = HOST_DONE;
		h->t_total = fleet_mono() - t0;
		fleet_log(f, hosts[i],
			  "done in %.2f s: migrations %.2f s, upgrade %.2f s, the rest %.2f s",
			  h->t_total, h->t_migrate, h->t_upgrade,
			  h->t_total - h->t_migrate - h->t_upgrade);
	}
	return save(f, STEP_UNDRAIN);
}

int fleet_rollout(struct fleet *f, bool resume)
{
	int *order = calloc((size_t)f->nr_hosts, sizeof(int));
	int *batch_of = calloc((size_t)f->nr_hosts, sizeof(int));
	int *hosts = calloc((size_t)f->nr_hosts, sizeof(int));
	int nb = 0, r = 0;
	struct invariant inv;

	if (!order || !batch_of || !hosts) {
		free(order);
		free(batch_of);
		free(hosts);
		return -ENOMEM;
	}
	fleet_log(f, -1, "%s: inventory %s, %d hosts", resume ? "resume" : "rollout", f->inventory,
		  f->nr_hosts);
	r = fleet_preflight(f, order, batch_of, &nb);
	fleet_checks_log(f);
	if (r) {
		fleet_log(f, -1, "preflight: %d check%s failed", fleet_checks_failed(),
			  fleet_checks_failed() == 1 ? "" : "s");
		f->fail_host = -1;
		f->fail_step = STEP_PREFLIGHT;
		snprintf(f->failure, sizeof(f->failure), "%d preflight check%s failed",
			 fleet_checks_failed(), fleet_checks_failed() == 1 ? "" : "s");
		snprintf(f->result, sizeof(f->result), "halted");
		r = -1;
		goto out;
	}
	if (!resume || f->rescan) {
		int n = 0;

		/* the recorded set: the VMs running now (recorded ones keep their home) */
		for (int i = 0; i < f->nr_vms; i++)
			if (f->vms[i].host != -1)
				f->vms[n++] = f->vms[i];
		f->nr_vms = f->baseline = n;
	}
	fleet_invariant(f, &inv);
	fleet_log(f, -1,
		  "invariant before: %d VMs recorded, %d running, %d missing, %d new, "
		  "%d on unreachable hosts, %d running twice",
		  inv.before, inv.after, inv.missing, inv.extra, inv.unverified, inv.duplicates);
	if (!inv.holds) {
		f->fail_host = -1;
		f->fail_step = STEP_PREFLIGHT;
		snprintf(f->failure, sizeof(f->failure),
			 "the running VMs are not the recorded set (%d missing, %d new, %d "
			 "unverified, %d running twice): see the report; --rescan takes the "
			 "running set",
			 inv.missing, inv.extra, inv.unverified, inv.duplicates);
		snprintf(f->result, sizeof(f->result), "halted");
		r = -1;
		goto out;
	}
	f->failure[0] = 0;
	f->fail_host = -1;
	f->fail_step = STEP_NONE;
	snprintf(f->result, sizeof(f->result), "running");
	if (save(f, STEP_PREFLIGHT)) {
		r = -1;
		goto out;
	}
	for (int b = 0; b < nb && !r; b++) {
		int nh = 0;

		for (int i = 0; i < f->nr_hosts; i++)
			if (batch_of[order[i]] == b && f->hosts[order[i]].status != HOST_DONE)
				hosts[nh++] = order[i];
		if (nh)
			r = run_batch(f, batch_of, b, hosts, nh);
	}
	if (!r)
		snprintf(f->result, sizeof(f->result), "done");
out:
	fleet_invariant(f, &inv);
	fleet_log(f, -1,
		  "invariant after: %d VMs recorded, %d running, %d missing, %d new, %d on "
		  "unreachable hosts, %d running twice: %s",
		  inv.before, inv.after, inv.missing, inv.extra, inv.unverified, inv.duplicates,
		  inv.holds ? "holds" : "DOES NOT HOLD");
	r = r ? 1 : fleet_exit_code(f, &inv);
	if (r > 1) {
		/* every host is done, but the VMs are not (known to be) the recorded set */
		f->fail_host = -1;
		f->fail_step = STEP_NONE;
		if (r == FLEET_EXIT_INVARIANT)
			snprintf(f->failure, sizeof(f->failure),
				 "the invariant does not hold at the end: %d missing, %d new, %d "
				 "on unreachable hosts, %d running twice",
				 inv.missing, inv.extra, inv.unverified, inv.duplicates);
		else
			snprintf(f->failure, sizeof(f->failure),
				 "a host does not answer at the end: %d VMs unverified",
				 inv.unverified);
		fleet_log(f, -1, "rollout done, but %s", f->failure);
	}
	if (save(f, f->fail_step))
		r = 1;
	fleet_log(f, -1, "rollout %s%s", f->result,
		  r == FLEET_EXIT_INVARIANT	? " (invariant broken)"
		  : r == FLEET_EXIT_UNREACHABLE ? " (a host unreachable)"
						: "");
	free(order);
	free(batch_of);
	free(hosts);
	return r;
}

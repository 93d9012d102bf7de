// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rollout, one batch at a time (the canary first): drain, evacuate, upgrade, verify,
 * return, undrain. The first failure halts it: the host that failed stays drained (and,
 * after the evacuation, empty), every VM keeps running where it is, the state file records
 * it all for `ekvm fleet resume`, which runs the halted batch again from the drain.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
		char fields[FLEET_ERR * 2 + 64], err[FLEET_ERR * 2 + 8];

		f->fail_host = -1;
		f->fail_step = step;
		snprintf(f->failure, sizeof(f->failure), "cannot save the state to %.300s: %s",
			 f->state_path, strerror(-r));
		snprintf(f->result, sizeof(f->result), "halted");
		/* the halt event, as fail() gives (an event of the rollout: no host) */
		fleet_json_str(err, sizeof(err), f->failure);
		snprintf(fields, sizeof(fields), "\"step\":\"%s\",\"error\":%s",
			 fleet_step_name(step), err);
		fleet_event(f, -1, "halt", fields, "rollout halted (%s): %s", fleet_step_name(step),
			    f->failure);
	}
	return -1;
}

int fleet_exit_code(const struct fleet *f, const struct invariant *inv)
{
	if (inv->missing || inv->extra || inv->duplicates)
		return FLEET_EXIT_INVARIANT;
	/* a VM the rollout shut down and did not start again, once it ended */
	if (inv->shut && (!strcmp(f->result, "done") || !strcmp(f->result, "aborted")))
		return FLEET_EXIT_INVARIANT;
	for (int h = 0; h < f->nr_hosts; h++)
		if (!f->hosts[h].reachable && f->hosts[h].status != HOST_SKIPPED)
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
	{
		char fields[FLEET_ERR * 2 + 64], err[FLEET_ERR * 2 + 8];

		fleet_json_str(err, sizeof(err), host->error);
		snprintf(fields, sizeof(fields), "\"step\":\"%s\",\"error\":%s",
			 fleet_step_name(step), err);
		fleet_event(f, h, "halt", fields,
			    "rollout halted at %s (%s); fix it, then: ekvm fleet resume",
			    host->name, fleet_step_name(step));
	}
	save(f, step);
	return -1;
}

static int host_cmd(struct fleet *f, int h, const char *what, const char *cmd, unsigned int tmo,
		    char *out, size_t size)
{
	double t0 = fleet_mono();
	int rc;

	{
		char fields[128];

		snprintf(fields, sizeof(fields), "\"step\":\"%s\"", what);
		fleet_event(f, h, "step", fields, "%s: %s", what, cmd);
	}
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

/*
 * Evacuation: each VM whose migration failed tries up to `retries` other destinations that pass
 * the same checks (fleet_retry_dest()); the VMs the failure kept from starting go too. A stuck
 * migration is never retried: the rollout halts on it. VMs left with an error halt the rollout.
 */
static void retry(struct fleet *f, const int *batch_of, int b, const int *hosts, int nh,
		  const int *list, int n, int failed)
{
	bool *tried = calloc((size_t)n * (size_t)f->nr_hosts + 1, sizeof(bool));
	int *again = calloc((size_t)n + 1, sizeof(int));

	if (!tried || !again)
		goto out;
	for (int i = 0; i < n; i++)
		if (f->vms[list[i]].dest >= 0)
			tried[(size_t)i * (size_t)f->nr_hosts + (size_t)f->vms[list[i]].dest] =
				true;
	for (unsigned int round = 0; failed && round < f->retries; round++) {
		int na = 0;

		for (int i = 0; i < n; i++)
			if (f->vms[list[i]].stuck)
				goto out;
		/* where every VM runs now (a failed one resumed if paused), and room */
		for (int i = 0; i < nh; i++)
			fleet_resume_paused(f, hosts[i]);
		fleet_scan(f);
		for (int h = 0; h < f->nr_hosts; h++) {
			f->hosts[h].planned_kib = f->hosts[h].planned_huge_kib = 0;
			if (!in_batch(hosts, nh, h) && f->hosts[h].reachable)
				fleet_host_facts(f, h, (char[FLEET_ERR]){ 0 }, FLEET_ERR);
		}
		for (int i = 0; i < n; i++) {
			struct fleet_vm *v = &f->vms[list[i]];
			bool *t = &tried[(size_t)i * (size_t)f->nr_hosts];
			int d;

			if (v->host < 0 || !in_batch(hosts, nh, v->host))
				continue; /* moved (or not found: the halt says so) */
			if (!v->error[0]) {
				if (v->dest >= 0)
					again[na++] = list[i]; /* not started */
				continue;
			}
			d = fleet_retry_dest(f, list[i], batch_of, b, t, fleet_cpu_compatible);
			if (d < 0) {
				fleet_log(f, v->host,
					  "evacuate: %s: no other destination to retry on",
					  v->name);
				continue;
			}
			fleet_log(f, v->host, "evacuate: %s: retrying on %s (retry %u of %u)",
				  v->name, f->hosts[d].name, round + 1, f->retries);
			t[d] = true;
			v->dest = d;
			v->error[0] = 0;
			again[na++] = list[i];
		}
		if (!na)
			break;
		failed = fleet_migrate(f, again, na);
	}
out:
	free(tried);
	free(again);
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
				v->copy_storage = v->policy == POLICY_COPY_STORAGE &&
						  v->traits & VM_LOCAL_DISK;
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
			if (v->policy == POLICY_SHUTDOWN)
				continue; /* shut down by shut_vms(), not migrated */
			if (v->dest < 0) {
				free(list);
				return fail(f, v->host, step, "%s: %s", v->name, v->error);
			}
			list[n++] = i;
		}
	}
	fleet_log(f, -1, "%s: %d VM%s to move", fleet_step_name(step), n, n == 1 ? "" : "s");
	f->moving = fleet_step_name(step);
	for (int i = 0; i < n; i++)
		f->vms[list[i]].error[0] = 0;
	failed = n ? fleet_migrate(f, list, n) : 0;
	if (failed && !home)
		retry(f, batch_of, b, hosts, nh, list, n, failed);
	for (int i = 0; i < nh; i++)
		f->hosts[hosts[i]].t_migrate += fleet_mono() - t0;
	for (int i = 0; i < n; i++) {
		struct fleet_vm *v = &f->vms[list[i]];
		int src = v->host;

		if (!v->error[0])
			continue;
		/* a retry's scan may have lost it (-1, -2): the batch's first host takes the halt */
		if (src < 0 || (!home && !in_batch(hosts, nh, src)))
			src = home ? -1 : hosts[0];
		if (src >= 0)
			fleet_resume_paused(f, src);
		free(list);
		return fail(f, home ? v->home : src, step, "%s: %s", v->name, v->error);
	}
	free(list);
	return save(f, step);
}

/* Event "shutdown" or "started" of a VM (policy shutdown). */
static void power_event(struct fleet *f, int h, const char *event, const char *step, int vm,
			const char *extra, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static void power_event(struct fleet *f, int h, const char *event, const char *step, int vm,
			const char *extra, const char *fmt, ...)
{
	char name[FLEET_QUOTED(FLEET_VM_NAME)], fields[sizeof(name) + 256];
	va_list ap;

	fleet_json_str(name, sizeof(name), f->vms[vm].name);
	snprintf(fields, sizeof(fields), "\"step\":\"%s\",\"vm\":%s%s", step, name, extra);
	va_start(ap, fmt);
	fleet_vevent(f, h, event, fields, fmt, ap);
	va_end(ap);
}

/*
 * policy shutdown: the running VMs of the batch's hosts with policy shutdown are shut down
 * cleanly (virDomainShutdown: the guest's ACPI power button), all at once, and waited for up
 * to shutdown_timeout_s. Each is recorded in the state (shut=HOST) before the request, so that
 * a halt or a crash never forgets one. A VM still running then is powered off
 * (virDomainDestroy) with shutdown_force, else the rollout halts on it (it keeps running).
 */
static int shut_vms(struct fleet *f, const int *hosts, int nh)
{
	int *list = calloc((size_t)f->nr_vms + 1, sizeof(int)), n = 0, left;
	char err[FLEET_ERR];
	double t0;

	if (!list)
		return fail(f, hosts[0], STEP_EVACUATE, "out of memory");
	fleet_scan(f);
	for (int i = 0; i < f->nr_vms; i++) {
		struct fleet_vm *v = &f->vms[i];

		if (v->host < 0 || !in_batch(hosts, nh, v->host) || v->policy != POLICY_SHUTDOWN)
			continue;
		v->shut_on = v->host;
		v->error[0] = 0;
		list[n++] = i;
	}
	if (!n || save(f, STEP_EVACUATE)) {
		free(list);
		return n ? -1 : 0;
	}
	for (int i = 0; i < n; i++) {
		struct fleet_vm *v = &f->vms[list[i]];

		fleet_log(f, v->host,
			  "evacuate: shutting %s down (policy shutdown: ACPI power button), up to "
			  "%u s",
			  v->name, f->shutdown_timeout_s);
		if (fleet_vm_power(f, v->host, v->uuid, FLEET_SHUTDOWN, err, sizeof(err))) {
			int h = v->host;

			/* still running: the record goes when it is seen running */
			snprintf(v->error, sizeof(v->error), "cannot shut it down: %.400s", err);
			free(list);
			return fail(f, h, STEP_EVACUATE, "%s: %s", v->name, v->error);
		}
	}
	t0 = fleet_mono();
	for (;;) {
		left = 0;
		for (int i = 0; i < n; i++) {
			struct fleet_vm *v = &f->vms[list[i]];
			int a;

			if (v->host < 0)
				continue;
			a = fleet_vm_active(f, v->shut_on, v->uuid, err, sizeof(err));
			if (a == 1 || a == -EIO) {
				left++;
				continue;
			}
			/* off (0), or gone (-ENOENT: undefined meanwhile; the start says so) */
			v->host = -1;
			{
				char extra[64];

				snprintf(extra, sizeof(extra),
					 ",\"elapsed_s\":%.1f,\"forced\":false", fleet_mono() - t0);
				power_event(f, v->shut_on, "shutdown", "evacuate", list[i], extra,
					    "evacuate: %s shut down in %.1f s (started again after "
					    "the upgrade)",
					    v->name, fleet_mono() - t0);
			}
		}
		if (!left || fleet_mono() - t0 >= f->shutdown_timeout_s)
			break;
		nanosleep(&(struct timespec){ 0, 500000000 }, NULL);
	}
	for (int i = 0; i < n && left; i++) {
		struct fleet_vm *v = &f->vms[list[i]];
		int h = v->shut_on;

		if (v->host < 0)
			continue;
		if (!f->shutdown_force) {
			free(list);
			return fail(f, h, STEP_EVACUATE,
				    "%s did not shut down within %u s (policy shutdown): it still "
				    "runs on %s; make it handle the ACPI power button, raise "
				    "shutdown_timeout, or shutdown_force=1 to power it off",
				    v->name, f->shutdown_timeout_s, f->hosts[h].name);
		}
		if (fleet_vm_power(f, h, v->uuid, FLEET_DESTROY, err, sizeof(err))) {
			free(list);
			return fail(f, h, STEP_EVACUATE,
				    "%s did not shut down within %u s and cannot be powered off: "
				    "%.300s",
				    v->name, f->shutdown_timeout_s, err);
		}
		v->host = -1;
		power_event(f, h, "shutdown", "evacuate", list[i], ",\"forced\":true",
			    "evacuate: %s did not shut down within %u s: powered off "
			    "(shutdown_force=1)",
			    v->name, f->shutdown_timeout_s);
	}
	free(list);
	return save(f, STEP_EVACUATE);
}

/*
 * Starts again (virDomainCreate, where its definition is) every VM the rollout shut down on one
 * of hosts[] (all hosts when hosts is NULL) and clears its record. One that runs now (started
 * by someone else, here or elsewhere) is not started: only the record goes. A host that does
 * not answer is passed over (*passed set; the VM stays recorded); callers leave out the hosts
 * that may not run it (abort: a KVM the rollout left unverified). Returns the number that could
 * not be started (why in their error, logged).
 */
static int start_vms(struct fleet *f, const int *hosts, int nh, const char *step, bool *passed)
{
	char err[FLEET_ERR];
	int failed = 0, any = 0;

	for (int i = 0; i < f->nr_vms; i++)
		any += f->vms[i].shut_on >= 0 && (!hosts || in_batch(hosts, nh, f->vms[i].shut_on));
	if (!any)
		return 0; /* (no scan) */
	fleet_scan(f);
	for (int i = 0; i < f->nr_vms; i++) {
		struct fleet_vm *v = &f->vms[i];
		int h = v->shut_on, a;

		if (h < 0 || (hosts && !in_batch(hosts, nh, h)))
			continue;
		if (v->host >= 0) {
			fleet_log(f, v->host, "%s: %s runs on %s already: not started", step,
				  v->name, f->hosts[v->host].name);
			v->shut_on = -1;
			continue;
		}
		if (!f->hosts[h].reachable || v->host == -2) {
			if (passed)
				*passed = true;
			fleet_log(f, h, "%s: %s stays shut down: %s does not answer", step, v->name,
				  f->hosts[h].name);
			continue;
		}
		a = fleet_vm_active(f, h, v->uuid, err, sizeof(err));
		if (a == 1) {
			v->shut_on = -1;
			continue;
		}
		if (a == 0)
			a = fleet_vm_power(f, h, v->uuid, FLEET_START, err, sizeof(err));
		if (a) {
			snprintf(v->error, sizeof(v->error), "cannot start it again on %s: %.400s",
				 f->hosts[h].name, err);
			fleet_log(f, h, "%s: %s: %s", step, v->name, v->error);
			failed++;
			continue;
		}
		v->shut_on = -1;
		v->host = h;
		v->error[0] = 0;
		power_event(f, h, "started", step, i, "", "%s: %s started again on %s", step,
			    v->name, f->hosts[h].name);
	}
	return failed;
}

/* The return step's start: the VMs shut down on the batch's hosts, now upgraded and verified. */
static int start_shut(struct fleet *f, const int *hosts, int nh)
{
	if (!start_vms(f, hosts, nh, "return", NULL))
		return save(f, STEP_RETURN);
	for (int i = 0; i < f->nr_vms; i++) {
		const struct fleet_vm *v = &f->vms[i];

		if (v->shut_on >= 0 && v->error[0] && in_batch(hosts, nh, v->shut_on))
			return fail(f, v->shut_on, STEP_RETURN, "%s: %s", v->name, v->error);
	}
	return fail(f, hosts[0], STEP_RETURN, "a VM shut down by the rollout did not start");
}

static int evacuate(struct fleet *f, const int *batch_of, int b, const int *hosts, int nh)
{
	f->moving = fleet_step_name(STEP_EVACUATE);
	for (int i = 0; i < nh; i++)
		fleet_clear_stale_copies(f, hosts[i]);
	for (int round = 0; round < 3; round++) {
		int left = 0;

		if (shut_vms(f, hosts, nh) || move_vms(f, batch_of, b, hosts, nh, false))
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

/*
 * The host answers again with the expected KVM version and a smoke test passes. Runs in an
 * upgrade thread: no fail() here, the error goes to err.
 */
static int verify(struct fleet *f, int h, char *err, size_t errsize)
{
	struct fleet_host *host = &f->hosts[h];
	char out[2048], *v;
	double t0 = fleet_mono();
	struct timespec two = { 2, 0 };
	int rc;

	fleet_disconnect(f, h);
	while (fleet_connect(f, h)) {
		if (fleet_mono() - t0 > f->cmd_timeout_s) {
			snprintf(err, errsize, "libvirt does not answer after %u s: %.400s",
				 f->cmd_timeout_s, host->error);
			return -1;
		}
		nanosleep(&two, NULL);
	}
	host->error[0] = 0;
	fleet_log(f, h, "verify: libvirt answers at %s", host->uri);
	rc = host_cmd(f, h, "verify version", host->version_cmd, 120, out, sizeof(out));
	v = (char *)fleet_last_line(out);
	snprintf(host->found_version, sizeof(host->found_version), "%s", rc ? "" : v);
	if (rc) {
		snprintf(err, errsize, "'%.100s' exited %d: %.300s", host->version_cmd, rc, v);
		return -1;
	}
	if (host->version[0] && strcmp(v, host->version)) {
		snprintf(err, errsize, "KVM version is '%.100s', expected '%s'", v, host->version);
		return -1;
	}
	rc = host_cmd(f, h, "verify smoke", host->smoke_cmd, 300, out, sizeof(out));
	if (rc) {
		snprintf(err, errsize, "'%.100s' exited %d: %.300s", host->smoke_cmd, rc,
			 fleet_last_line(out));
		return -1;
	}
	return 0;
}

/* One host's upgrade and verify, in a thread of its own when the batch has several hosts. */
struct upgrade {
	struct fleet *f;
	int h, rc;
	enum fleet_step step;
	char err[FLEET_ERR];
	pthread_t thr;
	bool thread;
};

/*
 * After a failed upgrade or verify, the drain again: an upgrade that reloaded KVM (`ekvm
 * reload`: a fresh module starts undrained) must not leave a host whose new KVM is not
 * verified taking new VMs. (A verified host stays undrained: its smoke test and the VMs'
 * return need KVM_CREATE_VM, which the drain refuses.) In an upgrade thread: own host only.
 */
static void redrain(struct fleet *f, int h)
{
	char cmd[FLEET_STR + 32], out[2048];
	int rc;

	if (f->hosts[h].ekvm != 1)
		return;
	snprintf(cmd, sizeof(cmd), "%s drain on", f->ekvm);
	rc = host_cmd(f, h, "drain again", cmd, 120, out, sizeof(out));
	f->hosts[h].drained = rc == 0;
	if (rc)
		fleet_log(f, h, "drain: not re-applied (exit %d): new VMs may start on this host",
			  rc);
}

static void *upgrade_host(void *arg)
{
	struct upgrade *u = arg;
	struct fleet *f = u->f;
	char out[4096];
	double tu = fleet_mono();
	int rc;

	u->step = STEP_UPGRADE;
	rc = host_cmd(f, u->h, "upgrade", f->hosts[u->h].upgrade, f->cmd_timeout_s, out,
		      sizeof(out));
	f->hosts[u->h].t_upgrade = fleet_mono() - tu;
	if (rc) {
		snprintf(u->err, sizeof(u->err), "upgrade command exited %d: %.300s", rc,
			 fleet_last_line(out));
		u->rc = -1;
		redrain(f, u->h);
		return NULL;
	}
	u->step = STEP_VERIFY;
	u->rc = verify(f, u->h, u->err, sizeof(u->err));
	if (!u->rc)
		fleet_log(f, u->h, "verify: passed%s%s",
			  f->hosts[u->h].found_version[0] ? ", KVM " : "",
			  f->hosts[u->h].found_version);
	else
		redrain(f, u->h);
	return NULL;
}

/*
 * Upgrades and verifies the batch's hosts, all at once (one thread a host) unless
 * serial_upgrades: one after another, stopping at the first failure. Every host that failed is
 * marked; the rollout halts on the first of the batch's order.
 */
static int upgrade_batch(struct fleet *f, const int *hosts, int nh)
{
	struct upgrade *u = calloc((size_t)nh, sizeof(*u));
	int first = -1;

	if (!u)
		return fail(f, hosts[0], STEP_UPGRADE, "out of memory");
	if (nh > 1 && !f->serial_upgrades)
		fleet_log(f, -1, "upgrade: %d hosts at once", nh);
	for (int i = 0; i < nh; i++) {
		u[i].f = f;
		u[i].h = hosts[i];
		if (nh > 1 && !f->serial_upgrades &&
		    !pthread_create(&u[i].thr, NULL, upgrade_host, &u[i])) {
			u[i].thread = true;
			continue;
		}
		upgrade_host(&u[i]);
		if (u[i].rc && (nh == 1 || f->serial_upgrades))
			break;
	}
	for (int i = 0; i < nh; i++) {
		if (u[i].thread)
			pthread_join(u[i].thr, NULL);
		if (!u[i].rc || !u[i].err[0])
			continue;
		if (first < 0) {
			first = i;
			continue;
		}
		/* failed too: marked, the halt names the first */
		f->hosts[hosts[i]].status = HOST_FAILED;
		f->hosts[hosts[i]].failed_step = u[i].step;
		snprintf(f->hosts[hosts[i]].error, sizeof(f->hosts[hosts[i]].error), "%s",
			 u[i].err);
		fleet_log(f, hosts[i], "%s FAILED: %s", fleet_step_name(u[i].step), u[i].err);
	}
	if (first >= 0) {
		char err[FLEET_ERR];
		enum fleet_step step = u[first].step;
		int h = hosts[first];

		snprintf(err, sizeof(err), "%s", u[first].err);
		free(u);
		return fail(f, h, step, "%s", err);
	}
	free(u);
	return 0;
}

/* Halts the rollout when another rollout took over one of its leases (--break-lease there). */
static int lease_check(struct fleet *f, int h, enum fleet_step step)
{
	int l = fleet_lease_lost(f);

	if (l < 0)
		return 0;
	return fail(f, h, step, "another rollout took over the lease of %s (see the log)",
		    f->hosts[l].name);
}

static int run_batch(struct fleet *f, const int *batch_of, int b, const int *hosts, int nh)
{
	double t0 = fleet_mono();

	{
		char fields[96];

		snprintf(fields, sizeof(fields), "\"batch\":%d,\"canary\":%s,\"hosts\":%d", b + 1,
			 b == 0 ? "true" : "false", nh);
		fleet_event(f, -1, "batch", fields, "batch %d%s: %d host%s", b + 1,
			    b == 0 ? " (canary)" : "", nh, nh == 1 ? "" : "s");
	}
	for (int i = 0; i < nh; i++) {
		struct fleet_host *h = &f->hosts[hosts[i]];

		h->status = HOST_PENDING;
		h->failed_step = STEP_NONE;
		h->error[0] = 0;
		h->t_migrate = h->t_upgrade = 0;
		if (lease_check(f, hosts[i], STEP_DRAIN) || drain(f, hosts[i], true))
			return -1;
	}
	if (save(f, STEP_DRAIN))
		return -1;
	if (evacuate(f, batch_of, b, hosts, nh))
		return -1;
	if (lease_check(f, hosts[0], STEP_UPGRADE) || upgrade_batch(f, hosts, nh))
		return -1;
	if (lease_check(f, hosts[0], STEP_RETURN) || start_shut(f, hosts, nh))
		return -1;
	if (!f->no_return &&
	    (lease_check(f, hosts[0], STEP_RETURN) || move_vms(f, batch_of, b, hosts, nh, true)))
		return -1;
	for (int i = 0; i < nh; i++) {
		struct fleet_host *h = &f->hosts[hosts[i]];

		if (h->ekvm == 1 && drain(f, hosts[i], false))
			return -1;
		h->drained = false;
		h->status = HOST_DONE;
		h->t_total = fleet_mono() - t0;
		{
			char fields[160];

			snprintf(fields, sizeof(fields),
				 "\"total_s\":%.2f,\"migrate_s\":%.2f,\"upgrade_s\":%.2f",
				 h->t_total, h->t_migrate, h->t_upgrade);
			fleet_event(f, hosts[i], "host_done", fields,
				    "done in %.2f s: migrations %.2f s, upgrade %.2f s, the rest "
				    "%.2f s",
				    h->t_total, h->t_migrate, h->t_upgrade,
				    h->t_total - h->t_migrate - h->t_upgrade);
		}
	}
	return save(f, STEP_UNDRAIN);
}

/* The invariant at the end of a rollout or an abort, into the log. */
static void invariant_after(struct fleet *f, struct invariant *inv)
{
	fleet_invariant(f, inv);
	fleet_log(f, -1,
		  "invariant after: %d VMs recorded, %d running, %d missing, %d new, %d on "
		  "unreachable hosts, %d running twice, %d shut down by the rollout: %s",
		  inv->before, inv->after, inv->missing, inv->extra, inv->unverified,
		  inv->duplicates, inv->shut,
		  inv->holds && (!inv->shut || fleet_exit_code(f, inv) != FLEET_EXIT_INVARIANT)
			  ? "holds"
			  : "DOES NOT HOLD");
}

/* The first line: what runs, which rollout, who runs it, where (event "start"). */
static void log_start(struct fleet *f, const char *kind)
{
	char fields[1200], id[300], op[160], ctl[560];

	fleet_json_str(id, sizeof(id), f->rollout_id);
	fleet_json_str(op, sizeof(op), f->operator_name);
	fleet_json_str(ctl, sizeof(ctl), f->controller);
	snprintf(fields, sizeof(fields),
		 "\"kind\":\"%s\",\"rollout\":%s,\"operator\":%s,\"uid\":%ld,\"controller\":%s,"
		 "\"pid\":%ld",
		 kind, id, op, f->operator_uid, ctl, (long)getpid());
	fleet_event(f, -1, "start", fields, "%s: rollout %s by %s (uid %ld) on %s, pid %ld", kind,
		    f->rollout_id, f->operator_name, f->operator_uid, f->controller,
		    (long)getpid());
}

/* The last line (event "end"): the result and the exit code. */
static void log_end(struct fleet *f, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void log_end(struct fleet *f, int rc, const char *fmt, ...)
{
	char fields[64];
	va_list ap;

	snprintf(fields, sizeof(fields), "\"result\":\"%s\",\"exit\":%d", f->result, rc);
	va_start(ap, fmt);
	fleet_vevent(f, -1, "end", fields, fmt, ap);
	va_end(ap);
}

/* The policy in one line, and the warning that plain TCP migration asks for. */
static void log_policy(struct fleet *f)
{
	char per[64] = "", pc[48] = "off", bw[32] = "none", dt[32] = "libvirt's";

	if (f->max_per_source || f->max_per_dest) {
		char src[16] = "any", dst[16] = "any";

		if (f->max_per_source)
			snprintf(src, sizeof(src), "%u", f->max_per_source);
		if (f->max_per_dest)
			snprintf(dst, sizeof(dst), "%u", f->max_per_dest);
		snprintf(per, sizeof(per), " (a source %s, a destination %s)", src, dst);
	}
	if (f->postcopy_after_s)
		snprintf(pc, sizeof(pc), "after %u s", f->postcopy_after_s);
	if (f->downtime_ms)
		snprintf(dt, sizeof(dt), "%u ms", f->downtime_ms);
	if (f->bandwidth_mib)
		snprintf(bw, sizeof(bw), "%u MiB/s", f->bandwidth_mib);
	fleet_log(f, -1,
		  "migration policy: %s, auto-converge %s, timeout %u s + %u s a GiB, no progress "
		  "%u s, abort deadline %u s, max downtime %s, post-copy %s, bandwidth %s, "
		  "parallel connections %u, %u at a time%s, %u retr%s on another destination",
		  f->insecure ? "plain TCP" : "TLS", f->no_auto_converge ? "off" : "on",
		  f->timeout_s, f->timeout_per_gib_s, f->progress_timeout_s, f->abort_timeout_s, dt,
		  pc, bw, f->parallel_conns ? f->parallel_conns : 1, f->parallel, per, f->retries,
		  f->retries == 1 ? "y" : "ies");
	if (f->insecure)
		fleet_log(f, -1,
			  "WARNING: --insecure-migration: guest memory goes between hosts over "
			  "plain TCP, unencrypted and unauthenticated (VIR_MIGRATE_TLS off)");
}

/*
 * The canary's bake: bake_s seconds after its batch is done, then its VMs (those whose home is
 * in the batch: each was migrated away and back) must be healthy (fleet_vm_healthy()). A VM
 * that is not halts the rollout at the canary's "bake" step before any other batch starts;
 * resume runs the bake and the gate again, not the batch.
 */
static int bake(struct fleet *f, const int *hosts, int nh)
{
	struct timespec t = { (time_t)f->bake_s, 0 };
	char why[FLEET_ERR];
	int checked = 0;

	if (f->bake_s) {
		fleet_log(f, -1, "bake: the canary runs %u s before its health gate", f->bake_s);
		nanosleep(&t, NULL);
	}
	fleet_scan(f);
	for (int i = 0; i < f->baseline; i++) {
		if (!in_batch(hosts, nh, f->vms[i].home))
			continue;
		checked++;
		if (fleet_vm_healthy(f, i, why, sizeof(why)))
			return fail(f, f->vms[i].home, STEP_BAKE, "health gate: %s", why);
		fleet_log(f, f->vms[i].host, "bake: %s %s", f->vms[i].name, why);
	}
	fleet_log(f, -1, "bake: the canary passed its health gate (%d VM%s)", checked,
		  checked == 1 ? "" : "s");
	return 0;
}

int fleet_rollout(struct fleet *f, bool resume)
{
	int *order = calloc((size_t)f->nr_hosts, sizeof(int));
	int *batch_of = calloc((size_t)f->nr_hosts, sizeof(int));
	int *hosts = calloc((size_t)f->nr_hosts, sizeof(int));
	int nb = 0, r = 0;
	struct invariant inv;
	char err[FLEET_ERR];
	bool leased = false;

	if (!order || !batch_of || !hosts) {
		free(order);
		free(batch_of);
		free(hosts);
		return -ENOMEM;
	}
	log_start(f, resume ? "resume" : "rollout");
	fleet_log(f, -1, "%s: inventory %s, %d hosts", resume ? "resume" : "rollout", f->inventory,
		  f->nr_hosts);
	log_policy(f);
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
	if (fleet_lease_acquire(f, err, sizeof(err))) {
		f->fail_host = -1;
		f->fail_step = STEP_PREFLIGHT;
		snprintf(f->failure, sizeof(f->failure), "%s", err);
		snprintf(f->result, sizeof(f->result), "halted");
		r = -1;
		goto out;
	}
	leased = true;
	if (!resume || f->rescan) {
		int n = 0;

		/*
		 * The recorded set: the VMs running now (recorded ones keep their home and
		 * their copy records), and those the rollout shut down, which it must start
		 * again. A recorded VM that runs nowhere is dropped, said, with the disk
		 * copies its evacuation left, which nothing deletes then.
		 */
		for (int i = 0; i < f->nr_vms; i++) {
			struct fleet_vm *v = &f->vms[i];

			if (v->host != -1 || v->shut_on >= 0) {
				f->vms[n++] = *v;
				continue;
			}
			fleet_log(f, -1, "rescan: %s runs nowhere: no longer recorded%s%s%s%s",
				  v->name, v->copied_on >= 0 ? "; its disk copies on " : "",
				  v->copied_on >= 0 ? f->hosts[v->copied_on].name : "",
				  v->copied_on >= 0 ? " stay: " : "",
				  v->copied_on >= 0 ? v->copied : "");
		}
		f->nr_vms = f->baseline = n;
	}
	fleet_invariant(f, &inv);
	fleet_log(f, -1,
		  "invariant before: %d VMs recorded, %d running, %d missing, %d new, "
		  "%d on unreachable hosts, %d running twice, %d shut down by the rollout",
		  inv.before, inv.after, inv.missing, inv.extra, inv.unverified, inv.duplicates,
		  inv.shut);
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
		int nh = 0, nbake = 0;

		for (int i = 0; i < f->nr_hosts; i++) {
			struct fleet_host *h = &f->hosts[order[i]];

			if (batch_of[order[i]] != b)
				continue;
			/* a canary that failed its gate only: the gate again, not the batch */
			if (b == 0 && h->status == HOST_FAILED && h->failed_step == STEP_BAKE) {
				h->status = HOST_DONE;
				h->failed_step = STEP_NONE;
				h->error[0] = 0;
				nbake++;
			}
			if (h->status != HOST_DONE && h->status != HOST_SKIPPED)
				hosts[nh++] = order[i];
		}
		if (nh)
			r = run_batch(f, batch_of, b, hosts, nh);
		if (!r && b == 0 && (nh || nbake)) {
			nh = 0;
			for (int i = 0; i < f->nr_hosts; i++)
				if (batch_of[order[i]] == 0 &&
				    f->hosts[order[i]].status == HOST_DONE)
					hosts[nh++] = order[i];
			r = bake(f, hosts, nh);
		}
	}
	if (!r) {
		/* VMs still shut down by the rollout (on a host left out by --skip-host) */
		if (start_vms(f, NULL, 0, "end", NULL))
			fleet_log(f, -1, "a VM the rollout shut down could not be started again");
		snprintf(f->result, sizeof(f->result), "done");
	}
out:
	invariant_after(f, &inv);
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
	if (leased)
		fleet_lease_release(f, strcmp(f->result, "done") != 0);
	log_end(f, r, "rollout %s%s", f->result,
		r == FLEET_EXIT_INVARIANT     ? " (invariant broken)"
		: r == FLEET_EXIT_UNREACHABLE ? " (a host unreachable)"
					      : "");
	free(order);
	free(batch_of);
	free(hosts);
	return r;
}

/* A host whose KVM the rollout left unverified: it failed its upgrade or its verify. */
static bool kvm_unverified(const struct fleet_host *h)
{
	return h->status == HOST_FAILED &&
	       (h->failed_step == STEP_UPGRADE || h->failed_step == STEP_VERIFY);
}

/*
 * abort: the VMs the rollout shut down (policy shutdown) are started again where they were shut
 * down, when that host may run them (it answers, is not skipped, its KVM is not unverified);
 * --leave too (they run nowhere). Returns the number left shut down, each said in the log.
 */
static int start_abort(struct fleet *f)
{
	int *ok = calloc((size_t)f->nr_hosts + 1, sizeof(int)), nok = 0, left = 0;
	bool passed = false;

	if (!ok)
		return 1;
	for (int h = 0; h < f->nr_hosts; h++)
		if (!kvm_unverified(&f->hosts[h]) && f->hosts[h].status != HOST_SKIPPED)
			ok[nok++] = h;
	left = start_vms(f, ok, nok, "abort", &passed) + passed;
	for (int i = 0; i < f->nr_vms; i++) {
		const struct fleet_vm *v = &f->vms[i];

		if (v->shut_on < 0 || v->host >= 0 || in_batch(ok, nok, v->shut_on))
			continue;
		fleet_log(f, v->shut_on,
			  "abort: %s stays shut down: %s %s; start it there (virsh start) when it "
			  "can run it, then abort again",
			  v->name, f->hosts[v->shut_on].name,
			  f->hosts[v->shut_on].status == HOST_SKIPPED
				  ? "is skipped"
				  : "failed its upgrade or verify");
		left++;
	}
	free(ok);
	return left;
}

/*
 * abort: ends a halted rollout. Unless leave, every recorded VM away from home goes home when
 * its home may take it back: it answers, is not skipped, and its KVM is not one the rollout left
 * unverified (a failed upgrade or verify: the VM stays where it runs, said). Then every host the
 * rollout drained is undrained, but for those unverified ones: they stay drained, said. The
 * result is "aborted" when every VM that should go home did and every undrain worked; else the
 * rollout stays halted (abort again, or --leave) and keeps its leases.
 */
int fleet_abort(struct fleet *f, bool leave)
{
	int *list = calloc((size_t)f->nr_vms + 1, sizeof(int)), n = 0, failed = 0, kept = 0;
	struct invariant inv;
	char err[FLEET_ERR];
	int r = 0;

	if (!list)
		return -ENOMEM;
	log_start(f, "abort");
	if (leave)
		fleet_log(f, -1, "abort: --leave: every VM stays where it runs");
	if (!leave)
		log_policy(f);
	if (fleet_lease_acquire(f, err, sizeof(err))) {
		fleet_log(f, -1, "abort: refused: %s", err);
		free(list);
		return 1;
	}
	fleet_scan(f);
	for (int i = 0; i < f->baseline && !leave; i++) {
		struct fleet_vm *v = &f->vms[i];
		const struct fleet_host *home = &f->hosts[v->home];

		v->dest = -1;
		v->error[0] = 0;
		if (v->host < 0 || v->host == v->home)
			continue;
		if (!home->reachable || home->status == HOST_SKIPPED || kvm_unverified(home)) {
			fleet_log(f, v->host, "abort: %s stays here: its home %s %s", v->name,
				  home->name,
				  home->status == HOST_SKIPPED ? "is skipped"
				  : kvm_unverified(home)       ? "failed its upgrade or verify"
							       : "does not answer");
			kept++;
			continue;
		}
		v->dest = v->home;
		v->copy_storage = v->policy == POLICY_COPY_STORAGE && v->traits & VM_LOCAL_DISK;
		list[n++] = i;
	}
	fleet_log(f, -1, "abort: %d VM%s to bring home", n, n == 1 ? "" : "s");
	f->moving = "abort";
	failed = n ? fleet_migrate(f, list, n) : 0;
	for (int i = 0; i < n && failed; i++) {
		struct fleet_vm *v = &f->vms[list[i]];

		if (!v->error[0])
			continue;
		if (v->host >= 0)
			fleet_resume_paused(f, v->host);
		if (!r)
			snprintf(f->failure, sizeof(f->failure),
				 "abort: %.200s did not go home: %.250s", v->name, v->error);
		r = 1;
	}
	free(list);
	for (int h = 0; h < f->nr_hosts; h++) {
		struct fleet_host *host = &f->hosts[h];

		if (!host->drained)
			continue;
		if (kvm_unverified(host) || host->status == HOST_SKIPPED || !host->reachable) {
			fleet_log(f, h, "abort: stays drained: %s",
				  kvm_unverified(host) ? "its KVM failed its upgrade or verify"
				  : host->reachable    ? "skipped"
						       : "it does not answer");
			continue;
		}
		if (drain(f, h, false)) {
			/* drain() recorded the halt: keep its error */
			r = 1;
			break;
		}
		host->drained = false;
	}
	if (start_abort(f)) {
		if (!r)
			snprintf(f->failure, sizeof(f->failure),
				 "abort: a VM shut down by the rollout is not running again (see "
				 "the log)");
		r = 1;
	}
	if (!r) {
		snprintf(f->result, sizeof(f->result), "aborted");
		f->failure[0] = 0;
		f->fail_host = -1;
		f->fail_step = STEP_NONE;
	} else {
		snprintf(f->result, sizeof(f->result), "halted");
		if (f->fail_step == STEP_NONE)
			f->fail_step = STEP_RETURN;
	}
	invariant_after(f, &inv);
	if (save(f, f->fail_step))
		r = 1;
	fleet_lease_release(f, r != 0);
	if (!r)
		r = fleet_exit_code(f, &inv);
	log_end(f, r, "abort: %s%s",
		!strcmp(f->result, "aborted") ? "rollout aborted" : "not finished: ",
		strcmp(f->result, "aborted") ? f->failure
		: kept			     ? ", some VMs away from home (see above)"
					     : "");
	return r;
}

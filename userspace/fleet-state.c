// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state file, for resume and status: one record a line, the words of fleet_words():
 *   inventory PATH | log PATH | started ISO | result planned|running|halted|done
 *   failure host=NAME step=STEP error=TEXT
 *   host name=NAME status=pending|done|failed step=STEP drained=0|1 ekvm=-1|0|1
 *        version=FOUND times=TOTAL,MIGRATIONS,UPGRADE error=TEXT   (times in seconds)
 *   vm uuid=UUID name=NAME home=HOST host=HOST|-|?
 * It is written whole to FILE.tmp and renamed over FILE after every step. And the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"
#include "sysfs.h"

void fleet_now_iso(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

double fleet_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void fleet_log(const struct fleet *f, int host, const char *fmt, ...)
{
	char when[40], msg[2048];
	va_list ap;
	FILE *lf;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fleet_now_iso(when, sizeof(when));
	fprintf(f->json ? stderr : stdout, "%s %s%s%s\n", when,
		host >= 0 ? f->hosts[host].name : "", host >= 0 ? ": " : "", msg);
	fflush(f->json ? stderr : stdout);
	if (!f->log_path[0])
		return;
	lf = fopen(f->log_path, "ae");
	if (!lf)
		return;
	fprintf(lf, "%s %s%s%s\n", when, host >= 0 ? f->hosts[host].name : "",
		host >= 0 ? ": " : "", msg);
	fclose(lf);
}

static const char *host_ref(const struct fleet *f, int h)
{
	return h >= 0 ? f->hosts[h].name : h == -2 ? "?" : "-";
}

static void put(FILE *o, const char *key, const char *val)
{
	char q[2 * FLEET_STR + 8];

	fleet_quote(q, sizeof(q), val);
	fprintf(o, " %s=%s", key, q);
}

static int write_state(const struct fleet *f, FILE *o)
{
	char q[4200];

	fprintf(o, "# ekvm fleet state (docs/fleet.md); read by 'ekvm fleet resume' and "
		   "'ekvm fleet status'\n");
	fleet_quote(q, sizeof(q), f->inventory);
	fprintf(o, "inventory %s\n", q);
	fleet_quote(q, sizeof(q), f->log_path);
	fprintf(o, "log %s\nstarted %s\nresult %s\n", q, f->started[0] ? f->started : "-",
		f->result);
	if (f->failure[0]) {
		fprintf(o, "failure");
		put(o, "host", f->fail_host >= 0 ? f->hosts[f->fail_host].name : "-");
		put(o, "step", fleet_step_name(f->fail_step));
		put(o, "error", f->failure);
		fputc('\n', o);
	}
	for (int i = 0; i < f->nr_hosts; i++) {
		const struct fleet_host *h = &f->hosts[i];

		fprintf(o, "host name=%s status=%s step=%s drained=%d ekvm=%d", h->name,
			host_status_name(h->status), fleet_step_name(h->failed_step), h->drained,
			h->ekvm);
		put(o, "version", h->found_version);
		fprintf(o, " times=%.3f,%.3f,%.3f", h->t_total, h->t_migrate, h->t_upgrade);
		put(o, "error", h->error);
		fputc('\n', o);
	}
	for (int i = 0; i < f->nr_vms; i++) {
		const struct fleet_vm *v = &f->vms[i];

		fprintf(o, "vm uuid=%s", v->uuid);
		put(o, "name", v->name);
		fprintf(o, " home=%s host=%s\n", host_ref(f, v->home), host_ref(f, v->host));
	}
	return ferror(o) ? -EIO : 0;
}

static int mkdirs(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

int fleet_state_save(const struct fleet *f)
{
	char tmp[4200];
	FILE *o;
	int r;

	if (!f->state_path[0])
		return 0;
	r = mkdirs(f->state_path);
	if (r)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->state_path);
	o = fopen(tmp, "we");
	if (!o)
		return -errno;
	r = write_state(f, o);
	if (fflush(o) || fsync(fileno(o)))
		r = -errno;
	fclose(o);
	if (!r && rename(tmp, f->state_path))
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

/* key=value words into a small table. */
static const char *kv(char **w, int n, const char *key)
{
	size_t k = strlen(key);

	for (int i = 1; i < n; i++)
		if (!strncmp(w[i], key, k) && w[i][k] == '=')
			return w[i] + k + 1;
	return NULL;
}

static int host_of(const struct fleet *f, const char *name, int *h)
{
	if (!name)
		return -EINVAL;
	if (!strcmp(name, "-") || !strcmp(name, "?")) {
		*h = name[0] == '-' ? -1 : -2;
		return 0;
	}
	*h = fleet_host_find(f, name);
	return *h >= 0 ? 0 : -ENOENT;
}

static int parse_host(struct fleet *f, char **w, int n)
{
	const char *name = kv(w, n, "name"), *st = kv(w, n, "status"), *step = kv(w, n, "step");
	const char *dr = kv(w, n, "drained"), *ek = kv(w, n, "ekvm"), *err = kv(w, n, "error");
	int h = name ? fleet_host_find(f, name) : -1;
	struct fleet_host *host;

	if (h < 0)
		return -ENOENT;
	host = &f->hosts[h];
	if (!st || host_status_parse(st, &host->status) || !step ||
	    fleet_step_parse(step, &host->failed_step) || !dr || !ek)
		return -EINVAL;
	if (kv(w, n, "version"))
		snprintf(host->found_version, sizeof(host->found_version), "%s",
			 kv(w, n, "version"));
	if (kv(w, n, "times") && sscanf(kv(w, n, "times"), "%lf,%lf,%lf", &host->t_total,
					&host->t_migrate, &host->t_upgrade) != 3)
		return -EINVAL;
	host->drained = !strcmp(dr, "1");
	host->ekvm = atoi(ek);
	snprintf(host->error, sizeof(host->error), "%s", err ? err : "");
	return 0;
}

static int parse_vm(struct fleet *f, char **w, int n)
{
	const char *uuid = kv(w, n, "uuid"), *name = kv(w, n, "name");
	int home, host, i, r;

	if (!uuid || !name || strlen(uuid) != FLEET_UUID - 1)
		return -EINVAL;
	r = host_of(f, kv(w, n, "home"), &home);
	if (!r)
		r = host_of(f, kv(w, n, "host"), &host);
	if (r)
		return r;
	i = fleet_vm_add(f, uuid, name, home, 0);
	if (i < 0)
		return i;
	f->vms[i].host = host;
	return 0;
}

static int parse_record(struct fleet *f, char **w, int n)
{
	if (!strcmp(w[0], "inventory") || !strcmp(w[0], "log") || !strcmp(w[0], "started") ||
	    !strcmp(w[0], "result")) {
		if (n != 2)
			return -EINVAL;
		if (!strcmp(w[0], "log") && !f->log_path[0])
			snprintf(f->log_path, sizeof(f->log_path), "%s", w[1]);
		else if (!strcmp(w[0], "started"))
			snprintf(f->started, sizeof(f->started), "%s", w[1]);
		else if (!strcmp(w[0], "result"))
			snprintf(f->result, sizeof(f->result), "%s", w[1]);
		return 0;
	}
	if (!strcmp(w[0], "failure")) {
		const char *step = kv(w, n, "step"), *err = kv(w, n, "error");
		int h;

		if (!step || fleet_step_parse(step, &f->fail_step) || !err ||
		    host_of(f, kv(w, n, "host"), &h))
			return -EINVAL;
		f->fail_host = h;
		snprintf(f->failure, sizeof(f->failure), "%s", err);
		return 0;
	}
	if (!strcmp(w[0], "host"))
		return parse_host(f, w, n);
	if (!strcmp(w[0], "vm"))
		return parse_vm(f, w, n);
	return -EINVAL;
}

/* Applies a state file's records to a fleet whose inventory is loaded. */
int fleet_state_parse(struct fleet *f, const char *text, char *err, size_t errsize)
{
	const char *p = text;
	int line = 0;

	f->nr_vms = 0;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *s = strndup(p, len), *w[16], buf[8192];
		int n, r;

		if (!s)
			return -ENOMEM;
		line++;
		n = fleet_words(s, w, 16, buf, sizeof(buf));
		r = n < 0 ? n : n ? parse_record(f, w, n) : 0;
		free(s);
		if (r) {
			snprintf(err, errsize, "%s:%d: %s", f->state_path, line,
				 r == -ENOENT ? "names a host that is not in the inventory"
					      : "malformed record");
			return -EINVAL;
		}
		p += len + (nl ? 1 : 0);
	}
	f->baseline = f->nr_vms;
	return 0;
}

int fleet_state_load(struct fleet *f, const char *path, char *err, size_t errsize)
{
	unsigned char *data;
	long n = read_whole_file(path, &data, 4 << 20);
	char *w[4], buf[8192];
	int r = -EINVAL;

	if (n < 0) {
		snprintf(err, errsize, "%s: %s%s", path, strerror((int)-n),
			 n == -ENOENT ? " (no rollout recorded there; --state FILE)" : "");
		return (int)n;
	}
	if (n == 4 << 20) {
		free(data);
		snprintf(err, errsize, "%s: too large", path);
		return -EFBIG;
	}
	data[n] = 0;
	snprintf(f->state_path, sizeof(f->state_path), "%s", path);
	/* the inventory first: the records name its hosts */
	for (char *p = (char *)data; p && *p;) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = 0;
		if (fleet_words(p, w, 4, buf, sizeof(buf)) == 2 && !strcmp(w[0], "inventory")) {
			r = fleet_inventory_load(f, w[1], err, errsize);
			if (nl)
				*nl = '\n';
			break;
		}
		if (nl)
			*nl = '\n';
		p = nl ? nl + 1 : NULL;
	}
	if (r == -EINVAL && !err[0])
		snprintf(err, errsize, "%s: no inventory record", path);
	if (!r)
		r = fleet_state_parse(f, (char *)data, err, errsize);
	free(data);
	return r;
}

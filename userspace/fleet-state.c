// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state file, for resume and status: one record a line, the words of fleet_words():
 *   inventory PATH | log PATH | started ISO | result planned|running|halted|done
 *   failure host=NAME step=STEP error=TEXT
 *   host name=NAME status=pending|done|failed step=STEP drained=0|1 ekvm=-1|0|1
 *        version=FOUND times=TOTAL,MIGRATIONS,UPGRADE error=TEXT   (times in seconds)
 *   vm uuid=UUID name=NAME home=HOST host=HOST|-|? [shut=HOST] [copied_on=HOST copied=PATHS]
 *        [recorded=0]
 *        (shut: shut down there by the rollout, policy shutdown; copied_on, copied: the disk
 *        copies its copy-storage evacuation created there, PATH|PATH; recorded=0: not in the
 *        recorded set)
 * Values are quoted by fleet_quote() (control characters as \xHH). It is written whole to
 * FILE.tmp, fsynced and renamed over FILE (then the folder fsynced) after every step. Reading
 * it is strict: an unknown record, field or value, a record twice, a NUL byte, a last line
 * without its newline (a file cut short) are errors naming FILE:LINE. And the log.
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
#include "out.h"
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

/* --json: the event as one JSON object a line on stderr, written at once (threads log too). */
static void put_event(const struct fleet *f, int host, const char *when, const char *event,
		      const char *fields, const char *msg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return;
	fputs("{\"time\":", m);
	json_write_string(m, when);
	fputs(",\"event\":", m);
	json_write_string(m, event);
	fputs(",\"host\":", m);
	if (host >= 0)
		json_write_string(m, f->hosts[host].name);
	else
		fputs("null", m);
	if (fields && fields[0])
		fprintf(m, ",%s", fields);
	fputs(",\"message\":", m);
	json_write_string(m, msg);
	fputs("}\n", m);
	if (!fclose(m)) {
		fwrite(buf, 1, len, stderr);
		fflush(stderr);
	}
	free(buf);
}

int fleet_json_str(char *out, size_t size, const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return -ENOMEM;
	json_write_string(m, s ? s : "");
	if (fclose(m)) {
		free(buf);
		return -ENOMEM;
	}
	if (len >= size) {
		free(buf);
		snprintf(out, size, "null");
		return -E2BIG;
	}
	memcpy(out, buf, len + 1);
	free(buf);
	return 0;
}

void fleet_log(const struct fleet *f, int host, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fleet_vevent(f, host, "log", NULL, fmt, ap);
	va_end(ap);
}

void fleet_event(const struct fleet *f, int host, const char *event, const char *fields,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fleet_vevent(f, host, event, fields, fmt, ap);
	va_end(ap);
}

void fleet_vevent(const struct fleet *f, int host, const char *event, const char *fields,
		  const char *fmt, va_list ap)
{
	static bool warned; /* once: the log cannot be written */
	/* text: the message and the host name escaped (out.h's text_escape), as out_str() does */
	char when[40], msg[2048], text[sizeof(msg) * 4], name[1024];
	FILE *lf;
	int r = 0;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/*
	 * One event a line: libvirt's errors carry QEMU's stderr, newlines included, and a line
	 * without a timestamp would read as a separate, undated event.
	 */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = ' ';
	fleet_now_iso(when, sizeof(when));
	text_escape(text, sizeof(text), msg);
	text_escape(name, sizeof(name), host >= 0 ? f->hosts[host].name : "");
	if (f->json) {
		put_event(f, host, when, event, fields, msg);
	} else {
		fprintf(stdout, "%s %s%s%s\n", when, name, host >= 0 ? ": " : "", text);
		fflush(stdout);
	}
	if (!f->log_path[0])
		return;
	lf = fopen(f->log_path, "ae");
	if (!lf) {
		r = errno;
	} else {
		if (fprintf(lf, "%s %s%s%s\n", when, name, host >= 0 ? ": " : "", text) < 0)
			r = errno ? errno : EIO;
		if (fclose(lf) && !r)
			r = errno;
	}
	if (r && !warned) {
		warned = true;
		fprintf(stderr, "ekvm fleet: %s: %s: the log misses lines from here on\n",
			f->log_path, strerror(r));
	}
}

int fleet_log_check(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static const char *host_ref(const struct fleet *f, int h)
{
	return h >= 0 ? f->hosts[h].name : h == -2 ? "?" : "-";
}

/* " key=value", quoted; -E2BIG rather than a value cut short. */
static int put(FILE *o, const char *key, const char *val)
{
	char q[FLEET_QUOTED(sizeof(((struct fleet *)0)->inventory))];

	if (fleet_quote(q, sizeof(q), val))
		return -E2BIG;
	fprintf(o, "%s%s%s", key[0] ? " " : "", key, key[0] ? "=" : " ");
	fputs(q, o);
	return 0;
}

static int write_state(const struct fleet *f, FILE *o)
{
	int r = 0;

	fprintf(o, "# ekvm fleet state (docs/fleet.md); read by 'ekvm fleet resume' and "
		   "'ekvm fleet status'\n");
	fputs("inventory", o);
	r |= put(o, "", f->inventory);
	if (f->inventory_copy[0]) {
		fputs("\ninventory_copy", o);
		r |= put(o, "", f->inventory_copy);
	}
	if (f->rollout_id[0]) {
		fputs("\nrollout", o);
		r |= put(o, "", f->rollout_id);
	}
	fputs("\nlog", o);
	r |= put(o, "", f->log_path);
	fputs("\nstarted", o);
	r |= put(o, "", f->started[0] ? f->started : "-");
	fprintf(o, "\nresult %s\n", f->result);
	if (f->failure[0]) {
		fprintf(o, "failure");
		r |= put(o, "host", f->fail_host >= 0 ? f->hosts[f->fail_host].name : "-");
		r |= put(o, "step", fleet_step_name(f->fail_step));
		r |= put(o, "error", f->failure);
		fputc('\n', o);
	}
	for (int i = 0; i < f->nr_hosts; i++) {
		const struct fleet_host *h = &f->hosts[i];

		fprintf(o, "host");
		r |= put(o, "name", h->name);
		fprintf(o, " status=%s step=%s drained=%d ekvm=%d", host_status_name(h->status),
			fleet_step_name(h->failed_step), h->drained, h->ekvm);
		r |= put(o, "version", h->found_version);
		fprintf(o, " times=%.3f,%.3f,%.3f", h->t_total, h->t_migrate, h->t_upgrade);
		r |= put(o, "error", h->error);
		fputc('\n', o);
	}
	for (int i = 0; i < f->nr_vms; i++) {
		const struct fleet_vm *v = &f->vms[i];

		fprintf(o, "vm");
		r |= put(o, "uuid", v->uuid);
		r |= put(o, "name", v->name);
		fprintf(o, " home=%s host=%s", host_ref(f, v->home), host_ref(f, v->host));
		if (v->shut_on >= 0)
			fprintf(o, " shut=%s", host_ref(f, v->shut_on));
		if (v->copied_on >= 0 && v->copied[0]) {
			fprintf(o, " copied_on=%s", host_ref(f, v->copied_on));
			r |= put(o, "copied", v->copied);
		}
		fprintf(o, "%s\n", i < f->baseline ? "" : " recorded=0");
	}
	if (r)
		return -E2BIG;
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

/* fsync of the folder holding path, so that a rename in it survives a crash. */
static int sync_dir(const char *path)
{
	char dir[4096], *slash;
	int fd, r = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		r = -errno;
	close(fd);
	return r;
}

int fleet_state_save(const struct fleet *f)
{
	char tmp[sizeof(f->state_path) + 8];
	FILE *o;
	int fd, r;

	if (!f->state_path[0])
		return 0;
	r = mkdirs(f->state_path);
	if (r)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->state_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	o = fdopen(fd, "w");
	if (!o) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	r = write_state(f, o);
	if (fflush(o) && !r)
		r = errno ? -errno : -EIO;
	if (fsync(fd) && !r)
		r = -errno;
	if (fclose(o) && !r)
		r = -errno;
	if (!r && rename(tmp, f->state_path))
		r = -errno;
	if (r) {
		unlink(tmp);
		return r;
	}
	return sync_dir(f->state_path);
}

struct st_ctx {
	const char *path;
	int line;
	char *err;
	size_t errsize;
	bool seen[7]; /* inventory, log, started, result, failure, inventory_copy, rollout */
	bool *host_seen;
};

static int st_error(struct st_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int st_error(struct st_ctx *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = fleet_file_verror(c->err, c->errsize, c->path, c->line, fmt, ap);
	va_end(ap);
	return r;
}

/* Every word after the first is KEY=VALUE with a KEY of keys (NULL-terminated), once each;
 * each of the first nreq keys is there. */
static int check_fields(struct st_ctx *c, char **w, int n, const char *const *keys, int nreq)
{
	for (int i = 1; i < n; i++) {
		const char *eq = strchr(w[i], '=');
		size_t k = eq ? (size_t)(eq - w[i]) : 0;
		bool known = false;

		if (!eq || !k)
			return st_error(c, "%s: '%.40s': expected KEY=VALUE", w[0], w[i]);
		for (const char *const *key = keys; *key; key++)
			known |= strlen(*key) == k && !strncmp(*key, w[i], k);
		if (!known)
			return st_error(c, "%s: unknown field '%.*s'", w[0], (int)(k > 40 ? 40 : k),
					w[i]);
		for (int j = 1; j < i; j++)
			if (!strncmp(w[j], w[i], k + 1))
				return st_error(c, "%s: field '%.*s' twice", w[0], (int)k, w[i]);
	}
	for (const char *const *key = keys; *key && key - keys < nreq; key++) {
		size_t k = strlen(*key);
		bool found = false;

		for (int i = 1; i < n && !found; i++)
			found = !strncmp(w[i], *key, k) && w[i][k] == '=';
		if (!found)
			return st_error(c, "%s: no %s=", w[0], *key);
	}
	return 0;
}

/* The value of KEY=VALUE (check_fields() made sure it is there). */
static const char *kv(char **w, int n, const char *key)
{
	size_t k = strlen(key);

	for (int i = 1; i < n; i++)
		if (!strncmp(w[i], key, k) && w[i][k] == '=')
			return w[i] + k + 1;
	return "";
}

static int copy(struct st_ctx *c, char *dst, size_t size, const char *what, const char *val)
{
	if (strlen(val) >= size)
		return st_error(c, "%s is too long (at most %zu bytes)", what, size - 1);
	memcpy(dst, val, strlen(val) + 1);
	return 0;
}

static int host_of(const struct fleet *f, struct st_ctx *c, const char *what, const char *name,
		   int *h)
{
	if (!strcmp(name, "-") || !strcmp(name, "?")) {
		*h = name[0] == '-' ? -1 : -2;
		return 0;
	}
	*h = fleet_host_find(f, name);
	if (*h < 0)
		return st_error(c, "names a host that is not in the inventory: %s=%.64s", what,
				name);
	return 0;
}

static int parse_host(struct fleet *f, struct st_ctx *c, char **w, int n)
{
	static const char *const keys[] = { "name",    "status", "step",  "drained", "ekvm",
					    "version", "times",	 "error", NULL };
	const char *name, *times, *dr, *ek;
	struct fleet_host *host;
	int h, r, end = -1;

	name = kv(w, n, "name");
	h = fleet_host_find(f, name);
	if (h < 0)
		return st_error(c, "names a host that is not in the inventory: %.64s", name);
	r = check_fields(c, w, n, keys, 8);
	if (r)
		return r;
	if (c->host_seen[h])
		return st_error(c, "host %s twice", name);
	c->host_seen[h] = true;
	host = &f->hosts[h];
	if (host_status_parse(kv(w, n, "status"), &host->status))
		return st_error(c, "host %s: status=%.40s: expected pending, done or failed", name,
				kv(w, n, "status"));
	if (fleet_step_parse(kv(w, n, "step"), &host->failed_step))
		return st_error(c, "host %s: unknown step=%.40s", name, kv(w, n, "step"));
	dr = kv(w, n, "drained");
	if (strcmp(dr, "0") && strcmp(dr, "1"))
		return st_error(c, "host %s: drained=%.40s: expected 0 or 1", name, dr);
	host->drained = dr[0] == '1';
	ek = kv(w, n, "ekvm");
	if (strcmp(ek, "-1") && strcmp(ek, "0") && strcmp(ek, "1"))
		return st_error(c, "host %s: ekvm=%.40s: expected -1, 0 or 1", name, ek);
	host->ekvm = atoi(ek);
	times = kv(w, n, "times");
	if (sscanf(times, "%lf,%lf,%lf%n", &host->t_total, &host->t_migrate, &host->t_upgrade,
		   &end) != 3 ||
	    end != (int)strlen(times))
		return st_error(c, "host %s: times=%.40s: expected TOTAL,MIGRATIONS,UPGRADE", name,
				times);
	r = copy(c, host->found_version, sizeof(host->found_version), "version",
		 kv(w, n, "version"));
	return r ? r : copy(c, host->error, sizeof(host->error), "error", kv(w, n, "error"));
}

static bool valid_uuid(const char *s)
{
	if (strlen(s) != FLEET_UUID - 1)
		return false;
	for (int i = 0; s[i]; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23
			    ? s[i] != '-'
			    : !strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	return true;
}

static int parse_vm(struct fleet *f, struct st_ctx *c, char **w, int n)
{
	static const char *const keys[] = { "uuid", "name",	 "home",   "host", "recorded",
					    "shut", "copied_on", "copied", NULL };
	const char *uuid, *name, *rec;
	int home, host, shut = -1, copied_on = -1, i, r;

	r = check_fields(c, w, n, keys, 4);
	if (r)
		return r;
	/* recorded=0: a VM that is not in the recorded set (they come last) */
	rec = kv(w, n, "recorded");
	if (rec[0] && strcmp(rec, "0"))
		return st_error(c, "vm: recorded=%.40s: expected 0 (or no recorded=)", rec);
	if (!rec[0] && f->baseline != f->nr_vms)
		return st_error(c, "vm: a recorded VM after one that is not (recorded=0)");
	uuid = kv(w, n, "uuid");
	name = kv(w, n, "name");
	if (!valid_uuid(uuid))
		return st_error(c, "vm: uuid=%.40s is not a UUID", uuid);
	if (fleet_vm_find(f, uuid) >= 0)
		return st_error(c, "vm %s twice", uuid);
	if (strlen(name) >= sizeof(f->vms[0].name))
		return st_error(c, "vm %s: name is too long (at most %zu bytes)", uuid,
				sizeof(f->vms[0].name) - 1);
	r = host_of(f, c, "home", kv(w, n, "home"), &home);
	if (!r)
		r = host_of(f, c, "host", kv(w, n, "host"), &host);
	if (r)
		return r;
	if (home < 0)
		return st_error(c, "vm %s: home=%s: a VM's home is a host", uuid, kv(w, n, "home"));
	/* shut=HOST: shut down there by the rollout (policy shutdown), to be started there */
	if (kv(w, n, "shut")[0]) {
		r = host_of(f, c, "shut", kv(w, n, "shut"), &shut);
		if (r)
			return r;
		if (shut < 0)
			return st_error(c, "vm %s: shut=%s: expected the host it was shut down on",
					uuid, kv(w, n, "shut"));
	}
	/* copied_on=HOST copied=PATHS: the copies of its disks its evacuation created there */
	if (kv(w, n, "copied_on")[0] || kv(w, n, "copied")[0]) {
		r = kv(w, n, "copied_on")[0]
			    ? host_of(f, c, "copied_on", kv(w, n, "copied_on"), &copied_on)
			    : 0;
		if (r)
			return r;
		if (copied_on < 0 || !kv(w, n, "copied")[0] ||
		    strlen(kv(w, n, "copied")) >= sizeof(f->vms[0].copied))
			return st_error(c,
					"vm %s: copied_on=%.64s copied=%.64s: expected a host and "
					"the paths of the disk copies there",
					uuid, kv(w, n, "copied_on"), kv(w, n, "copied"));
	}
	i = fleet_vm_add(f, uuid, name, home, 0);
	if (i < 0)
		return st_error(c, "vm %s: %s", uuid, strerror(-i));
	f->vms[i].host = host;
	f->vms[i].shut_on = shut;
	f->vms[i].copied_on = copied_on;
	if (copied_on >= 0)
		snprintf(f->vms[i].copied, sizeof(f->vms[i].copied), "%s", kv(w, n, "copied"));
	if (!rec[0])
		f->baseline = f->nr_vms;
	return 0;
}

static const char *const singletons[] = { "inventory", "log",	  "started",
					  "result",    "failure", "inventory_copy",
					  "rollout" };
#define NR_SINGLETONS (int)(sizeof(singletons) / sizeof(singletons[0]))

static int parse_record(struct fleet *f, struct st_ctx *c, char **w, int n)
{
	int s;

	if (!strcmp(w[0], "host"))
		return parse_host(f, c, w, n);
	if (!strcmp(w[0], "vm"))
		return parse_vm(f, c, w, n);
	for (s = 0; s < NR_SINGLETONS && strcmp(w[0], singletons[s]); s++)
		;
	if (s == NR_SINGLETONS)
		return st_error(c, "unknown record '%.40s'", w[0]);
	if (c->seen[s])
		return st_error(c, "a second '%s' record", w[0]);
	c->seen[s] = true;
	if (s == 4) {
		static const char *const keys[] = { "host", "step", "error", NULL };
		int r = check_fields(c, w, n, keys, 3), h;

		if (r)
			return r;
		if (fleet_step_parse(kv(w, n, "step"), &f->fail_step))
			return st_error(c, "failure: unknown step=%.40s", kv(w, n, "step"));
		r = host_of(f, c, "host", kv(w, n, "host"), &h);
		if (r)
			return r;
		f->fail_host = h < 0 ? -1 : h;
		return copy(c, f->failure, sizeof(f->failure), "error", kv(w, n, "error"));
	}
	if (n != 2)
		return st_error(c, "'%s' takes one value, not %d", w[0], n - 1);
	if (s == 1 && !f->log_path[0])
		return copy(c, f->log_path, sizeof(f->log_path), "log", w[1]);
	if (s == 2)
		return copy(c, f->started, sizeof(f->started), "started", w[1]);
	if (s == 5)
		return copy(c, f->inventory_copy, sizeof(f->inventory_copy), "inventory_copy",
			    w[1]);
	if (s == 6)
		return copy(c, f->rollout_id, sizeof(f->rollout_id), "rollout", w[1]);
	if (s == 3) {
		if (strcmp(w[1], "planned") && strcmp(w[1], "running") && strcmp(w[1], "halted") &&
		    strcmp(w[1], "done") && strcmp(w[1], "aborted"))
			return st_error(c,
					"result %.40s: expected planned, running, halted, done or "
					"aborted",
					w[1]);
		snprintf(f->result, sizeof(f->result), "%s", w[1]);
	}
	return 0;
}

/* Applies a state file's records to a fleet whose inventory is loaded. */
int fleet_state_parse(struct fleet *f, const char *text, char *err, size_t errsize)
{
	struct st_ctx c = { f->state_path, 0, err, errsize, { 0 }, NULL };
	const char *p = text;
	int r = 0;

	c.host_seen = calloc((size_t)f->nr_hosts + 1, sizeof(bool));
	if (!c.host_seen)
		return -ENOMEM;
	f->nr_vms = f->baseline = 0;
	while (*p && !r) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *s = strndup(p, len), *w[16], buf[8192];
		int n;

		if (!s) {
			r = -ENOMEM;
			break;
		}
		c.line++;
		n = fleet_words(s, w, 16, buf, sizeof(buf));
		if (n == -E2BIG && fleet_too_many_words(s, 16))
			n = -ENOSPC;
		free(s);
		if (n == -EINVAL)
			r = st_error(&c, "unterminated quote");
		else if (n == -EILSEQ)
			r = st_error(&c, "\\x00 in a quoted value");
		else if (n == -ENOSPC)
			r = st_error(&c, "too many words (at most 16)");
		else if (n < 0)
			r = st_error(&c, "line too long (at most 8 KiB)");
		else if (n > 0)
			r = parse_record(f, &c, w, n);
		if (!r && !nl)
			r = st_error(&c, "the last line has no newline: the file is cut short");
		p += len + (nl ? 1 : 0);
	}
	free(c.host_seen);
	if (r)
		return r;
	for (int s = 0; s < 4; s++)
		if (!c.seen[s]) {
			snprintf(err, errsize,
				 "%s: no '%s' record: the file is cut short or not a "
				 "state file",
				 f->state_path, singletons[s]);
			return -EINVAL;
		}
	return 0;
}

/* Whether the inventory differs from the rollout's copy of it now (or cannot be read). */
static bool inventory_changed(const struct fleet *f)
{
	unsigned char *a = NULL, *b = NULL;
	long na, nb;
	bool changed;

	if (!f->inventory_copy[0])
		return false;
	na = read_whole_file(f->inventory, &a, 1 << 20);
	nb = read_whole_file(f->inventory_copy, &b, 1 << 20);
	changed = na < 0 || nb < 0 || na != nb || memcmp(a, b, (size_t)na);
	if (na >= 0)
		free(a);
	if (nb >= 0)
		free(b);
	return changed;
}

int fleet_state_load(struct fleet *f, const char *path, char *err, size_t errsize)
{
	unsigned char *data;
	long n = read_whole_file(path, &data, 4 << 20);
	char *w[4], buf[8192], orig[4096] = "", copy_path[4096] = "";
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
	if (fleet_text_check(path, (char *)data, (size_t)n, err, errsize)) {
		free(data);
		return -EINVAL;
	}
	/*
	 * The inventory first: the records name its hosts. The inventory as it is now when the
	 * state reads back against it (an operator may fix a command or a setting before resume);
	 * else the rollout's own copy of it, taken when it began (hosts renamed or removed, the
	 * file gone or broken: status, resume and abort go on with the rollout's hosts), said in
	 * inventory_note.
	 */
	for (char *p = (char *)data; p && *p;) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = 0;
		if (fleet_words(p, w, 4, buf, sizeof(buf)) == 2) {
			if (!strcmp(w[0], "inventory"))
				snprintf(orig, sizeof(orig), "%s", w[1]);
			else if (!strcmp(w[0], "inventory_copy") && !access(w[1], R_OK))
				snprintf(copy_path, sizeof(copy_path), "%s", w[1]);
		}
		if (nl)
			*nl = '\n';
		p = nl ? nl + 1 : NULL;
	}
	if (!orig[0]) {
		snprintf(err, errsize, "%s: no inventory record", path);
		free(data);
		return -EINVAL;
	}
	r = fleet_inventory_load(f, orig, err, errsize);
	if (!r)
		r = fleet_state_parse(f, (char *)data, err, errsize);
	if (r && copy_path[0]) {
		char why[FLEET_ERR];

		snprintf(why, sizeof(why), "%s", err);
		fleet_free(f);
		fleet_init(f);
		snprintf(f->state_path, sizeof(f->state_path), "%s", path);
		r = fleet_inventory_load(f, copy_path, err, errsize);
		if (!r)
			r = fleet_state_parse(f, (char *)data, err, errsize);
		if (!r)
			snprintf(f->inventory_note, sizeof(f->inventory_note),
				 "the inventory no longer fits the rollout (%.300s): going on with "
				 "the rollout's copy of it, %.150s",
				 why, copy_path);
	} else if (!r && copy_path[0]) {
		snprintf(f->inventory_copy, sizeof(f->inventory_copy), "%s", copy_path);
		if (inventory_changed(f))
			snprintf(f->inventory_note, sizeof(f->inventory_note),
				 "%.200s changed since the rollout began (then: %.200s): its hosts "
				 "are the rollout's, it is used",
				 orig, copy_path);
	}
	if (!r && copy_path[0]) {
		snprintf(f->inventory, sizeof(f->inventory), "%s", orig);
		snprintf(f->inventory_copy, sizeof(f->inventory_copy), "%s", copy_path);
	}
	free(data);
	return r;
}

/*
 * The rollout's own copy of its inventory, STATE.inventory: written whole, fsynced and renamed
 * into place before the first state names it.
 */
int fleet_inventory_keep(struct fleet *f)
{
	char tmp[sizeof(f->state_path) + 16], dst[sizeof(f->state_path) + 16];
	unsigned char *data;
	long n = read_whole_file(f->inventory, &data, 1 << 20);
	int fd, r = 0;

	if (n < 0)
		return (int)n;
	snprintf(dst, sizeof(dst), "%s.inventory", f->state_path);
	snprintf(tmp, sizeof(tmp), "%s.inventory.tmp", f->state_path);
	r = mkdirs(dst);
	fd = r ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(data);
		return r ? r : -errno;
	}
	if (write(fd, data, (size_t)n) != n)
		r = errno ? -errno : -EIO;
	free(data);
	if (!r && fsync(fd))
		r = -errno;
	if (close(fd) && !r)
		r = -errno;
	if (!r && rename(tmp, dst))
		r = -errno;
	if (r) {
		unlink(tmp);
		return r;
	}
	if (strlen(dst) >= sizeof(f->inventory_copy))
		return -ENAMETOOLONG;
	snprintf(f->inventory_copy, sizeof(f->inventory_copy), "%s", dst);
	return sync_dir(dst);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * The inventory (docs/fleet.md): one entry a line, `fleet KEY=VALUE...` settings and defaults
 * first, then `host KEY=VALUE...`, one per host. Values with blanks are "quoted".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "out.h"
#include "parse.h"
#include "sysfs.h"

static const char *const step_names[NR_STEPS] = {
	[STEP_NONE] = "none",	      [STEP_PREFLIGHT] = "preflight", [STEP_DRAIN] = "drain",
	[STEP_EVACUATE] = "evacuate", [STEP_UPGRADE] = "upgrade",     [STEP_VERIFY] = "verify",
	[STEP_RETURN] = "return",     [STEP_UNDRAIN] = "undrain",     [STEP_BAKE] = "bake",
};
static const char *const status_names[] = { "pending", "done", "failed", "skipped" };

const char *fleet_step_name(enum fleet_step s)
{
	return s < NR_STEPS ? step_names[s] : "?";
}

const char *host_status_name(enum host_status s)
{
	return s <= HOST_SKIPPED ? status_names[s] : "?";
}

int host_status_parse(const char *s, enum host_status *st)
{
	for (int i = 0; i <= HOST_SKIPPED; i++)
		if (!strcmp(s, status_names[i])) {
			*st = (enum host_status)i;
			return 0;
		}
	return -EINVAL;
}

int fleet_step_parse(const char *s, enum fleet_step *st)
{
	for (int i = 0; i < NR_STEPS; i++)
		if (!strcmp(s, step_names[i])) {
			*st = (enum fleet_step)i;
			return 0;
		}
	return -EINVAL;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int fleet_words(const char *line, char **words, int max, char *buf, size_t size)
{
	const char *p = line;
	size_t o = 0;
	int n = 0;

	for (;;) {
		bool quoted = false;

		while (is_blank(*p))
			p++;
		if (!*p || *p == '#')
			return n;
		if (n == max)
			return -E2BIG;
		words[n++] = buf + o;
		while (*p && (quoted || !is_blank(*p))) {
			char c = *p++;

			if (c == '"') {
				quoted = !quoted;
				continue;
			}
			if (quoted && c == '\\' && (*p == '"' || *p == '\\')) {
				c = *p++;
			} else if (quoted && c == '\\' && *p == 'x' && hex_digit(p[1]) >= 0 &&
				   hex_digit(p[2]) >= 0) {
				c = (char)(hex_digit(p[1]) << 4 | hex_digit(p[2]));
				p += 3;
				if (!c)
					return -EILSEQ; /* \x00: a C string cannot hold it */
			}
			if (o + 1 >= size)
				return -E2BIG;
			buf[o++] = c;
		}
		if (quoted)
			return -EINVAL;
		/* an empty word ("") after words that filled buf has no room for its 0 */
		if (o >= size)
			return -E2BIG;
		buf[o++] = 0;
	}
}

/* Control characters and DEL: escaped as \xHH inside quotes, so that no value spans lines. */
static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

int fleet_quote(char *out, size_t size, const char *value)
{
	bool plain = *value != 0;
	size_t o = 0;

	if (!size)
		return -E2BIG;
	for (const char *p = value; *p; p++)
		if (is_control((unsigned char)*p) || strchr(" \"\\#", *p))
			plain = false;
	if (plain) {
		size_t len = strlen(value);

		if (len >= size) {
			*out = 0;
			return -E2BIG;
		}
		memcpy(out, value, len + 1);
		return 0;
	}
	out[o++] = '"';
	for (const char *p = value; *p; p++) {
		unsigned char c = (unsigned char)*p;
		char e[8];
		size_t len;

		if (c == '"' || c == '\\')
			len = (size_t)snprintf(e, sizeof(e), "\\%c", c);
		else if (is_control(c))
			len = (size_t)snprintf(e, sizeof(e), "\\x%02x", c);
		else
			len = (size_t)snprintf(e, sizeof(e), "%c", c);
		if (o + len + 2 > size) { /* room for the closing quote and the 0 */
			*out = 0;
			return -E2BIG;
		}
		memcpy(out + o, e, len);
		o += len;
	}
	if (o + 2 > size) {
		*out = 0;
		return -E2BIG;
	}
	out[o++] = '"';
	out[o] = 0;
	return 0;
}

int fleet_text_check(const char *path, const char *data, size_t n, char *err, size_t errsize)
{
	const char *nul = memchr(data, 0, n);
	int line = 1;

	if (!nul)
		return 0;
	for (const char *p = data; p < nul; p++)
		line += *p == '\n';
	snprintf(err, errsize, "%s:%d: a NUL byte (byte %zu): not a text file", path, line,
		 (size_t)(nul - data) + 1);
	return -EINVAL;
}

void fleet_init(struct fleet *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->ekvm, sizeof(f->ekvm), "ekvm");
	f->parallel = 2;
	f->timeout_s = 300;
	f->cmd_timeout_s = 1800;
	f->batch_size = 1;
	f->reserve_mib = 256;
	f->connect_timeout_s = FLEET_CONNECT_TIMEOUT;
	snprintf(f->lease, sizeof(f->lease), "%s", FLEET_LEASE_PATH);
	f->lease_ttl_s = FLEET_LEASE_TTL;
	f->can_copy_storage = true; /* VIR_MIGRATE_NON_SHARED_DISK (fleet-migrate.c) */
	f->can_shutdown = true; /* virDomainShutdown, virDomainCreate (fleet-run.c) */
	f->shutdown_timeout_s = 300;
	f->fail_host = -1;
	f->moving = "evacuate";
	snprintf(f->result, sizeof(f->result), "planned");
}

void fleet_free(struct fleet *f)
{
	free(f->hosts);
	free(f->vms);
	free(f->shared);
	free(f->policies);
	f->hosts = NULL;
	f->vms = NULL;
	f->shared = NULL;
	f->policies = NULL;
	f->nr_hosts = f->nr_vms = f->nr_shared = f->nr_policies = 0;
}

int fleet_host_find(const struct fleet *f, const char *name)
{
	for (int i = 0; i < f->nr_hosts; i++)
		if (!strcmp(f->hosts[i].name, name))
			return i;
	return -1;
}

struct inv_ctx {
	const char *name;
	int line;
	char *err;
	size_t errsize;
};

static int inv_error(struct inv_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int fleet_file_verror(char *err, size_t size, const char *file, int line, const char *fmt,
		      va_list ap)
{
	int n = snprintf(err, size, "%s:%d: ", file, line);

	if (n >= 0 && (size_t)n < size)
		vsnprintf(err + n, size - (size_t)n, fmt, ap);
	return -EINVAL;
}

static int inv_error(struct inv_ctx *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = fleet_file_verror(c->err, c->errsize, c->name, c->line, fmt, ap);
	va_end(ap);
	return r;
}

#define HOST_KEY(k)                                                                     \
	{                                                                               \
#k, offsetof(struct fleet_host, k), sizeof(((struct fleet_host *)0)->k) \
	}
static const struct {
	const char *key;
	size_t off, size;
} host_keys[] = {
	HOST_KEY(name),	       HOST_KEY(uri),	      HOST_KEY(exec),	   HOST_KEY(upgrade),
	HOST_KEY(version),     HOST_KEY(version_cmd), HOST_KEY(smoke_cmd), HOST_KEY(migrate_uri),
	HOST_KEY(meminfo_cmd), HOST_KEY(lease),
};

static int set_uint(struct inv_ctx *c, const char *key, const char *val, unsigned long long max,
		    unsigned long long min, unsigned int *dst)
{
	unsigned long long v;

	if (parse_u64(val, max, &v) || v < min)
		return inv_error(c, "%s=%s: expected a number from %llu to %llu", out_esc(key),
				 out_esc(val), min, max);
	*dst = (unsigned int)v;
	return 0;
}

static int set_fleet_key(struct fleet *f, struct inv_ctx *c, const char *key, const char *val)
{
	if (!strcmp(key, "ekvm")) {
		snprintf(f->ekvm, sizeof(f->ekvm), "%s", val);
		return 0;
	}
	if (!strcmp(key, "parallel"))
		return set_uint(c, key, val, 64, 1, &f->parallel);
	if (!strcmp(key, "timeout"))
		return set_uint(c, key, val, 86400, 1, &f->timeout_s);
	if (!strcmp(key, "command_timeout"))
		return set_uint(c, key, val, 86400, 1, &f->cmd_timeout_s);
	if (!strcmp(key, "bandwidth"))
		return set_uint(c, key, val, 1000000, 0, &f->bandwidth_mib);
	if (!strcmp(key, "batch_size"))
		return set_uint(c, key, val, FLEET_MAX_HOSTS, 1, &f->batch_size);
	if (!strcmp(key, "reserve"))
		return set_uint(c, key, val, 1 << 30, 0, &f->reserve_mib);
	if (!strcmp(key, "connect_timeout"))
		return set_uint(c, key, val, 3600, 1, &f->connect_timeout_s);
	if (!strcmp(key, "bake"))
		return set_uint(c, key, val, 86400, 0, &f->bake_s);
	if (!strcmp(key, "lease_ttl"))
		return set_uint(c, key, val, 7 * 86400, 60, &f->lease_ttl_s);
	if (!strcmp(key, "shutdown_timeout"))
		return set_uint(c, key, val, 86400, 1, &f->shutdown_timeout_s);
	if (!strcmp(key, "shutdown_force")) {
		unsigned int b = 0;
		int r = set_uint(c, key, val, 1, 0, &b);

		f->shutdown_force = b;
		return r;
	}
	if (!strcmp(key, "lease")) {
		if (val[0] != '/' || strlen(val) >= sizeof(f->lease))
			return inv_error(c,
					 "lease=%.100s: expected an absolute path (at most %zu "
					 "characters)",
					 val, sizeof(f->lease) - 1);
		snprintf(f->lease, sizeof(f->lease), "%s", val);
		return 0;
	}
	return 1; /* not a fleet setting */
}

static int set_host_key(struct fleet_host *h, struct inv_ctx *c, const char *key, const char *val)
{
	for (size_t i = 0; i < sizeof(host_keys) / sizeof(host_keys[0]); i++) {
		if (strcmp(key, host_keys[i].key))
			continue;
		if (strlen(val) >= host_keys[i].size)
			return inv_error(c, "%s is too long (at most %zu characters)", key,
					 host_keys[i].size - 1);
		memcpy((char *)h + host_keys[i].off, val, strlen(val) + 1);
		return 0;
	}
	if (!strcmp(key, "batch")) {
		unsigned int b = 0;
		int r = set_uint(c, key, val, 1000000, 0, &b);

		if (!r)
			h->batch = (int)b;
		return r;
	}
	return inv_error(c, "unknown key '%s'", out_esc(key));
}

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("-_.", *s)))
			return false;
	return true;
}

static int finish_host(struct fleet *f, struct inv_ctx *c, struct fleet_host *h)
{
	if (!h->name[0])
		return inv_error(c, "host without name=");
	if (!valid_name(h->name))
		return inv_error(c, "host name '%s': use letters, digits, '-', '_' and '.'",
				 out_esc(h->name));
	if (fleet_host_find(f, h->name) >= 0)
		return inv_error(c, "host %s is listed twice", h->name);
	if (!h->uri[0])
		return inv_error(c, "host %s has no uri=", h->name);
	if (!h->exec[0])
		return inv_error(c, "host %s has no exec= (the prefix that runs a command there)",
				 h->name);
	if (!h->upgrade[0])
		return inv_error(c, "host %s has no upgrade= (the upgrade command)", h->name);
	if (h->lease[0] && h->lease[0] != '/')
		return inv_error(c, "host %s: lease=%.100s: expected an absolute path", h->name,
				 out_esc(h->lease));
	/* the array grows by powers of two (no cap on hosts) */
	if (f->nr_hosts >= 16 && !(f->nr_hosts & (f->nr_hosts - 1))) {
		struct fleet_host *n = realloc(f->hosts, (size_t)f->nr_hosts * 2 * sizeof(*n));

		if (!n)
			return inv_error(c, "out of memory at host %d", f->nr_hosts + 1);
		f->hosts = n;
	}
	h->line = c->line;
	h->ekvm = -1;
	f->hosts[f->nr_hosts++] = *h;
	return 0;
}

/* shared_storage=PREFIX: a folder (or pool:NAME) whose disks every host sees; repeatable. */
static int add_shared(struct fleet *f, struct inv_ctx *c, int host, const char *prefix)
{
	struct fleet_shared *n;

	if (!prefix[0] || (prefix[0] != '/' && strncmp(prefix, "pool:", 5)))
		return inv_error(c, "shared_storage=%s: expected an absolute path or pool:NAME",
				 out_esc(prefix));
	if (strlen(prefix) >= sizeof(n->prefix))
		return inv_error(c, "shared_storage is too long (at most %zu characters)",
				 sizeof(n->prefix) - 1);
	n = realloc(f->shared, (size_t)(f->nr_shared + 1) * sizeof(*n));
	if (!n)
		return inv_error(c, "out of memory");
	f->shared = n;
	n[f->nr_shared].host = host;
	snprintf(n[f->nr_shared].prefix, sizeof(n->prefix), "%s", prefix);
	f->nr_shared++;
	return 0;
}

/* vm name=NAME|uuid=UUID policy=migrate|copy-storage|shutdown|pin */
static int parse_vm(struct fleet *f, struct inv_ctx *c, char **w, int n)
{
	struct fleet_vm_policy p = { .line = c->line, .policy = POLICY_MIGRATE };
	bool have_policy = false;

	for (int i = 1; i < n; i++) {
		char *eq = strchr(w[i], '=');

		if (!eq || eq == w[i])
			return inv_error(c, "'%s': expected KEY=VALUE", out_esc(w[i]));
		*eq = 0;
		if (!strcmp(w[i], "name") || !strcmp(w[i], "uuid")) {
			if (p.vm[0])
				return inv_error(c, "vm: name= or uuid=, once");
			if (!eq[1] || strlen(eq + 1) >= sizeof(p.vm))
				return inv_error(c, "vm: %s= must have 1 to %zu characters",
						 out_esc(w[i]), sizeof(p.vm) - 1);
			snprintf(p.vm, sizeof(p.vm), "%s", eq + 1);
		} else if (!strcmp(w[i], "policy")) {
			if (fleet_policy_parse(eq + 1, &p.policy))
				return inv_error(c,
						 "policy=%s: expected migrate, copy-storage, "
						 "shutdown or pin",
						 out_esc(eq + 1));
			have_policy = true;
		} else {
			return inv_error(c, "vm: unknown key '%s'", out_esc(w[i]));
		}
	}
	if (!p.vm[0])
		return inv_error(c, "vm without name= or uuid=");
	if (!have_policy)
		return inv_error(c, "vm %s without policy=", out_esc(p.vm));
	for (int i = 0; i < f->nr_policies; i++)
		if (!strcmp(f->policies[i].vm, p.vm))
			return inv_error(c, "vm %s is listed twice (line %d)", out_esc(p.vm),
					 f->policies[i].line);
	{
		struct fleet_vm_policy *np =
			realloc(f->policies, (size_t)(f->nr_policies + 1) * sizeof(*np));

		if (!np)
			return inv_error(c, "out of memory");
		f->policies = np;
		np[f->nr_policies++] = p;
	}
	return 0;
}

/* After -E2BIG from fleet_words(line, .., max, .., 8192): more than max words (else bytes)? */
bool fleet_too_many_words(const char *line, int max)
{
	char **w = calloc(8193, sizeof(*w)), *buf = malloc(8192);
	bool many = w && buf && fleet_words(line, w, 8193, buf, 8192) > max;

	free(w);
	free(buf);
	return many;
}

static int parse_line(struct fleet *f, struct inv_ctx *c, char *line, struct fleet_host *dflt)
{
	char *w[64], buf[8192];
	int n = fleet_words(line, w, 64, buf, sizeof(buf));
	struct fleet_host h;
	bool is_host;

	if (n == -EINVAL)
		return inv_error(c, "unterminated quote");
	if (n == -EILSEQ)
		return inv_error(c, "\\x00 in a quoted value: a value cannot hold a NUL byte");
	if (n < 0 && fleet_too_many_words(line, 64))
		return inv_error(c, "too many words (at most 64)");
	if (n < 0)
		return inv_error(c, "line too long (at most 8 KiB)");
	if (n == 0)
		return 0;
	if (!strcmp(w[0], "vm"))
		return parse_vm(f, c, w, n);
	is_host = !strcmp(w[0], "host");
	if (!is_host && strcmp(w[0], "fleet"))
		return inv_error(c, "'%s': a line starts with 'fleet' or 'host' (or 'vm')",
				 out_esc(w[0]));
	if (!is_host && f->nr_hosts)
		return inv_error(c, "'fleet' lines come before the first host");
	h = *dflt;
	for (int i = 1; i < n; i++) {
		char *eq = strchr(w[i], '=');
		int r;

		if (!eq || eq == w[i])
			return inv_error(c, "'%s': expected KEY=VALUE", out_esc(w[i]));
		*eq = 0;
		if (!strcmp(w[i], "shared_storage")) {
			/* every host's (fleet line) or this host's: the host it will be */
			r = add_shared(f, c, is_host ? f->nr_hosts : -1, eq + 1);
			if (r)
				return r;
			continue;
		}
		r = is_host ? 1 : set_fleet_key(f, c, w[i], eq + 1);
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		if (!is_host && !strcmp(w[i], "name"))
			return inv_error(c, "name= belongs on a host line");
		r = set_host_key(&h, c, w[i], eq + 1);
		if (r)
			return r;
	}
	if (!is_host) {
		*dflt = h;
		return 0;
	}
	return finish_host(f, c, &h);
}

int fleet_inventory_parse(struct fleet *f, const char *text, const char *name, char *err,
			  size_t errsize)
{
	struct inv_ctx c = { name, 0, err, errsize };
	struct fleet_host dflt = { .batch = -1 };
	const char *p = text;
	int r = 0;

	if (!f->hosts)
		f->hosts = calloc(16, sizeof(*f->hosts));
	if (!f->hosts)
		return -ENOMEM;
	while (*p && !r) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, len);

		if (!line)
			return -ENOMEM;
		c.line++;
		r = parse_line(f, &c, line, &dflt);
		free(line);
		p += len + (nl ? 1 : 0);
	}
	if (!r && f->nr_hosts < 2) {
		c.line = 0;
		snprintf(err, errsize, "%s: a fleet needs at least two hosts (found %d)", name,
			 f->nr_hosts);
		r = -EINVAL;
	}
	for (int i = 0; !r && i < f->nr_hosts; i++) {
		struct fleet_host *h = &f->hosts[i];

		if (!h->version_cmd[0])
			snprintf(h->version_cmd, sizeof(h->version_cmd),
				 "cat /sys/module/kvm/ekvm/version");
		if (!h->smoke_cmd[0])
			snprintf(h->smoke_cmd, sizeof(h->smoke_cmd), "%.400s smoke", f->ekvm);
	}
	return r;
}

int fleet_inventory_load(struct fleet *f, const char *path, char *err, size_t errsize)
{
	unsigned char *data;
	long n = read_whole_file(path, &data, 1 << 20);
	int r;

	if (n < 0) {
		snprintf(err, errsize, "%s: %s", path, strerror((int)-n));
		return (int)n;
	}
	if (n == 1 << 20) {
		free(data);
		snprintf(err, errsize, "%s: larger than 1 MiB", path);
		return -EFBIG;
	}
	data[n] = 0;
	r = fleet_text_check(path, (char *)data, (size_t)n, err, errsize);
	if (r) {
		free(data);
		return r;
	}
	if (!realpath(path, f->inventory))
		snprintf(f->inventory, sizeof(f->inventory), "%s", path);
	r = fleet_inventory_parse(f, (char *)data, path, err, errsize);
	free(data);
	return r;
}

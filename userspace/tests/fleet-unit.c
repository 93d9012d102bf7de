// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of ekvm fleet's parts that need no libvirt daemon: the words of its files, the
 * inventory, batches, placement, the state file, running commands and the migration policy.
 * ASan/UBSan, TAP-like.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "fleet.h"

static int tests, failures;

static void ok(int cond, const char *what)
{
	tests++;
	failures += !cond;
	printf("%sok %d - fleet unit: %s\n", cond ? "" : "not ", tests, what);
}

static void test_words(void)
{
	char *w[8], buf[256], q[128];
	int n = fleet_words("host name=a exec=\"ssh root@a\" up=\"say \\\"hi\\\" \\\\ #x\" # c", w,
			    8, buf, sizeof(buf));

	ok(n == 4 && !strcmp(w[0], "host") && !strcmp(w[2], "exec=ssh root@a") &&
		   !strcmp(w[3], "up=say \"hi\" \\ #x"),
	   "words: quotes, escapes, # inside quotes, comment");
	ok(fleet_words("a \"b", w, 8, buf, sizeof(buf)) == -EINVAL, "words: unterminated quote");
	ok(fleet_words("   # only a comment", w, 8, buf, sizeof(buf)) == 0, "words: comment line");
	ok(fleet_words("a b c", w, 2, buf, sizeof(buf)) == -E2BIG, "words: too many");
	fleet_quote(q, sizeof(q), "echo \"x\" \\ y # z");
	n = fleet_words(q, w, 8, buf, sizeof(buf));
	ok(n == 1 && !strcmp(w[0], "echo \"x\" \\ y # z"), "quote: read back the same");
	fleet_quote(q, sizeof(q), "");
	n = fleet_words(q, w, 8, buf, sizeof(buf));
	ok(n == 1 && !strcmp(w[0], ""), "quote: empty value");
	fleet_quote(q, sizeof(q), "plain");
	ok(!strcmp(q, "plain"), "quote: plain value unquoted");
}

static const char inv_ok[] = "# a fleet\n"
			     "fleet parallel=3 upgrade=\"apt-get install -y ekvm-dkms\" "
			     "version=6.1.192.2 ekvm=/usr/sbin/ekvm\n"
			     "host name=hv1 uri=qemu+ssh://root@hv1/system exec=\"ssh root@hv1\"\n"
			     "host name=hv2 uri=qemu+ssh://root@hv2/system exec=\"ssh root@hv2\" "
			     "batch=2\n"
			     "host name=hv3 uri=qemu+ssh://root@hv3/system exec=\"ssh root@hv3\" "
			     "batch=1 upgrade=\"custom\"\n"
			     "\n"
			     "host name=hv4 uri=qemu+ssh://root@hv4/system exec=\"ssh root@hv4\"\n"
			     "host name=hv5 uri=qemu+ssh://root@hv5/system exec=\"ssh root@hv5\"\n";

static int parse(struct fleet *f, const char *text, char *err)
{
	fleet_free(f);
	fleet_init(f);
	err[0] = 0;
	return fleet_inventory_parse(f, text, "inv", err, 256);
}

static void bad(const char *text, const char *want, const char *what)
{
	struct fleet f = { 0 };
	char err[256];
	int r = parse(&f, text, err);

	ok(r == -EINVAL && strstr(err, want) != NULL, what);
	if (!strstr(err, want))
		printf("# got: %s\n", err);
	fleet_free(&f);
}

static void test_inventory(void)
{
	struct fleet f = { 0 };
	char err[256];
	int r = parse(&f, inv_ok, err);

	ok(r == 0 && f.nr_hosts == 5, "inventory: five hosts");
	ok(r == 0 && f.parallel == 3 && !strcmp(f.ekvm, "/usr/sbin/ekvm"), "inventory: settings");
	ok(r == 0 && !strcmp(f.hosts[0].upgrade, "apt-get install -y ekvm-dkms") &&
		   !strcmp(f.hosts[2].upgrade, "custom") &&
		   !strcmp(f.hosts[1].version, "6.1.192.2"),
	   "inventory: defaults from the fleet line, overridden per host");
	ok(r == 0 && !strcmp(f.hosts[0].exec, "ssh root@hv1") && f.hosts[0].batch == -1 &&
		   f.hosts[1].batch == 2 && f.hosts[0].line == 3,
	   "inventory: exec, batch, line");
	ok(r == 0 && !strcmp(f.hosts[0].smoke_cmd, "/usr/sbin/ekvm smoke") &&
		   !strcmp(f.hosts[0].version_cmd, "cat /sys/module/kvm/ekvm/version"),
	   "inventory: default verify commands");
	fleet_free(&f);
	bad("host name=a uri=x exec=y upgrade=z\n", "at least two hosts", "inventory: one host");
	bad("host name=a uri=x exec=y upgrade=z\nhost name=a uri=x exec=y upgrade=z\n",
	    "inv:2: host a is listed twice", "inventory: duplicate name");
	bad("host name=a exec=y upgrade=z\n", "inv:1: host a has no uri=", "inventory: no uri");
	bad("host name=a uri=x upgrade=z\n", "has no exec=", "inventory: no exec");
	bad("host name=a uri=x exec=y\n", "has no upgrade=", "inventory: no upgrade");
	bad("host name=a uri=x exec=y upgrade=z colour=red\n", "inv:1: unknown key 'colour'",
	    "inventory: unknown key");
	bad("host name=a uri=x exec=\"y upgrade=z\n", "inv:1: unterminated quote",
	    "inventory: unterminated quote");
	bad("server name=a\n", "a line starts with 'fleet' or 'host'", "inventory: bad keyword");
	bad("fleet parallel=0\n", "parallel=0: expected a number from 1 to 64",
	    "inventory: parallel=0");
	bad("host name=a uri=x exec=y upgrade=z\nfleet parallel=2\n",
	    "'fleet' lines come before the first host", "inventory: fleet after host");
	bad("host name=a/b uri=x exec=y upgrade=z\n", "host name 'a/b'", "inventory: bad name");
	bad("host name=a uri=x exec=y upgrade=z batch=x\n", "batch=x: expected a number",
	    "inventory: bad batch");
	bad("host uri\n", "'uri': expected KEY=VALUE", "inventory: no =");
}

static void test_batches(void)
{
	struct fleet f = { 0 };
	char err[256];
	int order[8], batch_of[8], nb;

	parse(&f, inv_ok, err);
	nb = fleet_batches(&f, order, batch_of);
	/* hv1 canary; batch=1: hv3; batch=2: hv2; then hv4, hv5 one at a time */
	ok(nb == 5 && order[0] == 0 && order[1] == 2 && order[2] == 1 && order[3] == 3 &&
		   order[4] == 4,
	   "batches: canary, batch=1, batch=2, the rest");
	ok(batch_of[0] == 0 && batch_of[2] == 1 && batch_of[1] == 2 && batch_of[3] == 3 &&
		   batch_of[4] == 4,
	   "batches: batch numbers");
	f.batch_size = 2;
	nb = fleet_batches(&f, order, batch_of);
	ok(nb == 4 && batch_of[3] == 3 && batch_of[4] == 3,
	   "batches: batch_size 2 groups hv4, hv5");
	fleet_free(&f);
}

static bool only_hv2(struct fleet *f, int vm, int host)
{
	(void)f;
	(void)vm;
	return host == 1; /* hv2 is in the batch: no destination left */
}

static void test_place(void)
{
	struct fleet f = { 0 };
	char err[256];
	int order[8], batch_of[8], unplaced;

	parse(&f, inv_ok, err);
	fleet_batches(&f, order, batch_of);
	for (int h = 0; h < f.nr_hosts; h++) {
		f.hosts[h].reachable = true;
		f.hosts[h].avail_kib = 4ULL << 20; /* 4 GiB */
	}
	f.hosts[3].avail_kib = 8ULL << 20;
	f.reserve_mib = 512;
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000001", "a", 0, 2ULL << 20);
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000002", "b", 0, 2ULL << 20);
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000003", "c", 0, 3ULL << 20);
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000004", "d", 1, 1ULL << 20);
	unplaced = fleet_place(&f, batch_of, 0, NULL);
	ok(unplaced == 0 && f.vms[0].dest == 3 && f.vms[1].dest == 3 && f.vms[2].dest != 3 &&
		   f.vms[2].dest > 0 && f.vms[3].dest == -1,
	   "place: most room first, room taken into account, other batches untouched");
	f.hosts[3].status = HOST_FAILED;
	f.hosts[1].reachable = false;
	unplaced = fleet_place(&f, batch_of, 0, NULL);
	ok(unplaced == 1 && f.vms[2].dest == -1 && strstr(f.vms[2].error, "MiB free"),
	   "place: failed and unreachable hosts are not destinations; a VM that fits nowhere");
	f.hosts[3].status = HOST_PENDING;
	f.hosts[1].reachable = true;
	f.vms[3].home = f.vms[3].host = 1;
	unplaced = fleet_place(&f, batch_of, batch_of[1], only_hv2);
	ok(unplaced == 1 && f.vms[3].dest == -1 && strstr(f.vms[3].error, "compatible CPU"),
	   "place: never within the batch; CPU refusal named");
	fleet_free(&f);
}

static void test_state(void)
{
	struct fleet f = { 0 }, g = { 0 };
	char err[256] = "", dir[] = "/tmp/ekvm-fleet-unit.XXXXXX", inv[64], st[64];
	FILE *o;
	int r;

	if (!mkdtemp(dir)) {
		ok(0, "state: temporary folder");
		return;
	}
	snprintf(inv, sizeof(inv), "%s/inv", dir);
	snprintf(st, sizeof(st), "%s/sub/state", dir);
	o = fopen(inv, "w");
	fputs(inv_ok, o);
	fclose(o);
	fleet_init(&f);
	r = fleet_inventory_load(&f, inv, err, sizeof(err));
	snprintf(f.state_path, sizeof(f.state_path), "%s", st);
	snprintf(f.log_path, sizeof(f.log_path), "%s/log", dir);
	snprintf(f.started, sizeof(f.started), "2026-11-28T10:00:00.000Z");
	snprintf(f.result, sizeof(f.result), "halted");
	f.hosts[0].status = HOST_DONE;
	f.hosts[1].status = HOST_FAILED;
	f.hosts[1].failed_step = STEP_UPGRADE;
	f.hosts[1].drained = true;
	f.hosts[1].ekvm = 1;
	f.hosts[1].t_total = 1.5;
	snprintf(f.hosts[1].error, sizeof(f.hosts[1].error), "upgrade exited 1: \"E: broken\"");
	f.fail_host = 1;
	f.fail_step = STEP_UPGRADE;
	snprintf(f.failure, sizeof(f.failure), "%s", f.hosts[1].error);
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000001", "web 1", 0, 1 << 20);
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000002", "db", 1, 1 << 20);
	f.vms[1].host = 3;
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000003", "lost", 2, 1 << 20);
	f.vms[2].host = -2;
	f.baseline = 3;
	r = r ?: fleet_state_save(&f);
	ok(r == 0, "state: saved (folders made)");
	fleet_init(&g);
	r = fleet_state_load(&g, st, err, sizeof(err));
	ok(r == 0 && g.nr_hosts == 5 && !strcmp(g.inventory, f.inventory),
	   "state: loaded, with its inventory");
	ok(r == 0 && g.hosts[0].status == HOST_DONE && g.hosts[1].status == HOST_FAILED &&
		   g.hosts[1].failed_step == STEP_UPGRADE && g.hosts[1].drained &&
		   g.hosts[1].ekvm == 1 && g.hosts[2].ekvm == -1 && g.hosts[1].t_total == 1.5 &&
		   !strcmp(g.hosts[1].error, f.hosts[1].error),
	   "state: hosts read back");
	ok(r == 0 && g.nr_vms == 3 && g.baseline == 3 && !strcmp(g.vms[0].name, "web 1") &&
		   g.vms[1].home == 1 && g.vms[1].host == 3 && g.vms[2].host == -2,
	   "state: VMs read back");
	ok(r == 0 && g.fail_host == 1 && g.fail_step == STEP_UPGRADE &&
		   !strcmp(g.result, "halted") && !strcmp(g.failure, f.failure),
	   "state: failure read back");
	fleet_free(&g);
	fleet_init(&g);
	snprintf(g.state_path, sizeof(g.state_path), "%s", st);
	r = fleet_inventory_load(&g, inv, err, sizeof(err));
	r = r
		    ?: fleet_state_parse(
			       &g, "host name=nosuch status=done step=none drained=0 ekvm=0\n", err,
			       sizeof(err));
	ok(r == -EINVAL && strstr(err, ":1: names a host that is not in the inventory"),
	   "state: unknown host refused");
	fleet_free(&g);
	fleet_init(&g);
	err[0] = 0;
	r = fleet_state_load(&g, "/nonexistent/state", err, sizeof(err));
	ok(r == -ENOENT && strstr(err, "no rollout recorded"), "state: missing file");
	fleet_free(&g);
	fleet_log(&f, 1, "a %s", "line");
	o = fopen(f.log_path, "r");
	ok(o && fgets(err, sizeof(err), o) && strlen(err) > 25 && err[10] == 'T' &&
		   err[23] == 'Z' && strstr(err, "Z hv2: a line\n"),
	   "log: ISO-8601 UTC timestamp, host, message");
	fleet_log(&f, -1, "error: %s", "QEMU said:\nline two\r\tend");
	ok(o && fgets(err, sizeof(err), o) && strstr(err, "Z error: QEMU said: line two  end\n") &&
		   !fgets(err, sizeof(err), o),
	   "log: a message's newlines and control characters become spaces (one event a line)");
	if (o)
		fclose(o);
	fleet_free(&f);
	snprintf(err, sizeof(err), "rm -rf '%s'", dir);
	if (system(err))
		ok(0, "cleanup");
}

/*
 * Issue 16, item 1: an empty "" word after words that fill the buffer wrote its 0 one byte past
 * it. Every fill level around the end of buffers of several sizes (exactly malloc'd, so that
 * ASan sees one byte too far), with the tails that end a word without a character.
 */
static void test_words_boundary(void)
{
	static const char *const tails[] = { " \"\"",	  " \"\" \"\"", "\"\"", " \"\" x",
					     " \"\"\"\"", " x \"\"",	"" };
	static const size_t sizes[] = { 1, 2, 3, 4, 5, 8, 16, 64, 8192 };
	char *line = malloc(8192 + 64), *w[64];
	int bad = 0, cases = 0;

	for (size_t s = 0; line && s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t size = sizes[s];

		for (size_t fill = size > 12 ? size - 12 : 0; fill <= size + 2; fill++) {
			for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
				char *buf = malloc(size);
				int n;

				memset(line, 'x', fill);
				strcpy(line + fill, tails[t]);
				n = fleet_words(line, w, 64, buf, size);
				cases++;
				/* every word's bytes and 0 inside buf, or -E2BIG */
				for (int i = 0; n > 0 && i < n; i++)
					if (w[i] < buf || w[i] + strlen(w[i]) >= buf + size)
						bad++;
				if (n < 0 && n != -E2BIG)
					bad++;
				free(buf);
			}
		}
	}
	ok(line && cases > 0 && !bad, "words unit: every fill level around the buffer's end, "
				      "with empty words after it: in bounds or -E2BIG (ASan)");
	if (line) {
		char *buf = malloc(8192);

		memset(line, 'x', 8191);
		strcpy(line + 8191, " \"\"");
		ok(buf && fleet_words(line, w, 64, buf, 8192) == -E2BIG,
		   "words unit: 8191 bytes and an empty word in 8 KiB: -E2BIG, not a byte past it");
		free(buf);
	}
	free(line);
}

/* The same input through the files' own 8 KiB stack buffers: inventory, state. */
static void test_words_boundary_files(void)
{
	struct fleet f = { 0 };
	char *line = malloc(8300), err[256];
	int r;

	if (!line) {
		ok(0, "words unit: memory");
		return;
	}
	/* "fleet" + 0 = 6 bytes, then 8185 bytes + 0: the buffer is full; then "" */
	snprintf(line, 8300, "fleet ekvm=%0*d \"\"\n", 8180, 0);
	fleet_init(&f);
	r = fleet_inventory_parse(&f, line, "inv", err, sizeof(err));
	ok(r == -EINVAL && strstr(err, "inv:1: line too long"),
	   "inventory unit: a full line then \"\": line too long (ASan)");
	fleet_free(&f);
	fleet_init(&f);
	snprintf(f.state_path, sizeof(f.state_path), "st");
	r = fleet_inventory_parse(&f, inv_ok, "inv", err, sizeof(err));
	/* "vm" + 0 = 3 bytes, then 8188 bytes + 0; then "" */
	snprintf(line, 8300, "vm uuid=%0*d \"\"\n", 8183, 0);
	r = r ?: fleet_state_parse(&f, line, err, sizeof(err));
	ok(r == -EINVAL && strstr(err, "st:1: line too long"),
	   "state unit: a full line then \"\": line too long (ASan)");
	fleet_free(&f);
	free(line);
}

/* Item 2: whatever a value holds, the writer's quoting reads back as exactly that value. */
static void test_quote_roundtrip(void)
{
	static const char *const values[] = {
		"web\r\n1",
		"a\tb",
		"say \"hi\"",
		"back\\slash",
		"\\x41 stays",
		"\\\"",
		"#x",
		"x#",
		"",
		" lead",
		"trail ",
		"\x7f\x1b[31m",
		"a=b",
		"\\",
		"\"",
		"\n",
		"x\nvm uuid=00000000-0000-0000-0000-000000000009 name=evil home=hv1 host=hv1",
	};
	char q[FLEET_QUOTED(512)], v[600], *w[4], buf[4096];
	int bad = 0;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		int n = fleet_quote(q, sizeof(q), values[i])
				? -1
				: fleet_words(q, w, 4, buf, sizeof(buf));

		if (n != 1 || strcmp(w[0], values[i]) || strpbrk(q, "\r\n\t\x1b\x7f")) {
			printf("# value %zu: %s\n", i, q);
			bad++;
		}
	}
	for (int c = 1; c < 256; c++) {
		int n;

		snprintf(v, sizeof(v), "a%cb", c);
		n = fleet_quote(q, sizeof(q), v) ? -1 : fleet_words(q, w, 4, buf, sizeof(buf));
		if (n != 1 || strcmp(w[0], v) || strchr(q, '\n') || strchr(q, '\r'))
			bad++;
	}
	memset(v, '\n', 511);
	v[511] = 0;
	if (fleet_quote(q, sizeof(q), v) || fleet_words(q, w, 4, buf, sizeof(buf)) != 1 ||
	    strcmp(w[0], v))
		bad++;
	ok(!bad, "quote unit: control characters, quotes, backslashes, every byte round-trip "
		 "on one line");
	ok(fleet_quote(q, 8, "a b c d e f") == -E2BIG && q[0] == 0 &&
		   fleet_quote(q, 4, "abcd") == -E2BIG,
	   "quote unit: a value that does not fit is an error, not cut short");
	ok(fleet_words("\"a\\x00b\"", w, 4, buf, sizeof(buf)) == -EILSEQ &&
		   fleet_words("\"\\x4a\\x4B\\xzz\"", w, 4, buf, sizeof(buf)) == 1 &&
		   !strcmp(w[0], "JK\\xzz"),
	   "words unit: \\xHH decoded, \\x00 refused, another backslash kept");
}

static int write_file(const char *path, const char *text, size_t len)
{
	FILE *o = fopen(path, "w");
	size_t n;

	if (!o)
		return -1;
	n = fwrite(text, 1, len, o);
	return fclose(o) || n != len ? -1 : 0;
}

static char *read_file(const char *path)
{
	static char data[1 << 16];
	FILE *o = fopen(path, "r");
	size_t n;

	if (!o)
		return NULL;
	n = fread(data, 1, sizeof(data) - 1, o);
	fclose(o);
	data[n] = 0;
	return data;
}

/* Loads STATE's text (with its inventory at inv), err for the message; 0 or -errno. */
static int load_text(const char *dir, const char *inv, const char *text, size_t len, char *err)
{
	struct fleet g;
	char st[128];
	int r;

	snprintf(st, sizeof(st), "%s/st-text", dir);
	(void)inv;
	if (write_file(st, text, len))
		return -EIO;
	fleet_init(&g);
	err[0] = 0;
	r = fleet_state_load(&g, st, err, 256);
	fleet_free(&g);
	return r;
}

/* Item 2: hostile names through save and load; strict reading of the state and inventory. */
static void test_state_strict(void)
{
	struct fleet f = { 0 }, g = { 0 };
	char err[512] = "", dir[] = "/tmp/ekvm-fleet-unit.XXXXXX", inv[64], st[64], text[2048];
	const char *hdr;
	int r, ok_names = 1;

	if (!mkdtemp(dir)) {
		ok(0, "state unit: temporary folder");
		return;
	}
	snprintf(inv, sizeof(inv), "%s/inv", dir);
	snprintf(st, sizeof(st), "%s/state", dir);
	write_file(inv, inv_ok, strlen(inv_ok));
	fleet_init(&f);
	r = fleet_inventory_load(&f, inv, err, sizeof(err));
	snprintf(f.state_path, sizeof(f.state_path), "%s", st);
	snprintf(f.log_path, sizeof(f.log_path), "%s/log\nresult done", dir);
	snprintf(f.result, sizeof(f.result), "running");
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000001", "web\r\n1", 0, 0);
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000002",
		     "x\nvm uuid=00000000-0000-0000-0000-000000000009 name=e home=hv1 host=hv1", 1,
		     0);
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000003", "t\tq\"b\\s\x01\x7f#", 2, 0);
	snprintf(f.hosts[1].error, sizeof(f.hosts[1].error), "line 1\nline 2\r\n\"quoted\" \\");
	snprintf(f.failure, sizeof(f.failure), "E: x\nhost name=hv1 status=done");
	f.fail_host = 1;
	f.fail_step = STEP_UPGRADE;
	f.baseline = 2; /* the third VM appeared since the rollout began */
	f.vms[1].shut_on = 1; /* shut down on hv2 by the rollout (policy shutdown) */
	f.vms[1].host = -1;
	f.vms[2].copied_on = 1; /* copy-storage: its evacuation created copies on hv2 */
	snprintf(f.vms[2].copied, sizeof(f.vms[2].copied), "/var/lib/a b.img|/v/\"c\"\n.qcow2");
	r = r ?: fleet_state_save(&f);
	fleet_init(&g);
	r = r ?: fleet_state_load(&g, st, err, sizeof(err));
	for (int i = 0; !r && i < 3; i++)
		ok_names &= g.nr_vms == 3 && !strcmp(g.vms[i].name, f.vms[i].name);
	ok(r == 0 && ok_names && !strcmp(g.hosts[1].error, f.hosts[1].error) &&
		   !strcmp(g.failure, f.failure) && !strcmp(g.log_path, f.log_path) &&
		   !strcmp(g.result, "running") && g.baseline == 2,
	   "state unit: names and errors with CR, LF, tab, quotes, backslashes, control "
	   "characters round-trip; no record added; a VM not recorded stays so");
	ok(r == 0 && g.nr_vms == 3 && g.vms[1].shut_on == 1 && g.vms[1].host == -1 &&
		   g.vms[0].shut_on == -1 && g.vms[2].shut_on == -1,
	   "state unit: a VM shut down by the rollout (shut=HOST) round-trips, the others not");
	ok(r == 0 && g.nr_vms == 3 && g.vms[2].copied_on == 1 &&
		   !strcmp(g.vms[2].copied, f.vms[2].copied) && g.vms[0].copied_on == -1 &&
		   !g.vms[0].copied[0] && g.vms[1].copied_on == -1,
	   "state unit: a VM's disk copies (copied_on, copied) round-trip, the others have none "
	   "(a state without them reads back)");
	if (r)
		printf("# %s\n", err);
	fleet_free(&g);

	/* a valid state to edit: header lines, then one record of each */
	snprintf(text, sizeof(text),
		 "inventory %s\nlog /l\nstarted -\nresult halted\n"
		 "host name=hv1 status=done step=none drained=0 ekvm=1 version=\"\" "
		 "times=1.000,0.000,0.000 error=\"\"\n"
		 "vm uuid=00000000-0000-0000-0000-000000000001 name=a home=hv1 host=hv1\n",
		 inv);
	hdr = text;
	r = load_text(dir, inv, hdr, strlen(hdr), err);
	ok(r == 0, "state unit: the reference state loads");
	if (r)
		printf("# %s\n", err);
	{
		static const struct {
			const char *add, *want, *what;
		} cases[] = {
			{ "host name=hv1 status=done step=none drained=0 ekvm=1 version=\"\" "
			  "times=1,0,0 error=\"\"\n",
			  ":7: host hv1 twice", "the same host twice" },
			{ "vm uuid=00000000-0000-0000-0000-000000000001 name=b home=hv2 host=hv2\n",
			  ":7: vm 00000000-0000-0000-0000-000000000001 twice",
			  "the same VM twice" },
			{ "result done\n", ":7: a second 'result' record", "a second result" },
			{ "host name=hv2 status=finished step=none drained=0 ekvm=1 version=\"\" "
			  "times=1,0,0 error=\"\"\n",
			  ":7: host hv2: status=finished", "an unknown host status" },
			{ "host name=hv2 status=done step=none drained=2 ekvm=1 version=\"\" "
			  "times=1,0,0 error=\"\"\n",
			  ":7: host hv2: drained=2", "drained=2" },
			{ "host name=hv2 status=done step=none drained=0 ekvm=7 version=\"\" "
			  "times=1,0,0 error=\"\"\n",
			  ":7: host hv2: ekvm=7", "ekvm=7" },
			{ "host name=hv2 status=done step=none drained=0 ekvm=1 version=\"\" "
			  "times=1,0,0x error=\"\"\n",
			  ":7: host hv2: times=1,0,0x", "times with garbage" },
			{ "host name=hv2 status=done step=none drained=0 ekvm=1 version=\"\" "
			  "times=1,0,0 error=\"\" colour=red\n",
			  ":7: host: unknown field 'colour'", "an unknown field" },
			{ "host name=hv2 status=done step=none drained=0 ekvm=1 times=1,0,0 "
			  "error=\"\"\n",
			  ":7: host: no version=", "a missing field" },
			{ "vm uuid=00000000-0000-0000-0000-000000000002 name=b home=hv2 host=hv2 "
			  "host=hv1\n",
			  ":7: vm: field 'host' twice", "a field twice" },
			{ "vm uuid=00000000-0000-0000-0000-000000000002 name=b home=hv2 host=hv2 "
			  "copied_on=hv1\n",
			  ":7: vm 00000000-0000-0000-0000-000000000002: copied_on=hv1 copied=: "
			  "expected",
			  "copied_on without copied" },
			{ "vm uuid=00000000-0000-0000-0000-000000000002 name=b home=hv2 host=hv2 "
			  "copied=/x.img\n",
			  ":7: vm 00000000-0000-0000-0000-000000000002: copied_on= copied=/x.img: "
			  "expected",
			  "copied without copied_on" },
			{ "vm uuid=not-a-uuid name=b home=hv2 host=hv2\n",
			  ":7: vm: uuid=not-a-uuid", "a bad UUID" },
			{ "snapshot x\n", ":7: unknown record 'snapshot'", "an unknown record" },
			{ "vm uuid=00000000-0000-0000-0000-000000000002 name=b home=hv2 host=hv2 "
			  "recorded=1\n",
			  ":7: vm: recorded=1", "recorded=1" },
			{ "vm uuid=00000000-0000-0000-0000-000000000002 name=b home=hv2 host=hv2 "
			  "recorded=0\nvm uuid=00000000-0000-0000-0000-000000000003 name=c "
			  "home=hv2 "
			  "host=hv2\n",
			  ":8: vm: a recorded VM after one that is not",
			  "a recorded VM after a new one" },
			{ "failure host=hv2 step=reboot error=x\n", ":7: failure: unknown step",
			  "an unknown step" },
			{ "vm uuid=00000000-0000-0000-0000-000000000002 name=b home=hv2 host=- "
			  "shut=-\n",
			  ":7: vm 00000000-0000-0000-0000-000000000002: shut=-",
			  "shut= not a host" },
			{ "vm uuid=00000000-0000-0000-0000-000000000002 name=b home=hv2 host=- "
			  "shut=hv9\n",
			  ":7: names a host that is not in the inventory: shut=hv9",
			  "shut= an unknown host" },
			{ "vm uuid=00000000-0000-0000-0000-000000000002 name=b home=hv2 host=hv2",
			  ":7: the last line has no newline", "a file cut short mid-line" },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char t[2048];

			snprintf(t, sizeof(t), "%s%s", hdr, cases[i].add);
			r = load_text(dir, inv, t, strlen(t), err);
			snprintf(t, sizeof(t), "state unit: %s is an error naming file:line",
				 cases[i].what);
			ok(r == -EINVAL && strstr(err, "st-text") && strstr(err, cases[i].want), t);
			if (!strstr(err, cases[i].want))
				printf("# got: %s\n", err);
		}
	}
	{
		char t[2048];
		const char *cut = strstr(hdr, "result");

		snprintf(t, sizeof(t), "%.*s", (int)(cut - hdr), hdr);
		r = load_text(dir, inv, t, strlen(t), err);
		ok(r == -EINVAL && strstr(err, "no 'result' record"),
		   "state unit: a state cut before its result is an error, not 'planned'");
		snprintf(t, sizeof(t), "%s", hdr);
		t[strlen(hdr) - 20] = 0; /* NUL in the vm line (line 6) */
		r = load_text(dir, inv, t, strlen(hdr), err);
		ok(r == -EINVAL && strstr(err, "st-text:6: a NUL byte"),
		   "state unit: a NUL byte is an error naming file:line");
		snprintf(t, sizeof(t), "%s", inv_ok);
		t[strlen(inv_ok) - 10] = 0;
		write_file(inv, t, strlen(inv_ok));
		fleet_init(&g);
		r = fleet_inventory_load(&g, inv, err, sizeof(err));
		ok(r == -EINVAL && strstr(err, "/inv:8: a NUL byte"),
		   "inventory unit: a NUL byte is an error naming file:line");
		if (!strstr(err, "/inv:8: a NUL byte"))
			printf("# got: %s\n", err);
		fleet_free(&g);
		bad("host name=a uri=x exec=\"y\\x00\" upgrade=z\n", "inv:1: \\x00",
		    "inventory unit: \\x00 in a value is an error");
	}
	fleet_free(&f);
	snprintf(err, sizeof(err), "rm -rf '%s'", dir);
	if (system(err))
		ok(0, "cleanup");
}

/* Item 3: a save that fails leaves the last state whole and says so (-errno). */
static void test_state_save_fails(void)
{
	struct fleet f = { 0 };
	char err[256] = "", dir[] = "/tmp/ekvm-fleet-unit.XXXXXX", path[128], before[4096];
	const char *now;
	struct stat sb;
	int r;

	if (!mkdtemp(dir)) {
		ok(0, "state unit: temporary folder");
		return;
	}
	fleet_init(&f);
	r = parse(&f, inv_ok, err);
	snprintf(f.state_path, sizeof(f.state_path), "%s/state", dir);
	snprintf(f.result, sizeof(f.result), "running");
	r = r ?: fleet_state_save(&f);
	snprintf(path, sizeof(path), "%s/state.tmp", dir);
	ok(r == 0 && stat(path, &sb) && errno == ENOENT,
	   "state unit: saved through STATE.tmp, which is gone after the rename");
	now = read_file(f.state_path);
	snprintf(before, sizeof(before), "%s", now ? now : "");
	mkdir(path, 0755); /* STATE.tmp cannot be opened for writing */
	snprintf(f.result, sizeof(f.result), "done");
	r = fleet_state_save(&f);
	now = read_file(f.state_path);
	ok(r == -EISDIR && now && !strcmp(now, before),
	   "state unit: a save that cannot write fails (-errno), the last state stays whole");
	rmdir(path);
	snprintf(path, sizeof(path), "%s/file", dir);
	write_file(path, "x", 1);
	snprintf(f.state_path, sizeof(f.state_path), "%s/file/state", dir);
	r = fleet_state_save(&f);
	ok(r == -ENOTDIR, "state unit: a state path under a file fails (-ENOTDIR)");
	snprintf(path, sizeof(path), "%s/file/log", dir);
	ok(fleet_log_check(path) == -ENOTDIR, "log unit: an unwritable log path is an error");
	snprintf(path, sizeof(path), "%s/log", dir);
	ok(fleet_log_check(path) == 0 && stat(path, &sb) == 0,
	   "log unit: a writable log path is created");
	fleet_free(&f);
	snprintf(err, sizeof(err), "rm -rf '%s'", dir);
	if (system(err))
		ok(0, "cleanup");
}

static void test_exec(void)
{
	char out[16];
	int r;

	ok(fleet_exec("sh -c", "echo hi; exit 3", 10, out, sizeof(out)) == 3 &&
		   !strcmp(out, "hi\n"),
	   "exec: exit status and output");
	r = fleet_exec("sh -c", "echo 0123456789abcdefghij", 10, out, sizeof(out));
	ok(r == 0 && !strcmp(out, "6789abcdefghij\n"), "exec: the end of long output is kept");
	ok(fleet_exec("sh -c", "sleep 5", 1, out, sizeof(out)) == 124, "exec: timeout kills, 124");
	ok(fleet_exec("/nonexistent/prefix", "true", 5, out, sizeof(out)) == 127,
	   "exec: a prefix that does not run is 127");
	ok(fleet_exec("", "true", 5, out, sizeof(out)) == -EINVAL, "exec: empty prefix");
}

/*
 * The migration policy (fleet-migrate.c, docs/fleet.md "Migration policy"), with fakes in
 * place of libvirt: the flags, the timeouts, the decision fed sequences of job statistics, the
 * order migrations start in under per-host limits and the destination of a retry.
 */
/* A fleet of n hosts h0..h(n-1), reachable, 8 GiB free each, with the policy's defaults. */
static void policy_fleet(struct fleet *f, int n)
{
	char inv[2048] = "fleet upgrade=true\n", line[160];

	for (int h = 0; h < n; h++) {
		snprintf(line, sizeof(line), "host name=h%d uri=test:///h%d exec=\"sh -c\"\n", h,
			 h);
		strcat(inv, line);
	}
	fleet_init(f);
	if (fleet_inventory_parse(f, inv, "inv", line, sizeof(line)))
		printf("# inventory: %s\n", line); /* the tests fail then */
	fleet_policy_defaults(f);
	for (int h = 0; h < f->nr_hosts; h++) {
		f->hosts[h].reachable = true;
		f->hosts[h].avail_kib = 8ULL << 20;
	}
}

static void test_policy_flags(void)
{
	struct fleet f;
	const unsigned int base = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER |
				  VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE |
				  VIR_MIGRATE_ABORT_ON_ERROR;
	unsigned int fl;

	policy_fleet(&f, 2);
	fl = fleet_migrate_flags(&f);
	ok(fl == (base | VIR_MIGRATE_TLS | VIR_MIGRATE_AUTO_CONVERGE),
	   "policy unit: default flags are live, peer2peer, persist, undefine source, abort on "
	   "error, TLS and auto-converge; no post-copy, no parallel");
	f.insecure = true;
	fl = fleet_migrate_flags(&f);
	ok(!(fl & VIR_MIGRATE_TLS) && (fl & VIR_MIGRATE_AUTO_CONVERGE),
	   "policy unit: --insecure-migration drops TLS only");
	f.insecure = false;
	f.no_auto_converge = true;
	f.postcopy_after_s = 60;
	f.parallel_conns = 4;
	fl = fleet_migrate_flags(&f);
	ok(fl == (base | VIR_MIGRATE_TLS | VIR_MIGRATE_POSTCOPY | VIR_MIGRATE_PARALLEL),
	   "policy unit: --no-auto-converge, --postcopy-after, --parallel-connections");
	ok(fleet_migrate_timeout(&f, 4ULL << 20) == 300 + 4 * 150 &&
		   fleet_migrate_timeout(&f, 512ULL << 10) == 300 + 75,
	   "policy unit: completion timeout is timeout + per GiB of guest memory");
	f.timeout_per_gib_s = 0;
	f.timeout_s = 2;
	ok(fleet_migrate_timeout(&f, 64ULL << 20) == 2,
	   "policy unit: --timeout-per-gib 0: -t alone");
	fleet_free(&f);
}

/* Feeds (second, remaining MiB) samples, one a second from `from` to `to`, remaining given by
 * rem(t); returns the first action other than MIG_WAIT/MIG_DOWNTIME and when, in *at. */
static enum fleet_mig_act feed(struct fleet_mig_watch *w, const struct fleet *f, int from, int to,
			       long long (*rem)(int t), int *at)
{
	for (int t = from; t <= to; t++) {
		long long r = rem(t);
		enum fleet_mig_act a = fleet_migrate_decide(
			w, f, t, r >= 0, r >= 0 ? (unsigned long long)r << 20 : 0);

		if (a != MIG_WAIT && a != MIG_DOWNTIME) {
			*at = t;
			return a;
		}
	}
	*at = -1;
	return MIG_WAIT;
}

/* falls 10 MiB a second to 510 MiB at 49 s, then flat at 500 MiB from 50 s (dirtying as fast
 * as it sends): the last progress is at 50 s */
static long long rem_stalls(int t)
{
	return t < 50 ? 1000 - 10 * t : 500;
}

/* falls to 600 MiB at 40 s, then a new iteration every 20 s: up again, never below 600 */
static long long rem_iterates(int t)
{
	return t < 40 ? 1000 - 10 * t : 600 + 10 * (t % 20);
}

/* steady progress, slow: never stalls */
static long long rem_steady(int t)
{
	return 1000000 - t;
}

/* no statistics: libvirt still setting up the destination */
static long long rem_none(int t)
{
	(void)t;
	return -1;
}

static void test_policy_progress(void)
{
	struct fleet_mig_watch w;
	struct fleet f;
	int at;
	enum fleet_mig_act a;

	policy_fleet(&f, 2);
	f.progress_timeout_s = 30;
	f.abort_timeout_s = 10;
	fleet_migrate_watch_init(&w, &f, 1ULL << 20, 0); /* timeout 450 s */
	a = feed(&w, &f, 0, 200, rem_stalls, &at);
	ok(a == MIG_ABORT_STALLED && at == 80,
	   "policy unit: no progress for the progress timeout: abort (stalled)");
	ok(w.low == 500ULL << 20, "policy unit: progress is data remaining below its lowest");
	a = feed(&w, &f, at + 1, at + 9, rem_stalls, &at);
	ok(a == MIG_WAIT, "policy unit: after the abort, wait for it to end");
	a = feed(&w, &f, 80, 100, rem_stalls, &at);
	ok(a == MIG_STUCK && at == 90,
	   "policy unit: an abort that does not end the job in the abort timeout: stuck");
	a = feed(&w, &f, 90, 1000, rem_stalls, &at);
	ok(a == MIG_WAIT, "policy unit: stuck is said once");

	fleet_migrate_watch_init(&w, &f, 1ULL << 20, 0);
	a = feed(&w, &f, 0, 200, rem_iterates, &at);
	ok(a == MIG_ABORT_STALLED && at == 70,
	   "policy unit: remaining going up again (a new iteration) is no progress");

	fleet_migrate_watch_init(&w, &f, 1ULL << 20, 0);
	a = feed(&w, &f, 0, 1000, rem_steady, &at);
	ok(a == MIG_ABORT_TIMEOUT && at == 450,
	   "policy unit: steady progress, but past the completion timeout: abort (timeout)");

	fleet_migrate_watch_init(&w, &f, 1ULL << 20, 0);
	a = feed(&w, &f, 0, 1000, rem_none, &at);
	ok(a == MIG_ABORT_STALLED && at == 30,
	   "policy unit: no statistics (never started sending) counts as no progress");

	f.progress_timeout_s = 0;
	fleet_migrate_watch_init(&w, &f, 1ULL << 20, 0);
	a = feed(&w, &f, 0, 1000, rem_stalls, &at);
	ok(a == MIG_ABORT_TIMEOUT && at == 450,
	   "policy unit: --progress-timeout 0: only the completion timeout");
	fleet_free(&f);
}

static void test_policy_postcopy(void)
{
	struct fleet_mig_watch w;
	struct fleet f;
	int at;
	enum fleet_mig_act a;

	policy_fleet(&f, 2);
	f.progress_timeout_s = 30;
	f.postcopy_after_s = 20;
	fleet_migrate_watch_init(&w, &f, 1ULL << 20, 0);
	a = feed(&w, &f, 0, 1000, rem_steady, &at);
	ok(a == MIG_POSTCOPY && at == 20 && w.postcopy, "policy unit: post-copy after SEC s");
	a = feed(&w, &f, 21, 1000, rem_steady, &at);
	ok(a == MIG_WAIT,
	   "policy unit: in post-copy no abort, not even past the completion timeout");
	a = feed(&w, &f, 1001, 1100, rem_stalls, &at);
	ok(a == MIG_STUCK && at == 1031,
	   "policy unit: post-copy without progress for the progress timeout: stuck");

	f.postcopy_after_s = 1000; /* later than the timeout: the timeout switches instead */
	fleet_migrate_watch_init(&w, &f, 1ULL << 20, 0);
	a = feed(&w, &f, 0, 1000, rem_stalls, &at);
	ok(a == MIG_POSTCOPY && at == 80,
	   "policy unit: with post-copy allowed a stall switches to it instead of aborting");
	fleet_migrate_watch_init(&w, &f, 1ULL << 20, 0);
	a = feed(&w, &f, 0, 1000, rem_none, &at);
	ok(a == MIG_ABORT_STALLED && !w.postcopy,
	   "policy unit: no post-copy before the job sends (no statistics): abort");
	fleet_free(&f);
}

static void test_policy_downtime(void)
{
	struct fleet_mig_watch w;
	struct fleet f;
	unsigned int seen[16], n = 0;
	int t;

	policy_fleet(&f, 2);
	f.progress_timeout_s = 0;
	fleet_migrate_watch_init(&w, &f, 0, 0); /* timeout 300 s: a step every 30 s */
	ok(fleet_migrate_decide(&w, &f, 0, false, 0) == MIG_WAIT,
	   "policy unit: no downtime set before the job runs");
	for (t = 1; t < 300 && n < 16; t++)
		if (fleet_migrate_decide(&w, &f, t, true, 1000ULL << 20) == MIG_DOWNTIME)
			seen[n++] = w.downtime_ms * 1000 + (unsigned int)t;
	ok(n == FLEET_DOWNTIME_STEPS + 1 && seen[0] == 300 * 1000 + 1 &&
		   seen[1] == 340 * 1000 + 30 && seen[n - 1] == 500 * 1000 + 150,
	   "policy unit: max downtime 300 ms once the job runs, stepped to 500 ms by half the "
	   "timeout");
	f.downtime_ms = 0;
	fleet_migrate_watch_init(&w, &f, 0, 0);
	for (t = 1, n = 0; t < 299; t++)
		n += fleet_migrate_decide(&w, &f, t, true, 1000ULL << 20) == MIG_DOWNTIME;
	ok(n == 0, "policy unit: --max-downtime 0 leaves libvirt's");
	f.downtime_ms = 100; /* below the start value: it is the start and the end */
	fleet_migrate_watch_init(&w, &f, 0, 0);
	fleet_migrate_decide(&w, &f, 1, true, 1);
	ok(w.downtime_ms == 100, "policy unit: a max below 300 ms starts there");
	fleet_free(&f);
}

static void test_policy_next(void)
{
	struct fleet f;
	int vms[4], from_n[4] = { 0 }, to_n[4] = { 0 };
	bool started[4] = { false };

	policy_fleet(&f, 4);
	/* VMs 0, 1, 2 on h0 to h2, h2, h3; VM 3 on h1 to h2 */
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000001", "a", 0, 1 << 20);
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000002", "b", 0, 1 << 20);
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000003", "c", 0, 1 << 20);
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000004", "d", 1, 1 << 20);
	f.vms[0].dest = 2;
	f.vms[1].dest = 2;
	f.vms[2].dest = 3;
	f.vms[3].dest = 2;
	for (int i = 0; i < 4; i++)
		vms[i] = i;
	ok(fleet_migrate_next(&f, vms, started, 4, from_n, to_n) == 0,
	   "policy unit: next: in order when nothing limits");
	f.max_per_source = 1;
	from_n[0] = 1;
	ok(fleet_migrate_next(&f, vms, started, 4, from_n, to_n) == 3,
	   "policy unit: next: --max-per-source skips a busy source");
	f.max_per_source = 0;
	f.max_per_dest = 1;
	from_n[0] = 0;
	to_n[2] = 1;
	ok(fleet_migrate_next(&f, vms, started, 4, from_n, to_n) == 2,
	   "policy unit: next: --max-per-dest skips a busy destination");
	f.max_per_source = 1;
	from_n[0] = 1;
	ok(fleet_migrate_next(&f, vms, started, 4, from_n, to_n) == -1,
	   "policy unit: next: none may start");
	started[2] = true;
	from_n[0] = to_n[2] = 0;
	ok(fleet_migrate_next(&f, vms, started, 4, from_n, to_n) == 0,
	   "policy unit: next: started ones are skipped");
	fleet_free(&f);
}

static bool not_h3(struct fleet *f, int vm, int host)
{
	(void)f;
	(void)vm;
	return host != 3;
}

static void test_policy_retry(void)
{
	struct fleet f;
	int batch_of[5] = { 0, 1, 1, 1, 1 };
	bool tried[5] = { false };
	int d;

	policy_fleet(&f, 5);
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000001", "a", 0, 2ULL << 20);
	f.vms[0].dest = 1;
	tried[1] = true; /* its migration to h1 failed */
	f.hosts[2].avail_kib = 4ULL << 20;
	f.hosts[3].avail_kib = 16ULL << 20;
	f.hosts[4].avail_kib = 6ULL << 20;
	d = fleet_retry_dest(&f, 0, batch_of, 0, tried, NULL);
	ok(d == 3 && f.hosts[3].planned_kib == (2ULL << 20) + (64 << 10),
	   "policy unit: retry: another destination, the most room first, its room taken");
	f.hosts[3].planned_kib = 0;
	tried[3] = true;
	d = fleet_retry_dest(&f, 0, batch_of, 0, tried, NULL);
	ok(d == 4, "policy unit: retry: never a destination already tried");
	f.hosts[4].planned_kib = 0;
	tried[3] = false;
	d = fleet_retry_dest(&f, 0, batch_of, 0, tried, not_h3);
	ok(d == 4, "policy unit: retry: the same CPU check as the plan");
	f.hosts[4].planned_kib = 0;
	f.hosts[4].status = HOST_FAILED;
	f.hosts[3].reachable = false;
	d = fleet_retry_dest(&f, 0, batch_of, 0, tried, NULL);
	ok(d == 2, "policy unit: retry: not an unreachable or failed host");
	f.hosts[2].avail_kib = 2ULL << 20; /* less the 256 MiB reserve: too small */
	d = fleet_retry_dest(&f, 0, batch_of, 0, tried, NULL);
	ok(d == -1, "policy unit: retry: none with room: -1 (the rollout halts)");
	batch_of[2] = 0;
	f.hosts[2].avail_kib = 64ULL << 20;
	d = fleet_retry_dest(&f, 0, batch_of, 0, tried, NULL);
	ok(d == -1, "policy unit: retry: never a host of the batch");
	batch_of[2] = 1;
	f.hosts[3].reachable = true;
	f.hosts[2].huge_free_kib = 4ULL << 20;
	f.vms[0].traits = VM_HUGEPAGES;
	d = fleet_retry_dest(&f, 0, batch_of, 0, tried, NULL);
	ok(d == 2 && f.hosts[2].planned_huge_kib == 2ULL << 20,
	   "policy unit: retry: a hugepage-backed VM goes where its hugepages are free");
	fleet_free(&f);
}

static void test_policy(void)
{
	test_policy_flags();
	test_policy_progress();
	test_policy_postcopy();
	test_policy_downtime();
	test_policy_next();
	test_policy_retry();
}

/*
 * Issue 16, limits and what cannot move: no cap on VMs or hosts, long names said, a VM's
 * definition read for host devices, local disks and memory backing, policies, pinned hosts,
 * hugepage placement, MemAvailable.
 */
static void test_limits(void)
{
	struct fleet f = { 0 };
	char uuid[40], name[2100], err[256], *inv;
	size_t len = 0;
	int r, bad = 0;

	fleet_init(&f);
	for (int i = 0; i < 5000; i++) {
		snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012d", i);
		snprintf(name, sizeof(name), "vm%d", i);
		bad += fleet_vm_add(&f, uuid, name, i % 4, 1024) != i;
	}
	for (int i = 0; i < 5000; i += 499)
		bad += f.vms[i].home != i % 4 || atoi(f.vms[i].name + 2) != i;
	ok(!bad && f.nr_vms == 5000 && fleet_vm_find(&f, uuid) == 4999,
	   "limits unit: 5000 VMs added, none dropped (the cap was 4096)");
	memset(name, 'n', 2000);
	name[2000] = 0;
	r = fleet_vm_add(&f, "00000000-0000-4000-8000-999999999999", name, 0, 0);
	ok(r == 5000 && f.vms[r].name_cut && strlen(f.vms[r].name) == FLEET_VM_NAME - 1 &&
		   !strcmp(f.vms[r].name + FLEET_VM_NAME - 4, "..."),
	   "limits unit: a name longer than 1023 bytes is kept cut and flagged (name_cut)");
	name[500] = 0;
	r = fleet_vm_add(&f, "00000000-0000-4000-8000-999999999998", name, 0, 0);
	ok(r == 5001 && !f.vms[r].name_cut && strlen(f.vms[r].name) == 500,
	   "limits unit: a 500-byte name is kept whole (it was cut at 127)");
	fleet_free(&f);
	inv = malloc(300 * 80 + 100);
	if (!inv) {
		ok(0, "limits unit: memory");
		return;
	}
	len = (size_t)sprintf(inv, "fleet upgrade=x exec=\"sh -c\"\n");
	for (int i = 0; i < 300; i++)
		len += (size_t)sprintf(inv + len, "host name=h%d uri=test:///h%d\n", i, i);
	fleet_init(&f);
	r = fleet_inventory_parse(&f, inv, "inv", err, sizeof(err));
	ok(r == 0 && f.nr_hosts == 300 && !strcmp(f.hosts[299].name, "h299") &&
		   !strcmp(f.hosts[0].exec, "sh -c"),
	   "limits unit: an inventory of 300 hosts (the cap was 256)");
	if (r)
		printf("# %s\n", err);
	fleet_free(&f);
	free(inv);
}

static const char inv_policy[] =
	"fleet upgrade=x exec=\"sh -c\" shared_storage=/mnt/nfs\n"
	"fleet connect_timeout=3\n"
	"host name=a uri=test:///a shared_storage=/srv/a\n"
	"host name=b uri=test:///b meminfo_cmd=\"cat /x\"\n"
	"vm name=gpu policy=pin\n"
	"vm uuid=00000000-0000-4000-8000-000000000002 policy=copy-storage\n";

static void test_policy_inventory(void)
{
	struct fleet f = { 0 };
	char err[256];
	int r = parse(&f, inv_policy, err);

	ok(r == 0 && f.nr_shared == 2 && f.shared[0].host == -1 && f.shared[1].host == 0 &&
		   !strcmp(f.shared[1].prefix, "/srv/a") && f.nr_policies == 2 &&
		   f.policies[0].policy == POLICY_PIN &&
		   f.policies[1].policy == POLICY_COPY_STORAGE &&
		   !strcmp(f.hosts[1].meminfo_cmd, "cat /x") && f.connect_timeout_s == 3,
	   "vm policy unit: shared_storage (fleet, host), vm lines, meminfo_cmd, connect_timeout");
	if (r)
		printf("# %s\n", err);
	fleet_free(&f);
	bad("host name=a uri=x exec=y upgrade=z\nvm name=v policy=evict\n",
	    "inv:2: policy=evict: expected migrate, copy-storage, shutdown or pin",
	    "vm policy unit: an unknown policy");
	bad("host name=a uri=x exec=y upgrade=z\nvm name=v\n",
	    "inv:2: vm v without policy=", "vm policy unit: a vm line without policy");
	bad("vm name=v policy=pin\nvm name=v policy=migrate\n",
	    "inv:2: vm v is listed twice (line 1)", "vm policy unit: a VM listed twice");
	bad("fleet shared_storage=mnt\n", "inv:1: shared_storage=mnt: expected an absolute path",
	    "vm policy unit: a relative shared_storage");
	bad("fleet connect_timeout=0\n", "connect_timeout=0: expected a number from 1 to 3600",
	    "vm policy unit: connect_timeout=0");
}

static const char dom_xml[] =
	"<domain type='kvm'><name>x</name><memoryBacking><hugepages/>"
	"<source type='memfd'/></memoryBacking><devices>"
	"<disk type='file' device='disk'><driver name='qemu'/>"
	"<source file='/var/lib/libvirt/images/a&amp;b.qcow2'/><target dev='vda'/></disk>\n"
	"<disk type='file' device='disk'><source file=\"/mnt/nfs/x.qcow2\"/></disk>\n"
	"<disk type='file' device='disk'><source file='/mnt/nfs2/y.qcow2'/></disk>\n"
	"<disk type='file' device='cdrom'><target dev='sda'/></disk>\n"
	"<disk type='block' device='disk'><source dev='/dev/sdb'/></disk>\n"
	"<disk type='network' device='disk'><source protocol='rbd' name='p/i'/></disk>\n"
	"<disk type='volume' device='disk'><source pool='shared' volume='v1'/></disk>\n"
	"<disk type='file' device='disk'><source file='/srv/a/z.img'/></disk>\n"
	"<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' "
	"bus='0x03' slot='0x1f' function='0x2'/></source></hostdev>"
	"</devices></domain>";

static void test_vm_xml(void)
{
	struct fleet f = { 0 };
	struct fleet_vm v = { 0 };
	char err[256], why[FLEET_ERR];

	parse(&f, inv_policy, err);
	fleet_vm_xml(&f, &v, 1, dom_xml);
	/* local on host b: images/a&b, /mnt/nfs2 (not /mnt/nfs), /dev/sdb, pool:shared/v1,
	 * /srv/a (host a's share only) */
	ok(v.traits == (VM_HOSTDEV | VM_LOCAL_DISK | VM_HUGEPAGES | VM_SHARED_MEM) &&
		   v.nr_local_disks == 5 &&
		   !strcmp(v.local_disk, "/var/lib/libvirt/images/a&b.qcow2") &&
		   !strcmp(v.hostdev, "pci 0000:03:1f.2"),
	   "xml unit: hostdev with its address, local disks (entities, path boundaries, per-host "
	   "shares, volumes, no empty CD-ROM, no network disk), hugepages, memfd");
	if (v.nr_local_disks != 5)
		printf("# %d local disks, first %s, traits %#x\n", v.nr_local_disks, v.local_disk,
		       v.traits);
	fleet_vm_xml(&f, &v, 0, dom_xml);
	ok(v.nr_local_disks == 4, "xml unit: a host's own shared_storage counts on that host");
	fleet_vm_xml(&f, &v, 0,
		     "<domain><devices><interface type='hostdev'><source/></interface>"
		     "</devices><cpu><numa><cell id='0' memory='1' memAccess='shared'/></numa>"
		     "</cpu></domain>");
	ok(v.traits == (VM_HOSTDEV | VM_SHARED_MEM),
	   "xml unit: an SR-IOV interface is a host device; memAccess='shared' is shared memory");
	fleet_vm_xml(&f, &v, 0,
		     "<domain><devices><disk type='file'><source file='/mnt/nfs/a'/>"
		     "</disk></devices></domain>");
	ok(v.traits == 0, "xml unit: a VM on shared storage only has nothing to report");

	/* movable under each policy */
	v.traits = VM_HOSTDEV;
	snprintf(v.hostdev, sizeof(v.hostdev), "pci 0000:03:00.0");
	v.policy = POLICY_MIGRATE;
	ok(fleet_vm_movable(&f, &v, why, sizeof(why)) == -EPERM && strstr(why, "0000:03:00.0"),
	   "movable unit: a host device cannot migrate");
	v.policy = POLICY_PIN;
	ok(fleet_vm_movable(&f, &v, why, sizeof(why)) == 0, "movable unit: pinned, it stays");
	v.policy = POLICY_SHUTDOWN;
	{
		struct fleet g;

		fleet_init(&g);
		ok(g.can_shutdown && g.shutdown_timeout_s == 300 && !g.shutdown_force,
		   "movable unit: this rollout shuts VMs down (shutdown_timeout 300 s, no "
		   "force)");
		fleet_free(&g);
	}
	f.can_shutdown = false;
	ok(fleet_vm_movable(&f, &v, why, sizeof(why)) == -EPERM && strstr(why, "cannot shut"),
	   "movable unit: policy shutdown refused while the rollout cannot do it");
	f.can_shutdown = true;
	ok(fleet_vm_movable(&f, &v, why, sizeof(why)) == 0,
	   "movable unit: policy shutdown once the rollout can");
	v.transient = true;
	ok(fleet_vm_movable(&f, &v, why, sizeof(why)) == -EPERM && strstr(why, "transient"),
	   "movable unit: policy shutdown refused for a transient VM (it would vanish)");
	v.transient = false;
	v.traits = VM_LOCAL_DISK;
	v.nr_local_disks = 1;
	snprintf(v.local_disk, sizeof(v.local_disk), "/var/lib/x.img");
	v.policy = POLICY_MIGRATE;
	ok(fleet_vm_movable(&f, &v, why, sizeof(why)) == -EPERM && strstr(why, "/var/lib/x.img") &&
		   strstr(why, "shared_storage"),
	   "movable unit: a local disk without copy-storage cannot migrate, the disk named");
	v.policy = POLICY_COPY_STORAGE;
	ok(f.can_copy_storage && fleet_vm_movable(&f, &v, why, sizeof(why)) == 0,
	   "movable unit: copy-storage moves a VM with local disks (the rollout copies them)");
	f.can_copy_storage = false;
	ok(fleet_vm_movable(&f, &v, why, sizeof(why)) == -EPERM && strstr(why, "cannot copy"),
	   "movable unit: copy-storage refused by a rollout that cannot copy storage");
	fleet_free(&f);
}

static void test_pin_place(void)
{
	struct fleet f = { 0 };
	char err[256];
	int order[8], batch_of[8], nb, unplaced;

	parse(&f, inv_ok, err);
	for (int h = 0; h < f.nr_hosts; h++) {
		f.hosts[h].reachable = true;
		f.hosts[h].avail_kib = 4ULL << 20;
	}
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000001", "gpu", 0, 1ULL << 20);
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000002", "huge", 3, 1ULL << 20);
	fleet_vm_add(&f, "00000000-0000-0000-0000-000000000003", "off", 3, 1ULL << 20);
	f.vms[0].policy = POLICY_PIN;
	f.vms[1].traits = VM_HUGEPAGES;
	f.vms[2].policy = POLICY_SHUTDOWN;
	ok(fleet_pin_hosts(&f) == 1 && f.hosts[0].pinned && !strcmp(f.hosts[0].pin_vm, "gpu"),
	   "pin unit: the host of a pinned VM is pinned, the VM named");
	nb = fleet_batches(&f, order, batch_of);
	/* hv1 pinned: hv2 (batch=2)... no: the canary is hv2, then batch=1 hv3, hv4, hv5 */
	ok(nb == 4 && order[0] == 1 && batch_of[0] == -1 && order[4] == 0 && batch_of[1] == 0,
	   "pin unit: a pinned host is in no batch, the next host is the canary");
	f.hosts[1].huge_free_kib = 512ULL << 10; /* too few */
	f.hosts[2].huge_free_kib = 2ULL << 20;
	unplaced = fleet_place(&f, batch_of, batch_of[3], NULL);
	ok(unplaced == 0 && f.vms[1].dest == 2 && f.hosts[2].planned_huge_kib == 1ULL << 20 &&
		   f.vms[2].dest == -1,
	   "place unit: a hugepage VM goes where hugepages are free; a shutdown VM is not placed");
	f.hosts[2].huge_free_kib = 0;
	unplaced = fleet_place(&f, batch_of, batch_of[3], NULL);
	ok(unplaced == 1 && strstr(f.vms[1].error, "free hugepages"),
	   "place unit: no free hugepages anywhere: unplaced, said");
	fleet_free(&f);
}

/* The health gate pings the guest agent only when libvirt says it is connected. */
static void test_agent_xml(void)
{
	static const char on[] =
		"<domain><devices><channel type='unix'><source mode='bind'/>"
		"<target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>"
		"</channel></devices></domain>";
	static const char off[] =
		"<domain><devices><channel type='unix'>"
		"<target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/>"
		"</channel></devices></domain>";
	static const char other[] =
		"<domain><devices><channel type='spicevmc'>"
		"<target type='virtio' name='com.redhat.spice.0' state='connected'/></channel>"
		"<serial><target port='0'/></serial></devices></domain>";

	ok(fleet_xml_agent_connected(on), "agent unit: a connected guest agent channel is seen");
	ok(!fleet_xml_agent_connected(off) && !fleet_xml_agent_connected(other) &&
		   !fleet_xml_agent_connected("<domain/>") &&
		   !fleet_xml_agent_connected("<target "),
	   "agent unit: disconnected, another channel, none, a cut element: no agent to ping");
}

static void test_meminfo(void)
{
	/* 1 GiB free, 6 GiB cached of which 5 GiB shmem (memfd guests): MemAvailable 1.5 GiB */
	static const char mi[] = "MemTotal:       16384000 kB\n"
				 "MemFree:         1048576 kB\n"
				 "MemAvailable:    1572864 kB\n"
				 "Buffers:           10000 kB\n"
				 "Cached:          6291456 kB\n"
				 "Shmem:           5242880 kB\n"
				 "HugePages_Total:     512\n"
				 "HugePages_Free:      256\n"
				 "Hugepagesize:       2048 kB\n";
	uint64_t avail = 0, huge = 0;

	ok(fleet_meminfo_parse(mi, &avail, &huge) == 0 && avail == 1572864 && huge == 256 * 2048,
	   "meminfo unit: MemAvailable (not free + buffers + cached), free hugepages");
	ok(fleet_meminfo_parse("MemFree: 1 kB\n", &avail, &huge) == -ENOENT,
	   "meminfo unit: no MemAvailable is an error");
}

static void test_preflight_unit(void)
{
	test_limits();
	test_policy_inventory();
	test_vm_xml();
	test_pin_place();
	test_meminfo();
	test_agent_xml();
}

int main(void)
{
	test_words();
	test_inventory();
	test_batches();
	test_place();
	test_state();
	test_words_boundary();
	test_words_boundary_files();
	test_quote_roundtrip();
	test_state_strict();
	test_state_save_fails();
	test_exec();
	test_preflight_unit();
	test_policy();
	printf("# fleet unit: %d tests, %d failed\n", tests, failures);
	return failures != 0;
}

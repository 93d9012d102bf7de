// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of ekvm fleet's parts that need no libvirt daemon: the words of its files, the
 * inventory, batches, placement, the state file and running commands. ASan/UBSan, TAP-like.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	printf("# fleet unit: %d tests, %d failed\n", tests, failures);
	return failures != 0;
}

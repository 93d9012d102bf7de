// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of ekvm fleet's parts that need no libvirt daemon: the words of its files, the
 * inventory, batches, placement, the state file and running commands. ASan/UBSan, TAP-like.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	test_exec();
	printf("# fleet unit: %d tests, %d failed\n", tests, failures);
	return failures != 0;
}

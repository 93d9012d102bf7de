// SPDX-License-Identifier: GPL-2.0-only
/*
 * ekvm-fleet: the fleet controller, `ekvm fleet` (cmd-fleet.c). A program of its own because
 * it links libvirt (58 shared libraries, ~14 ms of CPU at every start) and the rest of ekvm
 * does not: ekvm runs it (cmd-fleet-exec.c) from $EKVM_EXEC_PATH, its own folder or
 * LIBEXECDIR. Its arguments are those after `ekvm fleet`; its messages, help and exit codes
 * are ekvm fleet's.
 */
#include "ekvm.h"
#include "out.h"

static const struct ekvm_cmd fleet_cmd = {
	.name = "fleet",
	.fn = cmd_fleet,
	.summary = EKVM_FLEET_SUMMARY,
	.usage = "plan|rollout|resume|status|abort [-i INVENTORY] [-s STATE] [-l LOG] [-p N] "
		 "[-t SEC] [--bandwidth MIB] [--batch-size N] [--no-return] [--rescan] "
		 "[--skip-host HOST] [--break-lease] [--leave] [--bake SEC] [--json] "
		 "[migration policy options]",
	.options = "  plan            preflight and the plan: batches, which VM goes where\n"
		   "  rollout         upgrade every host, the canary first (docs/fleet.md)\n"
		   "  resume          continue a halted rollout from its state file\n"
		   "  status          the recorded state and where every VM runs now\n"
		   "  abort           end a halted rollout: VMs home, hosts undrained\n"
		   "  -i, --inventory FILE  the fleet's hosts (plan, rollout)\n"
		   "  -s, --state FILE      state for resume (default /var/lib/ekvm/fleet/state)\n"
		   "  -l, --log FILE        the action log (default STATE.log)\n"
		   "  -p, --parallel N      migrations at a time (default 2)\n"
		   "  -t, --timeout SEC     abort a migration after SEC seconds plus\n"
		   "                        --timeout-per-gib (default 300)\n"
		   "  --bandwidth MIB       cap each migration at MIB MiB/s\n"
		   "  --batch-size N        hosts a batch after the canary (default 1)\n"
		   "  --no-return           leave the VMs where the evacuation put them\n"
		   "  --rescan              (resume) take the VMs running now as the recorded set\n"
		   "  --skip-host HOST      (resume) leave HOST out of the rest of the rollout\n"
		   "  --break-lease         take over the live leases of another rollout (logged)\n"
		   "  --leave               (abort) leave every VM where it runs\n"
		   "  --connect-timeout SEC a libvirt connection opens within SEC s, else the\n"
		   "                        host is unreachable (default: connect_timeout=, 10)\n"
		   "  --bake SEC            the canary runs SEC s before its health gate\n"
		   "                        (default: inventory bake=, else 0)\n"
		   "  --json                the report as JSON; stderr: one JSON event a line\n"
		   "migration policy (rollout, resume; docs/fleet.md):\n"
		   "  --timeout-per-gib SEC   more timeout a GiB of guest memory (default 150)\n"
		   "  --progress-timeout SEC  abort when data remaining has not fallen in SEC s\n"
		   "                          (default 150, 0 off)\n"
		   "  --abort-timeout SEC     an abort that has not ended the migration in SEC s:\n"
		   "                          the VM is reported stuck, the rollout halts (default "
		   "60)\n"
		   "  --postcopy-after SEC    switch to post-copy after SEC s, or at a timeout\n"
		   "                          instead of aborting (default: never)\n"
		   "  --max-downtime MS       max downtime, stepped up from 300 ms (default 500)\n"
		   "  --parallel-connections N  migrate over N connections (VIR_MIGRATE_PARALLEL)\n"
		   "  --max-per-source N      migrations at a time from one host (default: -p)\n"
		   "  --max-per-dest N        migrations at a time to one host (default: -p)\n"
		   "  --retries N             other destinations a failed migration tries (default "
		   "1)\n"
		   "  --insecure-migration    plain TCP, no TLS (a warning in the log)\n"
		   "  --no-auto-converge      no VIR_MIGRATE_AUTO_CONVERGE\n"
		   "  --serial-upgrades       a batch's hosts upgraded in turn, not at once\n"
		   "exit: 0 done or aborted (status: or nothing recorded), 1 halted (another\n"
		   "  rollout's lease included), 2 bad input or a state\n"
		   "  that does not read back, 4 invariant broken, 5 a host unreachable,\n"
		   "  6 (status) a rollout runs now\n"
};

int main(int argc, char **argv)
{
	/* a failed write to stdout fails, as in ekvm (cmd.c) */
	return out_close_stdout("ekvm fleet", ekvm_run(&fleet_cmd, argc, argv));
}

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ekvm fleet: the model shared by its modules (docs/fleet.md).
 *
 *   fleet-inv.c       the inventory file and the words/quoting of the fleet's text files
 *   fleet-state.c     the state file (for resume) and the action log
 *   fleet-plan.c      batches and where each VM goes (no libvirt: unit-tested)
 *   fleet-exec.c      running a command on a host through its exec prefix
 *   fleet-virt.c      libvirt: hosts, their VMs, memory and CPU
 *   fleet-migrate.c   live migration, bounded, with progress and timeouts
 *   fleet-preflight.c checks before a rollout, and the invariant
 *   fleet-run.c       the rollout: evacuate, upgrade, verify, return, one batch at a time
 *   fleet-report.c    the plan and the report, text or --json
 *
 * Helpers return 0 or -errno and never print, but for the log (fleet_log()), which is the
 * rollout's record of every action.
 */
#ifndef EKVM_FLEET_H
#define EKVM_FLEET_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLEET_NAME 64
#define FLEET_STR 512
#define FLEET_UUID 37
#define FLEET_ERR 512
/* The largest --batch-size / batch_size (hosts and VMs themselves have no fixed cap: the
 * arrays grow) */
#define FLEET_MAX_HOSTS 256
#define FLEET_VM_NAME 1024 /* a longer VM name is kept cut and fails the pre-flight (vm_name) */
#define FLEET_CONNECT_TIMEOUT 10 /* seconds a libvirt connection may take to open */
#define FLEET_KEEPALIVE_INTERVAL 5 /* libvirt keepalive: a probe every 5 s, */
#define FLEET_KEEPALIVE_COUNT 3 /* the connection closed after 3 unanswered */
#define FLEET_AGENT_TIMEOUT 10 /* seconds a guest agent has to answer the health gate's ping */
#define FLEET_LEASE_PATH "/var/lib/ekvm/fleet/lease" /* on each host (fleet-lease.c) */
#define FLEET_LEASE_TTL 3600 /* seconds a lease lives without renewal */

enum host_status {
	HOST_PENDING,
	HOST_DONE,
	HOST_FAILED,
	HOST_SKIPPED, /* resume --skip-host: left out of the rest of the rollout */
};

/* The steps of a host's rollout, in order; a failure names one. */
enum fleet_step {
	STEP_NONE,
	STEP_PREFLIGHT,
	STEP_DRAIN,
	STEP_EVACUATE,
	STEP_UPGRADE,
	STEP_VERIFY,
	STEP_RETURN,
	STEP_UNDRAIN,
	STEP_BAKE, /* the canary's bake time and health gate */
	NR_STEPS,
};

struct fleet_host {
	/* from the inventory */
	char name[FLEET_NAME];
	char uri[FLEET_STR]; /* libvirt URI */
	char exec[FLEET_STR]; /* prefix; the command line follows as one argument */
	char upgrade[FLEET_STR * 2];
	char version[FLEET_NAME]; /* expected KVM version after the upgrade, or "" */
	char version_cmd[FLEET_STR]; /* prints the host's KVM version */
	char smoke_cmd[FLEET_STR];
	char migrate_uri[FLEET_STR]; /* migration data address when it is the destination */
	int batch; /* inventory group, -1 when not given */
	int line;
	/* the rollout */
	enum host_status status;
	enum fleet_step failed_step;
	bool drained; /* drain set by us and not cleared */
	int ekvm; /* 1 ekvm, 0 not ekvm (drain exit 3), -1 unknown */
	char error[FLEET_ERR];
	char found_version[FLEET_NAME];
	double t_total, t_migrate, t_upgrade; /* seconds, this run */
	/* libvirt (fleet-virt.c) */
	void *conn;
	bool reachable;
	char uuid[FLEET_UUID];
	uint64_t avail_kib; /* free + buffers + cached */
	bool mem_estimated; /* no memory statistics: total less the running VMs */
	uint64_t planned_kib; /* placed on it by the plan */
	char cpu_xml[8192]; /* <cpu> of the host's capabilities */
	/* added for issue 16 */
	char meminfo_cmd[FLEET_STR]; /* prints /proc/meminfo there ("" default, see fleet-virt.c) */
	bool meminfo; /* avail_kib is MemAvailable read from the host's /proc/meminfo */
	uint64_t huge_free_kib; /* HugePages_Free x Hugepagesize, from meminfo */
	uint64_t planned_huge_kib; /* hugepages placed on it by the plan */
	bool pinned; /* a VM with policy pin runs on it: the host is skipped */
	char pin_vm[FLEET_STR]; /* the VM that pins it */
	void *opener; /* a connection still opening after its deadline (fleet-virt.c) */
	/* one rollout at a time (fleet-lease.c), ways out (resume --skip-host) */
	char lease[FLEET_STR]; /* the lease file there, "" the fleet's */
	bool leased; /* this rollout holds its lease */
};

/* A VM's policy (inventory `vm name=NAME policy=...`) */
enum vm_policy {
	POLICY_MIGRATE, /* live migration, shared storage (the default) */
	POLICY_COPY_STORAGE, /* live migration copying local disks (VIR_MIGRATE_NON_SHARED_DISK) */
	POLICY_SHUTDOWN, /* clean shutdown before its host's upgrade, started after */
	POLICY_PIN, /* not moved: its host is skipped (stays pending), reported */
};

/* What the pre-flight found in a VM's definition (fleet_vm_xml()) */
enum {
	VM_HOSTDEV = 1 << 0, /* <hostdev>: PCI/USB passthrough, cannot migrate */
	VM_LOCAL_DISK = 1 << 1, /* a file/block/volume disk outside shared_storage */
	VM_HUGEPAGES = 1 << 2, /* <memoryBacking><hugepages/> */
	VM_SHARED_MEM = 1 << 3, /* <source type='memfd'/> or <access mode='shared'/> */
	VM_XML_UNREAD = 1 << 4, /* the definition could not be read */
};

struct fleet_vm {
	char uuid[FLEET_UUID];
	char name[FLEET_VM_NAME];
	int home; /* host it ran on when the rollout began */
	int host; /* host it runs on now; -1 not found; -2 its host is unreachable */
	int dest; /* planned destination, -1 none */
	uint64_t mem_kib;
	char error[FLEET_ERR];
	bool stuck; /* its migration did not end after the abort: where it runs is unknown */
	int lost_on; /* host == -2: the host that does not answer (or is skipped) */
	/* the pre-flight's view of it (fleet-plan.c, fleet-preflight.c) */
	bool name_cut; /* libvirt's name is longer than name[] holds: pre-flight FAIL */
	enum vm_policy policy;
	unsigned int traits; /* VM_* */
	int nr_local_disks;
	char local_disk[FLEET_STR]; /* the first local disk's source */
	char hostdev[FLEET_NAME]; /* the first host device ("pci 0000:03:00.0") */
	bool copy_storage; /* planned: migrate with VIR_MIGRATE_NON_SHARED_DISK */
	bool transient; /* no persistent definition: migrated without PERSIST_DEST/UNDEFINE_SOURCE */
	int shut_on; /* policy shutdown: the host where the rollout shut it down (its definition
		      * is there; it is started there again), -1 none (state: vm shut=HOST) */
	/* copy-storage: the host where its evacuation created copies of its disks, -1 none, and
	 * their paths ('|' between them): only files that did not exist there before it (state:
	 * vm copied_on=HOST copied=PATHS); deleted after its return from that host */
	int copied_on;
	char copied[FLEET_STR];
};

struct fleet {
	struct fleet_host *hosts;
	int nr_hosts;
	struct fleet_vm *vms;
	int nr_vms;
	/* settings (inventory "fleet" line, then options) */
	char ekvm[FLEET_STR]; /* the ekvm command on the hosts */
	unsigned int parallel; /* migrations at a time */
	unsigned int timeout_s; /* one migration */
	unsigned int cmd_timeout_s; /* upgrade, verify commands */
	unsigned int bandwidth_mib; /* migration bandwidth cap, 0 none */
	unsigned int batch_size; /* hosts a batch when no batch= is given */
	unsigned int reserve_mib; /* memory a destination keeps free */
	bool no_return;
	bool rescan; /* resume --rescan: the running VMs become the recorded set */
	const char *moving; /* "evacuate" or "return": what fleet_migrate() logs */
	/* files */
	char inventory[4096];
	char state_path[4096];
	char log_path[4096];
	/* the run */
	char started[40];
	char result[16]; /* "planned", "running", "halted", "done" */
	int fail_host;
	enum fleet_step fail_step;
	char failure[FLEET_ERR];
	int baseline; /* number of VMs in the recorded set */
	int duplicates; /* VMs the last scan found running on two hosts */
	int state_errno; /* the last state save failed with it (said once), 0 */
	bool json;
	/* the migration policy (fleet_policy_defaults(), docs/fleet.md "Migration policy") */
	unsigned int timeout_per_gib_s; /* completion timeout: timeout_s + this a GiB of memory */
	unsigned int progress_timeout_s; /* abort when data remaining has not fallen for so long */
	unsigned int abort_timeout_s; /* an abort that has not ended the job by then: stuck */
	unsigned int postcopy_after_s; /* switch to post-copy after so long, 0 never */
	unsigned int downtime_ms; /* max downtime, stepped up from FLEET_DOWNTIME_START_MS */
	unsigned int parallel_conns; /* VIR_MIGRATE_PARALLEL connections, 0 one */
	unsigned int max_per_source; /* migrations at a time from one host, 0 no limit but -p */
	unsigned int max_per_dest; /* migrations at a time to one host, 0 no limit but -p */
	unsigned int retries; /* a failed migration tries this many other destinations */
	bool insecure; /* plain TCP migration: no VIR_MIGRATE_TLS (--insecure-migration) */
	bool no_auto_converge; /* no VIR_MIGRATE_AUTO_CONVERGE */
	bool serial_upgrades; /* a batch's hosts upgraded one after another */
	/* connections, storage, VM policies (fleet-virt.c, fleet-preflight.c) */
	unsigned int connect_timeout_s; /* a libvirt connection opens within it, else unreachable */
	struct fleet_shared {
		int host; /* -1 every host */
		char prefix[FLEET_STR];
	} * shared; /* inventory shared_storage=: folders (or pool:NAME) on shared storage */
	int nr_shared;
	struct fleet_vm_policy {
		char vm[FLEET_VM_NAME]; /* name or UUID */
		enum vm_policy policy;
		int line;
		bool used; /* a VM of the fleet has it */
	} * policies;
	int nr_policies;
	/* what the rollout (fleet-run.c, fleet-migrate.c) can do; the pre-flight fails a VM whose
	 * policy needs what it cannot */
	bool can_copy_storage, can_shutdown;
	unsigned int shutdown_timeout_s; /* policy shutdown: seconds a VM has to power off */
	bool shutdown_force; /* then virDomainDestroy (shutdown_force=1), else the rollout halts */
	/* one rollout at a time (fleet-lease.c) */
	char lease[FLEET_STR]; /* lease file on the hosts (inventory lease=) */
	unsigned int lease_ttl_s; /* inventory lease_ttl= */
	unsigned int bake_s; /* the canary's bake time before its health gate (bake=, --bake) */
	bool break_lease; /* --break-lease: take over live leases of other rollouts */
	char rollout_id[128]; /* this rollout's, kept in the state across resumes */
	char operator_name[64], controller[256]; /* who runs it, where (the log's first line) */
	long operator_uid;
	char inventory_copy[4096]; /* the rollout's own copy of the inventory (state record) */
	char inventory_note[1024]; /* how the state's inventory was read, when it changed */
	pthread_t lease_thr;
	pthread_mutex_t lease_lock;
	pthread_cond_t lease_cond;
	bool lease_thread, lease_stop;
	int lease_lost; /* host index + 1 whose lease another rollout took, 0 none */
};

const char *fleet_step_name(enum fleet_step s);
const char *host_status_name(enum host_status s);
int host_status_parse(const char *s, enum host_status *st);
int fleet_step_parse(const char *s, enum fleet_step *st);

/* fleet-inv.c */
/* Splits a line into words: blanks separate, "..." quotes (\", \\ and \xHH inside), # starts
 * a comment outside quotes. Returns the number of words, -EINVAL (unterminated quote), -EILSEQ
 * (\x00) or -E2BIG (more than max words, or more than size bytes with their 0s). */
int fleet_words(const char *line, char **words, int max, char *buf, size_t size);
/* After -E2BIG from fleet_words() into 8 KiB: more than max words (else the line is too long)? */
bool fleet_too_many_words(const char *line, int max);
/* "FILE:LINE: message" into err (inventory and state errors); returns -EINVAL. */
int fleet_file_verror(char *err, size_t size, const char *file, int line, const char *fmt,
		      va_list ap) __attribute__((format(printf, 5, 0)));
/* Writes value quoted when it needs to be, so that fleet_words() reads back exactly value:
 * quotes and backslashes escaped, control characters (\n, \r, tab...) as \xHH. -E2BIG (out
 * set to "") when it does not fit: FLEET_QUOTED(n) bytes hold any value of n - 1 bytes. */
int fleet_quote(char *out, size_t size, const char *value);
#define FLEET_QUOTED(n) (4 * (n) + 3)
/* -EINVAL and "FILE:LINE: a NUL byte..." in err when data holds a NUL byte. */
int fleet_text_check(const char *path, const char *data, size_t n, char *err, size_t errsize);
void fleet_init(struct fleet *f);
void fleet_free(struct fleet *f);
/* Reads an inventory; on error, err says "FILE:LINE: problem". */
int fleet_inventory_load(struct fleet *f, const char *path, char *err, size_t errsize);
int fleet_inventory_parse(struct fleet *f, const char *text, const char *name, char *err,
			  size_t errsize);
int fleet_host_find(const struct fleet *f, const char *name);

/* fleet-plan.c */
/* Batches: the first host alone (the canary), then by batch=, then batch_size at a time.
 * order[] receives host indices, batch_of[] each host's batch; returns the number of batches. */
int fleet_batches(const struct fleet *f, int *order, int *batch_of);
/* Chooses a destination for every VM now on a host of the batch: a host outside the batch,
 * reachable, not failed, with room (avail - reserve - planned) and, if cpu_ok is given, a
 * compatible CPU; the most room first. VMs without one get dest -1 and an error. Returns the
 * number of VMs left without a destination. */
int fleet_place(struct fleet *f, const int *batch_of, int batch,
		bool (*cpu_ok)(struct fleet *f, int vm, int host));
int fleet_vm_find(const struct fleet *f, const char *uuid);
/* Adds a VM (the array grows: no cap); a name longer than FLEET_VM_NAME - 1 bytes is kept cut
 * with name_cut set (the pre-flight fails it). Returns its index or -ENOMEM. */
int fleet_vm_add(struct fleet *f, const char *uuid, const char *name, int host, uint64_t mem_kib);
const char *fleet_policy_name(enum vm_policy p);
int fleet_policy_parse(const char *s, enum vm_policy *p);
/* Reads a VM's definition (libvirt's domain XML): host devices, local disks (file, block and
 * volume disks whose source is under no shared_storage prefix of its host), hugepages,
 * memfd/shared memory; fills v->traits and friends. */
void fleet_vm_xml(const struct fleet *f, struct fleet_vm *v, int host, const char *xml);
/* Calls fn (may be NULL) for the source of each local disk in the domain XML from xml to end
 * on host (as fleet_vm_xml() counts them; a volume disk as pool:POOL/VOLUME); returns how
 * many. */
int fleet_local_disks(const struct fleet *f, int host, const char *xml, const char *end,
		      void (*fn)(const char *path, void *arg), void *arg);
/* The policy of a VM from the inventory (by name or UUID), POLICY_MIGRATE by default. */
enum vm_policy fleet_vm_policy(struct fleet *f, const struct fleet_vm *v);
/* Whether the VM can leave its host under its policy: 0, or -EPERM and why. */
int fleet_vm_movable(const struct fleet *f, const struct fleet_vm *v, char *why, size_t size);
/* Skips (pinned, batch -1) the hosts that run a VM with policy pin: call before
 * fleet_batches(). Returns the number of hosts pinned. */
int fleet_pin_hosts(struct fleet *f);
/* /proc/meminfo's text: MemAvailable and HugePages_Free x Hugepagesize (kB); -ENOENT when it
 * has no MemAvailable. */
int fleet_meminfo_parse(const char *text, uint64_t *avail_kib, uint64_t *huge_free_kib);

/* fleet-state.c */
/* Writes the state whole to STATE.tmp in its folder, fsyncs it, renames it over STATE and
 * fsyncs the folder; 0 or -errno (STATE untouched then). */
int fleet_state_save(const struct fleet *f);
int fleet_state_load(struct fleet *f, const char *path, char *err, size_t errsize);
int fleet_state_parse(struct fleet *f, const char *text, char *err, size_t errsize);
/* Keeps a copy of the inventory as STATE.inventory (inventory_copy); 0 or -errno. */
int fleet_inventory_keep(struct fleet *f);
/* The log: "<ISO-8601 UTC> [host] message", appended to log_path and echoed on stdout; with
 * --json, on stderr as events, one JSON object a line: {"time", "event", "host", FIELDS...,
 * "message"} (docs/fleet.md "Events"). fleet_log() is event "log". */
void fleet_log(const struct fleet *f, int host, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* fields: more members, already JSON ("\"vm\":\"web1\",\"eta_s\":12"), or NULL. */
void fleet_event(const struct fleet *f, int host, const char *event, const char *fields,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void fleet_vevent(const struct fleet *f, int host, const char *event, const char *fields,
		  const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
/* s as a JSON string, quoted, into out; -E2BIG ("null") when it does not fit. */
int fleet_json_str(char *out, size_t size, const char *s);
/* Opens the log for appending (creating it) to see that it can be written: 0 or -errno. */
int fleet_log_check(const char *path);
void fleet_now_iso(char *buf, size_t size);
double fleet_mono(void);

/* fleet-exec.c */
/* Runs `<prefix words> <cmdline>` (the command line is one argument), output into out (the
 * last size-1 bytes). Returns the exit status, 124 on timeout, 127 if it cannot run, or
 * -errno. */
int fleet_exec(const char *prefix, const char *cmdline, unsigned int timeout_s, char *out,
	       size_t size);
/* The last line of a command's output (trailing newlines dropped in out), for one-line errors. */
const char *fleet_last_line(char *out);

/* fleet-virt.c */
int fleet_virt_init(void);
/* The calling thread's last libvirt error message. */
const char *fleet_virt_error(void);
/* Opens the host's connection within connect_timeout_s (a thread opens it; one that does not
 * answer is left behind and the host is unreachable, "did not answer within N s"), with
 * libvirt keepalive (FLEET_KEEPALIVE_*) so that no later call waits forever. */
int fleet_connect(struct fleet *f, int host);
/* fleet_connect() on every host at once, one deadline; returns the number unreachable. */
int fleet_connect_all(struct fleet *f);
/* A new connection to uri (for a migration of its own), the same deadline and keepalive:
 * a virConnectPtr or NULL and err. */
void *fleet_virt_open(const char *uri, unsigned int timeout_s, char *err, size_t errsize);
void fleet_disconnect(struct fleet *f, int host);
/* Host facts: UUID, memory, CPU. */
int fleet_host_facts(struct fleet *f, int host, char *err, size_t errsize);
/* Lists the running VMs of every reachable host into f->vms (host, mem); VMs already known
 * keep their home, new ones get home = where they run. Returns the number of hosts that did
 * not answer. */
int fleet_scan(struct fleet *f);
bool fleet_cpu_compatible(struct fleet *f, int vm, int host);
/* The health gate of a VM (after the canary's bake): 0 when it runs and, with a connected
 * guest agent (its channel's state='connected' in the live XML), the agent answers; else
 * -1 and why. */
int fleet_vm_healthy(struct fleet *f, int vm, char *why, size_t size);
/* Whether a domain's live XML has a connected QEMU guest agent channel. */
bool fleet_xml_agent_connected(const char *xml);
/* 0 when the host has an active storage pool whose target is dir (where libvirt creates a
 * copy-storage migration's disk images), else -ENOENT. */
int fleet_pool_at(struct fleet *f, int host, const char *dir);
/* policy copy-storage (fleet-preflight.c): the active pool whose target is dir on host, its
 * name and the bytes free in it after a refresh; 0, -ENOENT (no active pool there) or -EIO. */
int fleet_pool_space(struct fleet *f, int host, const char *dir, uint64_t *avail, char *name,
		     size_t size);
/* 1 when a storage volume (a file in a pool, after its refresh) is at path on host, 0 none,
 * -EIO when libvirt cannot tell. */
int fleet_vol_exists(struct fleet *f, int host, const char *path);
/* Calls fn for each local disk of the VM on its host (fleet_local_disks()) with the bytes its
 * image holds there (the volume's allocation, else the domain's block info; -1 unknown).
 * Returns the number of local disks or -EIO (its definition cannot be read). */
int fleet_copy_disks(struct fleet *f, int vm,
		     void (*fn)(const char *path, long long bytes, void *arg), void *arg);
/* Deletes the storage volume at path on host (virStorageVolDelete, its pool refreshed first);
 * 0, or -EIO and why. */
int fleet_vol_delete(struct fleet *f, int host, const char *path, char *err, size_t errsize);
/* Reads the VM's definition into its traits (fleet_vm_xml()); 0 or -EIO. */
int fleet_vm_inspect(struct fleet *f, int vm);
const char *fleet_cpu_note(void);
/* The CPU model every reachable host can run (virConnectBaselineHypervisorCPU), or why not. */
int fleet_cpu_baseline(struct fleet *f, char *model, size_t size);
int fleet_count_on(const struct fleet *f, int host);
/* policy shutdown (docs/fleet.md): the VM uuid on host: 1 active, 0 defined and not active,
 * -ENOENT not defined there, -EIO (err) libvirt failed. */
int fleet_vm_active(struct fleet *f, int host, const char *uuid, char *err, size_t errsize);
enum fleet_power {
	FLEET_SHUTDOWN, /* virDomainShutdown: the guest's clean shutdown (ACPI power button) */
	FLEET_DESTROY, /* virDomainDestroy: powered off at once */
	FLEET_START, /* virDomainCreate: started from its persistent definition */
};
/* One of them on the VM uuid on host: 0, or -errno and libvirt's error in err. */
int fleet_vm_power(struct fleet *f, int host, const char *uuid, enum fleet_power op, char *err,
		   size_t errsize);

/* fleet-migrate.c */
/* Migrates the VMs with a dest under the migration policy, parallel at a time, printing
 * progress to the log. Stops starting new ones after the first failure. Returns the number
 * that failed, stuck ones (fleet_vm.stuck: given up, never joined) included. */
int fleet_migrate(struct fleet *f, const int *vms, int n);
/* Resumes VMs left paused on a host by a failed migration. */
void fleet_resume_paused(struct fleet *f, int host);
/* Destroys the paused copies on a host of VMs that another host runs (an interrupted incoming
 * migration's QEMU; where the VMs run: the last fleet_scan()), with a log line each. */
void fleet_clear_stale_copies(struct fleet *f, int host);

/*
 * The migration policy, apart from libvirt calls so that it is unit-tested. Defaults: a
 * completion timeout of timeout_s + 150 s a GiB of guest memory, a progress timeout of 150 s
 * (KubeVirt's), 60 s for an abort to end the job, max downtime stepped from 300 ms to 500 ms
 * (Nova's), auto-converge and TLS on, one retry on another destination.
 */
#define FLEET_DOWNTIME_START_MS 300
#define FLEET_DOWNTIME_STEPS 5
void fleet_policy_defaults(struct fleet *f);
/* VIR_MIGRATE_* flags of every migration under the policy. */
unsigned int fleet_migrate_flags(const struct fleet *f);
/* Seconds a migration of a VM of mem_kib may take before it is aborted. */
double fleet_migrate_timeout(const struct fleet *f, uint64_t mem_kib);

enum fleet_mig_act {
	MIG_WAIT, /* nothing to do */
	MIG_DOWNTIME, /* set the max downtime to watch.downtime_ms */
	MIG_POSTCOPY, /* switch to post-copy (virDomainMigrateStartPostCopy) */
	MIG_ABORT_TIMEOUT, /* past the completion timeout: virDomainAbortJob */
	MIG_ABORT_STALLED, /* no progress for progress_timeout_s: virDomainAbortJob */
	MIG_STUCK, /* the abort (or post-copy) did not end it in time: give the thread up */
};

/* One migration's clock, fed its job statistics by fleet_migrate_decide(). */
struct fleet_mig_watch {
	double t0, timeout; /* start, completion timeout (s) */
	double progress_at; /* when data remaining last fell below its lowest */
	unsigned long long low; /* the lowest data remaining seen, ULLONG_MAX none yet */
	double abort_at; /* when the abort was asked, < 0 not asked */
	bool postcopy; /* switched to post-copy */
	bool postcopy_failed; /* the switch was refused: pre-copy on, abortable as before */
	bool stuck; /* MIG_STUCK said */
	unsigned int step; /* downtime steps taken (the first sets the start value) */
	unsigned int downtime_ms; /* for MIG_DOWNTIME */
};
void fleet_migrate_watch_init(struct fleet_mig_watch *w, const struct fleet *f, uint64_t mem_kib,
			      double now);
/*
 * What to do now, at most one action a call: stats is whether the job has data statistics
 * (total > 0), remaining its data remaining. Progress is data remaining falling below its
 * lowest; a migration that has not started sending counts as without progress.
 */
enum fleet_mig_act fleet_migrate_decide(struct fleet_mig_watch *w, const struct fleet *f,
					double now, bool stats, unsigned long long remaining);
/*
 * The next migration to start of the n in vms[] not yet started (started[i] false): the first
 * in order whose source and destination are under max_per_source and max_per_dest (from_n[],
 * to_n[]: migrations in flight from and to each host). -1 if none may start now.
 */
int fleet_migrate_next(const struct fleet *f, const int *vms, const bool *started, int n,
		       const int *from_n, const int *to_n);
/*
 * Another destination for a VM whose migration failed: as fleet_place() (outside the batch,
 * reachable, not failed, room for it, free hugepages for a hugepage-backed VM, cpu_ok), not
 * one in tried[] (nr_hosts flags); the most room first, its room taken. -1 if none.
 */
int fleet_retry_dest(struct fleet *f, int vm, const int *batch_of, int batch, const bool *tried,
		     bool (*cpu_ok)(struct fleet *f, int vm, int host));

/* fleet-lease.c */
/* The rollout id (when the state has none), the operator and the controller's name. */
void fleet_lease_init(struct fleet *f);
/* Takes the lease of every host but skipped ones and starts renewing them; -1 and why in err
 * (another rollout holds one: none is kept then). */
int fleet_lease_acquire(struct fleet *f, char *err, size_t errsize);
/* Stops the renewals; releases the leases unless keep (a halted rollout keeps them until they
 * expire). */
void fleet_lease_release(struct fleet *f, bool keep);
/* The host whose lease another rollout took over since, or -1. */
int fleet_lease_lost(const struct fleet *f);

/* fleet-preflight.c */
struct invariant {
	int before, after, missing, extra, unverified, duplicates;
	int skipped; /* on hosts left out by resume --skip-host: not verified, not counted */
	int shut; /* shut down by the rollout (policy shutdown), not started again yet */
	bool holds; /* shut VMs do not break it during a rollout; fleet_exit_code() at its end */
};
int fleet_preflight(struct fleet *f, int *order, int *batch_of, int *nr_batches);
void fleet_invariant(struct fleet *f, struct invariant *inv);

/* Exit codes of rollout, resume and status beyond ekvm's 0, 1 and 2 (docs/fleet.md). */
enum {
	FLEET_EXIT_INVARIANT = 4, /* a VM missing, new or running twice */
	FLEET_EXIT_UNREACHABLE = 5, /* a host does not answer: its VMs are unverified */
	FLEET_EXIT_RUNNING = 6, /* status: a rollout holds the state's lock now */
};

/* fleet-run.c */
/* 0 done and the invariant holds, 1 halted, FLEET_EXIT_INVARIANT: every host done but the
 * invariant does not hold at the end. */
int fleet_rollout(struct fleet *f, bool resume);
/* Ends a halted rollout: VMs home (unless leave) where their home may take them, hosts
 * undrained, result "aborted"; 1 when a VM could not go home (the rollout stays halted). */
int fleet_abort(struct fleet *f, bool leave);
/* From the invariant and the hosts: FLEET_EXIT_INVARIANT (a VM missing, new or running twice,
 * or, once the rollout is done or aborted, still shut down by it), else FLEET_EXIT_UNREACHABLE
 * (a host does not answer), else 0. */
int fleet_exit_code(const struct fleet *f, const struct invariant *inv);

/* fleet-report.c */
struct fleet_check {
	char check[32];
	int host; /* -1 fleet-wide */
	char result[8]; /* PASS, WARN, FAIL */
	char note[FLEET_ERR];
};
void fleet_check_add(const char *check, int host, const char *result, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int fleet_checks_failed(void);
/* Each check into the log. */
void fleet_checks_log(const struct fleet *f);
void fleet_checks_reset(void);
void fleet_print_plan(const struct fleet *f, const int *order, const int *batch_of, int nr_batches);
void fleet_print_report(const struct fleet *f, const struct invariant *inv);

#endif

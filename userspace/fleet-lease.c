// SPDX-License-Identifier: GPL-2.0-only
/*
 * One rollout at a time across the fleet: a lease on every host of a rollout (docs/fleet.md,
 * "One rollout at a time").
 *
 * The lease is a one-line file on the host (inventory lease=, default FLEET_LEASE_PATH),
 * written through the host's exec prefix under flock(1) of FILE.lock there, so that two
 * controllers racing for one host are ordered by the host itself:
 *
 *   rollout=ID owner=USER@CONTROLLER pid=PID state=STATE expires=EPOCH
 *
 * EPOCH is the host's own clock (it computes it: the controller's clock never meets the
 * host's). A lease held by another rollout and not expired refuses the rollout, naming the
 * holder; an expired one is taken over and logged; --break-lease takes over a live one, logged
 * with the holder it broke. While the rollout runs, a thread renews every lease each
 * lease_ttl_s / 3; a renewal that finds another holder marks the lease lost, and the rollout
 * halts at its next step (fleet_lease_lost()). Leases are released when the rollout ends
 * (done or aborted); a halted rollout keeps them until they expire, so that no other rollout
 * takes its drained, empty hosts meanwhile.
 */
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"

/* exit statuses of the scripts below */
#define LEASE_HELD 75 /* another rollout holds it */
#define LEASE_LOCK 71 /* flock(1) of FILE.lock did not succeed within 30 s */

enum lease_op { LEASE_TAKE, LEASE_RENEW, LEASE_RELEASE };

static const char *lease_path(const struct fleet *f, int h)
{
	return f->hosts[h].lease[0] ? f->hosts[h].lease : f->lease;
}

/* 'value' for sh, whatever it holds */
static void sh_quote(char *out, size_t size, const char *v)
{
	size_t n = 0;

	if (size < 3) {
		if (size)
			out[0] = 0;
		return;
	}
	out[n++] = '\'';
	for (; *v && n + 5 < size; v++) {
		if (*v == '\'') {
			memcpy(out + n, "'\\''", 4);
			n += 4;
		} else {
			out[n++] = *v;
		}
	}
	out[n++] = '\'';
	out[n] = 0;
}

/* A word of the lease line: printable, no blank, no quote (a state path may hold anything). */
static void lease_word(char *out, size_t size, const char *v)
{
	size_t n = 0;

	for (; *v && n + 1 < size; v++)
		out[n++] =
			(*v > ' ' && *v < 0x7f && *v != '\'' && *v != '"' && *v != '\\') ? *v : '_';
	out[n] = 0;
}

void fleet_lease_init(struct fleet *f)
{
	char host[256] = "", user[64] = "", when[40];
	struct passwd *pw = getpwuid(getuid());
	time_t now = time(NULL);
	struct tm tm;

	if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "unknown");
	snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : "?");
	lease_word(f->operator_name, sizeof(f->operator_name), user);
	f->operator_uid = (long)getuid();
	lease_word(f->controller, sizeof(f->controller), host);
	if (!f->rollout_id[0]) {
		gmtime_r(&now, &tm);
		strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(f->rollout_id, sizeof(f->rollout_id), "%s-%.40s-%ld", when, f->controller,
			 (long)getpid());
	}
}

static void lease_script(const struct fleet *f, int h, enum lease_op op, char *s, size_t size)
{
	char path[FLEET_QUOTED(FLEET_STR)], state[4096], line[2048];
	char qline[FLEET_QUOTED(sizeof(line))];

	sh_quote(path, sizeof(path), lease_path(f, h));
	lease_word(state, sizeof(state), f->state_path);
	snprintf(line, sizeof(line),
		 "rollout=%.127s owner=%.63s@%.100s pid=%ld state=%.1600s expires=", f->rollout_id,
		 f->operator_name, f->controller, (long)getpid(), state);
	sh_quote(qline, sizeof(qline), line);
	if (op == LEASE_RELEASE) {
		snprintf(s, size,
			 "f=%s; [ -e \"$f\" ] || exit 0; exec 9>>\"$f.lock\" && "
			 "flock -w 30 9 || exit %d; "
			 "case \" $(head -n 1 \"$f\") \" in *\" rollout=%s \"*) rm -f \"$f\";; "
			 "*) echo \"held by another: $(head -n 1 \"$f\")\";; esac",
			 path, LEASE_LOCK, f->rollout_id);
		return;
	}
	/*
	 * Take or renew: ours (same rollout id) is rewritten with a new expiry; another's that
	 * has expired is taken over ("expired: LINE"); another's live one refuses (exit
	 * LEASE_HELD, "held: LINE expires_in=N") unless broken ("broke: LINE"). A renewal
	 * never breaks: finding another's lease means this rollout lost it.
	 */
	snprintf(s, size,
		 "umask 022; f=%s; mkdir -p \"$(dirname \"$f\")\" && exec 9>>\"$f.lock\" && "
		 "flock -w 30 9 || exit %d; now=$(date +%%s); "
		 "if [ -s \"$f\" ]; then l=$(head -n 1 \"$f\"); case \" $l \" in "
		 "*\" rollout=%s \"*) ;; *) e=${l##*expires=}; e=${e%%%% *}; "
		 "case $e in ''|*[!0-9]*) e=0;; esac; "
		 "if [ \"$e\" -gt \"$now\" ]; then if [ %d = 1 ]; then echo \"broke: $l "
		 "expires_in=$((e - now))\"; else echo \"held: $l expires_in=$((e - now))\"; "
		 "exit %d; fi; else echo \"expired: $l\"; fi;; esac; fi; "
		 "printf '%%s%%s\\n' %s $((now + %u)) >\"$f.tmp\" && mv -f \"$f.tmp\" \"$f\"",
		 path, LEASE_LOCK, f->rollout_id, op == LEASE_TAKE && f->break_lease, LEASE_HELD,
		 qline, f->lease_ttl_s);
}

/* One host's lease operation; 0, or -1 with the reason in err. */
static int lease_op(struct fleet *f, int h, enum lease_op op, char *err, size_t errsize)
{
	char script[16384], out[2048];
	const char *last;
	int rc;

	lease_script(f, h, op, script, sizeof(script));
	rc = fleet_exec(f->hosts[h].exec, script, 60, out, sizeof(out));
	last = fleet_last_line(out);
	if (rc == 0) {
		if (!strncmp(last, "broke: ", 7))
			fleet_log(f, h, "lease: --break-lease: took over the live lease of %.600s",
				  last + 7);
		else if (!strncmp(last, "expired: ", 9))
			fleet_log(f, h, "lease: took over an expired lease: %.600s", last + 9);
		else if (!strncmp(last, "held by another: ", 17))
			fleet_log(f, h, "lease: not released: %.600s", last);
		return 0;
	}
	if (rc == LEASE_HELD && !strncmp(last, "held: ", 6))
		snprintf(err, errsize,
			 "%s is in another rollout: %.300s: wait for it to end or expire, or "
			 "take it over with --break-lease",
			 f->hosts[h].name, last + 6);
	else if (rc == LEASE_LOCK)
		snprintf(err, errsize,
			 "%s: the lease %.200s is locked by another ekvm fleet for 30 s",
			 f->hosts[h].name, lease_path(f, h));
	else
		snprintf(err, errsize, "%s: the lease %.150s: exit %d: %.250s", f->hosts[h].name,
			 lease_path(f, h), rc, last);
	return -1;
}

/* Runs op on every leased host at once (up to 16 at a time); returns the first failing host. */
struct lease_pool {
	struct fleet *f;
	enum lease_op op;
	int next, failed;
	char err[FLEET_ERR];
	pthread_mutex_t lock;
};

static bool lease_wanted(const struct fleet *f, int h, enum lease_op op)
{
	if (f->hosts[h].status == HOST_SKIPPED)
		return false;
	return op == LEASE_TAKE || f->hosts[h].leased;
}

static void *lease_worker(void *arg)
{
	struct lease_pool *p = arg;

	for (;;) {
		char err[FLEET_ERR] = "";
		int h;

		pthread_mutex_lock(&p->lock);
		h = p->next++;
		pthread_mutex_unlock(&p->lock);
		if (h >= p->f->nr_hosts)
			return NULL;
		if (!lease_wanted(p->f, h, p->op))
			continue;
		if (lease_op(p->f, h, p->op, err, sizeof(err)) == 0) {
			/* each worker writes only its own host's flag */
			p->f->hosts[h].leased = p->op != LEASE_RELEASE;
			continue;
		}
		pthread_mutex_lock(&p->lock);
		if (p->failed < 0 || h < p->failed) {
			p->failed = h;
			snprintf(p->err, sizeof(p->err), "%s", err);
		}
		pthread_mutex_unlock(&p->lock);
	}
}

static int lease_all(struct fleet *f, enum lease_op op, char *err, size_t errsize)
{
	struct lease_pool p = { .f = f, .op = op, .failed = -1 };
	pthread_t thr[16];
	int n = 0;

	pthread_mutex_init(&p.lock, NULL);
	for (; n < 16 && n < f->nr_hosts; n++)
		if (pthread_create(&thr[n], NULL, lease_worker, &p))
			break;
	if (!n)
		lease_worker(&p);
	for (int i = 0; i < n; i++)
		pthread_join(thr[i], NULL);
	pthread_mutex_destroy(&p.lock);
	if (p.failed >= 0 && err)
		snprintf(err, errsize, "%s", p.err);
	return p.failed;
}

/* The renewal thread: every lease_ttl_s / 3 until fleet_lease_release() stops it. */
static void *renewer(void *arg)
{
	struct fleet *f = arg;
	struct timespec t;
	bool stop = false;

	pthread_mutex_lock(&f->lease_lock);
	while (!stop) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_sec += f->lease_ttl_s / 3;
		while (!f->lease_stop &&
		       pthread_cond_timedwait(&f->lease_cond, &f->lease_lock, &t) != ETIMEDOUT)
			;
		stop = f->lease_stop;
		pthread_mutex_unlock(&f->lease_lock);
		if (!stop) {
			char err[FLEET_ERR] = "";
			int h = lease_all(f, LEASE_RENEW, err, sizeof(err));

			if (h >= 0) {
				fleet_log(f, h, "lease: renewal failed: %s", err);
				/* only another holder means the lease is lost */
				if (strstr(err, "is in another rollout"))
					__atomic_store_n(&f->lease_lost, h + 1, __ATOMIC_RELEASE);
			}
		}
		pthread_mutex_lock(&f->lease_lock);
	}
	pthread_mutex_unlock(&f->lease_lock);
	return NULL;
}

int fleet_lease_acquire(struct fleet *f, char *err, size_t errsize)
{
	pthread_condattr_t ca;
	int h;

	fleet_log(f, -1, "lease: rollout %s takes its hosts' leases (for %u s, renewed every %u s)",
		  f->rollout_id, f->lease_ttl_s, f->lease_ttl_s / 3);
	h = lease_all(f, LEASE_TAKE, err, errsize);
	if (h >= 0) {
		fleet_log(f, -1, "lease: %s", err);
		/* a refused rollout leaves no lease of its own behind */
		lease_all(f, LEASE_RELEASE, NULL, 0);
		return -1;
	}
	f->lease_stop = false;
	__atomic_store_n(&f->lease_lost, 0, __ATOMIC_RELEASE);
	pthread_mutex_init(&f->lease_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->lease_cond, &ca);
	pthread_condattr_destroy(&ca);
	f->lease_thread = !pthread_create(&f->lease_thr, NULL, renewer, f);
	if (!f->lease_thread)
		fleet_log(f, -1, "lease: no renewal thread: the leases expire after %u s",
			  f->lease_ttl_s);
	return 0;
}

static void stop_renewer(struct fleet *f)
{
	if (!f->lease_thread)
		return;
	pthread_mutex_lock(&f->lease_lock);
	f->lease_stop = true;
	pthread_cond_signal(&f->lease_cond);
	pthread_mutex_unlock(&f->lease_lock);
	pthread_join(f->lease_thr, NULL);
	pthread_cond_destroy(&f->lease_cond);
	pthread_mutex_destroy(&f->lease_lock);
	f->lease_thread = false;
}

void fleet_lease_release(struct fleet *f, bool keep)
{
	char err[FLEET_ERR] = "";
	int h;

	stop_renewer(f);
	if (keep) {
		fleet_log(f, -1,
			  "lease: kept on the hosts until it expires (%u s after its last "
			  "renewal): 'ekvm fleet resume' takes it again",
			  f->lease_ttl_s);
		return;
	}
	h = lease_all(f, LEASE_RELEASE, err, sizeof(err));
	if (h >= 0)
		fleet_log(f, h, "lease: not released (it expires by itself): %s", err);
	else
		fleet_log(f, -1, "lease: released");
}

int fleet_lease_lost(const struct fleet *f)
{
	return __atomic_load_n(&f->lease_lost, __ATOMIC_ACQUIRE) - 1;
}

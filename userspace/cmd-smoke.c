// SPDX-License-Identifier: GPL-2.0-only
/* ekvm smoke: run a minimal guest through real, protected and long mode on /dev/kvm. */
#include <stdio.h>

#include "ekvm.h"
#include "out.h"
#include "parse.h"
#include "smoke.h"

#define DEFAULT_BENCH_EXITS 200000

static const char *step_result(const struct smoke_report *rep, int s)
{
	if (rep->failed < 0 || s < rep->failed)
		return "PASS";
	return s == rep->failed ? "FAIL" : "SKIP";
}

static void print_steps(const struct smoke_report *rep, uint32_t loops)
{
	out_arr_begin("steps");
	for (int s = 0; s < NR_STEPS; s++) {
		const char *res = step_result(rep, s);

		if (s == STEP_BENCH && !loops)
			continue;
		out_obj_begin(NULL);
		out_str("step", NULL, smoke_step_key(s));
		out_txt("  %-50s: ", smoke_step_text(s));
		out_str("result", "%s", res);
		out_str("detail", s == rep->failed ? " (%s)" : NULL,
			s == rep->failed ? rep->detail : NULL);
		out_txt("\n");
		out_obj_end();
	}
	out_arr_end();
}

static void print_report(const struct smoke_report *rep, uint32_t loops)
{
	bool pass = rep->failed < 0;

	out_obj_begin(NULL);
	print_steps(rep, loops);
	out_txt("smoke: ");
	out_str("result", "%s", pass ? "PASS" : "FAIL");
	out_dbl("time_ms", pass ? " in %.3f ms" : NULL, rep->total_ms);
	out_dbl("run_ms", pass ? " (guest run %.3f ms)" : NULL, rep->run_ms);
	out_txt("\n");
	if (loops && pass) {
		out_obj_begin("bench");
		out_u64("exits", "bench: %llu I/O exits", rep->bench_exits);
		out_dbl("seconds", " in %.3f s", rep->bench_s);
		out_dbl("exits_per_s", ": %.0f exits/s\n", rep->bench_exits / rep->bench_s);
		out_obj_end();
	}
	out_obj_end();
	out_flush();
}

int cmd_smoke(int argc, char **argv, struct ekvm_ctx *ctx)
{
	static const struct option opts[] = {
		{ "bench", no_argument, NULL, 'b' },
		{ "count", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	unsigned long long count = DEFAULT_BENCH_EXITS;
	bool bench = false, json = false, counted = false;
	struct smoke_report rep;
	int c;

	while ((c = getopt_long(argc, argv, ":n:", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			bench = true;
			break;
		case 'n':
			if (parse_u64(optarg, UINT32_MAX, &count) || !count)
				return arg_invalid(ctx, "-n", optarg,
						   "a count from 1 to 4294967295");
			counted = true;
			break;
		case 'j':
			json = true;
			break;
		default:
			return arg_error(ctx, argv, c);
		}
	}
	if (optind < argc)
		return arg_extra(ctx, argv[optind]);
	if (counted && !bench) {
		fprintf(stderr,
			"ekvm %s: option '-n' counts the I/O exits of --bench: add --bench (see "
			"'ekvm help %s')\n",
			ctx->cmd->name, ctx->cmd->name);
		return EKVM_EXIT_USAGE;
	}
	out_init(stdout, json);
	smoke_run(ctx->kvm_fd, bench ? (uint32_t)count : 0, &rep);
	print_report(&rep, bench ? (uint32_t)count : 0);
	return rep.failed < 0 ? EKVM_EXIT_OK : EKVM_EXIT_FAIL;
}

/*
 * test_cluster.c - a jitfarm cluster on one machine: one redis-server, two
 * masters sharing it behind a load balancer (nginx, as a Kubernetes
 * Service would be), and nodes that link libjitfarm, all real processes
 * on loopback.
 *
 * The same binary is the test and, run as `test_cluster node NAME ...`,
 * a node: a small host with a bytecode-free "interpreter" (the same
 * computation in C) for a family of generated programs, which asks
 * jf_lookup() on every execution, runs native code when it gets it and
 * checks that native and interpreted results agree. The test drives the
 * nodes over pipes, one command a line.
 *
 * Scenarios, in order:
 *  1. single-flight across the cluster: three nodes turn the same four
 *     programs hot at the same moment; each program is compiled exactly
 *     once across both masters (their /metrics), and all three nodes run
 *     all four natively;
 *     The same again with the example host (examples/vm): three VMs
 *     with one workload, each program compiled once, all run natively;
 *  2. scale-out: a fourth node started afterwards runs all four natively
 *     from its very first execution (preloaded at open);
 *  3. a master killed with SIGKILL in the middle of a compile: the load
 *     balancer moves the request to the other master, which takes the
 *     dead master's lease over; every node ends up running the programs
 *     natively, none crashes;
 *  4. redis-server restarted: masters and nodes reconnect; programs one
 *     node turns hot afterwards are pushed to every other node through
 *     the Redis stream, without those nodes asking for them.
 *
 * Artifacts are signed by the masters and verified by the nodes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jitfarm/runtime.h"
#include "common/blob.h"
#include "common/key.h"
#include "common/util.h"
#include "master.h"
#include "servers.h"
#include "support.h"

#define NPROG 8
#define HOT 10

/* ---- the programs ---------------------------------------------------------- */

/* Program i: 2000 rounds of acc = acc * M + (x ^ round), M odd. */
static uint64_t
prog_mul(int i)
{
	return 6364136223846793005ull + 2u * (uint64_t)i;
}

static int64_t
interpret(int i, int64_t x)
{
	uint64_t acc = 1442695040888963407ull + (uint64_t)i, r;

	for (r = 0; r < 2000; r++)
		acc = acc * prog_mul(i) + ((uint64_t)x ^ r);
	return (int64_t)acc;
}

static char *
prog_ir(int i, size_t *len)
{
	char *ir = malloc(2048);

	if (ir == NULL)
		abort();
	*len = (size_t)snprintf(ir, 2048,
	    "; program %d of tests/cluster\n"
	    "define i64 @prog_%d(i64 %%x) {\n"
	    "entry:\n"
	    "  br label %%loop\n"
	    "loop:\n"
	    "  %%r = phi i64 [ 0, %%entry ], [ %%r1, %%loop ]\n"
	    "  %%acc = phi i64 [ %" PRIu64 ", %%entry ], [ %%acc1, %%loop ]\n"
	    "  %%m = mul i64 %%acc, %" PRIu64 "\n"
	    "  %%t = xor i64 %%x, %%r\n"
	    "  %%acc1 = add i64 %%m, %%t\n"
	    "  %%r1 = add i64 %%r, 1\n"
	    "  %%c = icmp ult i64 %%r1, 2000\n"
	    "  br i1 %%c, label %%loop, label %%done\n"
	    "done:\n"
	    "  ret i64 %%acc1\n"
	    "}\n", i, i, (uint64_t)(1442695040888963407ull + (uint64_t)i), prog_mul(i));
	return ir;
}

/* ---- node mode ------------------------------------------------------------------ */

typedef struct node {
	jf_runtime_t *rt;
	uint8_t id[NPROG][32];
	char *ir[NPROG];
	size_t ir_len[NPROG];
	volatile int loaded_kind[NPROG];        /* event kind that loaded it */
	volatile int execs_native[NPROG];
} node_t;

static node_t nd;

static int
node_prog_index(const uint8_t *id)
{
	int i;

	for (i = 0; id != NULL && i < NPROG; i++)
		if (memcmp(nd.id[i], id, 32) == 0)
			return i;
	return -1;
}

static int
node_ir(void *arg, const uint8_t *program_id, const void **ir, size_t *len)
{
	int i = node_prog_index(program_id);

	(void)arg;
	if (i < 0)
		return JF_ERR_NOTFOUND;
	*ir = nd.ir[i];
	*len = nd.ir_len[i];
	return 0;
}

static void
node_event(void *arg, const jf_event_t *ev)
{
	int i = node_prog_index(ev->program_id);

	(void)arg;
	if (i >= 0 && ev->result == 0 && ev->kind != JF_EV_EVICT && nd.loaded_kind[i] == 0)
		nd.loaded_kind[i] = ev->kind;
}

/* One execution of program i: native when the runtime has it. Returns 1
 * native, 0 interpreted, -1 a wrong native result. */
static int
node_exec(int i, int64_t x)
{
	jf_decision_t d = jf_lookup(nd.rt, nd.id[i]);
	int64_t want = interpret(i, x), got;

	if (d.fn == NULL)
		return 0;
	got = ((int64_t (*)(int64_t))d.fn)(x);
	return got == want ? 1 : -1;
}

static void
reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int
node_main(int argc, char **argv)
{
	jf_config_t *c = NULL;
	char err[512], line[256];
	int i, r;

	/* node NAME FARM STORE PUBKEY */
	if (argc < 6)
		return 2;
	for (i = 0; i < NPROG; i++) {
		nd.ir[i] = prog_ir(i, &nd.ir_len[i]);
		jf_program_id_from_ir(nd.ir[i], nd.ir_len[i], (jf_key_t *)nd.id[i]);
	}
	if ((r = jf_config_new(&c)) != 0 ||
	    (r = jf_config_set_farm(c, argv[3], NULL)) != 0 ||
	    (r = jf_config_set_store(c, argv[4])) != 0 ||
	    (r = jf_config_set_public_key(c, argv[5])) != 0 ||
	    (r = jf_config_set_namespace(c, "cluster")) != 0 ||
	    (r = jf_config_set_ir_provider(c, node_ir, NULL, NULL)) != 0 ||
	    (r = jf_config_set_event_callback(c, node_event, NULL)) != 0 ||
	    (r = jf_config_set_tune(c, JF_TUNE_HOT_THRESHOLD, HOT)) != 0 ||
	    (r = jf_config_set_tune(c, JF_TUNE_MAX_PENDING, NPROG)) != 0 ||
	    (r = jf_config_set_tune(c, JF_TUNE_NEGATIVE_TTL_MS, 500)) != 0 ||
	    (r = jf_config_set_tune(c, JF_TUNE_COMPILE_TIMEOUT_MS, 60000)) != 0) {
		fprintf(stderr, "node %s: config: %s\n", argv[2], jf_strerror(r));
		return 1;
	}
	if ((r = jf_runtime_open(c, &nd.rt, err, sizeof(err))) != 0) {
		fprintf(stderr, "node %s: open: %s\n", argv[2], err);
		return 1;
	}
	jf_config_free(c);
	reply("ready");

	while (fgets(line, sizeof(line), stdin) != NULL) {
		int a = 0, b = 0, n = 0, bad = 0, native = 0;
		uint64_t deadline;

		if (sscanf(line, "hot %d %d", &a, &b) == 2) {
			/* execute [a, b) round-robin until every one runs natively */
			deadline = jf_now_ns() + 90ull * 1000000000ull;
			while (jf_now_ns() < deadline) {
				native = 0;
				for (i = a; i < b; i++) {
					r = node_exec(i, (int64_t)n + i);
					bad += r < 0;
					native += r > 0;
				}
				n++;
				if (native == b - a)
					break;
				usleep(2000);
			}
			reply("hot %d/%d native after %d rounds, %d wrong", native, b - a, n, bad);
		} else if (sscanf(line, "first %d %d", &a, &b) == 2) {
			/* one execution each: native from the first one? */
			for (i = a; i < b; i++) {
				r = node_exec(i, 7);
				bad += r < 0;
				native += r > 0;
			}
			reply("first %d/%d native, %d wrong", native, b - a, bad);
		} else if (sscanf(line, "wait %d %d", &a, &b) == 2) {
			/* wait (without executing) until [a, b) are loaded */
			int pushed = 0;

			deadline = jf_now_ns() + 60ull * 1000000000ull;
			while (jf_now_ns() < deadline) {
				for (native = 0, i = a; i < b; i++)
					native += nd.loaded_kind[i] != 0;
				if (native == b - a)
					break;
				usleep(10000);
			}
			for (i = a; i < b; i++)
				pushed += nd.loaded_kind[i] == JF_EV_PUSH;
			reply("wait %d/%d loaded, %d pushed", native, b - a, pushed);
		} else if (strncmp(line, "stats", 5) == 0) {
			jf_stats_t st;

			memset(&st, 0, sizeof(st));
			jf_runtime_stats(nd.rt, &st, sizeof(st));
			reply("stats compiles=%" PRIu64 " preloaded=%" PRIu64 " pushed=%" PRIu64
			    " fetches=%" PRIu64 " programs=%" PRIu64 " rejected=%" PRIu64,
			    st.compiles, st.preloaded, st.pushed, st.fetches, st.programs,
			    st.rejected);
		} else if (strncmp(line, "quit", 4) == 0) {
			break;
		} else {
			reply("unknown command");
		}
	}
	jf_runtime_close(nd.rt);
	for (i = 0; i < NPROG; i++)
		free(nd.ir[i]);
	return 0;
}

/* ---- the test ---------------------------------------------------------------- */

static int fails, checks;

static void
check(int ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	fails += !ok;
	printf("%s %d - ", ok ? "ok" : "not ok", checks);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

typedef struct proc {
	pid_t pid;
	FILE *in, *out;                 /* its stdin, its stdout */
	char name[32];
	char log[4096];
} proc_t;

static char *tmp;
static char self_exe[4096];

static void
node_start(proc_t *p, const char *name, const char *farm, const char *store,
    const char *pub)
{
	int to[2], from[2], lf;
	char line[256];

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->log, sizeof(p->log), "%s/%s.log", tmp, name);
	if (pipe(to) != 0 || pipe(from) != 0)
		abort();
	if ((p->pid = fork()) == 0) {
		char *argv[] = { self_exe, (char *)"node", (char *)name, (char *)farm,
			(char *)store, (char *)pub, NULL };

		dup2(to[0], 0);
		dup2(from[1], 1);
		lf = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(lf, 2);
		close(to[1]);
		close(from[0]);
		execv(self_exe, argv);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	p->in = fdopen(to[1], "w");
	p->out = fdopen(from[0], "r");
	if (fgets(line, sizeof(line), p->out) == NULL || strncmp(line, "ready", 5) != 0) {
		printf("node %s did not start; its log:\n", name);
		fflush(stdout);
		jft_sh("cat \"$0\"", NULL, NULL);
	}
}

static void
node_send(proc_t *p, const char *cmd)
{
	fprintf(p->in, "%s\n", cmd);
	fflush(p->in);
}

/* The node's answer to the last command (static buffer per node). */
static const char *
node_recv(proc_t *p)
{
	static char buf[8][256];
	static int k;
	char *b = buf[k++ & 7];

	if (fgets(b, 256, p->out) == NULL)
		return "(no answer: node gone)";
	b[strcspn(b, "\n")] = '\0';
	return b;
}

static int
node_alive(proc_t *p)
{
	int st;

	return waitpid(p->pid, &st, WNOHANG) == 0;
}

static int
node_quit(proc_t *p)
{
	int st = -1;

	node_send(p, "quit");
	fclose(p->in);
	fclose(p->out);
	waitpid(p->pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

typedef jft_master_t master_t;

/* Start a master of the cluster (tests/support/master.h): shared store,
 * signing key, a short lease; its log is tmp/NAME.log. listen NULL: a
 * free port. */
static void
master_start(master_t *m, const char *name, const char *listen, const char *store,
    const char *key)
{
	const char *args[] = { "--signing-key", key, "--lease-ms", "3000", "--name", name, NULL };
	char log[4096];
	jft_master_opts_t o = { .listen = listen, .store = store, .dir = tmp, .log = log,
		.args = args };

	snprintf(log, sizeof(log), "%s/%s.log", tmp, name);
	if (jft_master_start(m, name, &o) != 0)
		printf("master %s did not open its port (log %s)\n", name, log);
}

/* Sum of a series in a master's /metrics (0 when the master is gone).
 * match is the series name with its labels, e.g.
 * jitfarm_compiles_total{result="ok"}. */
static double
metric(const master_t *m, const char *match)
{
	char cmd[256], *out = NULL, *p;
	double v = 0;
	size_t l = strlen(match);

	snprintf(cmd, sizeof(cmd), "curl -fs --max-time 5 http://127.0.0.1:%d/metrics", m->port);
	if (jft_sh(cmd, &out, NULL) == 0 && out != NULL)
		for (p = out; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
			if (strncmp(p, match, l) == 0 && (p[l] == ' ' || p[l] == '{'))
				v += strtod(strchr(p + l, ' ') + 1, NULL);
	free(out);
	return v;
}

static const char *
write_nginx_conf(int lb_port, const master_t *a, const master_t *b)
{
	static char path[4096];
	char conf[4096];

	snprintf(path, sizeof(path), "%s/nginx.conf", tmp);
	snprintf(conf, sizeof(conf),
	    "daemon off;\nworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/nginx-error.log info;\n"
	    "events { worker_connections 256; }\n"
	    "http {\n"
	    "  access_log %s/nginx-access.log;\n"
	    "  client_body_temp_path %s/nginx-body; proxy_temp_path %s/nginx-proxy;\n"
	    "  fastcgi_temp_path %s/nginx-fcgi; uwsgi_temp_path %s/nginx-uwsgi; scgi_temp_path %s/nginx-scgi;\n"
	    "  client_max_body_size 64m;\n"
	    /* a Service in front of the masters: a dead one is skipped,
	     * and a compile cut off by its death is sent to the other
	     * (compiles are idempotent: same input, same key) */
	    "  upstream masters {\n"
	    "    server 127.0.0.1:%d max_fails=1 fail_timeout=60s;\n"
	    "    server 127.0.0.1:%d max_fails=1 fail_timeout=60s;\n"
	    "    keepalive 16;\n"
	    "  }\n"
	    "  server {\n"
	    "    listen 127.0.0.1:%d;\n"
	    "    location / {\n"
	    "      proxy_pass http://masters;\n"
	    "      proxy_http_version 1.1;\n"
	    "      proxy_set_header Connection \"\";\n"
	    "      proxy_next_upstream error timeout non_idempotent http_502;\n"
	    "      proxy_read_timeout 120s;\n"
	    "      proxy_buffering off;\n"
	    "    }\n"
	    "  }\n"
	    "}\n", tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp, a->port, b->port, lb_port);
	jft_write(path, conf, strlen(conf));
	return path;
}

static int
all_match(const char *got, const char *want_prefix)
{
	return strncmp(got, want_prefix, strlen(want_prefix)) == 0 && strstr(got, " 0 wrong") != NULL;
}

int
main(int argc, char **argv)
{
	jft_server_t *redis;
	master_t ma, mb;
	proc_t nodes[4];
	char key[4096], pub[4096], farm[128], err[256];
	const char *nginx_conf;
	pid_t nginx;
	int lb_port, i, n;
	double compiles0, compiles1, compiles = 0;

	if (argc > 1 && strcmp(argv[1], "node") == 0)
		return node_main(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1) < 0)
		abort();
	tmp = jft_tmpdir("cluster");
	snprintf(key, sizeof(key), "%s/signing.key", tmp);
	snprintf(pub, sizeof(pub), "%s/signing.pub", tmp);
	if (jf_sign_keygen(key, pub, err, sizeof(err)) != 0) {
		printf("keygen: %s\n", err);
		return 1;
	}

	/* the cluster: redis, two masters, a load balancer in front */
	redis = jft_redis_start(NULL);
	/* every compile holds 1.5 s before it is stored: the window in which
	 * concurrent requests must join, and a master can die mid-compile */
	setenv("JF_TEST_HOLD_MS", "1500", 1);
	master_start(&ma, "master-a", NULL, redis->url, key);
	master_start(&mb, "master-b", NULL, redis->url, key);
	unsetenv("JF_TEST_HOLD_MS");
	lb_port = jft_free_port();
	nginx_conf = write_nginx_conf(lb_port, &ma, &mb);
	{
		char *nargv[] = { (char *)"nginx", (char *)"-c", (char *)nginx_conf,
			(char *)"-p", tmp, NULL };
		char nlog[4200];

		snprintf(nlog, sizeof(nlog), "%s/nginx.out", tmp);
		if (access("/usr/sbin/nginx", X_OK) == 0)
			nargv[0] = (char *)"/usr/sbin/nginx";
		nginx = jft_spawn(nargv, nlog);
	}
	check(jft_wait_port(lb_port, 10000) == 0, "load balancer (nginx) in front of both masters");
	snprintf(farm, sizeof(farm), "http://127.0.0.1:%d", lb_port);

	/* 1. single-flight across the cluster */
	for (i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "node%d", i + 1);
		node_start(&nodes[i], name, farm, redis->url, pub);
	}
	compiles0 = metric(&ma, "jitfarm_compiles_total{result=\"ok\"}") +
	    metric(&mb, "jitfarm_compiles_total{result=\"ok\"}");
	for (i = 0; i < 3; i++)
		node_send(&nodes[i], "hot 0 4");
	for (i = 0; i < 3; i++) {
		const char *r = node_recv(&nodes[i]);

		check(all_match(r, "hot 4/4 native"), "single-flight: node%d runs programs 0-3 natively (%s)", i + 1, r);
	}
	compiles1 = metric(&ma, "jitfarm_compiles_total{result=\"ok\"}") +
	    metric(&mb, "jitfarm_compiles_total{result=\"ok\"}");
	check(compiles1 - compiles0 == 4,
	    "single-flight: 4 programs, 3 nodes, 2 masters: %.0f compiles in all (a: %.0f, b: %.0f)",
	    compiles1 - compiles0, metric(&ma, "jitfarm_compiles_total{result=\"ok\"}"),
	    metric(&mb, "jitfarm_compiles_total{result=\"ok\"}"));
	printf("# joins a=%.0f b=%.0f, lease waits a=%.0f b=%.0f\n",
	    metric(&ma, "jitfarm_singleflight_joins_total"), metric(&mb, "jitfarm_singleflight_joins_total"),
	    metric(&ma, "jitfarm_lease_waits_total"), metric(&mb, "jitfarm_lease_waits_total"));

	/* 1b. the same with the example host (examples/vm): three VMs start
	 *     at once with the same workload of their own programs */
	{
		pid_t vm[3];
		char logs[3][4300], name[3][16], *out;
		double before = metric(&ma, "jitfarm_compiles_total{result=\"ok\"}") +
		    metric(&mb, "jitfarm_compiles_total{result=\"ok\"}");
		int st, okvm = 0;

		for (i = 0; i < 3; i++) {
			char *vargv[] = { (char *)jft_bin("../examples/vm/vm"), (char *)"--farm", farm,
				(char *)"--store", redis->url, (char *)"--public-key", pub,
				(char *)"--programs", (char *)"4", (char *)"--runs", (char *)"6000",
				(char *)"--threshold", (char *)"20", (char *)"--name", name[i],
				/* a VM whose rounds end before its compiles come
				 * back (they are held 1.5 s) keeps running */
				(char *)"--until-native", (char *)"60",
				(char *)"--quiet", NULL };

			snprintf(name[i], sizeof(name[i]), "vm%d", i + 1);
			snprintf(logs[i], sizeof(logs[i]), "%s/vm%d.log", tmp, i + 1);
			vm[i] = jft_spawn(vargv, logs[i]);
		}
		for (i = 0; i < 3; i++) {
			waitpid(vm[i], &st, 0);
			out = (char *)jft_read(logs[i], NULL);
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && out != NULL &&
			    strstr(out, "4 programs in the map") != NULL &&
			    strstr(out, "native and interpreted agree on every execution") != NULL)
				okvm++;
			else
				printf("# vm%d (exit %d):\n%s\n", i + 1, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
				    out ? out : "(no output)");
			free(out);
		}
		check(okvm == 3, "example host: 3 of 3 VMs ran all 4 programs natively, results agree (%d)", okvm);
		compiles = metric(&ma, "jitfarm_compiles_total{result=\"ok\"}") +
		    metric(&mb, "jitfarm_compiles_total{result=\"ok\"}") - before;
		check(compiles == 4, "example host: 4 programs, 3 VMs, 2 masters: %.0f compiles in all", compiles);
	}

	/* 2. scale-out: a new node is warm from its first execution */
	node_start(&nodes[3], "node4", farm, redis->url, pub);
	node_send(&nodes[3], "first 0 4");
	{
		const char *r = node_recv(&nodes[3]);

		check(all_match(r, "first 4/4 native"), "scale-out: node4 runs all 4 natively from its first execution (%s)", r);
		node_send(&nodes[3], "stats");
		r = node_recv(&nodes[3]);
		check(strstr(r, "compiles=0 preloaded=4") != NULL, "scale-out: node4 preloaded 4, compiled none (%s)", r);
	}

	/* 3. a master killed in the middle of a compile */
	{
		master_t *victim = NULL, *other = NULL;
		uint64_t until = jf_now_ns() + 20ull * 1000000000ull;
		/* counted before the phase: the survivor may finish its share
		 * of the work before the victim is even chosen */
		double base_a = metric(&ma, "jitfarm_compiles_total{result=\"ok\"}");
		double base_b = metric(&mb, "jitfarm_compiles_total{result=\"ok\"}");

		for (i = 0; i < 4; i++)
			node_send(&nodes[i], "hot 4 6");

		while (victim == NULL && jf_now_ns() < until) {
			if (metric(&ma, "jitfarm_inflight_compiles") > 0)
				victim = &ma, other = &mb;
			else if (metric(&mb, "jitfarm_inflight_compiles") > 0)
				victim = &mb, other = &ma;
			else
				usleep(20000);
		}
		check(victim != NULL, "a master is compiling (inflight > 0)");
		if (victim != NULL) {
			compiles = other == &ma ? base_a : base_b;
			jft_master_kill(victim);
			printf("# killed %s mid-compile\n", victim == &ma ? "master-a" : "master-b");
		}
		for (i = 0; i < 4; i++) {
			const char *r = node_recv(&nodes[i]);

			check(all_match(r, "hot 2/2 native"),
			    "master killed: node%d still runs programs 4-5 natively (%s)", i + 1, r);
		}
		for (n = 0, i = 0; i < 4; i++)
			n += node_alive(&nodes[i]);
		check(n == 4, "master killed: no node crashed (%d of 4 alive)", n);
		if (victim != NULL)
			check(metric(other, "jitfarm_compiles_total{result=\"ok\"}") - compiles >= 1,
			    "master killed: the surviving master compiled the lost work");
		/* restart the dead master, as a Deployment would */
		if (victim != NULL) {
			char name[16];

			snprintf(name, sizeof(name), "%s", victim == &ma ? "master-a2" : "master-b2");
			setenv("JF_TEST_HOLD_MS", "1500", 1);
			{
				char listen[64];

				snprintf(listen, sizeof(listen), "127.0.0.1:%d", victim->port);
				free(victim->dir);
				master_start(victim, name, listen, redis->url, key);
			}
			unsetenv("JF_TEST_HOLD_MS");
		}
	}

	/* 4. redis-server restarted: everything reconnects, and what is
	 *    published afterwards reaches every node through the stream */
	check(jft_server_restart(redis) == 0, "redis-server restarted on the same port with its data");
	usleep(500000);
	node_send(&nodes[0], "hot 6 8");
	{
		const char *r = node_recv(&nodes[0]);

		check(all_match(r, "hot 2/2 native"), "after the redis restart node1 turns programs 6-7 native (%s)", r);
	}
	for (i = 1; i < 4; i++)
		node_send(&nodes[i], "wait 6 8");
	for (i = 1; i < 4; i++) {
		const char *r = node_recv(&nodes[i]);

		check(strcmp(r, "wait 2/2 loaded, 2 pushed") == 0,
		    "after the redis restart node%d received programs 6-7 by push (%s)", i + 1, r);
	}
	for (i = 1; i < 4; i++)
		node_send(&nodes[i], "first 6 8");
	for (i = 1; i < 4; i++) {
		const char *r = node_recv(&nodes[i]);

		check(all_match(r, "first 2/2 native"), "node%d runs the pushed programs natively (%s)", i + 1, r);
	}
	for (i = 0; i < 4; i++) {
		node_send(&nodes[i], "stats");
		printf("# node%d %s\n", i + 1, node_recv(&nodes[i]));
	}

	for (n = 0, i = 0; i < 4; i++)
		n += node_quit(&nodes[i]);
	check(n == 4, "every node closes cleanly (%d of 4)", n);

	jft_stop(nginx);
	{
		char why[512] = "";

		check(jft_master_stop(&ma, why, sizeof(why)) == 0, "master-a exits cleanly (%s)", why);
		why[0] = '\0';
		check(jft_master_stop(&mb, why, sizeof(why)) == 0, "master-b exits cleanly (%s)", why);
	}
	jft_server_free(redis);
	if (fails != 0) {
		printf("# logs kept in %s\n", tmp);
	} else {
		jft_rmtree(tmp);
	}
	printf("%d passed, %d failed\n", checks - fails, fails);
	return fails != 0;
}

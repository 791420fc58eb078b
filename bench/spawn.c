/*
 * spawn.c (bench) - what it costs to get a fresh compile worker.
 *
 * 1. From the zygote: a SPAWN request on its control socket until the
 *    new worker's channel and pidfd arrive (fork of an LLVM-initialised
 *    process, pidfd_open, SCM_RIGHTS), and until that worker, confined
 *    (fds closed, signals reset, rlimits, no_new_privs, seccomp), has
 *    answered its first request (a one-byte module: a parse error).
 * 2. The baseline, in the same run: fork+exec of this binary, which is
 *    linked with libLLVM-19.so, until it exits at the top of main() (the
 *    dynamic linking alone), and the same plus jf_llvm_init() (what a
 *    fresh worker process would need before its first compile).
 *
 *   make bench   (or: build/bench/spawn [ROUNDS])
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/fdpass.h"
#include "common/mem.h"
#include "common/util.h"
#include "worker/proto.h"
#include "compiler/compile.h"
#include "worker/worker.h"

extern char **environ;

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
median_ms(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return (double)v[n / 2] / 1e6;
}

static double
p90_ms(uint64_t *v, int n)
{
	return (double)v[(n * 9) / 10] / 1e6;
}

/* One zygote control message, with up to two fds. */
static int
zy_recv(int zfd, jf_frame_hdr_t *h, uint8_t *payload, int *fds)
{
	uint8_t buf[JF_PROTO_HDR_LEN + 64];
	int got[JF_FDPASS_MAX], ngot = 0, i;
	ssize_t n;

	fds[0] = fds[1] = -1;
	n = jf_fd_recv(zfd, buf, sizeof(buf), got, JF_FDPASS_MAX, &ngot, 0);
	if (n < JF_PROTO_HDR_LEN || jf_frame_hdr_decode(buf, 64, h) != 0)
		return -1;
	memcpy(payload, buf + JF_PROTO_HDR_LEN, (size_t)n - JF_PROTO_HDR_LEN);
	for (i = 0; i < ngot; i++) {
		if (i < 2)
			fds[i] = got[i];
		else
			close(got[i]);
	}
	return 0;
}

static int
zy_spawn(int zfd, uint64_t token)
{
	uint8_t buf[JF_PROTO_HDR_LEN + 16];
	jf_frame_hdr_t h = { .type = JF_FRAME_ZY_SPAWN, .id = token, .len = 16 };

	jf_frame_hdr_encode(buf, &h);
	jf_put_u64(buf + JF_PROTO_HDR_LEN, 4ull << 30);
	jf_put_u32(buf + JF_PROTO_HDR_LEN + 8, 600);
	jf_put_u32(buf + JF_PROTO_HDR_LEN + 12, 0);
	return send(zfd, buf, sizeof(buf), MSG_NOSIGNAL) == (ssize_t)sizeof(buf) ? 0 : -1;
}

static uint64_t
fork_exec(const char *self, const char *mode)
{
	char *argv[] = { (char *)self, (char *)mode, NULL };
	uint64_t t0 = jf_now_ns();
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		execve(self, argv, environ);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "spawn: fork+exec failed\n");
		exit(1);
	}
	return jf_now_ns() - t0;
}

int
main(int argc, char **argv)
{
	int rounds = 200, sv[2], i, fds[2], lk;
	uint64_t *spawn_ns, *ready_ns, *exec_ns, *init_ns;
	char self[4096];
	uint8_t pl[64];
	jf_frame_hdr_t h;
	pid_t zpid;
	ssize_t sl;

	if (argc > 1 && strcmp(argv[1], "--exit") == 0)
		return 0;
	if (argc > 1 && strcmp(argv[1], "--init") == 0)
		return jf_llvm_init() == 0 ? 0 : 1;
	if (argc > 1)
		rounds = atoi(argv[1]);
	if (rounds < 10)
		rounds = 10;
	sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl <= 0)
		return 1;
	self[sl] = '\0';
	spawn_ns = calloc((size_t)rounds, sizeof(uint64_t));
	ready_ns = calloc((size_t)rounds, sizeof(uint64_t));
	exec_ns = calloc((size_t)rounds, sizeof(uint64_t));
	init_ns = calloc((size_t)rounds, sizeof(uint64_t));
	if (!spawn_ns || !ready_ns || !exec_ns || !init_ns)
		return 1;

	/* a zygote, exactly as the pool makes one */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	zpid = fork();
	if (zpid == 0) {
		close(sv[0]);
		jf_zygote_run(sv[1], getppid());
	}
	close(sv[1]);
	if (zy_recv(sv[0], &h, pl, fds) != 0 || h.type != JF_FRAME_ZY_HELLO || h.status != 0) {
		fprintf(stderr, "spawn: zygote did not start\n");
		return 1;
	}
	for (i = 0; i < rounds; i++) {
		uint64_t t0 = jf_now_ns(), t1;
		uint8_t *ans = NULL;
		jf_frame_hdr_t ah;
		int got_exit = 0;

		if (zy_spawn(sv[0], (uint64_t)i + 1) != 0 || zy_recv(sv[0], &h, pl, fds) != 0 ||
		    h.type != JF_FRAME_ZY_SPAWNED || h.status != 0) {
			fprintf(stderr, "spawn: spawn failed\n");
			return 1;
		}
		t1 = jf_now_ns();
		/* first request: a one-byte module, answered with a parse error
		 * once the worker has confined itself */
		{
			jf_compile_req_t req;
			uint8_t *enc = NULL;
			size_t elen = 0;

			memset(&req, 0, sizeof(req));
			req.ir = (const uint8_t *)"x";
			req.ir_len = 1;
			req.spec.opt = '0';
			if (jf_proto_req_encode(&req, &enc, &elen) != 0 ||
			    jf_frame_write(fds[0], JF_FRAME_COMPILE, 1, 0, enc, elen) != 0 ||
			    jf_frame_read(fds[0], 1 << 20, &ah, &ans) != 0 || ah.status != JF_ERR_PARSE) {
				fprintf(stderr, "spawn: worker did not answer\n");
				return 1;
			}
			jf_free(enc);
			jf_free(ans);
		}
		spawn_ns[i] = t1 - t0;
		ready_ns[i] = jf_now_ns() - t0;
		close(fds[0]);          /* EOF: the worker exits */
		close(fds[1]);
		while (!got_exit) {
			int xf[2];

			if (zy_recv(sv[0], &h, pl, xf) != 0)
				return 1;
			got_exit = h.type == JF_FRAME_ZY_EXIT;
		}
	}
	close(sv[0]);
	waitpid(zpid, NULL, 0);

	for (i = 0; i < rounds / 4; i++) {
		exec_ns[i] = fork_exec(self, "--exit");
		init_ns[i] = fork_exec(self, "--init");
	}
	lk = rounds / 4;
	{
		double sp = median_ms(spawn_ns, rounds), rd = median_ms(ready_ns, rounds);
		double ex = median_ms(exec_ns, lk), in = median_ms(init_ns, lk);

		printf("worker spawn, %d rounds (ms)        median   p90\n", rounds);
		printf("  zygote fork -> fds received       %7.3f %7.3f\n", sp, p90_ms(spawn_ns, rounds));
		printf("  zygote fork -> confined, answered %7.3f %7.3f\n", rd, p90_ms(ready_ns, rounds));
		printf("  fork+exec libLLVM binary (%d)     %7.3f %7.3f\n", lk, ex, p90_ms(exec_ns, lk));
		printf("  fork+exec + jf_llvm_init (%d)     %7.3f %7.3f\n", lk, in, p90_ms(init_ns, lk));
		printf("ratio: zygote worker ready / fork+exec = %.3f (%.1fx faster)\n",
		    rd / ex, ex / rd);
	}
	free(spawn_ns);
	free(ready_ns);
	free(exec_ns);
	free(init_ns);
	return 0;
}

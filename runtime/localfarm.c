/*
 * localfarm.c - a private farm for a node that has none: a jitfarm-master
 * on a unix socket in a fresh temp directory, sharing the node's store.
 *
 * The host may be multi-threaded and may hold locks, big mappings and
 * secrets, so the master is started with posix_spawn (a vfork-and-exec),
 * never by forking the host. Its signal mask and dispositions are reset,
 * it inherits no descriptor of ours (the library opens everything with
 * O_CLOEXEC), and its output goes to a log file next to its socket. It
 * is stopped with SIGTERM (then SIGKILL) when the runtime closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "localfarm.h"

extern char **environ;

#define START_TIMEOUT_MS 15000

static int
sock_ready(const char *path)
{
	struct sockaddr_un sa;
	int fd, ok;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	jf_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void
rm_dir(const char *dir)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/master.sock", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/master.log", dir);
	unlink(p);
	rmdir(dir);
}

int
jf_localfarm_start(jf_runtime_t *rt, const char *master_path, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char dir[4096], sock[4200], listen[4300], logp[4200], url[4300];
	const char *base = getenv("TMPDIR"), *bin = master_path;
	char *argv[12];
	pid_t pid;
	uint64_t deadline;
	int r, status, have_fa = 0, have_attr = 0;

	if (bin == NULL)
		bin = getenv("JITFARM_MASTER");
	if (bin == NULL || *bin == '\0')
		bin = "jitfarm-master";
	if (base == NULL || *base == '\0')
		base = "/tmp";
	snprintf(dir, sizeof(dir), "%s/jitfarm-node-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		return jf_seterr(err, errlen, JF_ERR_SYSTEM, "local farm: mkdtemp %s: %s", dir,
		    strerror(errno));
	snprintf(sock, sizeof(sock), "%s/master.sock", dir);
	snprintf(listen, sizeof(listen), "unix:%s", sock);
	snprintf(logp, sizeof(logp), "%s/master.log", dir);
	if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		rmdir(dir);
		return jf_seterr(err, errlen, JF_ERR_INVAL, "local farm: socket path too long");
	}
	argv[0] = (char *)"jitfarm-master";
	argv[1] = (char *)"--listen";
	argv[2] = listen;
	argv[3] = (char *)"--store";
	argv[4] = rt->store_url;
	argv[5] = (char *)"--workers";
	argv[6] = (char *)"1";
	argv[7] = (char *)"--drain-timeout";
	argv[8] = (char *)"2";
	argv[9] = NULL;

	r = JF_ERR_SYSTEM;
	if (posix_spawn_file_actions_init(&fa) != 0)
		goto fail;
	have_fa = 1;
	if (posix_spawnattr_init(&attr) != 0)
		goto fail;
	have_attr = 1;
	sigemptyset(&none);
	sigfillset(&all);
	if (posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, logp,
	    O_WRONLY | O_CREAT | O_APPEND, 0600) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO) != 0 ||
	    posix_spawnattr_setsigmask(&attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(&attr, &all) != 0 ||
	    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETPGROUP) != 0 ||
	    posix_spawnattr_setpgroup(&attr, 0) != 0)
		goto fail;
	if ((errno = posix_spawnp(&pid, bin, &fa, &attr, argv, environ)) != 0) {
		r = jf_seterr(err, errlen, JF_ERR_SYSTEM, "local farm: cannot start %s: %s", bin,
		    strerror(errno));
		goto fail_quiet;
	}
	rt->master_pid = pid;
	deadline = jf_now_ns() + (uint64_t)START_TIMEOUT_MS * 1000000ull;
	while (!sock_ready(sock)) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			rt->master_pid = -1;
			r = jf_seterr(err, errlen, JF_ERR_SYSTEM,
			    "local farm: %s exited at start (see %s)", bin, logp);
			goto fail_quiet;
		}
		if (jf_now_ns() > deadline) {
			r = jf_seterr(err, errlen, JF_ERR_TIMEOUT,
			    "local farm: %s did not come up (see %s)", bin, logp);
			goto fail_quiet;
		}
		usleep(5000);
	}
	snprintf(url, sizeof(url), "unix:%s", sock);
	if ((rt->master_dir = jf_strdup(dir)) == NULL || (rt->farm_url = jf_strdup(url)) == NULL) {
		r = jf_seterr(err, errlen, JF_ERR_NOMEM, "out of memory");
		goto fail_quiet;
	}
	jf_info("runtime: local farm pid %d on %s", (int)pid, sock);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return 0;
fail:
	jf_seterr(err, errlen, r, "local farm: posix_spawn setup failed");
fail_quiet:
	if (have_fa)
		posix_spawn_file_actions_destroy(&fa);
	if (have_attr)
		posix_spawnattr_destroy(&attr);
	jf_localfarm_stop(rt);
	if (rt->master_dir == NULL)
		rm_dir(dir);
	return r;
}

void
jf_localfarm_stop(jf_runtime_t *rt)
{
	int status, i;

	if (rt->master_pid > 0) {
		kill(rt->master_pid, SIGTERM);
		for (i = 0; i < 500; i++) {
			pid_t w = waitpid(rt->master_pid, &status, WNOHANG);

			if (w == rt->master_pid || (w < 0 && errno == ECHILD))
				break;
			usleep(10000);
		}
		if (i == 500) {
			kill(rt->master_pid, SIGKILL);
			waitpid(rt->master_pid, &status, 0);
		}
		rt->master_pid = -1;
	}
	if (rt->master_dir != NULL) {
		rm_dir(rt->master_dir);
		jf_free(rt->master_dir);
		rt->master_dir = NULL;
	}
}

/*
 * cc_run.c - starting the compiler for `jitfarm cc` (cc_run.h):
 * posix_spawn for a run whose output is read back, exec for handing the
 * whole compile to the real compiler.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jitfarm/error.h"
#include "common/mem.h"
#include "cli/cli.h"
#include "cli/cc_run.h"

extern char **environ;

int
jf_cc_run(char *const *argv, char *const *extra_env, const char *out_path,
    const char *err_path)
{
	posix_spawn_file_actions_t fa;
	char **envp;
	size_t n = 0, m = 0;
	pid_t pid;
	int st, r;

	while (environ[n] != NULL)
		n++;
	while (extra_env != NULL && extra_env[m] != NULL)
		m++;
	envp = jf_xcalloc(n + m + 1, sizeof(*envp));
	memcpy(envp, environ, n * sizeof(*envp));
	if (m > 0)
		memcpy(envp + n, extra_env, m * sizeof(*envp));
	posix_spawn_file_actions_init(&fa);
	if (out_path != NULL)
		posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (err_path != NULL)
		posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	jf_free(envp);
	if (r != 0) {
		errno = r;
		return JF_ERR_SYSTEM;
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return JF_ERR_SYSTEM;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

char **
jf_cc_argv_build(const jf_cc_args_t *a, unsigned skip, const char *const *extra)
{
	size_t n = 0, i, m = 0;
	char **v;

	while (extra != NULL && extra[m] != NULL)
		m++;
	v = jf_xcalloc(a->argc + m + 2, sizeof(*v));
	v[n++] = a->compiler;
	for (i = 0; i < a->argc; i++)
		if (!(skip & (1u << a->kind[i])))
			v[n++] = a->argv[i];
	for (i = 0; i < m; i++)
		v[n++] = (char *)(uintptr_t)extra[i];
	v[n] = NULL;
	return v;
}

/* execvp/execv v, or say why not and return 127. */
static int
exec_or_127(char **v, int search)
{
	fflush(NULL);
	if (search)
		execvp(v[0], v);
	else
		execv(v[0], v);
	jf_cli_err("cc: cannot run %s: %s", v[0], strerror(errno));
	jf_free(v);
	return 127;
}

int
jf_cc_exec_real(const jf_cc_args_t *a)
{
	char **v = jf_xcalloc(a->norig + 2, sizeof(*v));

	v[0] = a->compiler;
	memcpy(v + 1, a->orig, a->norig * sizeof(*v));
	return exec_or_127(v, 1);
}

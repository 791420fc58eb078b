/*
 * llvm_init.c - LLVM's one-time initialisation (llvm_init.h).
 *
 * Kept apart from the compile and the target code so that both can call it
 * without including each other. It runs once per process under
 * pthread_once; the zygote pays for it before it forks, so a worker starts
 * with every target ready and never needs the system calls that
 * initialisation makes.
 */
#include <pthread.h>
#include <stdlib.h>

#include <llvm-c/Target.h>

#include "jitfarm/error.h"
#include "common/util.h"
#include "compiler/llvm_init.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static int
int_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void
llvm_init_once(void)
{
	int prime[512];
	size_t i;

	/* LLVM sorts with qsort (array_pod_sort). The first qsort of 1 KiB
	 * or more makes glibc ask the kernel for the machine's memory size
	 * (sysinfo) and cache it in a static. Do that here, once, so that a
	 * worker forked from an initialised process never needs that system
	 * call inside its seccomp sandbox. */
	for (i = 0; i < JF_ARRAY_LEN(prime); i++)
		prime[i] = (int)(JF_ARRAY_LEN(prime) - i);
	qsort(prime, JF_ARRAY_LEN(prime), sizeof(prime[0]), int_cmp);

	/* every target LLVM was built with, so a request can name any of
	 * them; the cost is paid once per process (the zygote, before it
	 * forks) */
	LLVMInitializeAllTargetInfos();
	LLVMInitializeAllTargets();
	LLVMInitializeAllTargetMCs();
	LLVMInitializeAllAsmPrinters();
	LLVMInitializeAllAsmParsers();
}

int
jf_llvm_init(void)
{
	return pthread_once(&init_once, llvm_init_once) == 0 ? 0 : JF_ERR_SYSTEM;
}

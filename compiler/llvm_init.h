/*
 * llvm_init.h - LLVM's one-time process initialisation, for every part of
 * the compiler layer (target.c, compile.c) and for the zygote.
 */
#ifndef JF_LLVM_INIT_H
#define JF_LLVM_INIT_H

/* Initialise every target LLVM was built with (infos, targets, MCs, asm
 * printers and parsers), once per process. Safe to call more than once and
 * from several threads; the zygote calls it before it forks workers.
 * Returns 0 or JF_ERR_SYSTEM. */
int jf_llvm_init(void);

#endif

/*
 * loader.h - loading artifact objects into this process with ORC LLJIT
 * (loader.cpp), as plain C.
 *
 * Each program gets a JITDylib of its own (programs may define the same
 * symbol names) with a resource tracker, so that unloading one program
 * frees its code and nothing else. Every program JITDylib links against
 * one host JITDylib that holds the host's absolute symbols and, when
 * asked, a generator that finds the rest in the process.
 *
 * A jf_loader_t is used under the caller's lock: one thread at a time.
 */
#ifndef JF_RT_LOADER_H
#define JF_RT_LOADER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jf_loader jf_loader_t;

typedef struct jf_loader_sym {
	const char *name;
	void *addr;
} jf_loader_sym_t;

/* Create the JIT. syms (copied) are the host's symbols; with
 * process_symbols, names not in syms are looked up in the process.
 * Returns 0 or a jf_err with a message. */
int jf_loader_new(const jf_loader_sym_t *syms, size_t nsyms, int process_symbols,
    jf_loader_t **out, char *err, size_t errlen);
void jf_loader_free(jf_loader_t *L);

/*
 * Load an ELF relocatable object (copied) as a new program named name
 * (unique per loader), link it, and resolve the nsyms symbol names into
 * addrs. On success *handle identifies the program for jf_loader_remove.
 * On failure nothing stays loaded. Returns 0, JF_ERR_FORMAT (not an
 * object, or a symbol is missing) or JF_ERR_NOMEM, with a message.
 */
int jf_loader_add(jf_loader_t *L, const char *name, const uint8_t *obj, size_t len,
    const char *const *syms, size_t nsyms, void **addrs, void **handle,
    char *err, size_t errlen);
/* Unload a program: its code and data are freed. */
int jf_loader_remove(jf_loader_t *L, void *handle, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif

/*
 * loader.cpp - ORC LLJIT loading for the runtime (see loader.h).
 *
 * The C API of ORC cannot look a symbol up in a JITDylib other than the
 * main one, nor set a JITDylib's link order, and both are what one
 * JITDylib per program needs; so this small part is C++ behind a C
 * interface. No LLVM error escapes: every llvm::Error and Expected is
 * consumed here and turned into a jf_err and a message. The two small
 * structs of our own live in jf_malloc memory (the host's allocator);
 * what LLVM allocates for itself does not.
 */
#include <stdio.h>
#include <string.h>

#include <memory>
#include <string>

#include "llvm/ExecutionEngine/Orc/Core.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"

#include "jitfarm/error.h"
extern "C" {
#include "common/mem.h"
}
#include "loader.h"

using namespace llvm;
using namespace llvm::orc;

struct jf_loader {
	std::unique_ptr<LLJIT> jit;
	JITDylib *host;
};

struct loaded {
	JITDylib *jd;
	ResourceTrackerSP rt;
};

/* new and delete on jf_malloc: NULL when out of memory */
template <typename T> static T *
jf_new(void)
{
	void *m = jf_malloc(sizeof(T));

	return m != nullptr ? new (m) T() : nullptr;
}

struct jf_delete {
	template <typename T> void operator()(T *p) const
	{
		p->~T();
		jf_free(p);
	}
};

static int
fail(char *err, size_t errlen, int code, const char *what, Error e)
{
	std::string msg = toString(std::move(e));

	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", what, msg.c_str());
	return code;
}

extern "C" int
jf_loader_new(const jf_loader_sym_t *syms, size_t nsyms, int process_symbols,
    jf_loader_t **out, char *err, size_t errlen)
{
	*out = nullptr;
	InitializeNativeTarget();
	InitializeNativeTargetAsmPrinter();

	auto J = LLJITBuilder().create();
	if (!J)
		return fail(err, errlen, JF_ERR_SYSTEM, "creating the JIT", J.takeError());
	std::unique_ptr<jf_loader, jf_delete> L(jf_new<jf_loader>());
	if (!L)
		return JF_ERR_NOMEM;
	L->jit = std::move(*J);
	ExecutionSession &ES = L->jit->getExecutionSession();
	L->host = &ES.createBareJITDylib("jitfarm-host");

	SymbolMap map;
	for (size_t i = 0; i < nsyms; i++)
		map[L->jit->mangleAndIntern(syms[i].name)] = {
			ExecutorAddr::fromPtr(syms[i].addr),
			JITSymbolFlags::Exported | JITSymbolFlags::Callable };
	if (!map.empty()) {
		if (Error e = L->host->define(absoluteSymbols(std::move(map))))
			return fail(err, errlen, JF_ERR_INVAL, "host symbols", std::move(e));
	}
	if (process_symbols) {
		auto G = DynamicLibrarySearchGenerator::GetForCurrentProcess(
		    L->jit->getDataLayout().getGlobalPrefix());
		if (!G)
			return fail(err, errlen, JF_ERR_SYSTEM, "process symbols", G.takeError());
		L->host->addGenerator(std::move(*G));
	}
	*out = L.release();
	return 0;
}

extern "C" void
jf_loader_free(jf_loader_t *L)
{
	if (L != nullptr)
		jf_delete()(L);
}

extern "C" int
jf_loader_add(jf_loader_t *L, const char *name, const uint8_t *obj, size_t len,
    const char *const *syms, size_t nsyms, void **addrs, void **handle,
    char *err, size_t errlen)
{
	ExecutionSession &ES = L->jit->getExecutionSession();
	*handle = nullptr;

	auto JD = ES.createJITDylib(name);
	if (!JD)
		return fail(err, errlen, JF_ERR_INVAL, "creating the program's dylib",
		    JD.takeError());
	JD->addToLinkOrder(*L->host, JITDylibLookupFlags::MatchExportedSymbolsOnly);
	std::unique_ptr<loaded, jf_delete> P(jf_new<loaded>());
	if (!P) {
		consumeError(ES.removeJITDylib(*JD));
		return JF_ERR_NOMEM;
	}
	P->jd = &*JD;
	P->rt = JD->createResourceTracker();

	auto buf = MemoryBuffer::getMemBufferCopy(
	    StringRef(reinterpret_cast<const char *>(obj), len), name);
	int r = 0;
	if (Error e = L->jit->addObjectFile(P->rt, std::move(buf))) {
		r = fail(err, errlen, JF_ERR_FORMAT, "loading the object", std::move(e));
		goto out;
	}
	/* the first lookup links the object: errors show up here */
	for (size_t i = 0; i < nsyms; i++) {
		auto a = L->jit->lookup(*P->jd, syms[i]);
		if (!a) {
			r = fail(err, errlen, JF_ERR_FORMAT, syms[i], a.takeError());
			goto out;
		}
		addrs[i] = a->toPtr<void *>();
	}
	*handle = P.release();
out:
	if (r != 0) {
		consumeError(P->rt->remove());
		consumeError(ES.removeJITDylib(*P->jd));
	}
	return r;
}

extern "C" int
jf_loader_remove(jf_loader_t *L, void *handle, char *err, size_t errlen)
{
	std::unique_ptr<loaded, jf_delete> P(static_cast<loaded *>(handle));
	int r = 0;

	if (!P)
		return 0;
	if (Error e = P->rt->remove())
		r = fail(err, errlen, JF_ERR_SYSTEM, "unloading", std::move(e));
	if (Error e = L->jit->getExecutionSession().removeJITDylib(*P->jd))
		r = fail(err, errlen, JF_ERR_SYSTEM, "removing the dylib", std::move(e));
	return r;
}

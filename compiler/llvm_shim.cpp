/*
 * llvm_shim.cpp - C wrappers over LLVM's C++ API for what the C API lacks
 * (see llvm_shim.h). Each call builds a throwaway MCSubtargetInfo for the
 * triple with an empty CPU and feature string, which LLVM accepts without
 * a diagnostic, and looks the name up in its sorted tables. Nothing here
 * throws (the build uses -fno-exceptions) or prints.
 */
#include <cstring>
#include <memory>
#include <string>

#include <llvm/ADT/StringRef.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>

#include "llvm_shim.h"

static std::unique_ptr<llvm::MCSubtargetInfo>
subtarget_for(const char *triple)
{
	std::string err;
	const llvm::Target *t = llvm::TargetRegistry::lookupTarget(triple, err);

	if (t == nullptr)
		return nullptr;
	return std::unique_ptr<llvm::MCSubtargetInfo>(
	    t->createMCSubtargetInfo(triple, "", ""));
}

extern "C" int
jf_llvm_cpu_valid(const char *triple, const char *cpu)
{
	std::unique_ptr<llvm::MCSubtargetInfo> sti = subtarget_for(triple);

	if (!sti)
		return -1;
	return sti->isCPUStringValid(cpu) ? 1 : 0;
}

static bool
feature_known(const llvm::MCSubtargetInfo &sti, llvm::StringRef name)
{
	for (const llvm::SubtargetFeatureKV &kv : sti.getAllProcessorFeatures())
		if (name == kv.Key)
			return true;
	return false;
}

static void
copy_out(char *dst, size_t dstlen, llvm::StringRef s)
{
	size_t n;

	if (dst == nullptr || dstlen == 0)
		return;
	n = s.size() < dstlen - 1 ? s.size() : dstlen - 1;
	memcpy(dst, s.data(), n);
	dst[n] = '\0';
}

extern "C" int
jf_llvm_features_filter(const char *triple, const char *in, char *out,
    size_t outlen, char *bad, size_t badlen)
{
	std::unique_ptr<llvm::MCSubtargetInfo> sti = subtarget_for(triple);
	llvm::StringRef rest(in ? in : "");
	std::string kept;
	int unknown = 0;

	copy_out(bad, badlen, "");
	if (!sti)
		return -1;
	while (!rest.empty()) {
		auto [item, tail] = rest.split(',');
		llvm::StringRef name = item.trim();

		rest = tail;
		if (name.empty())
			continue;
		if (name.front() == '+' || name.front() == '-') {
			if (feature_known(*sti, name.drop_front())) {
				if (!kept.empty())
					kept += ',';
				kept += name.str();
				continue;
			}
			name = name.drop_front();
		}
		if (unknown++ == 0)
			copy_out(bad, badlen, name);
	}
	if (kept.size() + 1 > outlen)
		return -1;
	copy_out(out, outlen, kept);
	return unknown;
}

#!/bin/sh
# test_pkgconfig.sh - a host built with nothing but pkg-config's output:
# against the build tree (build/lib/pkgconfig), shared (it must start: the
# soname libjitfarm.so.0 is there), as C++ (the headers are usable from
# C++), with the archive and `pkg-config --static` (Libs.private and
# Requires.private carry LLVM, libstdc++ and the rest), and after
# `make install` into a scratch prefix. The host opens a disabled runtime
# and a real one on an empty file store, looks a program up and closes.
set -u
B=${JF_BUILD:?}
SRC=${JF_SRC:?}
case "$B" in
*/san|*/san/) echo "SKIP: a sanitizer build (its library needs the sanitizer runtime)"; exit 0 ;;
esac
T=$(mktemp -d "${TMPDIR:-/tmp}/jftest-pc-XXXXXX")
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; fail=1; }

cat >"$T/host.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <jitfarm/runtime.h>

int
main(int argc, char **argv)
{
	jf_config_t *c;
	jf_runtime_t *rt;
	unsigned char id[JF_PROGRAM_ID_LEN];
	char err[512];
	jf_decision_t d;

	memset(id, 7, sizeof(id));
	if (jf_config_new(&c) != 0 || jf_config_set_enabled(c, 0) != 0 ||
	    jf_runtime_open(c, &rt, err, sizeof(err)) != 0)
		return 1;
	d = jf_lookup(rt, id);
	if (d.reason != JF_INTERP_DISABLED || jf_runtime_close(rt) != 0)
		return 2;
	if (argc > 1) {
		jf_config_set_enabled(c, 1);
		jf_config_set_store(c, argv[1]);
		jf_config_set_farm(c, "none", NULL);
		if (jf_runtime_open(c, &rt, err, sizeof(err)) != 0) {
			fprintf(stderr, "open: %s\n", err);
			return 3;
		}
		jf_enter(rt);
		d = jf_lookup(rt, id);
		jf_leave(rt);
		if (d.fn != NULL || jf_runtime_close(rt) != 0)
			return 4;
	}
	jf_config_free(c);
	printf("host ok: %s\n", jf_reason_str(d.reason));
	return 0;
}
C
cp "$T/host.c" "$T/host.cc"

export PKG_CONFIG_PATH="$B/lib/pkgconfig"
if ! pkg-config --exists jitfarm; then
	bad "pkg-config finds jitfarm in $B/lib/pkgconfig"
	exit 1
fi
ok "pkg-config finds jitfarm in the build tree"
store="file://$T/store"

# shared, from the build tree
if cc -std=c11 -Wall -Werror "$T/host.c" -o "$T/host" $(pkg-config --cflags --libs jitfarm) 2>"$T/cc.log" &&
    "$T/host" "$store" >"$T/out" 2>&1 && grep -q "host ok" "$T/out"; then
	ok "shared: built and started from the build tree"
else
	bad "shared from the build tree"; cat "$T/cc.log" "$T/out" 2>/dev/null
fi
if ldd "$T/host" 2>/dev/null | grep -q "libjitfarm.so.0 => $B/lib/libjitfarm.so.0"; then
	ok "shared: the host loads libjitfarm.so.0 by its soname"
else
	bad "shared: soname"; ldd "$T/host" 2>&1 | head -5
fi

# C++
if c++ -std=c++17 -Wall -Werror "$T/host.cc" -o "$T/hostxx" $(pkg-config --cflags --libs jitfarm) \
    2>"$T/cxx.log" && "$T/hostxx" "$store" >/dev/null 2>&1; then
	ok "C++: the headers compile and link as C++"
else
	bad "C++"; cat "$T/cxx.log"
fi

# static: the archive, with what pkg-config --static says it needs
if cc -std=c11 "$T/host.c" -o "$T/hosts" $(pkg-config --cflags jitfarm) "$B/lib/libjitfarm.a" \
    $(pkg-config --static --libs jitfarm) 2>"$T/ccs.log" &&
    "$T/hosts" "$store" >/dev/null 2>&1 && ! ldd "$T/hosts" | grep -q libjitfarm; then
	ok "static: the archive links with pkg-config --static's libraries"
else
	bad "static"; head -20 "$T/ccs.log"
fi

# installed
if make -s -C "$SRC" install BUILD="$B" PREFIX="$T/prefix" >"$T/install.log" 2>&1 &&
    [ -L "$T/prefix/lib/libjitfarm.so" ] && [ -f "$T/prefix/lib/libjitfarm.so.0" ]; then
	ok "make install: library, soname link, headers and jitfarm.pc"
	export PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig"
	if cc -std=c11 "$T/host.c" -o "$T/hosti" $(pkg-config --cflags --libs jitfarm) 2>"$T/cci.log" &&
	    "$T/hosti" "$store" >/dev/null 2>&1 &&
	    ldd "$T/hosti" | grep -q "$T/prefix/lib/libjitfarm.so.0"; then
		ok "installed: a host built with pkg-config runs against the installed library"
	else
		bad "installed"; cat "$T/cci.log"; ldd "$T/hosti" 2>&1 | head -5
	fi
else
	bad "make install"; tail -20 "$T/install.log"
fi
exit $fail

#!/usr/bin/env python3
"""Check the include structure of the tree against its layers.

Every `#include "..."` in the shipped code (not tests, benchmarks or
examples) is read. A module is a source file together with its header of
the same base name (x.c + x.h). The check fails on:
  - an include of a higher layer's header (or a header of another module of
    the top layer: runtime, master and cli never include each other);
  - a circle between modules, however long;
  - a call to the aborting allocator family (jf_x*) from library code.
With a build directory (JF_BUILD, or a second argument), the same rules
are checked on what the objects link to each other: a module depends on
another when its object file uses a jf_ symbol the other defines (nm). That
catches a call up a layer or a circle that a shared header would hide.
It prints every violation and exits 1, or prints a summary and exits 0.
"""
import subprocess
import os
import re
import sys

LAYERS = {
    "include": 0,
    "common": 1,
    "compiler": 2, "storage": 2, "client": 2,
    "worker": 3,
    "runtime": 4, "master": 4, "cli": 4,
}
TOP = 4
LIBRARY = ("common", "compiler", "storage", "client", "worker", "runtime")
SRC_EXT = (".c", ".h", ".cpp", ".hpp")
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
XALLOC = re.compile(r'\bjf_x(malloc|calloc|realloc|reallocarray|strdup|strndup)\s*\(')


def folder(path):
    return path.split("/", 1)[0]


def module(path):
    return os.path.splitext(path)[0]


def resolve(src, inc, files):
    """Map an include to a tree path the way the build's -I. -Iinclude does."""
    for cand in (os.path.normpath(os.path.join(os.path.dirname(src), inc)),
                 inc, os.path.join("include", inc)):
        if cand in files:
            return cand
    return None


def scc(edges):
    """Strongly connected components with more than one member (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            strong(v)
    return out


def layer_rule(src, tgt, what):
    sf, tf = folder(src), folder(tgt)
    ls, lt = LAYERS[sf], LAYERS[tf]
    if lt > ls:
        return f"{src}: {what} {tgt}, a higher layer ({sf}={ls} < {tf}={lt})"
    if lt == TOP and ls == TOP and tf != sf:
        return (f"{src}: {what} {tgt}: {sf}/ and {tf}/ are both top-layer parts "
                f"and must not depend on each other")
    return None


def nm(path, args):
    r = subprocess.run(["nm", "--format=posix"] + args + [path],
                       capture_output=True, text=True, check=True)
    return [ln.split()[0:2] for ln in r.stdout.splitlines() if ln.strip()]


def link_graph(objdir):
    """module -> set of modules whose symbols it uses, from the objects."""
    defs, uses = {}, {}
    for d in LAYERS:
        top = os.path.join(objdir, d)
        for dirpath, _, names in os.walk(top):
            for n in names:
                if not n.endswith(".o") or n.endswith("_main.o"):
                    continue
                p = os.path.join(dirpath, n)
                mod = module(os.path.relpath(p, objdir))
                for sym, kind in nm(p, ["--defined-only", "--extern-only"]):
                    # the project's own names only: a file that stands in
                    # for a library's functions (cli/cc_dl.c forwards
                    # libcurl's) does not make its callers depend on it
                    if sym.startswith("jf_") and kind in "TDBRVWtdbr":
                        defs.setdefault(sym, mod)
                uses[mod] = {sym for sym, kind in nm(p, ["--undefined-only"])}
    edges = {}
    for mod, syms in uses.items():
        for s in syms:
            t = defs.get(s)
            if t is not None and t != mod:
                edges.setdefault(mod, {})[t] = edges.get(mod, {}).get(t, []) + [s]
    return edges


def main(root, objdir=None):
    files = set()
    for d in LAYERS:
        for dirpath, _, names in os.walk(os.path.join(root, d)):
            for n in names:
                if n.endswith(SRC_EXT):
                    files.add(os.path.relpath(os.path.join(dirpath, n), root))
    bad = []
    edges = {}
    for f in sorted(files):
        text = open(os.path.join(root, f), encoding="utf-8", errors="replace").read()
        src_folder, src_mod = folder(f), module(f)
        if src_folder in LIBRARY and src_mod != "common/mem":
            for m in XALLOC.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                bad.append(f"{f}:{line}: library code calls the aborting allocator "
                           f"jf_x{m.group(1)} (use jf_{m.group(1)} and return JF_ERR_NOMEM)")
        for m in INC.finditer(text):
            tgt = resolve(f, m.group(1), files)
            if tgt is None:
                continue
            line = text.count("\n", 0, m.start()) + 1
            v = layer_rule(f, tgt, "includes")
            if v:
                bad.append(f"{f}:{line}: " + v.split(": ", 1)[1])
            tm = module(tgt)
            if tm != src_mod:
                edges.setdefault(src_mod, set()).add(tm)
    for comp in scc(edges):
        ties = [f"{a} -> {b}" for a in comp for b in sorted(edges.get(a, ())) if b in comp]
        bad.append("include circle between modules: " + ", ".join(comp) +
                   "\n    (" + "; ".join(ties) + ")")
    nlink = 0
    if objdir and os.path.isdir(objdir):
        lg = link_graph(objdir)
        for a in sorted(lg):
            for b in sorted(lg[a]):
                nlink += 1
                v = layer_rule(a, b, "uses " + ", ".join(sorted(lg[a][b])[:4]) + " of")
                if v:
                    bad.append(v)
        for comp in scc({a: set(b) for a, b in lg.items()}):
            ties = [f"{a} -> {b} ({', '.join(sorted(lg[a][b])[:3])})"
                    for a in comp for b in sorted(lg.get(a, {})) if b in comp]
            bad.append("circle of calls between modules: " + ", ".join(comp) +
                       "\n    (" + "; ".join(ties) + ")")
    for b in bad:
        print("layers: " + b)
    nedges = sum(len(v) for v in edges.values())
    if bad:
        print(f"layers: {len(bad)} violation(s) in {len(files)} files")
        return 1
    print(f"layers: ok: {len(files)} files, {nedges} include and {nlink} link "
          f"dependencies between modules, no circle, nothing points up a layer")
    return 0


if __name__ == "__main__":
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    build = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("JF_BUILD")
    sys.exit(main(root, os.path.join(build, "obj") if build else None))

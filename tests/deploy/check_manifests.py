#!/usr/bin/python3
"""Static checks for deploy/: the Kubernetes manifests, compose.yaml and
the Dockerfile, without a cluster or a Docker engine.

Kubernetes has no offline server-side validation, so this file checks
what a reviewer would, mechanically:
  - every YAML file parses, and the kustomization lists exactly the
    files in deploy/k8s and nothing missing;
  - every workload: selectors match template labels, non-root, seccomp
    RuntimeDefault, read-only root filesystem, no privilege escalation,
    ALL capabilities dropped, resource requests and limits, no
    service-account token;
  - the master: readiness on /readyz, liveness on /healthz;
  - references resolve: Service and PDB selectors, HPA targets, named
    ports, ConfigMap/Secret names and keys, $(VAR) expansions in args;
  - the Dockerfile: pinned bases, multi-stage, apt hygiene, non-root
    final USER, HEALTHCHECK, tini as PID 1, exec-form commands, and that
    the build stage installs nothing scripts/install-deps.sh does not;
  - flags given to jitfarm-master (and the example host) in the
    manifests, compose.yaml and the Dockerfile are ones `--help` names,
    when those binaries are built.
It also writes every Kubernetes document as JSON (argv[2]) for the
JSON-schema validation in validate_k8s.js.

Usage: check_manifests.py SRC_DIR OUT_JSON [BIN_DIR]
Prints one line per failed check and exits 1 if any failed.
"""

import glob
import json
import os
import re
import shlex
import subprocess
import sys

import yaml

errors = []


def fail(where, msg):
    errors.append("%s: %s" % (where, msg))


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# --- Kubernetes --------------------------------------------------------------

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


def pod_of(doc):
    return doc.get("spec", {}).get("template", {})


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_container(where, c, env_names, cms, secrets):
    sc = c.get("securityContext") or {}
    if sc.get("readOnlyRootFilesystem") is not True:
        fail(where, "securityContext.readOnlyRootFilesystem must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        fail(where, "securityContext.allowPrivilegeEscalation must be false")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        fail(where, "securityContext.capabilities.drop must include ALL")
    if sc.get("privileged"):
        fail(where, "must not be privileged")
    res = c.get("resources") or {}
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in (res.get(part) or {}):
                fail(where, "resources.%s.%s missing" % (part, r))
    if not c.get("image"):
        fail(where, "no image")
    if ":latest" in c.get("image", ""):
        fail(where, "image uses :latest")
    # $(VAR) in command/args must be defined by env or envFrom.
    names = set(env_names)
    for e in c.get("env") or []:
        names.add(e["name"])
        ref = (e.get("valueFrom") or {})
        if "secretKeyRef" in ref:
            r = ref["secretKeyRef"]
            if r["key"] not in secrets.get(r["name"], {}):
                fail(where, "env %s: secret %s has no key %s" % (e["name"], r["name"], r["key"]))
        if "configMapKeyRef" in ref:
            r = ref["configMapKeyRef"]
            if r["key"] not in cms.get(r["name"], {}):
                fail(where, "env %s: configmap %s has no key %s" % (e["name"], r["name"], r["key"]))
    for ef in c.get("envFrom") or []:
        if "configMapRef" in ef:
            n = ef["configMapRef"]["name"]
            if n not in cms:
                fail(where, "envFrom: no configmap %s" % n)
            names |= set(cms.get(n, {}))
        if "secretRef" in ef:
            n = ef["secretRef"]["name"]
            if n not in secrets:
                fail(where, "envFrom: no secret %s" % n)
            names |= set(secrets.get(n, {}))
    for arg in (c.get("command") or []) + (c.get("args") or []):
        for v in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(arg)):
            if v not in names:
                fail(where, "$(%s) is not defined by env or envFrom" % v)


def probe_path(c, kind):
    p = c.get(kind) or {}
    return (p.get("httpGet") or {}).get("path")


# The demand gauges the masters' HPA scales on, and where they come from.
HPA_DEMAND = ("jitfarm_queue_depth", "jitfarm_inflight_compiles")


def check_hpa_demand(src, where, metrics):
    """Each demand gauge is a per-pod custom metric with an average-value
    target, and prometheus-adapter's rules serve it under that name."""
    pods = {(m.get("pods") or {}).get("metric", {}).get("name"): m for m in metrics
            if m.get("type") == "Pods"}
    path = os.path.join(src, "deploy", "prometheus", "adapter.yaml")
    rules = (load_all(path)[0] or {}).get("rules") or [] if os.path.exists(path) else []
    served = {}
    for r in rules:
        name = ((r.get("name") or {}).get("as")) or ""
        served[name] = r
    for g in HPA_DEMAND:
        m = pods.get(g)
        if m is None:
            fail(where, "does not scale on %s (a Pods metric)" % g)
            continue
        t = m["pods"].get("target") or {}
        if t.get("type") != "AverageValue" or "averageValue" not in t:
            fail(where, "%s needs an AverageValue target" % g)
        r = served.get(g)
        if r is None:
            fail("deploy/prometheus/adapter.yaml", "serves no custom metric %s" % g)
            continue
        if not (r.get("seriesQuery") or "").startswith(g + "{"):
            fail("deploy/prometheus/adapter.yaml", "rule for %s queries %r" % (g, r.get("seriesQuery")))
        ov = (r.get("resources") or {}).get("overrides") or {}
        if (ov.get("pod") or {}).get("resource") != "pod" or \
                (ov.get("namespace") or {}).get("resource") != "namespace":
            fail("deploy/prometheus/adapter.yaml", "rule for %s is not per pod and namespace" % g)


def check_k8s(src):
    kdir = os.path.join(src, "deploy", "k8s")
    kust_path = os.path.join(kdir, "kustomization.yaml")
    kust = load_all(kust_path)[0]
    listed = kust.get("resources") or []
    files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(kdir, "*.yaml"))
                   if os.path.basename(p) != "kustomization.yaml")
    for r in listed:
        if not os.path.exists(os.path.join(kdir, r)):
            fail("kustomization.yaml", "lists %s, which does not exist" % r)
    for f in files:
        if f not in listed:
            fail("kustomization.yaml", "does not list %s" % f)

    docs = []
    for f in files:
        for d in load_all(os.path.join(kdir, f)):
            for key in ("apiVersion", "kind", "metadata"):
                if key not in d:
                    fail(f, "a document has no %s" % key)
            if "name" not in (d.get("metadata") or {}):
                fail(f, "a %s has no metadata.name" % d.get("kind"))
            d["_file"] = f
            docs.append(d)

    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    cms = {n: dict(d.get("data") or {}) for n, d in by_kind.get("ConfigMap", {}).items()}
    secrets = {}
    for n, d in by_kind.get("Secret", {}).items():
        secrets[n] = dict(d.get("stringData") or {})
        secrets[n].update(d.get("data") or {})

    for need in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
                 "ConfigMap", "Secret", "StatefulSet", "NetworkPolicy", "Namespace"):
        if need not in by_kind:
            fail("deploy/k8s", "no %s" % need)

    workloads = [d for d in docs if d["kind"] in WORKLOADS]
    for d in workloads:
        name = "%s %s" % (d["kind"], d["metadata"]["name"])
        spec = d.get("spec") or {}
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        tlabels = (pod_of(d).get("metadata") or {}).get("labels") or {}
        if not labels_match(sel, tlabels):
            fail(name, "selector does not match the pod template's labels")
        pspec = pod_of(d).get("spec") or {}
        psc = pspec.get("securityContext") or {}
        if psc.get("runAsNonRoot") is not True:
            fail(name, "pod securityContext.runAsNonRoot must be true")
        if not psc.get("runAsUser"):
            fail(name, "pod securityContext.runAsUser must be a non-zero uid")
        if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            fail(name, "pod seccompProfile must be RuntimeDefault")
        if pspec.get("automountServiceAccountToken") is not False:
            fail(name, "automountServiceAccountToken must be false")
        if pspec.get("hostNetwork") or pspec.get("hostPID") or pspec.get("hostIPC"):
            fail(name, "must not share host namespaces")
        vols = {v["name"]: v for v in pspec.get("volumes") or []}
        for v in vols.values():
            # the kubelet makes Secret and ConfigMap files root-owned; a
            # non-root pod reads a file without o+r only through fsGroup
            vsrc = v.get("secret") or v.get("configMap")
            if vsrc is not None and psc.get("fsGroup") is None and psc.get("runAsUser"):
                modes = [vsrc.get("defaultMode", 0o644)] + [i["mode"] for i in vsrc.get("items") or [] if "mode" in i]
                if any(not (m & 0o004) for m in modes):
                    fail(name, "volume %s: files mode %s are root-owned; uid %s cannot read them without fsGroup"
                         % (v["name"], "/".join(oct(m) for m in modes), psc["runAsUser"]))
            if "configMap" in v and v["configMap"]["name"] not in cms:
                fail(name, "volume %s: no configmap %s" % (v["name"], v["configMap"]["name"]))
            if "secret" in v:
                sn = v["secret"]["secretName"]
                if sn not in secrets:
                    fail(name, "volume %s: no secret %s" % (v["name"], sn))
                for it in v["secret"].get("items") or []:
                    if it["key"] not in secrets.get(sn, {}):
                        fail(name, "volume %s: secret %s has no key %s" % (v["name"], sn, it["key"]))
        pvc = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates") or []}
        for c in (pspec.get("containers") or []) + (pspec.get("initContainers") or []):
            where = "%s container %s" % (name, c.get("name"))
            check_container(where, c, [], cms, secrets)
            for m in c.get("volumeMounts") or []:
                if m["name"] not in vols and m["name"] not in pvc:
                    fail(where, "mounts undefined volume %s" % m["name"])
        if d["kind"] == "StatefulSet" and not spec.get("volumeClaimTemplates"):
            fail(name, "StatefulSet without volumeClaimTemplates (no persistent storage)")

    master = by_kind.get("Deployment", {}).get("jitfarm-master")
    if master is None:
        fail("deploy/k8s", "no Deployment jitfarm-master")
    else:
        c = pod_of(master)["spec"]["containers"][0]
        if probe_path(c, "readinessProbe") != "/readyz":
            fail("jitfarm-master", "readinessProbe must GET /readyz")
        if probe_path(c, "livenessProbe") != "/healthz":
            fail("jitfarm-master", "livenessProbe must GET /healthz")
        if (master["spec"].get("replicas") or 1) < 2:
            fail("jitfarm-master", "run at least 2 replicas")
    node = by_kind.get("Deployment", {}).get("jitfarm-node")
    if node is None:
        fail("deploy/k8s", "no example node Deployment jitfarm-node")
    else:
        mounts = [m["mountPath"] for c in pod_of(node)["spec"]["containers"]
                  for m in c.get("volumeMounts") or []]
        args = " ".join(str(a) for c in pod_of(node)["spec"]["containers"]
                        for a in c.get("args") or [])
        if not any(a.startswith(m) for m in mounts for a in re.findall(r"/\S+\.pub", args)):
            fail("jitfarm-node", "does not read the public key from a mounted volume")

    def ports_of(d):
        return {p.get("name"): p["containerPort"] for c in pod_of(d)["spec"]["containers"]
                for p in c.get("ports") or []}

    for n, s in by_kind.get("Service", {}).items():
        sel = s["spec"].get("selector") or {}
        targets = [d for d in workloads
                   if labels_match(sel, (pod_of(d).get("metadata") or {}).get("labels") or {})]
        if not targets:
            fail("Service " + n, "selector matches no workload")
        for p in s["spec"].get("ports") or []:
            tp = p.get("targetPort", p["port"])
            for t in targets:
                pts = ports_of(t)
                if isinstance(tp, str) and tp not in pts:
                    fail("Service " + n, "targetPort %s is not a named port of %s" % (tp, t["metadata"]["name"]))
    for n, h in by_kind.get("HorizontalPodAutoscaler", {}).items():
        ref = h["spec"]["scaleTargetRef"]
        if ref["name"] not in by_kind.get(ref["kind"], {}):
            fail("HPA " + n, "targets missing %s %s" % (ref["kind"], ref["name"]))
        metrics = h["spec"].get("metrics") or []
        if not any(((m.get("resource") or {}).get("name") == "cpu") for m in metrics):
            fail("HPA " + n, "does not scale on CPU (the fallback)")
        check_hpa_demand(src, "HPA " + n, metrics)
        t = by_kind.get(ref["kind"], {}).get(ref["name"])
        if t is not None:
            for c in pod_of(t)["spec"]["containers"]:
                if "cpu" not in ((c.get("resources") or {}).get("requests") or {}):
                    fail("HPA " + n, "target container %s has no CPU request" % c["name"])
    for n, p in by_kind.get("PodDisruptionBudget", {}).items():
        sel = (p["spec"].get("selector") or {}).get("matchLabels") or {}
        if not any(labels_match(sel, (pod_of(d).get("metadata") or {}).get("labels") or {}) for d in workloads):
            fail("PDB " + n, "selector matches no workload")
    for n, np_ in by_kind.get("NetworkPolicy", {}).items():
        if not np_["spec"].get("policyTypes"):
            fail("NetworkPolicy " + n, "no policyTypes")

    for d in docs:
        d.pop("_file", None)
    return docs


# --- Dockerfile ----------------------------------------------------------------

def dockerfile_instructions(path):
    """(lineno, INSTRUCTION, text) with continuation lines joined."""
    out = []
    cur, start = "", 0
    with open(path) as f:
        for i, line in enumerate(f, 1):
            s = line.rstrip("\n")
            if not cur and (not s.strip() or s.lstrip().startswith("#")):
                continue
            if cur and s.lstrip().startswith("#"):
                continue
            if not cur:
                start = i
            if s.endswith("\\"):
                cur += s[:-1] + " "
                continue
            cur += s
            parts = cur.strip().split(None, 1)
            out.append((start, parts[0].upper(), parts[1] if len(parts) > 1 else ""))
            cur = ""
    return out


def install_deps_pkgs(src):
    with open(os.path.join(src, "scripts", "install-deps.sh")) as f:
        text = f.read()
    m = re.search(r'^PKGS="([^"]*)"', text, re.M)
    return set(m.group(1).split()) if m else set()


def apt_installs(run):
    pkgs = []
    for cmd in re.split(r"&&|;|\|\|", run):
        w = cmd.split()
        if "apt-get" in w and "install" in w:
            pkgs += [x for x in w[w.index("install") + 1:] if not x.startswith("-")]
    return pkgs


def check_dockerfile(src):
    path = os.path.join(src, "deploy", "Dockerfile")
    where = "deploy/Dockerfile"
    ins = dockerfile_instructions(path)
    args = {}
    stages = []          # [name, instructions]
    for ln, op, text in ins:
        if op == "ARG" and not stages:
            k, _, v = text.partition("=")
            args[k.strip()] = v.strip()
        if op == "FROM":
            w = text.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), w[0])
            name = w[2] if len(w) >= 3 and w[1].upper() == "AS" else None
            if ":" not in image or image.endswith(":latest"):
                fail("%s:%d" % (where, ln), "base image %s is not pinned to a tag" % image)
            if not image.startswith("debian:12"):
                fail("%s:%d" % (where, ln), "base image %s is not Debian 12" % image)
            stages.append([name, []])
        elif stages:
            stages[-1][1].append((ln, op, text))
    if len(stages) < 2:
        fail(where, "not a multi-stage build")
        return
    names = {s[0] for s in stages}
    deps = install_deps_pkgs(src)
    final = stages[-1][1]
    for si, (sname, body) in enumerate(stages):
        for ln, op, text in body:
            at = "%s:%d" % (where, ln)
            if op == "ADD" and re.search(r"https?://", text):
                fail(at, "ADD of a URL (fetch in a RUN with a checksum instead)")
            if op == "COPY" and "--from=" in text:
                ref = re.search(r"--from=(\S+)", text).group(1)
                if ref not in names:
                    fail(at, "COPY --from=%s names no stage" % ref)
            if op in ("CMD", "ENTRYPOINT", "HEALTHCHECK") and op != "HEALTHCHECK":
                if not text.lstrip().startswith("["):
                    fail(at, "%s must use the exec (JSON) form" % op)
            if op != "RUN":
                continue
            if "apt-get install" in text:
                if "--no-install-recommends" not in text:
                    fail(at, "apt-get install without --no-install-recommends")
                if "apt-get update" not in text:
                    fail(at, "apt-get install without apt-get update in the same RUN")
                if si == len(stages) - 1 and "rm -rf /var/lib/apt/lists" not in text:
                    fail(at, "the runtime stage keeps the apt lists")
                if not re.search(r"(-y|--yes)\b", text):
                    fail(at, "apt-get install without -y")
                if si < len(stages) - 1 and deps:
                    extra = [p for p in apt_installs(text) if p not in deps]
                    if extra:
                        fail(at, "build stage installs %s, which scripts/install-deps.sh does not" % " ".join(extra))
            if re.search(r"\bsudo\b", text):
                fail(at, "sudo in RUN")
            if re.search(r"curl[^|]*\|\s*(ba)?sh", text):
                fail(at, "pipes a download into a shell")
    users = [t for _, op, t in final if op == "USER"]
    if not users:
        fail(where, "the runtime stage has no USER (runs as root)")
    elif users[-1].split(":")[0] in ("root", "0"):
        fail(where, "the runtime stage runs as root")
    if not any(op == "HEALTHCHECK" for _, op, _ in final):
        fail(where, "the runtime stage has no HEALTHCHECK")
    ep = [t for _, op, t in final if op == "ENTRYPOINT"]
    if not ep or "tini" not in ep[-1]:
        fail(where, "the runtime stage's ENTRYPOINT is not tini")
    if not any(op == "CMD" for _, op, _ in final):
        fail(where, "the runtime stage has no CMD")
    return ins


def shellcheck_runs(src, ins):
    """Run shellcheck on each RUN body, as hadolint would."""
    if not ins or subprocess.call(["sh", "-c", "command -v shellcheck >/dev/null"]) != 0:
        return False
    for ln, op, text in ins:
        if op != "RUN" or text.lstrip().startswith("["):
            continue
        p = subprocess.run(["shellcheck", "-s", "sh", "-e", "SC2046,SC2086", "-"],
                           input="#!/bin/sh\n" + text + "\n", capture_output=True, text=True)
        if p.returncode != 0:
            fail("deploy/Dockerfile:%d" % ln, "shellcheck:\n" + p.stdout.strip())
    return True


# --- flags against --help ----------------------------------------------------------

def flags_in(tokens):
    return {t.split("=")[0] for t in tokens if isinstance(t, str) and t.startswith("--")}


def check_flags(src, bindir, k8s_docs):
    """Every --flag passed to jitfarm-master or the example host anywhere in
    deploy/ must appear in that program's --help."""
    uses = {}   # program basename -> set of flags

    def add(argv):
        argv = [str(a) for a in argv]
        while argv and (argv[0].endswith("tini") or argv[0] == "--"):
            argv = argv[1:]
        if not argv:
            return
        prog = os.path.basename(argv[0])
        if prog.startswith("redis"):
            return
        uses.setdefault(prog, set()).update(flags_in(argv[1:]))

    for d in k8s_docs:
        if d.get("kind") in WORKLOADS:
            for c in pod_of(d)["spec"]["containers"]:
                add((c.get("command") or []) + (c.get("args") or []))
    comp = load_all(os.path.join(src, "deploy", "compose.yaml"))[0]
    for s in (comp.get("services") or {}).values():
        cmd = s.get("command")
        if isinstance(cmd, list) and cmd and cmd[0].startswith("/"):
            add(cmd)
    for ln, op, text in dockerfile_instructions(os.path.join(src, "deploy", "Dockerfile")):
        if op == "CMD" and text.lstrip().startswith("["):
            add(json.loads(text))
    checked = []
    for prog, flags in sorted(uses.items()):
        cands = [os.path.join(bindir, prog)] + glob.glob(os.path.join(bindir, "..", "examples", "*", prog))
        exe = next((c for c in cands if os.access(c, os.X_OK)), None)
        if exe is None:
            print("note: %s is not built; its flags in deploy/ are not checked" % prog)
            continue
        p = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30)
        helptext = p.stdout + p.stderr
        for fl in sorted(flags):
            if not re.search(re.escape(fl) + r"\b", helptext):
                fail("deploy/", "%s %s is not in `%s --help`" % (prog, fl, prog))
        checked.append(prog)
    return checked


def main():
    src = sys.argv[1]
    out = sys.argv[2]
    bindir = sys.argv[3] if len(sys.argv) > 3 else os.path.join(src, "build", "bin")
    for p in sorted(glob.glob(os.path.join(src, "deploy", "**", "*.yaml"), recursive=True)):
        try:
            load_all(p)
        except yaml.YAMLError as e:
            fail(os.path.relpath(p, src), "YAML does not parse: %s" % e)
    if errors:
        print("\n".join(errors))
        return 1
    docs = check_k8s(src)
    ins = check_dockerfile(src)
    sc = shellcheck_runs(src, ins)
    checked = check_flags(src, bindir, docs)
    with open(out, "w") as f:
        json.dump(docs, f)
    print("checked %d Kubernetes documents, the Dockerfile (shellcheck on RUN: %s), flags of: %s"
          % (len(docs), "yes" if sc else "not installed", ", ".join(checked) or "none built"))
    if errors:
        print("\n".join(errors))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

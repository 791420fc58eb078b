#!/usr/bin/python3
"""Run the pod specs of deploy/k8s under `docker run`, as the manifests say.

usage: k8s_run.py up   --manifests DIR --network NET --work DIR [options]
       k8s_run.py down --prefix P

No Kubernetes cluster can run on the test machines, so this plays the
kubelet's part for each Deployment and StatefulSet (one replica each, in
kustomization.yaml's order), with exactly what its pod spec says:

  image         after kustomization.yaml's `images:`; --image OLD=NEW then
                maps it to a local image (no registry here)
  command/args  Docker's entrypoint and arguments, with $(VAR) expanded
                from the container's environment as the kubelet does
  env, envFrom  values, ConfigMap and Secret keys (a missing key fails)
  user          runAsUser/runAsGroup (container over pod), fsGroup as a
                supplementary group; runAsNonRoot refuses uid 0, or an
                image user that is root, as the kubelet does
  security      readOnlyRootFilesystem -> --read-only,
                allowPrivilegeEscalation: false -> no-new-privileges,
                capabilities drop/add, seccompProfile (RuntimeDefault is
                Docker's default profile; none at all is Unconfined)
  resources     limits -> --memory and --cpus (CPUs capped at the host's),
                requests -> --memory-reservation and --cpu-shares
  volumes       emptyDir -> tmpfs (sizeLimit), secret and configMap ->
                files with the kubelet's ownership and modes (root-owned;
                with fsGroup, group fsGroup and g+r), PVC templates and
                claims -> Docker volumes; readOnly mounts read-only
  Services      a Service's name is a network alias of the pods it
                selects, when its port is the container port it targets

Then it calls each probe the container names (startup, then readiness
and liveness): httpGet on the container's address with the named or
numbered port, tcpSocket, or exec inside the container. A pod without
probes must still be running after --settle seconds. Every failure is
printed as "FAIL <pod>: <reason>" and makes the exit status 1.
"""
import argparse
import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

DOCKER = os.environ.get("DOCKER", "docker")
failures = []


def fail(where, msg):
    failures.append("%s: %s" % (where, msg))
    print("FAIL %s: %s" % (where, msg), flush=True)


def say(msg):
    print("     " + msg, flush=True)


def docker(*args, check=True, capture=True, timeout=120):
    r = subprocess.run([DOCKER] + list(args), capture_output=capture, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("docker %s: %s" % (" ".join(args[:2]), (r.stderr or "").strip()))
    return r


def quantity_bytes(q):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGTPE]i?|[kmgtpe]?)", str(q))
    if not m:
        raise ValueError("bad quantity %r" % q)
    mult = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}[m.group(2)]
    return int(float(m.group(1)) * mult)


def quantity_cpu(q):
    q = str(q)
    return int(q[:-1]) / 1000.0 if q.endswith("m") else float(q)


def load(mdir):
    kust = yaml.safe_load(open(os.path.join(mdir, "kustomization.yaml")))
    docs = []
    for f in kust.get("resources", []):
        for d in yaml.safe_load_all(open(os.path.join(mdir, f))):
            if d:
                docs.append(d)
    images = {i["name"]: "%s:%s" % (i.get("newName", i["name"]), i["newTag"])
              for i in kust.get("images", [])}
    return docs, images


def data_of(doc):
    out = {k: v.encode() for k, v in (doc.get("stringData") or {}).items()}
    out.update({k: base64.b64decode(v) for k, v in (doc.get("data") or {}).items()}
               if doc["kind"] == "Secret" else
               {k: v.encode() for k, v in (doc.get("data") or {}).items()})
    return out


VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand(s, env):
    # the kubelet's rule: $(VAR) from the environment, $$ is a literal $,
    # an undefined $(VAR) stays as it is
    return VAR.sub(lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), s)


class Pod:
    def __init__(self, workload, args, stores):
        self.w = workload
        self.name = workload["metadata"]["name"]
        self.tpl = workload["spec"]["template"]
        self.spec = self.tpl["spec"]
        self.labels = self.tpl.get("metadata", {}).get("labels", {})
        self.args = args
        self.cms, self.secrets = stores
        self.containers = []   # (container spec, docker name)

    def env_for(self, c):
        env, where = {}, "%s/%s" % (self.name, c["name"])
        for ef in c.get("envFrom", []):
            if "configMapRef" in ef:
                src, nm = self.cms, ef["configMapRef"]["name"]
            else:
                src, nm = self.secrets, ef["secretRef"]["name"]
            if nm not in src:
                raise RuntimeError("%s: envFrom names missing %s" % (where, nm))
            env.update({k: v.decode() for k, v in src[nm].items()})
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = expand(str(e["value"]), env)
                continue
            vf = e["valueFrom"]
            ref, src = (vf["secretKeyRef"], self.secrets) if "secretKeyRef" in vf else \
                (vf["configMapKeyRef"], self.cms)
            if ref["name"] not in src or ref["key"] not in src[ref["name"]]:
                raise RuntimeError("%s: env %s: %s has no key %s" % (where, e["name"],
                                                                   ref["name"], ref["key"]))
            env[e["name"]] = src[ref["name"]][ref["key"]].decode()
        return env

    def write_files(self, vol, kind, items_src, default_mode, fs_group):
        d = os.path.join(self.args.work, self.name, vol["name"])
        os.makedirs(d, exist_ok=True)
        items = vol[kind].get("items") or [{"key": k, "path": k} for k in items_src]
        for it in items:
            if it["key"] not in items_src:
                raise RuntimeError("%s: volume %s: no key %s" % (self.name, vol["name"], it["key"]))
            p = os.path.join(d, it["path"])
            with open(p, "wb") as f:
                f.write(items_src[it["key"]])
            mode = it.get("mode", default_mode)
            gid = 0
            if fs_group is not None:
                # the kubelet gives the group fsGroup and adds g+r to a
                # read-only volume's files
                gid, mode = fs_group, mode | 0o440
            os.chown(p, 0, gid)
            os.chmod(p, mode)
        os.chown(d, 0, fs_group if fs_group is not None else 0)
        os.chmod(d, 0o755)
        return d

    def volume_args(self, c):
        psc = self.spec.get("securityContext", {})
        fs_group = psc.get("fsGroup")
        vols = {v["name"]: v for v in self.spec.get("volumes", [])}
        claims = {t["metadata"]["name"] for t in self.w["spec"].get("volumeClaimTemplates", [])}
        out = []
        for m in c.get("volumeMounts", []):
            if "subPath" in m:
                raise RuntimeError("%s: subPath mounts are not rendered" % self.name)
            ro = m.get("readOnly", False)
            path = m["mountPath"]
            if m["name"] in claims:
                vname = "%s%s-%s" % (self.args.prefix, self.name, m["name"])
                out += ["--mount", "type=volume,src=%s,dst=%s%s" % (vname, path, ",ro" if ro else "")]
                continue
            v = vols.get(m["name"])
            if v is None:
                raise RuntimeError("%s: mount %s names no volume" % (self.name, m["name"]))
            if "emptyDir" in v:
                opt = "rw,mode=1777"
                if (v["emptyDir"] or {}).get("sizeLimit"):
                    opt += ",size=%d" % quantity_bytes(v["emptyDir"]["sizeLimit"])
                out += ["--tmpfs", "%s:%s" % (path, opt)]
            elif "secret" in v or "configMap" in v:
                kind = "secret" if "secret" in v else "configMap"
                nm = v[kind]["secretName" if kind == "secret" else "name"]
                store = self.secrets if kind == "secret" else self.cms
                if nm not in store:
                    raise RuntimeError("%s: volume %s: no %s %s" % (self.name, v["name"], kind, nm))
                d = self.write_files(v, kind, store[nm], v[kind].get("defaultMode", 0o644), fs_group)
                out += ["-v", "%s:%s:ro" % (d, path)]
            elif "persistentVolumeClaim" in v:
                vname = "%s%s" % (self.args.prefix, v["persistentVolumeClaim"]["claimName"])
                out += ["--mount", "type=volume,src=%s,dst=%s%s" % (vname, path, ",ro" if ro else "")]
            else:
                raise RuntimeError("%s: volume %s: kind not rendered" % (self.name, v["name"]))
        return out

    def run_args(self, c, image, services):
        psc = self.spec.get("securityContext", {})
        csc = c.get("securityContext", {})
        where = "%s/%s" % (self.name, c["name"])
        args = ["run", "-d", "--name", self.args.prefix + self.name + "-" + c["name"],
                "--label", "jitfarm.k8s-run=" + self.args.prefix,
                "--network", self.args.network, "--hostname", self.name + "-0"]
        for svc in services:
            args += ["--network-alias", svc]
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        gid = csc.get("runAsGroup", psc.get("runAsGroup"))
        nonroot = csc.get("runAsNonRoot", psc.get("runAsNonRoot", False))
        if uid is None:
            user = docker("image", "inspect", "-f", "{{.Config.User}}", image).stdout.strip()
            iu = user.split(":")[0]
            if nonroot and (iu in ("", "root", "0") or not iu.isdigit()):
                raise RuntimeError("%s: runAsNonRoot, but the image's user is %r "
                                   "(the kubelet refuses a non-numeric or root user)" % (where, user))
        else:
            if nonroot and int(uid) == 0:
                raise RuntimeError("%s: runAsNonRoot, but runAsUser is 0" % where)
            args += ["--user", "%d:%d" % (uid, gid if gid is not None else 0)]
        if psc.get("fsGroup") is not None:
            args += ["--group-add", str(psc["fsGroup"])]
        if csc.get("readOnlyRootFilesystem"):
            args.append("--read-only")
        if csc.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        if csc.get("privileged"):
            args.append("--privileged")
        caps = csc.get("capabilities", {})
        for cap in caps.get("drop", []):
            args += ["--cap-drop", cap]
        for cap in caps.get("add", []):
            args += ["--cap-add", cap]
        sp = csc.get("seccompProfile", psc.get("seccompProfile"))
        if sp is None or sp["type"] == "Unconfined":
            args += ["--security-opt", "seccomp=unconfined"]
        elif sp["type"] == "Localhost":
            args += ["--security-opt", "seccomp=" + os.path.join(self.args.seccomp_root,
                                                                 sp["localhostProfile"])]
        elif sp["type"] != "RuntimeDefault":
            raise RuntimeError("%s: seccomp profile type %s" % (where, sp["type"]))
        res = c.get("resources", {})
        lim, req = res.get("limits", {}), res.get("requests", {})
        if "memory" in lim:
            args += ["--memory", str(quantity_bytes(lim["memory"]))]
        if "cpu" in lim:
            cpus = min(quantity_cpu(lim["cpu"]), float(os.cpu_count()))
            args += ["--cpus", "%.3f" % cpus]
        if "memory" in req:
            args += ["--memory-reservation", str(quantity_bytes(req["memory"]))]
        if "cpu" in req:
            args += ["--cpu-shares", str(max(2, int(quantity_cpu(req["cpu"]) * 1024)))]
        env = self.env_for(c)
        for k in sorted(env):
            args += ["-e", "%s=%s" % (k, env[k])]
        args += self.volume_args(c)
        cmd = [expand(str(x), env) for x in c.get("command", [])]
        cargs = [expand(str(x), env) for x in c.get("args", [])]
        if cmd:
            args += ["--entrypoint", cmd[0]]
        args.append(image)
        args += cmd[1:] + cargs
        return args

    def start(self, images, services):
        for c in self.spec["containers"]:
            name = c["image"]
            base, _, tag = name.partition(":")
            image = images.get(base, name) if not tag else name
            image = self.args.image_map.get(image, image)
            args = self.run_args(c, image, services)
            with open(os.path.join(self.args.work, "%s%s.run" % (self.args.prefix, self.name)), "w") as f:
                f.write(" ".join(json.dumps(a) if " " in a else a for a in args) + "\n")
            docker(*args)
            self.containers.append((c, self.args.prefix + self.name + "-" + c["name"]))


def container_state(name):
    r = docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} "
               "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name)
    st, code, ip = (r.stdout.split() + ["", "", ""])[:3]
    return st, code, ip


def port_of(c, port):
    if isinstance(port, int):
        return port
    for p in c.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    raise RuntimeError("container %s has no port named %s" % (c["name"], port))


def try_probe(c, name, ip, pr):
    t = float(pr.get("timeoutSeconds", 1))
    if "httpGet" in pr:
        g = pr["httpGet"]
        url = "http://%s:%d%s" % (ip, port_of(c, g["port"]), g.get("path", "/"))
        try:
            with urllib.request.urlopen(url, timeout=t) as r:
                return 200 <= r.status < 400, "GET %s -> %d" % (url, r.status)
        except urllib.error.HTTPError as e:
            return 200 <= e.code < 400, "GET %s -> %d" % (url, e.code)
        except OSError as e:
            return False, "GET %s -> %s" % (url, e)
    if "tcpSocket" in pr:
        port = port_of(c, pr["tcpSocket"]["port"])
        try:
            socket.create_connection((ip, port), timeout=t).close()
            return True, "connect %s:%d" % (ip, port)
        except OSError as e:
            return False, "connect %s:%d -> %s" % (ip, port, e)
    if "exec" in pr:
        cmd = pr["exec"]["command"]
        r = docker("exec", name, *cmd, check=False, timeout=max(t, 5))
        return r.returncode == 0, "exec %s -> exit %d" % (" ".join(cmd), r.returncode)
    raise RuntimeError("probe kind not rendered: %s" % sorted(pr))


def probe(pod, c, name, kind, pr, max_wait):
    where = "%s/%s %s" % (pod.name, c["name"], kind)
    budget = min(pr.get("initialDelaySeconds", 0) +
                 pr.get("periodSeconds", 10) * pr.get("failureThreshold", 3), max_wait)
    deadline, last = time.time() + budget, "never tried"
    while True:
        st, code, ip = container_state(name)
        if st != "running":
            logs = docker("logs", "--tail", "5", name, check=False)
            fail(where, "the container is %s (exit %s) before the probe passed: %s" %
                 (st, code, (logs.stdout + logs.stderr).strip().replace("\n", " | ")))
            return False
        good, last = try_probe(c, name, ip, pr)
        if good:
            say("ok %s: %s" % (where, last))
            return True
        if time.time() > deadline:
            fail(where, "failed for %.0f s: %s" % (budget, last))
            return False
        time.sleep(0.3)


def up(args):
    docs, images = load(args.manifests)
    cms = {d["metadata"]["name"]: data_of(d) for d in docs if d["kind"] == "ConfigMap"}
    secrets = {d["metadata"]["name"]: data_of(d) for d in docs if d["kind"] == "Secret"}
    for spec in args.file:
        ref, _, path = spec.partition("=")
        obj, _, key = ref.partition("/")
        target = secrets if obj in secrets else cms
        target.setdefault(obj, {})[key] = open(path, "rb").read()
    services = [d for d in docs if d["kind"] == "Service"]
    workloads = [d for d in docs if d["kind"] in ("StatefulSet", "Deployment")]
    workloads.sort(key=lambda d: d["kind"] != "StatefulSet")
    if args.only:
        workloads = [w for w in workloads if w["metadata"]["name"] in args.only]
    pods = []
    for w in workloads:
        pod = Pod(w, args, (cms, secrets))
        aliases = []
        for s in services:
            sel = s["spec"].get("selector") or {}
            if sel and all(pod.labels.get(k) == v for k, v in sel.items()):
                for p in s["spec"]["ports"]:
                    tp = p.get("targetPort", p["port"])
                    cports = [port_of(c, tp) for c in pod.spec["containers"]
                              if isinstance(tp, int) or any(x.get("name") == tp for x in c.get("ports", []))]
                    if not cports:
                        fail("Service " + s["metadata"]["name"], "targetPort %s is no port of %s" % (tp, pod.name))
                    elif cports[0] != p["port"]:
                        fail("Service " + s["metadata"]["name"],
                             "port %d -> %d: an alias cannot remap ports" % (p["port"], cports[0]))
                aliases.append(s["metadata"]["name"])
        try:
            pod.start(images, aliases)
            say("started %s (%s)%s" % (pod.name, w["kind"],
                                       " as " + ", ".join(aliases) if aliases else ""))
        except (RuntimeError, ValueError, KeyError) as e:
            fail(pod.name, str(e))
            continue
        pods.append(pod)
        for c, name in pod.containers:
            kinds = [k for k in ("startupProbe", "readinessProbe", "livenessProbe") if k in c]
            for k in kinds:
                if not probe(pod, c, name, k, c[k], args.max_wait):
                    break
            if not kinds:
                time.sleep(args.settle)
                st, code, _ = container_state(name)
                if st == "running":
                    say("ok %s/%s: no probes; running after %.0f s" % (pod.name, c["name"], args.settle))
                else:
                    logs = docker("logs", "--tail", "5", name, check=False)
                    fail("%s/%s" % (pod.name, c["name"]), "the container is %s (exit %s): %s" %
                         (st, code, (logs.stdout + logs.stderr).strip().replace("\n", " | ")))
    return 1 if failures else 0


def down(args):
    ids = docker("ps", "-aq", "--filter", "label=jitfarm.k8s-run=" + args.prefix).stdout.split()
    if ids:
        docker("rm", "-f", "-v", *ids)
    vols = [v for v in docker("volume", "ls", "-q").stdout.split() if v.startswith(args.prefix)]
    if vols:
        docker("volume", "rm", *vols)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("action", choices=["up", "down"])
    ap.add_argument("--manifests")
    ap.add_argument("--network")
    ap.add_argument("--work")
    ap.add_argument("--prefix", default="k8s-")
    ap.add_argument("--image", action="append", default=[], help="OLD=NEW")
    ap.add_argument("--file", action="append", default=[],
                    help="NAME/KEY=PATH: a Secret's or ConfigMap's key from a file")
    ap.add_argument("--only", action="append", help="run only this workload")
    ap.add_argument("--max-wait", type=float, default=60)
    ap.add_argument("--settle", type=float, default=3)
    ap.add_argument("--seccomp-root", default="/var/lib/kubelet/seccomp")
    args = ap.parse_args()
    args.image_map = dict(i.split("=", 1) for i in args.image)
    if args.action == "down":
        return down(args)
    os.makedirs(args.work, exist_ok=True)
    return up(args)


if __name__ == "__main__":
    sys.exit(main())

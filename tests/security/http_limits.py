#!/usr/bin/env python3
"""http_limits.py - a hostile client costs one connection (issue 11, item 5).

Against the real master (JF_TEST_BIN/jitfarm-master) on loopback:

  1. a POST /v1/compile head without a valid token, declaring 60 MB, gets
     its 401 (JSON) before any byte of the body is sent;
  2. 16 unauthenticated 60 MB uploads at once leave the master's VmRSS
     bounded, and it is back near the start afterwards;
  3. strict heads: duplicate or conflicting Content-Length, duplicate
     Authorization, a NUL in a header value, Transfer-Encoding beside
     Content-Length: 400 as JSON; a wrong method: 405 with Allow;
  4. the global body budget: while one authorised body is held, a second
     that does not fit is 503 with Retry-After before its body is read;
  5. slowloris under `ulimit -n 256`: 300 sockets that trickle a head a
     byte at a time; /healthz and an established keep-alive client keep
     answering, and the master's CPU stays low.

Prints the figures (RSS before/peak/after, fds, CPU). Exit 0 or 1.
"""

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from fuzz_master import free_port  # one loopback port picker for both

TOK = "limits-compile-token-0123456789"
TOK_READ = "limits-read-token-0123456789"
MB = 1 << 20
failures = []


def log(*a):
    print("http_limits:", *a, flush=True)


def check(cond, what):
    if cond:
        log("ok:", what)
    else:
        log("FAIL:", what)
        failures.append(what)


class Master:
    def __init__(self, tmp, name, extra=(), nofile=None):
        self.port = free_port()
        d = os.path.join(tmp, name)
        os.mkdir(d)
        os.mkdir(os.path.join(d, "store"))
        tokens = os.path.join(d, "tokens")
        with open(tokens, "w") as f:
            f.write("%s compile limits-compile\n%s read limits-read\n" % (TOK, TOK_READ))
        os.chmod(tokens, 0o600)
        self.log_path = os.path.join(d, "master.log")
        self.logf = open(self.log_path, "wb")
        binary = os.path.join(os.environ.get("JF_TEST_BIN", "build/test/bin"),
                              "jitfarm-master")
        env = {k: v for k, v in os.environ.items() if not k.startswith("JITFARM_")}

        def pre():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:%d" % self.port, "--store",
             "file://" + os.path.join(d, "store"), "--tokens", tokens,
             "--workers", "1", "--conn-filter", "1", "--drain-timeout", "5", "--log-level", "warn", "--name", name] + list(extra),
            stdout=self.logf, stderr=subprocess.STDOUT, env=env, preexec_fn=pre)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("master exited early:\n" + self.tail())
            try:
                if get(self.port, "/healthz", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("master did not answer /healthz")

    def rss(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for l in f:
                if l.startswith("VmRSS:"):
                    return int(l.split()[1]) * 1024
        return 0

    def cpu(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def tail(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
            check(rc == 0, "master exits 0 on SIGTERM (got %s)" % rc)
        self.logf.close()
        text = open(self.log_path, "rb").read().decode("utf-8", "replace")
        for pat in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            check(pat not in text, "no '%s' in the master's log" % pat)


def read_response(s, timeout):
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        c = s.recv(65536)
        if not c:
            break
        data += c
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines or len(lines[0].split(" ")) < 2:
        return None, {}, b""
    status = int(lines[0].split(" ")[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    while len(body) < n:
        c = s.recv(65536)
        if not c:
            break
        body += c
    return status, hdrs, body[:n]


def send(port, data, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        return read_response(s, timeout)
    finally:
        s.close()


def get(port, path, timeout=5, token=None):
    auth = "Authorization: Bearer %s\r\n" % token if token else ""
    return send(port, ("GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n"
                       % (path, auth)).encode(), timeout)


def is_json_error(body):
    try:
        return "error" in json.loads(body)
    except ValueError:
        return False


def compile_head(n, extra="", auth=None):
    a = "Authorization: Bearer %s\r\n" % auth if auth else ""
    return ("POST /v1/compile?opt=0 HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n%s\r\n"
            % (a, n, extra)).encode()


def test_head_401(m):
    s = socket.create_connection(("127.0.0.1", m.port), timeout=5)
    s.sendall(compile_head(60 * MB))
    try:
        st, h, body = read_response(s, 3)
    except socket.timeout:
        st, h, body = None, {}, b""
    s.close()
    check(st == 401 and is_json_error(body),
          "a 60 MB upload without a token is 401 (JSON) before its body (got %s)" % st)
    s = socket.create_connection(("127.0.0.1", m.port), timeout=5)
    s.sendall(compile_head(60 * MB, auth="wrong-token"))
    try:
        st, h, body = read_response(s, 3)
    except socket.timeout:
        st = None
    s.close()
    check(st == 401, "a 60 MB upload with an unknown token is 401 before its body (got %s)" % st)
    s = socket.create_connection(("127.0.0.1", m.port), timeout=5)
    s.sendall(compile_head(60 * MB, auth=TOK_READ))
    try:
        st, h, body = read_response(s, 3)
    except socket.timeout:
        st = None
    s.close()
    check(st == 403, "a 60 MB upload with a read token is 403 before its body (got %s)" % st)


def upload(port, n, results, i):
    chunk = b"\0" * (256 * 1024)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        s.sendall(compile_head(n))
        sent = 0
        while sent < n:
            s.sendall(chunk)
            sent += len(chunk)
        results[i] = "sent"
        s.close()
    except OSError as e:
        results[i] = "cut off (%s)" % e.__class__.__name__


def test_rss(m):
    time.sleep(0.5)
    before = m.rss()
    results = [None] * 16
    ts = [threading.Thread(target=upload, args=(m.port, 60 * MB, results, i))
          for i in range(16)]
    for t in ts:
        t.start()
    peak = before
    while any(t.is_alive() for t in ts):
        peak = max(peak, m.rss())
        time.sleep(0.05)
    for t in ts:
        t.join()
    time.sleep(1.0)
    after = m.rss()
    log("RSS before %.1f MB, peak %.1f MB during 16 unauthenticated 60 MB uploads, "
        "after %.1f MB; uploads: %s" % (before / MB, peak / MB, after / MB,
                                        ", ".join(sorted(set(map(str, results))))))
    check(peak - before < 32 * MB, "RSS grows by less than 32 MB during the uploads")
    check(after - before < 16 * MB, "RSS is back within 16 MB of the start afterwards")
    check(get(m.port, "/healthz")[0] == 200, "/healthz answers after the uploads")


def test_strict(m):
    ir = b"define i32 @f() {\n  ret i32 1\n}\n"
    base = "POST /v1/compile?opt=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n" % TOK
    cases = [
        ("duplicate Content-Length",
         base + "Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(ir), len(ir))),
        ("conflicting Content-Length",
         base + "Content-Length: %d\r\nContent-Length: 5\r\n\r\n" % len(ir)),
        ("Content-Length with Transfer-Encoding",
         base + "Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(ir)),
        ("duplicate Authorization",
         base + "Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n" % (TOK_READ, len(ir))),
        ("a NUL in a header value",
         base + "X-Note: a\0b\r\nContent-Length: %d\r\n\r\n" % len(ir)),
        ("a folded header line",
         base + "X-Note: a\r\n b\r\nContent-Length: %d\r\n\r\n" % len(ir)),
    ]
    for what, head in cases:
        st, h, body = send(m.port, head.encode() + ir)
        check(st == 400 and is_json_error(body), "%s is 400 with a JSON body (got %s)" % (what, st))
    st, h, body = send(m.port, b"GET /v1/artifacts HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                       b"Authorization: Bearer " + TOK_READ.encode() + b"\r\n\r\nGET ")
    check(st == 400, "a body on a GET is 400 (got %s)" % st)
    for method, path, allow in (("PUT", "/v1/compile", "POST"), ("GET", "/v1/compile", "POST"),
                                ("POST", "/healthz", "GET, HEAD"),
                                ("PATCH", "/v1/artifacts/" + "0" * 64, "GET, HEAD, DELETE")):
        st, h, body = send(m.port, ("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                    % (method, path)).encode())
        check(st == 405 and h.get("allow") == allow and is_json_error(body),
              "%s %s is 405 with Allow: %s (got %s, %r)" % (method, path, allow, st,
                                                           h.get("allow")))
    st, h, body = get(m.port, "/.jf-reject/11/0")
    check(st == 404, "the filter's reserved path is 404 from outside (got %s)" % st)


def test_budget(m):
    n = 1 * MB
    a = socket.create_connection(("127.0.0.1", m.port), timeout=5)
    a.sendall(compile_head(n, auth=TOK) + b"x" * 1024)
    time.sleep(0.3)
    st, h, body = send(m.port, compile_head(n, auth=TOK), timeout=3)
    check(st == 503 and "retry-after" in h and is_json_error(body),
          "a body past the budget is 503 with Retry-After before it is sent (got %s)" % st)
    a.close()
    time.sleep(0.5)
    st, h, body = send(m.port, compile_head(13, auth=TOK) + b"not ir at all", timeout=10)
    check(st is not None and st != 503, "the budget comes back when the held body is gone "
          "(got %s)" % st)


def trickle(port, stop, socks, lock):
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return
    with lock:
        socks.append(s)
    i = 0
    while not stop.is_set():
        try:
            s.send(head[i % len(head):i % len(head) + 1])
        except OSError:
            try:
                s.close()
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                time.sleep(0.5)
                continue
        i += 1
        stop.wait(1.0)
    s.close()


def test_slowloris(m):
    stop = threading.Event()
    socks, lock = [], threading.Lock()
    est = socket.create_connection(("127.0.0.1", m.port), timeout=5)
    ts = [threading.Thread(target=trickle, args=(m.port, stop, socks, lock)) for _ in range(300)]
    for t in ts:
        t.start()
    time.sleep(2)
    cpu0, t0 = m.cpu(), time.time()
    worst, ok, polls, est_ok, est_polls, fds = 0.0, 0, 0, 0, 0, 0
    while time.time() - t0 < 12:
        p0 = time.time()
        try:
            if get(m.port, "/healthz", timeout=3)[0] == 200:
                ok += 1
        except OSError:
            pass
        polls += 1
        worst = max(worst, time.time() - p0)
        try:
            est.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            if read_response(est, 3)[0] == 200:
                est_ok += 1
        except OSError:
            pass
        est_polls += 1
        fds = max(fds, m.fds())
        time.sleep(0.5)
    cpu = (m.cpu() - cpu0) / (time.time() - t0)
    stop.set()
    for t in ts:
        t.join()
    est.close()
    log("slowloris: 300 trickling sockets under ulimit -n 256: /healthz %d/%d "
        "(slowest %.2f s), established client %d/%d, master fds at most %d, CPU %.0f%%"
        % (ok, polls, worst, est_ok, est_polls, fds, cpu * 100))
    check(ok == polls, "/healthz answers every poll during the flood")
    check(est_ok == est_polls, "an established client is served during the flood")
    check(cpu < 0.3, "the master's CPU stays under 30% during the flood")
    check(m.proc.poll() is None, "the master is still running")


def main():
    tmp = tempfile.mkdtemp(prefix="jf-limits-")
    m = Master(tmp, "a")
    try:
        test_head_401(m)
        test_rss(m)
        test_strict(m)
    finally:
        m.stop()
    m = Master(tmp, "b", ["--max-request-bytes", str(MB), "--max-body-held", str(MB)])
    try:
        test_budget(m)
    finally:
        m.stop()
    m = Master(tmp, "c", ["--head-timeout", "3"], nofile=256)
    try:
        test_slowloris(m)
    finally:
        m.stop()
    if failures:
        log("%d failure(s)" % len(failures))
        return 1
    log("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

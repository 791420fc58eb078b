#!/usr/bin/python3
"""s3verify.py - a small S3 server for tests that checks every request's
SigV4 signature with botocore, AWS's own implementation.

It holds objects in memory and answers what jitfarm's S3 store sends:
PUT, GET, HEAD and DELETE of an object, and ListObjectsV2 (prefix,
start-after, max-keys, continuation tokens). Buckets are reached path
style (/bucket/key) or virtual-hosted style (Host: bucket.anything).

Every request must carry an Authorization header that botocore's
S3SigV4Auth, given the headers the request names in SignedHeaders and
the time in x-amz-date, signs the same way. The checks S3 makes are made
here too, with S3's error codes:

  - a SignedHeader that is not in the request ("'expect' is named as a
    SignedHeader, but it does not exist in the HTTP request");
  - host and x-amz-date must be signed, x-amz-content-sha256 sent;
  - an unknown access key (InvalidAccessKeyId), a wrong signature
    (SignatureDoesNotMatch), a credential scope that is not this date,
    region and s3 (AuthorizationHeaderMalformed);
  - a payload hash that is not the body's (XAmzContentSHA256Mismatch),
    unless it is UNSIGNED-PAYLOAD;
  - a session token that is missing, unsigned or not the key's
    (InvalidToken), or expired (ExpiredToken);
  - a request time more than 15 minutes from the server's clock
    (RequestTimeTooSkewed).

It also plays STS: a form POST of Action=AssumeRoleWithWebIdentity with
the expected role and web-identity token returns temporary credentials
that this server then accepts until they expire.

Test control, unauthenticated, under /_jft/ (a name no bucket can have):
  POST /_jft/fail?status=503&code=SlowDown&count=N   fail the next N requests
  POST /_jft/skew?seconds=N                          move the server's clock
  POST /_jft/sts?duration=S                          lifetime of STS credentials
  GET  /_jft/stats                                   counters, as JSON

Usage: s3verify.py --port P --region R --bucket B --key ID:SECRET[:TOKEN]...
       [--role-arn ARN --web-token TOKEN]
"""

import argparse
import datetime
import hashlib
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

UNSIGNED = "UNSIGNED-PAYLOAD"
SKEW_MAX_S = 15 * 60


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.region = args.region
        self.buckets = {b: {} for b in args.bucket}
        # access key -> (secret, token or None, expiry epoch or None)
        self.keys = {}
        for k in args.key:
            parts = k.split(":")
            self.keys[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else None, None)
        self.role_arn = args.role_arn
        self.web_token = args.web_token
        self.sts_duration = 3600
        self.skew = 0
        self.fail = None          # (status, code, count)
        self.stats = {"requests": 0, "verified": 0, "rejected": 0, "sts_calls": 0,
                      "virtual_host": 0, "signed_payload": 0, "session_token": 0,
                      "by_key": {}, "rejections": {}, "injected": 0}

    def now(self):
        return time.time() + self.skew


def iso(ts):
    return datetime.datetime.utcfromtimestamp(ts).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Reject(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "s3verify"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    # --- replies ---------------------------------------------------------------

    def reply(self, status, body=b"", ctype="application/xml", headers=None):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message, extra=""):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                "<Message>%s</Message>%s</Error>" % (code, escape(message), extra)).encode()
        self.reply(status, body)

    # --- dispatch --------------------------------------------------------------

    def do_GET(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith("/_jft/"):
            return self.control(url, body)
        if self.command == "POST" and url.path == "/" and b"Action=" in body:
            return self.sts(body)
        with st.lock:
            st.stats["requests"] += 1
            fail = st.fail
            if fail is not None:
                st.fail = (fail[0], fail[1], fail[2] - 1) if fail[2] > 1 else None
                st.stats["injected"] += 1
        if fail is not None:
            return self.error(fail[0], fail[1], "injected by the test")
        try:
            ak = self.verify(url, body)
        except Reject as r:
            with st.lock:
                st.stats["rejected"] += 1
                st.stats["rejections"][r.code] = st.stats["rejections"].get(r.code, 0) + 1
            self.log_message("rejected: %s: %s", r.code, r.message)
            return self.error(r.status, r.code, r.message)
        with st.lock:
            st.stats["verified"] += 1
            st.stats["by_key"][ak] = st.stats["by_key"].get(ak, 0) + 1
            if self.bucket_and_key(url)[2]:
                st.stats["virtual_host"] += 1
            if self.headers.get("x-amz-content-sha256") != UNSIGNED:
                st.stats["signed_payload"] += 1
            if self.headers.get("x-amz-security-token") is not None:
                st.stats["session_token"] += 1
        self.s3(url, body)

    # --- SigV4 -----------------------------------------------------------------

    def verify(self, url, body):
        st = self.server.state
        auth = self.headers.get("Authorization")
        if not auth or not auth.startswith("AWS4-HMAC-SHA256 "):
            raise Reject(403, "AccessDenied", "no AWS4-HMAC-SHA256 Authorization header")
        fields = {}
        for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
            k, _, v = part.strip().partition("=")
            fields[k] = v
        try:
            cred, signed, sig = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
            ak, date, region, service, term = cred.split("/")
        except (KeyError, ValueError):
            raise Reject(400, "AuthorizationHeaderMalformed", "malformed Authorization: " + auth)
        amzdate = self.headers.get("x-amz-date")
        if not amzdate:
            raise Reject(403, "AccessDenied", "no x-amz-date header")
        if date != amzdate[:8] or region != st.region or service != "s3" or term != "aws4_request":
            raise Reject(400, "AuthorizationHeaderMalformed",
                         "credential scope %s/%s/%s/%s is wrong for %s in %s" %
                         (date, region, service, term, amzdate, st.region))
        names = signed.split(";")
        if names != sorted(names) or len(set(names)) != len(names):
            raise Reject(400, "AuthorizationHeaderMalformed", "SignedHeaders not sorted")
        for name in names:
            if self.headers.get(name) is None:
                raise Reject(403, "AccessDenied",
                             "There were headers present in the request which were not "
                             "signed: '%s' is named as a SignedHeader, but it does not exist "
                             "in the HTTP request" % name)
        for must in ("host", "x-amz-date", "x-amz-content-sha256"):
            if must not in names:
                raise Reject(403, "AccessDenied", "%s must be signed" % must)
        with st.lock:
            entry = st.keys.get(ak)
            now = st.now()
        if entry is None:
            raise Reject(403, "InvalidAccessKeyId",
                         "The AWS Access Key Id you provided does not exist in our records.")
        secret, token, expiry = entry
        try:
            t = datetime.datetime.strptime(amzdate, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            raise Reject(403, "AccessDenied", "bad x-amz-date " + amzdate)
        if abs(t - now) > SKEW_MAX_S:
            raise Reject(403, "RequestTimeTooSkewed",
                         "The difference between the request time and the current time is "
                         "too large.")
        sent_token = self.headers.get("x-amz-security-token")
        if token is not None:
            if sent_token != token or "x-amz-security-token" not in names:
                raise Reject(403, "InvalidToken",
                             "The provided token is malformed or otherwise invalid.")
            if expiry is not None and now >= expiry:
                raise Reject(400, "ExpiredToken", "The provided token has expired.")
        elif sent_token is not None:
            raise Reject(403, "InvalidToken", "a session token for a key that has none")
        payload = self.headers.get("x-amz-content-sha256")
        if payload != UNSIGNED and payload != hashlib.sha256(body).hexdigest():
            raise Reject(400, "XAmzContentSHA256Mismatch",
                         "The provided 'x-amz-content-sha256' header does not match what "
                         "was computed.")
        # botocore signs what it is given: exactly the headers named signed
        req = AWSRequest(method=self.command, url="http://%s%s" % (self.headers["host"], self.path),
                         headers={n: self.headers.get(n) for n in names}, data=body)
        req.context["timestamp"] = amzdate
        signer = S3SigV4Auth(Credentials(ak, secret, token), "s3", st.region)
        canonical = signer.canonical_request(req)
        want = signer.signature(signer.string_to_sign(req, canonical), req)
        if not secrets.compare_digest(want, sig):
            raise Reject(403, "SignatureDoesNotMatch",
                         "The request signature we calculated does not match the signature "
                         "you provided. Canonical request:\n" + canonical)
        return ak

    # --- S3 --------------------------------------------------------------------

    def bucket_and_key(self, url):
        host = self.headers.get("host", "").split(":")[0]
        path = urllib.parse.unquote(url.path)
        st = self.server.state
        first = host.split(".")[0]
        if "." in host and first in st.buckets:
            return first, path[1:], True
        bucket, _, key = path[1:].partition("/")
        return bucket, key, False

    def s3(self, url, body):
        st = self.server.state
        bucket, key, _ = self.bucket_and_key(url)
        with st.lock:
            objs = st.buckets.get(bucket)
        if objs is None:
            return self.error(404, "NoSuchBucket", "The specified bucket does not exist")
        if key == "":
            if self.command == "GET":
                return self.list(objs, urllib.parse.parse_qs(url.query, keep_blank_values=True))
            return self.error(405, "MethodNotAllowed", "not on a bucket")
        if self.command == "PUT":
            with st.lock:
                objs[key] = (body, time.time())
            etag = '"%s"' % hashlib.md5(body).hexdigest()
            return self.reply(200, b"", None, {"ETag": etag})
        if self.command in ("GET", "HEAD"):
            with st.lock:
                o = objs.get(key)
            if o is None:
                if self.command == "HEAD":
                    return self.reply(404, b"", None)
                return self.error(404, "NoSuchKey", "The specified key does not exist.")
            return self.reply(200, o[0], "application/octet-stream",
                              {"Last-Modified": self.date_time_string(int(o[1]))})
        if self.command == "DELETE":
            with st.lock:
                objs.pop(key, None)
            return self.reply(204, b"", None)
        return self.error(405, "MethodNotAllowed", self.command)

    def list(self, objs, q):
        def one(name, default=""):
            v = q.get(name, [default])
            return v[0]
        if one("list-type") != "2":
            return self.error(400, "InvalidArgument", "only ListObjectsV2 here")
        prefix = one("prefix")
        after = max(one("start-after"), one("continuation-token"))
        try:
            maxkeys = int(one("max-keys", "1000"))
        except ValueError:
            return self.error(400, "InvalidArgument", "max-keys")
        with self.server.state.lock:
            keys = sorted(k for k in objs if k.startswith(prefix) and k > after)
            page = [(k, len(objs[k][0]), objs[k][1]) for k in keys[:maxkeys]]
        truncated = len(keys) > maxkeys
        out = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult>",
               "<Prefix>%s</Prefix><KeyCount>%d</KeyCount><MaxKeys>%d</MaxKeys>" %
               (escape(prefix), len(page), maxkeys),
               "<IsTruncated>%s</IsTruncated>" % ("true" if truncated else "false")]
        if truncated:
            out.append("<NextContinuationToken>%s</NextContinuationToken>" % escape(page[-1][0]))
        for k, size, mtime in page:
            out.append("<Contents><Key>%s</Key><LastModified>%s</LastModified><Size>%d</Size>"
                       "<StorageClass>STANDARD</StorageClass></Contents>" % (escape(k), iso(mtime), size))
        out.append("</ListBucketResult>")
        self.reply(200, "".join(out).encode())

    # --- STS -------------------------------------------------------------------

    def sts(self, body):
        st = self.server.state
        f = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)

        def one(name):
            return f.get(name, [""])[0]
        with st.lock:
            st.stats["sts_calls"] += 1
        if one("Action") != "AssumeRoleWithWebIdentity" or one("Version") != "2011-06-15":
            return self.error(400, "InvalidAction", "not AssumeRoleWithWebIdentity")
        if not st.web_token or one("WebIdentityToken") != st.web_token:
            return self.error(400, "InvalidIdentityToken", "the web identity token is not valid")
        if one("RoleArn") != st.role_arn or not one("RoleSessionName"):
            return self.error(403, "AccessDenied", "not authorized to assume " + one("RoleArn"))
        with st.lock:
            ak = "ASIA" + secrets.token_hex(8).upper()
            secret = secrets.token_urlsafe(30)
            token = secrets.token_urlsafe(60)
            exp = st.now() + st.sts_duration
            st.keys[ak] = (secret, token, exp)
        xml = ("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
               "<AssumeRoleWithWebIdentityResult><Credentials>"
               "<AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>"
               "<SessionToken>%s</SessionToken><Expiration>%s</Expiration>"
               "</Credentials></AssumeRoleWithWebIdentityResult>"
               "</AssumeRoleWithWebIdentityResponse>" % (ak, secret, token, iso(exp)))
        self.reply(200, xml.encode(), "text/xml")

    # --- control ---------------------------------------------------------------

    def control(self, url, body):
        st = self.server.state
        q = dict(urllib.parse.parse_qsl(url.query))
        what = url.path[len("/_jft/"):]
        with st.lock:
            if what == "stats":
                return self.reply(200, json.dumps(st.stats).encode(), "application/json")
            if what == "fail":
                st.fail = (int(q.get("status", "503")), q.get("code", "SlowDown"),
                           int(q.get("count", "1")))
            elif what == "skew":
                st.skew = int(q.get("seconds", "0"))
            elif what == "sts":
                st.sts_duration = int(q.get("duration", "3600"))
            else:
                return self.reply(404, b"no such control\n", "text/plain")
        self.reply(200, b"ok\n", "text/plain")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--bucket", action="append", default=[])
    p.add_argument("--key", action="append", default=[])
    p.add_argument("--role-arn", default="")
    p.add_argument("--web-token", default="")
    args = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.state = State(args)
    sys.stderr.write("s3verify listening on 127.0.0.1:%d\n" % args.port)
    sys.stderr.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()

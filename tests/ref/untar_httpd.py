#!/usr/bin/python3
"""A loopback HTTP server for tests/untar.t: serves ROOT on 127.0.0.1.

usage: untar_httpd.py ROOT PORTFILE LOGFILE

Binds a free port on 127.0.0.1, writes it to PORTFILE, and serves files
under ROOT with Range (206 + Content-Range), ETag and If-Range, like S3.
Each request is logged as "GET PATH RANGE" (RANGE is "-" when absent).
Query parameters bend the rules, to test the client:
  cut=N     the first GET of this URL sends the full Content-Length but
            only N bytes of body, then drops the connection
  norange=1 ignore Range: always 200 with the whole file
  slow=1    send the body in 8 pieces, 0.1 s apart
"""
import email.utils
import hashlib
import http.server
import os
import sys
import threading
import time
import urllib.parse

ROOT, PORTFILE, LOGFILE = sys.argv[1:4]
seen = {}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        rng = self.headers.get("Range")
        with lock:
            n = seen.get(self.path, 0)
            seen[self.path] = n + 1
            with open(LOGFILE, "a") as f:
                f.write("GET %s %s\n" % (self.path, rng or "-"))
        path = os.path.join(ROOT, urllib.parse.unquote(u.path).lstrip("/"))
        if not os.path.isfile(path):
            body = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        data = open(path, "rb").read()
        st = os.stat(path)
        etag = '"%s"' % hashlib.md5(data).hexdigest()
        start = 0
        if rng and not q.get("norange"):
            ifr = self.headers.get("If-Range")
            if ifr is None or ifr == etag:
                start = int(rng.split("=")[1].split("-")[0])
        if start >= len(data) and start > 0:
            self.send_response(416)
            self.send_header("Content-Range", "bytes */%d" % len(data))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" %
                             (start, len(data) - 1, len(data)))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified",
                         email.utils.formatdate(st.st_mtime, usegmt=True))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if "cut" in q and n == 0:
            self.wfile.write(body[:int(q["cut"])])
            self.wfile.flush()
            self.close_connection = True
            return
        if q.get("slow"):
            k = max(1, len(body) // 8)
            for i in range(0, len(body), k):
                self.wfile.write(body[i:i + k])
                self.wfile.flush()
                time.sleep(0.1)
            return
        self.wfile.write(body)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
with open(PORTFILE + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()

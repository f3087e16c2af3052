#!/usr/bin/python3
"""A loopback HTTP server that stops mid-body, for tests/untar.t.

usage: untar_hold.py FILE <hold >events

Binds a free port on 127.0.0.1 and writes it as the first line on stdout.
Answers one GET with FILE's full Content-Length but only its first half,
then writes "sent" on stdout and holds the connection open until stdin
ends.  So the test knows the client is mid-download, and the download
cannot end, before it sends a signal.  No sleeps.  Ends at once when
stdin ends before a client comes.
"""
import select
import socket
import sys

data = open(sys.argv[1], "rb").read()
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
print(srv.getsockname()[1], flush=True)
ready, _, _ = select.select([srv, sys.stdin], [], [])
if srv not in ready:
    sys.exit(0)
c, _ = srv.accept()
req = b""
while b"\r\n\r\n" not in req:
    k = c.recv(4096)
    if not k:
        sys.exit(1)
    req += k
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
          b"Accept-Ranges: bytes\r\n\r\n" % len(data) + data[:len(data) // 2])
print("sent", flush=True)
sys.stdin.read()
c.close()

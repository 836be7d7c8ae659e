#!/usr/bin/env python3
"""An upstream HTTP/1.1 service on 127.0.0.1 for the proxy's tests: keep-alive, and each answer
says what it received (method, path, headers, body) and on which connection. /slow/N waits N
seconds; /big/N answers N bytes; /status/N answers that status; /lie/N announces N bytes and
hangs up after 10; /script answers JavaScript; /close answers, then closes the connection
without saying so; /drip answers in pieces, 100 ms apart; /eof/N answers N bytes with no
length, ending them by closing; /smuggle[/MS] answers, then MS (50) ms later sends an answer unasked; /cut sends one chunk and hangs up;
/early sends two 103 answers before its own;
/early-close one, then closes (/hits says how many it received). Chunked request bodies are read.
With --tls CERT KEY it speaks HTTPS. Prints its port, then serves until killed (or 10 minutes)."""
import json
import socketserver
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

connections = 0
early_closes = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        global connections
        super().setup()
        with lock:
            connections += 1
            self.connection_id = connections

    def log_message(self, *args):
        pass

    def read_chunked(self):
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # the trailer section
                return body
            body += self.rfile.read(size)
            self.rfile.readline()  # the CRLF after the chunk

    def answer(self):
        global early_closes
        length = int(self.headers.get("content-length") or 0)
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            body = self.read_chunked().decode("utf-8", "replace")
        else:
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts and parts[0] == "base":  # the tests' upstreams start at /base
            parts = parts[1:] or [""]
        status, payload = 200, None
        if parts[0] == "slow" and len(parts) > 1:
            time.sleep(float(parts[1]))
        if parts[0] == "big" and len(parts) > 1:
            payload = b"x" * int(parts[1])
        if parts[0] == "status" and len(parts) > 1:
            status = int(parts[1])
        if parts[0] == "lie" and len(parts) > 1:  # announces N bytes, sends 10, hangs up
            self.send_response(200)
            self.send_header("Content-Length", parts[1])
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
            return
        if parts[0] == "drip":  # the head in two pieces, then the body in two
            pieces = [b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
                      b"Content-Length: 15\r\nX-Upstream: drip\r\n\r\n{\"drip\"",
                      b":\"ped\"}\n"]
            for piece in pieces:
                self.wfile.write(piece)
                self.wfile.flush()
                time.sleep(0.1)
            return
        if parts[0] == "eof" and len(parts) > 1:  # N bytes with no length: they end at the close
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(b"e" * int(parts[1]))
            self.wfile.flush()
            self.close_connection = True
            return
        if parts[0] == "cut":  # chunked, one chunk, then the close without the last chunk
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"a\r\n0123456789\r\n")
            self.wfile.flush()
            self.close_connection = True
            return
        if parts[0] == "close":
            self.close_connection = True  # after the answer, which does not say so
        if payload is None:
            payload = json.dumps({
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
                "connection": self.connection_id,
            }).encode()
        if parts[0] == "hits":  # how many requests /early-close received
            payload = json.dumps({"hits": early_closes}).encode()
        if parts[0] == "early-close":  # an interim answer, then the close
            with lock:
                early_closes += 1
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
            return
        if parts[0] == "early":  # two interim answers before the final one
            for _ in range(2):
                self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
                self.wfile.flush()
        self.send_response(status)
        script = parts[0] == "script"
        self.send_header("Content-Type", "text/javascript" if script else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Set-Cookie", "upstream=1; Path=/")
        self.send_header("Content-Security-Policy", "default-src *")
        self.send_header("X-Upstream", "echo")
        self.send_header("Cache-Control", "public, max-age=600")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        if parts[0] == "smuggle":  # then, unasked, an answer for whoever asks next
            self.wfile.flush()
            time.sleep(int(parts[1]) / 1000 if len(parts) > 1 else 0.05)
            fake = b'{"smuggled":true}'
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(fake)).encode() + b"\r\n\r\n" + fake)
            self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = answer


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
if "--tls" in sys.argv:
    at = sys.argv.index("--tls")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[at + 1], sys.argv[at + 2])
    # The handshake in the connection's thread, not in the accepting one.
    server.socket = context.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
print("listening", server.server_address[1], flush=True)
threading.Timer(600, server.shutdown).start()
server.serve_forever()

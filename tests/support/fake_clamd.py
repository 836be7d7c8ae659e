"""A stand-in for clamd on loopback, for the tests: it speaks the INSTREAM command (length-
prefixed chunks, a zero-length one at the end) and finds "a virus" in any stream holding the
EICAR test string. A real clamd needs its signature database, which cannot be fetched here.

usage: fake_clamd.py PORT
"""
import socketserver
import struct
import sys

EICAR = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE"


class Handler(socketserver.BaseRequestHandler):
    def read_exactly(self, n):
        data = b""
        while len(data) < n:
            piece = self.request.recv(n - len(data))
            if not piece:
                raise ConnectionError("closed")
            data += piece
        return data

    def handle(self):
        command = b""
        while not command.endswith(b"\0"):
            command += self.read_exactly(1)
        if command != b"zINSTREAM\0":
            self.request.sendall(b"UNKNOWN COMMAND\0")
            return
        content = b""
        while True:
            (length,) = struct.unpack(">I", self.read_exactly(4))
            if length == 0:
                break
            content += self.read_exactly(length)
        verdict = b"stream: Eicar-Test-Signature FOUND\0" if EICAR in content else b"stream: OK\0"
        print("scanned", len(content), "bytes:", verdict[:-1].decode(), flush=True)
        self.request.sendall(verdict)


socketserver.TCPServer.allow_reuse_address = True
with socketserver.ThreadingTCPServer(("127.0.0.1", int(sys.argv[1])), Handler) as server:
    print("listening", flush=True)
    server.serve_forever()

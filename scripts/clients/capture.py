#!/usr/bin/env python3
"""Tiny capture servers used to record what real log shippers put on the wire.

Modes:
  http  -- HTTP/1.1 server; every request's method, path, headers and raw body are saved as
           OUTDIR/NNN.bin (body) and OUTDIR/NNN.headers.txt; answers 204 (or --status).
  tcp   -- TCP server; every connection's raw byte stream is saved as OUTDIR/NNN.bin.
  udp   -- UDP server; every datagram is saved as OUTDIR/NNN.bin.
  grpc  -- gRPC server (needs grpcio: run it with target/clients/venv/bin/python) answering
           opentelemetry.proto.collector.logs.v1.LogsService/Export with an empty response;
           every request message (raw protobuf, no gRPC framing) is saved as OUTDIR/NNN.bin
           and its metadata as OUTDIR/NNN.headers.txt.

The bound port is printed on stdout as `LISTENING <port>` once the socket is ready, so a
caller can pass --port 0 and read the ephemeral port back. Stops after --max-seconds or on
SIGTERM/SIGINT. Standard library only (no venv needed).
"""
import argparse
import http.server
import os
import signal
import socket
import socketserver
import sys
import threading

_counter_lock = threading.Lock()
_counter = [0]


def _next_name(outdir):
    with _counter_lock:
        _counter[0] += 1
        return os.path.join(outdir, "%03d" % _counter[0])


def serve_http(args):
    outdir = args.outdir
    status = args.status

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _capture(self):
            length = int(self.headers.get("Content-Length", "0") or "0")
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = b""
                while True:
                    size_line = self.rfile.readline().strip()
                    size = int(size_line.split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    body += self.rfile.read(size)
                    self.rfile.readline()
            else:
                body = self.rfile.read(length)
            base = _next_name(outdir)
            with open(base + ".bin", "wb") as f:
                f.write(body)
            with open(base + ".headers.txt", "w") as f:
                f.write("%s %s %s\n" % (self.command, self.path, self.request_version))
                for k, v in self.headers.items():
                    f.write("%s: %s\n" % (k, v))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = _capture
        do_PUT = _capture

        def log_message(self, fmt, *a):
            sys.stderr.write("capture http: " + (fmt % a) + "\n")

    srv = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    return srv


def serve_tcp(args):
    outdir = args.outdir

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            chunks = []
            while True:
                data = self.request.recv(65536)
                if not data:
                    break
                chunks.append(data)
            with open(_next_name(outdir) + ".bin", "wb") as f:
                f.write(b"".join(chunks))

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    return socketserver.ThreadingTCPServer((args.host, args.port), Handler)


def serve_udp(args):
    outdir = args.outdir

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            data = self.request[0]
            with open(_next_name(outdir) + ".bin", "wb") as f:
                f.write(data)

    return socketserver.UDPServer((args.host, args.port), Handler)


def serve_grpc(args):
    from concurrent import futures

    import grpc

    outdir = args.outdir

    def export(request, context):
        base = _next_name(outdir)
        with open(base + ".bin", "wb") as f:
            f.write(request)
        with open(base + ".headers.txt", "w") as f:
            f.write("grpc /opentelemetry.proto.collector.logs.v1.LogsService/Export\n")
            for k, v in context.invocation_metadata():
                f.write("%s: %s\n" % (k, v))
        return b""

    handler = grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.logs.v1.LogsService",
        {"Export": grpc.unary_unary_rpc_method_handler(export)},
    )

    class GrpcServer:
        def __init__(self):
            self._srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
            self._srv.add_generic_rpc_handlers((handler,))
            port = self._srv.add_insecure_port("%s:%d" % (args.host, args.port))
            self.server_address = (args.host, port)
            self._done = threading.Event()

        def serve_forever(self, poll_interval=0.05):
            self._srv.start()
            self._done.wait()
            self._srv.stop(grace=0.5).wait()

        def shutdown(self):
            self._done.set()

        def server_close(self):
            pass

    return GrpcServer()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["http", "tcp", "udp", "grpc"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--outdir", required=True)
    p.add_argument("--status", type=int, default=204, help="HTTP status to answer (http mode)")
    p.add_argument("--max-seconds", type=float, default=60.0)
    args = p.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    srv = {"http": serve_http, "tcp": serve_tcp, "udp": serve_udp, "grpc": serve_grpc}[args.mode](args)
    srv.daemon_threads = True
    port = srv.server_address[1]
    print("LISTENING %d" % port, flush=True)

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = threading.Timer(args.max_seconds, stop)
    timer.daemon = True
    timer.start()
    srv.serve_forever(poll_interval=0.05)
    srv.server_close()


if __name__ == "__main__":
    main()

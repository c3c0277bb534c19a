"""``python -m recovery.sandbox.service_app --name NAME --port N``: one service of the rehearsal world.

A stand-in for CLOS API, PromoterOS, Paintbox, ... -- just enough to make health checks and restarts
real: it answers ``200`` JSON on its health path and ``404`` elsewhere. Two switches let a drill
make it misbehave without killing it:

* ``--env-file PATH``: read at start; the health answer reports whether it was loaded and its sha256,
  so a test can tell that a restart picked up a restored ``.env`` (never its contents);
* ``--fail-file PATH``: while this file exists the health path answers ``503``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any


class ServiceState:
    """What the health endpoint reports. Computed once at start, like a real app reading its env."""

    def __init__(self, name: str, health_path: str, env_file: Path | None, fail_file: Path | None) -> None:
        self.name = name
        self.health_path = health_path
        self.fail_file = fail_file
        self.started = time.time()
        self.env_sha256: str | None = None
        if env_file is not None and env_file.is_file():
            self.env_sha256 = hashlib.sha256(env_file.read_bytes()).hexdigest()

    def health(self) -> tuple[int, dict[str, Any]]:
        failing = self.fail_file is not None and self.fail_file.exists()
        body = {
            "service": self.name,
            "status": "failing" if failing else "ok",
            "uptime_s": round(time.time() - self.started, 3),
            "env_loaded": self.env_sha256 is not None,
            "env_sha256": self.env_sha256,
        }
        return (503 if failing else 200), body


def make_handler(state: ServiceState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"candlefish-{state.name}/1.0"

        def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
            path = self.path.split("?", 1)[0]
            if path == state.health_path:
                status, body = state.health()
            else:
                status, body = 404, {"error": "not found", "path": path}
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- signature of the base
            sys.stderr.write(f"{state.name} {self.address_string()} {format % args}\n")

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a service of the rehearsal world")
    parser.add_argument("--name", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--health-path", default="/health")
    parser.add_argument("--env-file", type=Path)
    parser.add_argument("--fail-file", type=Path)
    args = parser.parse_args(argv)

    state = ServiceState(args.name, args.health_path, args.env_file, args.fail_file)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(state))
    server.daemon_threads = True
    serve_until_stopped(server, f"{args.name} listening on {args.host}:{args.port}{args.health_path}")
    return 0


def serve_until_stopped(server: socketserver.BaseServer, banner: str) -> None:
    """Serve until SIGTERM (what :func:`recovery.sandbox.procs.stop` sends) or SIGINT, then close the
    socket. The stand-in servers of the world (this one, fake_redis) all stop this way."""

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return, so it must run outside the serving thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sys.stderr.write(banner + "\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())

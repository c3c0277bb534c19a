"""``python -m recovery.sandbox.fake_redis --port N``: a Redis for machines without ``redis-server``.

fakeredis's TCP server speaks the real wire protocol, so redis-py (and ``redis-cli``) talk to it as to
a real server. Used only when Debian's ``redis-server`` is not on PATH.
"""

from __future__ import annotations

import argparse
import sys

from fakeredis import TcpFakeServer

from recovery.sandbox.service_app import serve_until_stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    server = TcpFakeServer((args.host, args.port), server_type="redis")
    server.daemon_threads = True
    serve_until_stopped(server, f"fakeredis listening on {args.host}:{args.port}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

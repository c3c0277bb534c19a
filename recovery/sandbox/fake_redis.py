"""``python -m recovery.sandbox.fake_redis --port N``: a Redis for machines without ``redis-server``.

fakeredis's TCP server speaks the real wire protocol, so redis-py (and ``redis-cli``) talk to it as to
a real server. Used only when Debian's ``redis-server`` is not on PATH.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from fakeredis import TcpFakeServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    server = TcpFakeServer((args.host, args.port), server_type="redis")
    server.daemon_threads = True

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return, so it must run outside the serving thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"fakeredis listening on {args.host}:{args.port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Servers that misbehave on purpose, for tests of timeouts: shared by the health-probe and the
validation-flow tests so both rehearse the very same sick server."""

from __future__ import annotations

import socket
import threading


class SilentServer:
    """Accepts TCP connections and never sends a byte: the worst kind of sick server (a check must
    give up on its own timeout, since neither a refusal nor an answer ever comes)."""

    def __init__(self, backlog: int = 32) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.held: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)  # kept open: closing it would be an answer

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)
        for conn in self.held:
            conn.close()
        self.sock.close()

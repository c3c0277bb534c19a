"""Raft snapshot files: check that a file really is a snapshot.

Why separate from the adapter: this is file-format knowledge (no client, no server), used both
after taking a snapshot and *before* a restore, so a file that is not a snapshot never reaches Vault.
A raft snapshot is a gzip'ed tar of ``meta.json``, ``state.bin`` and ``SHA256SUMS`` (plus
``SHA256SUMS.sealed``); checking the sums catches truncation and tampering, not just a wrong format.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from recovery.errors import NotFoundError, PermanentError

#: Members every raft snapshot archive carries; SHA256SUMS covers the first two.
SNAPSHOT_MEMBERS = ("meta.json", "state.bin", "SHA256SUMS")


def verify_snapshot(path: Path) -> dict[str, Any]:
    """Check that ``path`` is a raft snapshot: non-empty gzip'ed tar with meta.json, state.bin and a
    SHA256SUMS that matches both. Returns meta.json; raises :class:`PermanentError` otherwise.
    Members are hashed as a stream: a production snapshot can be gigabytes."""
    digests: dict[str, str] = {}
    small: dict[str, bytes] = {}
    try:
        if path.stat().st_size == 0:
            raise PermanentError(f"snapshot {path.name} is empty")
        with tarfile.open(path, mode="r:gz") as archive:
            for member in archive:
                extracted = archive.extractfile(member) if member.isfile() else None
                if extracted is None or member.name not in SNAPSHOT_MEMBERS:
                    continue
                digest = hashlib.sha256()
                while chunk := extracted.read(1 << 20):
                    digest.update(chunk)
                    if member.name != "state.bin":
                        small[member.name] = small.get(member.name, b"") + chunk
                digests[member.name] = digest.hexdigest()
    except FileNotFoundError as exc:
        raise NotFoundError(f"snapshot {path} does not exist") from exc
    except (OSError, EOFError, tarfile.TarError) as exc:
        reason = type(exc).__name__
        raise PermanentError(f"snapshot {path.name} is not a valid gzip'ed tar ({reason})") from exc
    missing = [name for name in SNAPSHOT_MEMBERS if name not in digests]
    if missing:
        raise PermanentError(f"snapshot {path.name} lacks {', '.join(missing)}: not a raft snapshot")
    sums = {}
    for line in io.StringIO(small.get("SHA256SUMS", b"").decode(errors="replace")):
        expected, _, name = line.strip().partition("  ")
        if name:
            sums[name] = expected
    for name in ("meta.json", "state.bin"):
        if sums.get(name) != digests[name]:
            raise PermanentError(f"snapshot {path.name}: checksum of {name} does not match SHA256SUMS")
    try:
        return dict(json.loads(small.get("meta.json", b"")))
    except (ValueError, TypeError) as exc:
        raise PermanentError(f"snapshot {path.name}: meta.json is not JSON") from exc

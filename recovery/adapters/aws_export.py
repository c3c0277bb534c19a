"""The AWS secrets export file: written atomically, 0600, then read back and checksummed.

Why so careful: this file is the only copy of the secret values taken before Checkpoint Charlie or a
Phase 2 rollback destroys them. A half-written or world-readable backup is worse than none, so the
bytes go to a 0600 temporary file in the same directory, are fsynced, renamed over the destination,
and read back; the SHA-256 of what is on disk must equal the SHA-256 of what was meant to be written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from recovery.errors import PermanentError

FILE_MODE = 0o600
DIR_MODE = 0o700


def write_export(dest: Path, document: dict[str, Any]) -> tuple[int, str]:
    """Write ``document`` as JSON to ``dest``; return (number of secrets, sha256 of the file)."""
    payload = (json.dumps(document, indent=2, sort_keys=True, default=str) + "\n").encode()
    expected = hashlib.sha256(payload).hexdigest()
    write_private(dest, payload)
    actual = sha256_file(dest)
    if actual != expected:
        raise PermanentError(f"export {dest}: checksum mismatch after writing ({actual} != {expected})")
    return len(document.get("secrets", [])), actual


def write_private(dest: Path, payload: bytes) -> None:
    """Atomically replace ``dest`` with ``payload``, mode 0600, creating parents as 0700."""
    dest.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except OSError as exc:
        raise PermanentError(f"export {dest}: cannot create temporary file: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)  # the umask may have narrowed it; never widened
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, dest)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise PermanentError(f"export {dest}: write failed: {exc.strerror}") from exc
    _fsync_dir(dest.parent)


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes (what a later restore checks the backup against)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                digest.update(chunk)
    except OSError as exc:
        raise PermanentError(f"export {path}: cannot read back: {exc.strerror}") from exc
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

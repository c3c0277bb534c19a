"""The AWS secrets export file: written atomically, 0600, then read back and checksummed.

Why so careful: this file is the only copy of the secret values taken before Checkpoint Charlie or a
Phase 2 rollback destroys them. A half-written or world-readable backup is worse than none, so the
bytes go to a 0600 temporary file in the same directory, are fsynced, renamed over the destination,
and read back; the SHA-256 of what is on disk must equal the SHA-256 of what was meant to be written.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from recovery.errors import PermanentError
from recovery.fsutil import atomic_target
from recovery.fsutil import sha256_file as fsutil_sha256


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
    """Atomically replace ``dest`` with ``payload``, mode 0600, creating parents as 0700 (see
    :func:`recovery.fsutil.atomic_target`); an OS failure becomes a PermanentError naming the file
    and whether it struck before or after the temporary file existed."""
    stage = "cannot create temporary file"
    try:
        with atomic_target(dest) as (handle, _tmp):
            stage = "write failed"
            handle.write(payload)
    except OSError as exc:
        raise PermanentError(f"export {dest}: {stage}: {exc.strerror}") from exc


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes (what a later restore checks the backup against)."""
    try:
        return fsutil_sha256(path)
    except OSError as exc:
        raise PermanentError(f"export {path}: cannot read back: {exc.strerror}") from exc

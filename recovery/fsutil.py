"""Atomic, private file writes: the one implementation every adapter and the sandbox use.

Why one module: backups, exports, snapshots, kubeconfigs and tokens all hold secrets, and each of
them must be written the same careful way -- a temporary file in the target's directory (``os.replace``
is only atomic within one file system), its mode set *before* any byte is written (a secret is never
world-readable, not even for a moment), fsynced, renamed over the target, and the directory fsynced so
the rename survives a power cut. A failed write removes the temporary file and leaves the target as it
was. No client library is imported here, so adapters, the sandbox and the flows may all depend on it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o600
DIR_MODE = 0o700


@contextlib.contextmanager
def atomic_target(path: Path, mode: int = FILE_MODE) -> Iterator[tuple[BinaryIO, Path]]:
    """Yield a binary handle on a new temporary file beside ``path`` and that file's path.

    When the block ends normally the bytes are flushed, fsynced and renamed onto ``path``; when it
    raises (a broken download, a failed verification of the temporary file) the temporary file is
    removed and ``path`` is untouched. The path is yielded so a caller can verify the complete file
    before it takes the target's place. Missing parent directories are created with mode 0700.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            yield handle, Path(tmp)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Write ``data`` to ``path`` so readers see the old bytes or the new ones, never a mix."""
    with atomic_target(path, mode) as (handle, _tmp):
        handle.write(data)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks (a digest of a high-entropy secret does not
    reveal it, and a snapshot or state file may be too large to hold in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable; best effort (some file systems refuse a dir fsync)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

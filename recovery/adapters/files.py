"""The project's ``.env`` files: back them up, verify backups, restore them -- confined to one root.

Checkpoint Alpha, Checkpoint Bravo and the Phase 1/4 rollbacks of the playbook are all "copy env files
into the project tree". The seed does it with ``find | cp``; here every copy is:

* **confined**: a destination is ``root / relative`` and may not leave the root, neither by ``..``
  nor through a symlink (:class:`PathEscapeError`); a destination that *is* a symlink is refused
  even when it points inside the root, because ``os.replace`` would silently swap the link for a file;
* **atomic**: written to a temporary file in the same directory, fsynced, then ``os.replace``-d, so
  a crash never leaves half a secret file; every written file is mode 0600;
* **planned first**: ``plan_*`` returns exactly what the real call would change, and the real call
  validates the whole plan before its first write, so a refused path means *nothing* was written;
* **idempotent**: each :class:`RestoredFile` says whether the bytes changed, so a second run reports
  "already in place" instead of pretending to have restored.

Backups taken before a destructive step (:meth:`EnvFiles.backup`) mirror the project's relative paths
inside their directory, next to a ``manifest.json`` with each file's sha256, size and mode. A file
that did not exist is recorded as *absent*: :meth:`EnvFiles.restore_backup` then removes the file if
one has appeared since, because undoing a step means putting the tree back exactly as it was.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from recovery.errors import ConflictError, NotFoundError, PathEscapeError, PermanentError
from recovery.fsutil import DIR_MODE, FILE_MODE, atomic_write, sha256_file
from recovery.inventory import confine

# atomic_write and sha256_file (recovery.fsutil) stay importable from here: flows and the sandbox use
# them under this name.
MANIFEST = "manifest.json"


class ManifestEntry(BaseModel):
    """One file of a backup. ``present=False`` records that the file did not exist at backup time."""

    model_config = ConfigDict(frozen=True)

    path: str  # POSIX path relative to the project root
    present: bool
    sha256: str | None = None
    size: int | None = None
    mode: int | None = None  # the source file's permission bits, for the record


class Backup(BaseModel):
    """A verified backup directory and what it holds."""

    model_config = ConfigDict(frozen=True)

    directory: Path
    root: Path
    created_at: str
    entries: tuple[ManifestEntry, ...]

    @property
    def present(self) -> list[ManifestEntry]:
        return [e for e in self.entries if e.present]


class RestoredFile(BaseModel):
    """What a restore did (or, from a ``plan_*`` call, would do) to one file of the project."""

    model_config = ConfigDict(frozen=True)

    path: Path  # relative to the project root
    source: Path | None  # None when the action is a removal
    sha256_before: str | None  # None: the file did not exist
    sha256_after: str | None  # None: the file is removed
    changed: bool

    @property
    def action(self) -> str:
        """``created``, ``updated``, ``removed`` or ``unchanged`` -- for reports."""
        if not self.changed:
            return "unchanged"
        if self.sha256_before is None:
            return "created"
        return "removed" if self.sha256_after is None else "updated"


class EnvFiles:
    """Env files of one project tree. Every path it takes is relative to ``root`` and stays in it."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise NotFoundError(f"project root {root} is not a directory")
        self._given_root = root.absolute()
        self.root = root.resolve()

    # -- backup --------------------------------------------------------------------------------
    def backup(self, paths: Iterable[Path | str], dest_dir: Path) -> Backup:
        """Copy ``paths`` (relative to the root) into ``dest_dir`` at the same relative paths, write
        the manifest, then verify every copy against it. ``dest_dir`` must be new or empty: a backup is
        never merged into an older one (that would make "what was there before" ambiguous)."""
        rels = sorted({self._relative(p) for p in paths})
        if MANIFEST in rels:
            raise PermanentError(f"cannot back up a file named {MANIFEST} at the root: it is the manifest")
        if dest_dir.exists() and any(dest_dir.iterdir()):
            raise ConflictError(f"backup directory {dest_dir} already exists and is not empty")
        entries: list[ManifestEntry] = []
        sources = {rel: self._readable(rel) for rel in rels}  # validate all before the first copy
        _make_private_dir(dest_dir)
        for rel, source in sources.items():
            if source is None:
                entries.append(ManifestEntry(path=rel, present=False))
                continue
            data = source.read_bytes()
            target = dest_dir / rel
            _make_private_dir(target.parent, stop_at=dest_dir)
            atomic_write(target, data, FILE_MODE)
            entries.append(
                ManifestEntry(
                    path=rel,
                    present=True,
                    sha256=hashlib.sha256(data).hexdigest(),
                    size=len(data),
                    mode=stat.S_IMODE(source.stat().st_mode),
                )
            )
        manifest = {
            "root": str(self.root),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "entries": [e.model_dump() for e in entries],
        }
        atomic_write(dest_dir / MANIFEST, json.dumps(manifest, indent=2).encode(), FILE_MODE)
        return self.verify(dest_dir)

    def verify(self, backup_dir: Path) -> Backup:
        """Re-read a backup and check every file against its manifest (PermanentError on mismatch)."""
        return verify_backup(backup_dir)

    def restore_backup(self, backup_dir: Path) -> list[RestoredFile]:
        """Put every file of a (verified) backup back, removing files recorded as absent."""
        plan = self.plan_restore_backup(backup_dir)
        self._apply(plan)
        return plan

    def plan_restore_backup(self, backup_dir: Path) -> list[RestoredFile]:
        backup = verify_backup(backup_dir)
        if backup.root != self.root:
            # Another project's secrets must never land here, even if the relative paths line up.
            raise ConflictError(f"backup {backup_dir} was taken from {backup.root}, not {self.root}")
        plan = []
        for entry in backup.entries:
            if entry.present:
                plan.append(self._plan_one(backup.directory / entry.path, Path(entry.path), create_dirs=True))
            else:
                plan.append(self._plan_removal(Path(entry.path)))
        return plan

    # -- restore -------------------------------------------------------------------------------
    def restore_tree(
        self,
        src_dir: Path,
        pattern: str = "*.env",
        *,
        strip_suffix: str = "",
        create_dirs: bool = False,
    ) -> list[RestoredFile]:
        """Checkpoint Alpha: every file under ``src_dir`` whose name matches ``pattern`` goes to the
        same relative path under the root. Like ``find -name '*.env'``, ``*`` matches the empty
        string, so both ``.env`` and ``prod.env`` match. ``strip_suffix`` renames on the way (Phase 4:
        ``*.env.backup`` -> ``*.env`` with ``src_dir`` = the root itself)."""
        plan = self.plan_restore_tree(src_dir, pattern, strip_suffix=strip_suffix, create_dirs=create_dirs)
        self._apply(plan)
        return plan

    def plan_restore_tree(
        self,
        src_dir: Path,
        pattern: str = "*.env",
        *,
        strip_suffix: str = "",
        create_dirs: bool = False,
    ) -> list[RestoredFile]:
        if not src_dir.is_dir():
            raise NotFoundError(f"backup directory {src_dir} does not exist")
        base = src_dir.resolve()
        plan = []
        for rel in _matching_files(base, pattern):
            source = confine(base, rel)  # a symlink in the backup may not reach outside it
            dest = rel
            if strip_suffix and dest.name.endswith(strip_suffix) and dest.name != strip_suffix:
                dest = dest.with_name(dest.name[: -len(strip_suffix)])
            plan.append(self._plan_one(source, dest, create_dirs=create_dirs))
        return plan

    def restore_file(self, src: Path, dest_rel: Path | str, *, create_dirs: bool = False) -> RestoredFile:
        """Checkpoint Bravo / Phase 1: one file (e.g. the emergency ``.env.new``) to one place."""
        return self.restore_files(src, [dest_rel], create_dirs=create_dirs)[0]

    def plan_restore_file(
        self, src: Path, dest_rel: Path | str, *, create_dirs: bool = False
    ) -> RestoredFile:
        return self.plan_restore_files(src, [dest_rel], create_dirs=create_dirs)[0]

    def restore_files(
        self, src: Path, dest_rels: Sequence[Path | str], *, create_dirs: bool = False
    ) -> list[RestoredFile]:
        """One source to many destinations, all validated before the first write."""
        plan = self.plan_restore_files(src, dest_rels, create_dirs=create_dirs)
        self._apply(plan)
        return plan

    def plan_restore_files(
        self, src: Path, dest_rels: Sequence[Path | str], *, create_dirs: bool = False
    ) -> list[RestoredFile]:
        if not src.is_file():
            raise NotFoundError(f"source file {src} does not exist")
        return [self._plan_one(src, Path(d), create_dirs=create_dirs) for d in dest_rels]

    # -- internals -----------------------------------------------------------------------------
    def _relative(self, path: Path | str) -> str:
        """``path`` (relative to the root, or absolute inside it) as a normalised POSIX string;
        PathEscapeError when it climbs out lexically (``..``) or through a symlink."""
        candidate = Path(path)
        if candidate.is_absolute():
            for base in (self._given_root, self.root):
                if candidate.is_relative_to(base):
                    candidate = candidate.relative_to(base)
                    break
            else:
                raise PathEscapeError(f"{path} is outside the project root {self.root}")
        norm = os.path.normpath(candidate)
        if norm in (".", "") or norm == ".." or norm.startswith("../"):
            raise PathEscapeError(f"{path} is not a file inside the project root")
        confine(self.root, norm)  # follows symlinks: refuses one that leads out of the root
        return Path(norm).as_posix()

    def _writable(self, rel: str) -> Path:
        """Where to write ``rel``: its real directory inside the root, and a name that is not a link."""
        lexical = self.root / rel
        if lexical.is_symlink():
            raise PathEscapeError(f"{rel} is a symlink: refusing to write through it")
        return confine(self.root, Path(rel).parent) / lexical.name

    def _readable(self, rel: str) -> Path | None:
        path = confine(self.root, rel)
        if not path.exists():
            return None
        if not path.is_file():
            raise PermanentError(f"{rel} is not a regular file")
        return path

    def _plan_one(self, source: Path, dest_rel: Path, *, create_dirs: bool) -> RestoredFile:
        rel = Path(self._relative(dest_rel))
        target = self._writable(rel.as_posix())
        if not target.parent.is_dir() and not create_dirs:
            raise NotFoundError(f"destination directory {rel.parent} does not exist in the project")
        if target.exists() and not target.is_file():
            raise PermanentError(f"{rel} exists and is not a regular file")
        before = sha256_file(target) if target.exists() else None
        after = sha256_file(source)
        return RestoredFile(
            path=rel, source=source, sha256_before=before, sha256_after=after, changed=before != after
        )

    def _plan_removal(self, dest_rel: Path) -> RestoredFile:
        rel = Path(self._relative(dest_rel))
        target = self._writable(rel.as_posix())
        if target.exists() and not target.is_file():
            raise PermanentError(f"{rel} exists and is not a regular file")
        before = sha256_file(target) if target.exists() else None
        return RestoredFile(path=rel, source=None, sha256_before=before, sha256_after=None,
                            changed=before is not None)

    def _apply(self, plan: Sequence[RestoredFile]) -> None:
        for item in plan:
            target = self._writable(item.path.as_posix())
            if not item.changed:
                # Same bytes already there; still tighten the mode a secret file must have.
                if target.exists():
                    os.chmod(target, FILE_MODE)
                continue
            if item.source is None:
                target.unlink(missing_ok=True)
                continue
            data = item.source.read_bytes()
            if hashlib.sha256(data).hexdigest() != item.sha256_after:
                raise ConflictError(f"{item.source} changed between planning and restoring")
            atomic_write(target, data, FILE_MODE)


def verify_backup(backup_dir: Path) -> Backup:
    """Check every present file of a backup against its manifest. Raises NotFoundError when there is
    no manifest, PermanentError naming the first bad file otherwise (never its contents)."""
    manifest_path = backup_dir / MANIFEST
    if not manifest_path.is_file():
        raise NotFoundError(f"no {MANIFEST} in {backup_dir}: not a backup taken by this tool")
    try:
        raw = json.loads(manifest_path.read_text())
        entries = tuple(ManifestEntry(**e) for e in raw["entries"])
        root, created = Path(raw["root"]), str(raw["created_at"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PermanentError(f"{manifest_path} is not a valid manifest: {type(exc).__name__}") from None
    base = backup_dir.resolve()
    for entry in entries:
        if not entry.present:
            continue
        path = confine(base, entry.path)
        if not path.is_file():
            raise PermanentError(f"backup {backup_dir}: {entry.path} is missing")
        if path.stat().st_size != entry.size or sha256_file(path) != entry.sha256:
            raise PermanentError(f"backup {backup_dir}: {entry.path} does not match its checksum")
    return Backup(directory=base, root=root, created_at=created, entries=entries)


def _matching_files(base: Path, pattern: str) -> list[Path]:
    """Relative paths of files under ``base`` whose name matches ``pattern`` (``find -name``)."""
    found = []
    for dirpath, _dirnames, filenames in os.walk(base):
        for name in filenames:
            if name == MANIFEST and Path(dirpath) == base:
                continue  # the manifest of a backup taken by this tool is not a project file
            if fnmatch.fnmatchcase(name, pattern):
                found.append((Path(dirpath) / name).relative_to(base))
    return sorted(found)


def _make_private_dir(path: Path, stop_at: Path | None = None) -> None:
    """Create ``path`` (and parents) 0700; chmod the ones between ``stop_at`` and ``path`` too."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    current = path
    while True:
        os.chmod(current, DIR_MODE)
        if stop_at is None or current == stop_at or current.parent == current:
            break
        current = current.parent


def new_backup_dir(store_dir: Path, label: str) -> Path:
    """A fresh ``store_dir/LABEL-YYYYmmdd-HHMMSS`` path (suffixed ``-2``, ``-3`` ... if taken), so two
    backups in the same second never share a directory."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    candidate = store_dir / f"{label}-{stamp}"
    n = 2
    while candidate.exists():
        candidate = store_dir / f"{label}-{stamp}-{n}"
        n += 1
    return candidate

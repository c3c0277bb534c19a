"""Vault (or OpenBao) adapter: health, raft snapshots, restore, mounts and KV listing, over hvac.

Why an adapter: the flows need a handful of Vault operations with *typed* answers and *our* error
kinds. hvac answers some calls with a dict, others with a ``requests.Response`` (a sealed server's
health read), and raises its own exception tree; all of that stops here.

Error mapping (``raise ... from exc``): no answer -> :class:`UnreachableError`; a sealed server ->
:class:`ConflictError` ("vault is sealed"); 403/401/400 -> :class:`PermanentError`; 404 ->
:class:`NotFoundError`; 429/5xx -> :class:`TransientError`. Health never raises: it is data.

A raft snapshot holds every secret (encrypted with the barrier key, but still): it is written
atomically with mode 0600 and verified -- a gzip'ed tar whose ``SHA256SUMS`` match its members --
before anyone relies on it. The same check runs before a restore, so a file that is not a snapshot
never reaches the server and the data stays as it was.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests
from pydantic import BaseModel, SecretStr

from recovery.adapters.vault_snapshot import verify_snapshot
from recovery.errors import ConflictError, NotFoundError, PermanentError, TransientError, UnreachableError
from recovery.fsutil import atomic_target
from recovery.secrets import REDACTOR

T = TypeVar("T")


class VaultState(StrEnum):
    """What ``/sys/health`` says, as one value a decision can switch on."""

    OK = "ok"
    SEALED = "sealed"
    STANDBY = "standby"
    UNINITIALISED = "uninitialised"
    UNREACHABLE = "unreachable"


class VaultHealth(BaseModel):
    """Health as data: the state, the server's version when it answered, and why (for the report)."""

    address: str
    state: VaultState
    version: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state is VaultState.OK


class SnapshotInfo(BaseModel):
    """A verified raft snapshot on disk: enough to find it, check it later and cite it in a report."""

    path: Path
    size: int
    sha256: str
    raft_index: int
    raft_term: int
    taken_at: datetime


class MountInfo(BaseModel):
    """One secrets engine mount (``path`` ends with ``/``, as Vault writes it)."""

    path: str
    type: str
    version: str | None = None
    description: str = ""


class ExportInfo(BaseModel):
    """The names-only export of phase 3 (``vault secrets list`` + KV paths): never any value."""

    path: Path
    size: int
    sha256: str
    mounts: int
    kv_paths: int


class VaultAdapter:
    """A small typed client for the Vault operations the playbook needs."""

    def __init__(
        self,
        address: str,
        token: SecretStr,
        timeout: float = 5.0,
        kv_mount: str = "secret",
        restore_wait: float = 30.0,
    ) -> None:
        self.address = address.rstrip("/")
        self.kv_mount = kv_mount.strip("/")
        self.restore_wait = restore_wait
        self._client = hvac.Client(url=self.address, token=token.get_secret_value(), timeout=timeout)

    # -- health ---------------------------------------------------------------------------------

    def health(self) -> VaultHealth:
        """Read ``/sys/health``. Never raises: an unreachable server is a state like any other."""
        try:
            answer = self._client.sys.read_health_status(method="GET")
        except (requests.RequestException, hvac.exceptions.VaultError) as exc:
            return VaultHealth(address=self.address, state=VaultState.UNREACHABLE, detail=type(exc).__name__)
        # 200 comes back as a dict; 429/472/473 (standby), 501 (uninit), 503 (sealed) as a Response.
        body: Any = answer
        if isinstance(answer, requests.Response):
            try:
                body = answer.json()
            except ValueError:
                detail = f"HTTP {answer.status_code}: not a Vault health answer"
                return VaultHealth(address=self.address, state=VaultState.UNREACHABLE, detail=detail)
        if not isinstance(body, dict):
            detail = "empty health answer"
            return VaultHealth(address=self.address, state=VaultState.UNREACHABLE, detail=detail)
        version = body.get("version")
        if not body.get("initialized", False):
            state, detail = VaultState.UNINITIALISED, "not initialised"
        elif body.get("sealed", False):
            state, detail = VaultState.SEALED, "sealed"
        elif body.get("standby", False):
            state, detail = VaultState.STANDBY, "standby node"
        else:
            state, detail = VaultState.OK, "active"
        return VaultHealth(address=self.address, state=state, version=version, detail=detail)

    # -- snapshots ------------------------------------------------------------------------------

    def snapshot(self, dest: Path) -> SnapshotInfo:
        """Save a raft snapshot to ``dest`` (0600, atomic) and verify it before returning.

        Raises :class:`PermanentError` when the archive is empty or not a valid snapshot; the
        partial file is removed, so ``dest`` only ever holds a verified snapshot.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        response = self._call("take a raft snapshot", self._client.sys.take_raft_snapshot)
        digest = hashlib.sha256()
        size = 0
        with atomic_target(dest) as (handle, tmp):
            try:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            except requests.RequestException as exc:
                raise UnreachableError(f"vault at {self.address}: snapshot download broke off") from exc
            finally:
                response.close()
            handle.flush()
            meta = verify_snapshot(tmp)
        return SnapshotInfo(
            path=dest,
            size=size,
            sha256=digest.hexdigest(),
            raft_index=int(meta.get("Index", 0)),
            raft_term=int(meta.get("Term", 0)),
            taken_at=datetime.now(UTC),
        )

    def restore(self, snapshot: Path, force: bool = True) -> None:
        """Install ``snapshot`` (verified first) and wait until the API answers again.

        ``force`` restores even when the snapshot comes from another cluster (different unseal
        keys) -- what a rebuilt Vault needs. After a force restore the server drops and re-creates
        its state for a few seconds; we wait (bounded by ``restore_wait``) so the next step does
        not meet a half-restored Vault.
        """
        verify_snapshot(snapshot)
        sys_api = self._client.sys
        call = sys_api.force_restore_raft_snapshot if force else sys_api.restore_raft_snapshot
        with snapshot.open("rb") as handle:
            # A 500 here is the server rejecting the archive: retrying cannot help.
            what = f"restore snapshot {snapshot.name}"
            self._call(what, lambda: call(handle), server_error_is_permanent=True)
        self._wait_until_usable()

    def _wait_until_usable(self) -> None:
        deadline = time.monotonic() + self.restore_wait
        last = "no answer"
        while time.monotonic() < deadline:
            health = self.health()
            if health.ok:
                try:
                    self._client.sys.list_mounted_secrets_engines()
                    return
                except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized) as exc:
                    # The restored data has its own tokens: ours is not one of them. Waiting won't help.
                    raise PermanentError(
                        f"vault at {self.address}: restored, but this token is not valid in the restored data"
                    ) from exc
                except (requests.RequestException, hvac.exceptions.VaultError) as exc:
                    last = type(exc).__name__
            else:
                last = health.detail
            time.sleep(0.2)
        waited = f"{self.restore_wait:.0f}s"
        raise UnreachableError(f"vault at {self.address} not usable {waited} after restore ({last})")

    # -- mounts and KV --------------------------------------------------------------------------

    def list_mounts(self) -> list[MountInfo]:
        """Every secrets engine mount, sorted by path."""
        raw = self._call("list mounts", self._client.sys.list_mounted_secrets_engines)
        table: dict[str, Any] = raw.get("data", raw)
        mounts = [
            MountInfo(
                path=path,
                type=str(entry.get("type", "")),
                version=(entry.get("options") or {}).get("version"),
                description=str(entry.get("description") or ""),
            )
            for path, entry in table.items()
            if isinstance(entry, dict) and "type" in entry
        ]
        return sorted(mounts, key=lambda m: m.path)

    def list_kv_paths(self, mount: str | None = None, prefix: str = "") -> list[str]:
        """Every secret path under ``prefix`` in a KV mount (recursive, sorted; no values read)."""
        mount = (mount or self.kv_mount).strip("/")
        kv = self._kv(mount)
        found: list[str] = []
        pending = [prefix.strip("/") + "/" if prefix.strip("/") else ""]
        while pending:
            folder = pending.pop()
            try:
                listing = partial(kv.list_secrets, folder, mount_point=mount)
                answer = self._call(f"list {mount}/{folder}", listing)
            except NotFoundError:
                continue  # an empty folder (or mount) lists as 404
            for key in answer["data"]["keys"]:
                (pending if key.endswith("/") else found).append(folder + key)
        return sorted(found)

    def read_kv(self, path: str, mount: str | None = None) -> dict[str, SecretStr]:
        """The current values at ``path``, as SecretStr (and registered for log redaction)."""
        mount = (mount or self.kv_mount).strip("/")
        path = path.strip("/")
        kv = self._kv(mount)
        if kv is self._client.secrets.kv.v2:
            answer = self._call(
                f"read {mount}/{path}",
                lambda: kv.read_secret_version(path=path, mount_point=mount, raise_on_deleted_version=True),
            )
            data = answer["data"]["data"] or {}
        else:
            answer = self._call(f"read {mount}/{path}", lambda: kv.read_secret(path=path, mount_point=mount))
            data = answer["data"]
        values: dict[str, SecretStr] = {}
        for key, value in data.items():
            raw = value if isinstance(value, str) else json.dumps(value)
            REDACTOR.register(raw)
            values[key] = SecretStr(raw)
        return values

    def export(self, dest: Path) -> ExportInfo:
        """Write mounts and the KV paths of every KV mount to ``dest`` as JSON (0600, atomic).

        Names only: values are in the (encrypted) snapshot, and an export of plaintext values would
        be the most dangerous file of the whole recovery.
        """
        mounts = self.list_mounts()
        kv_mounts = [m.path for m in mounts if m.type in ("kv", "generic")]
        kv_paths = {path.rstrip("/"): self.list_kv_paths(mount=path) for path in kv_mounts}
        document = {
            "address": self.address,
            "exported_at": datetime.now(UTC).isoformat(),
            "mounts": [m.model_dump() for m in mounts],
            "kv_paths": kv_paths,
        }
        payload = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_target(dest) as (handle, _tmp):
            handle.write(payload)
        return ExportInfo(
            path=dest,
            size=len(payload),
            sha256=hashlib.sha256(payload).hexdigest(),
            mounts=len(mounts),
            kv_paths=sum(len(p) for p in kv_paths.values()),
        )

    # -- plumbing -------------------------------------------------------------------------------

    def _kv(self, mount: str) -> Any:
        """The hvac KV API matching the mount's version (v2 unless the mount says otherwise)."""
        for info in self.list_mounts():
            if info.path.rstrip("/") == mount:
                if info.type not in ("kv", "generic"):
                    raise PermanentError(f"mount {mount}/ is {info.type}, not a KV engine")
                kv = self._client.secrets.kv
                return kv.v1 if info.version in (None, "", "1") else kv.v2
        raise NotFoundError(f"vault at {self.address}: no mount {mount}/")

    def _call(self, what: str, fn: Callable[[], T], *, server_error_is_permanent: bool = False) -> T:
        """Run one hvac call, converting its failures into our error kinds (text never has values)."""
        where = f"vault at {self.address}: {what}"
        try:
            return fn()
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise UnreachableError(f"{where}: no answer ({type(exc).__name__})") from exc
        except hvac.exceptions.VaultDown as exc:
            if "sealed" in str(exc).lower():
                raise ConflictError(f"{where}: vault is sealed") from exc
            raise TransientError(f"{where}: unavailable ({_reason(exc)})") from exc
        except hvac.exceptions.InvalidPath as exc:
            raise NotFoundError(f"{where}: not found") from exc
        except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized) as exc:
            raise PermanentError(f"{where}: permission denied") from exc
        except hvac.exceptions.InvalidRequest as exc:
            # A kv mount being upgraded to v2 answers 400 "Upgrading ..." for a moment: that one passes.
            kind = TransientError if "upgrading" in str(exc).lower() else PermanentError
            raise kind(f"{where}: rejected ({_reason(exc)})") from exc
        except (
            hvac.exceptions.InternalServerError,
            hvac.exceptions.BadGateway,
            hvac.exceptions.RateLimitExceeded,
            hvac.exceptions.UnexpectedError,
        ) as exc:
            kind = PermanentError if server_error_is_permanent else TransientError
            raise kind(f"{where}: server error ({_reason(exc)})") from exc
        except hvac.exceptions.VaultError as exc:
            raise PermanentError(f"{where}: {type(exc).__name__} ({_reason(exc)})") from exc
        except requests.RequestException as exc:
            raise TransientError(f"{where}: {type(exc).__name__}") from exc


def _reason(exc: BaseException) -> str:
    """Vault's own error text, first line, redacted and short (it names things, but be safe)."""
    errors = getattr(exc, "errors", None)
    text = "; ".join(str(e) for e in errors) if errors else str(exc)
    text = " ".join(text.replace("1 error occurred:", "").replace("*", "").split())
    return REDACTOR.redact(text.split(", on ")[0])[:200]

"""Typed results of the Terraform adapter, and the parsing of terraform's machine-readable output.

Kept apart from the backends so both read terraform's output the same way: ``-json`` event
streams for plan/apply/destroy, ``show -json`` for a saved plan, the raw state document for a
backup. Human-readable text is only ever used for error messages.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, Field

from recovery.errors import CommandError, PermanentError, TransientError
from recovery.fsutil import atomic_write
from recovery.secrets import REDACTOR

TAIL_CHARS = 1500

#: Output that means "try again later": a held state lock, or the network failing under a provider.
_LOCK = re.compile(r"Error acquiring the state lock|Error locking state|state lock", re.IGNORECASE)
_TRANSIENT = re.compile(
    r"connection refused|i/o timeout|TLS handshake timeout|no such host|ThrottlingException|"
    r"Rate exceeded|RequestLimitExceeded|503 Service Unavailable|connection reset by peer",
    re.IGNORECASE,
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Warning boxes (e.g. "Unable to open CLI configuration file") are noise in an error message.
_WARNING_BOX = re.compile(
    r"(There are some problems with the CLI configuration:\s*)?╷\s*\n│ Warning:.*?╵\n?", re.DOTALL
)


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class StateBackup(_Result):
    """A verified copy of a stack's state: valid JSON, fingerprinted, 0600."""

    path: Path
    sha256: str
    size_bytes: int
    serial: int
    lineage: str
    terraform_version: str
    resource_count: int = Field(description="managed resource instances in the state")
    taken_at: datetime


class DestroyPlan(_Result):
    """What a destroy would delete: the exact instance addresses, for an approval form."""

    working_dir: Path
    targets: list[str]
    addresses: list[str]

    @property
    def count(self) -> int:
        return len(self.addresses)

    def as_markdown(self) -> str:
        scope = ", ".join(f"`{t}`" for t in self.targets) if self.targets else "**the whole stack**"
        lines = [f"terraform destroy in `{self.working_dir}` of {scope}: {self.count} resource(s)", ""]
        lines += [f"- `{a}`" for a in self.addresses] or ["- (nothing to destroy)"]
        return "\n".join(lines)


class DestroyResult(_Result):
    """What a destroy removed, proven by listing the state before and after."""

    working_dir: Path
    targets: list[str]
    destroyed: list[str] = Field(description="in the state before, gone after")
    reported: list[str] = Field(description="what terraform's own event stream said it deleted")
    remaining: list[str] = Field(description="the state after the destroy")

    @property
    def count(self) -> int:
        return len(self.destroyed)


class ApplyResult(_Result):
    working_dir: Path
    created: list[str]
    updated: list[str]
    deleted: list[str]


@dataclass(frozen=True)
class Change:
    address: str
    action: str


# -- parsing ---------------------------------------------------------------------------------------
def _events(stream: str) -> list[dict[str, Any]]:
    events = []
    for line in stream.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


def applied_changes(stream: str) -> list[Change]:
    """The ``apply_complete`` events of an ``apply``/``destroy -json`` stream."""
    changes = []
    for event in _events(stream):
        if event.get("type") == "apply_complete":
            hook = event.get("hook") or {}
            address = (hook.get("resource") or {}).get("addr", "")
            if address:
                changes.append(Change(address, str(hook.get("action", ""))))
    return changes


def destroy_addresses(show_json: str) -> list[str]:
    """Addresses a saved plan deletes, from ``show -json PLANFILE``'s ``resource_changes``."""
    try:
        plan = json.loads(show_json)
    except ValueError as exc:
        raise PermanentError(f"terraform show -json did not return JSON: {exc}") from None
    return sorted(
        rc["address"]
        for rc in plan.get("resource_changes") or []
        if rc.get("mode", "managed") == "managed" and "delete" in (rc.get("change") or {}).get("actions", [])
    )


def matches_targets(address: str, targets: Sequence[str]) -> bool:
    """Whether a ``-target`` in ``targets`` covers ``address`` (itself, an instance, or a child)."""
    return any(address == t or address.startswith((f"{t}.", f"{t}[")) for t in targets)


def diagnostics_text(stdout: str, stderr: str) -> str:
    """The useful part of a failed run: error diagnostics from a ``-json`` stream, else the text
    from the first ``Error:`` on (dropping warnings such as a missing CLI config file)."""
    found = []
    for event in _events(stdout):
        diag = event.get("diagnostic") or {}
        if event.get("type") == "diagnostic" and diag.get("severity") == "error":
            where = (diag.get("range") or {}).get("filename")
            found.append(
                f"{diag.get('summary', '')}: {diag.get('detail', '')}" + (f" ({where})" if where else "")
            )
    if found:
        return "\n".join(found)
    text = _WARNING_BOX.sub("", _ANSI.sub("", f"{stderr}\n{stdout}"))
    start = text.find("Error")
    return (text[start:] if start >= 0 else text).strip()


def raise_for_failure(what: str, returncode: int, stdout: str, stderr: str) -> NoReturn:
    """Turn a failed terraform run into the right error, with a redacted tail of its output."""
    detail = REDACTOR.redact(diagnostics_text(stdout, stderr))
    tail = detail[-TAIL_CHARS:]
    message = f"{what} failed (exit {returncode}): {tail}"
    if _LOCK.search(detail):
        raise TransientError(f"{what}: the state is locked by another run; retry later. {tail}")
    if _TRANSIENT.search(detail):
        raise TransientError(message)
    raise CommandError(message, returncode=returncode, output_tail=tail)


# -- backups ---------------------------------------------------------------------------------------
def write_state_backup(raw: str, dest: Path) -> StateBackup:
    """Verify ``raw`` is a terraform state, then write it to ``dest`` atomically with mode 0600."""
    try:
        state = json.loads(raw)
        serial, lineage = int(state["serial"]), str(state["lineage"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PermanentError(f"terraform state pull did not return a state document ({exc!r})") from None
    instances = sum(
        len(r.get("instances") or []) for r in state.get("resources") or [] if r.get("mode") == "managed"
    )
    data = raw.encode()
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(dest, data, mode=0o600)
    digest = hashlib.sha256(data).hexdigest()
    if hashlib.sha256(dest.read_bytes()).hexdigest() != digest:
        raise PermanentError(f"state backup {dest} does not read back as written")
    return StateBackup(
        path=dest,
        sha256=digest,
        size_bytes=len(data),
        serial=serial,
        lineage=lineage,
        terraform_version=str(state.get("terraform_version", "")),
        resource_count=instances,
        taken_at=datetime.now(UTC),
    )

"""Only one recovery at a time: a Prefect global concurrency limit of 1 around the whole recovery.

Why a Prefect limit and not a file lock: recoveries start from the UI, from schedules and from
alerts, possibly on different machines; the Prefect API is the one thing they all share.

Prefect 3.9.1 behaviour this relies on (measured under ``prefect_test_harness``):

* ``concurrency(name, strict=False)`` on a limit that does not exist *silently does nothing* (a
  warning in the log) -- no locking at all. So :func:`ensure_lock_limit` creates the limit (limit
  1, active) if absent and repairs it if someone raised its limit or deactivated it (an inactive
  limit is ignored by the server), and we always pass ``strict=True`` (a missing limit then raises
  ``ConcurrencySlotAcquisitionError``).
* Limit taken: ``concurrency(..., timeout_seconds=wait_s)`` retries until the deadline and raises
  ``AcquireConcurrencySlotTimeoutError`` (a ``TimeoutError``) after ``wait_s``; Prefect also logs an
  ERROR "Service 'ConcurrencySlotAcquisitionWithLeaseService' failed to process item" -- noise.
  We turn it into :class:`~recovery.errors.RecoveryBusyError` naming the holder.
* Slots are leases (``lease_duration`` >= 60 s, enforced by the API: 422 below that) renewed by
  a background thread. A holder killed without releasing keeps the slot until the lease expires
  *and* the server's repossessor service revokes it. That service runs only in a real
  ``prefect server start`` (every 15 s), **not** in ephemeral servers nor under
  ``prefect_test_harness``: there, measured, a ``kill -9``-ed holder with a 60 s lease still held
  the slot 150 s later -- the lock stays taken until someone runs :func:`break_lock`. The refusal
  message says so.
* Lease renewal failure: with ``strict=True`` Prefect would, by default, *abort the body* on one
  failed renewal. Stopping a recovery half-way because the API blinked is worse than briefly
  running unlocked, so we pass ``raise_on_lease_renewal_failure=False``.

Prefect has no API listing who holds a global limit, so the holder writes its flow run id into a
Prefect Variable (``<name>_holder``, best effort) for the refusal message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from prefect import get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    VariableCreate,
    VariableUpdate,
)
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from recovery.errors import RecoveryBusyError

DEFAULT_LOCK = "candlefish-recovery"
#: Shortest lease the API accepts; bounds how long a crashed holder blocks the next recovery.
LEASE_DURATION_S = 60.0

log = logging.getLogger(__name__)


def ensure_lock_limit(name: str = DEFAULT_LOCK) -> None:
    """Make sure the global concurrency limit ``name`` exists, is active and allows exactly one."""
    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            # another recovery may create it between our read and our create: that is fine
            with suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            return
        if limit.limit != 1 or not limit.active:
            log.warning("concurrency limit %r was limit=%s active=%s: resetting to 1, active",
                        name, limit.limit, limit.active)
            client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(limit=1, active=True))


@contextmanager
def recovery_lock(
    name: str = DEFAULT_LOCK, *, wait_s: float, lease_duration_s: float = LEASE_DURATION_S
) -> Iterator[None]:
    """Hold the recovery lock for the ``with`` body; wait up to ``wait_s`` for it.

    Raises :class:`RecoveryBusyError` ("another recovery is running: ...") when it stays taken.
    Exceptions from the body pass through untouched (a ``TimeoutError`` in the body is not
    mistaken for a busy lock)."""
    ensure_lock_limit(name)
    holder = _holder()
    with ExitStack() as stack:
        try:
            stack.enter_context(
                concurrency(
                    name,
                    occupy=1,
                    timeout_seconds=wait_s,
                    strict=True,
                    lease_duration=lease_duration_s,
                    holder=holder,
                    raise_on_lease_renewal_failure=False,
                )
            )
        except TimeoutError:
            raise RecoveryBusyError(
                f"another recovery is running: {_describe_holder(name)}; "
                f"waited {wait_s:g} s for the lock {name!r}. If that run is dead, free the lock "
                f"(flows.lock.break_lock, or reset the concurrency limit {name!r} in the UI)"
            ) from None
        _record_holder(name)
        stack.callback(_clear_holder, name)
        yield


def break_lock(name: str = DEFAULT_LOCK) -> int:
    """Free a lock left taken by a recovery that died (operator action; see the module docstring).
    Returns how many slots were taken. Does not stop a live holder: check it is dead first."""
    with get_client(sync_client=True) as client:
        try:
            taken = client.read_global_concurrency_limit_by_name(name).active_slots
        except ObjectNotFound:
            return 0
        client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active_slots=0))
    _clear_holder(name)
    log.warning("lock %r broken by an operator (%d slot(s) were taken)", name, taken)
    return taken


def _holder() -> ConcurrencyLeaseHolder | None:
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return None
    return ConcurrencyLeaseHolder(type="flow_run", id=context.flow_run.id)


def _variable_name(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower()) + "_holder"


def _record_holder(name: str) -> None:
    """Best effort: remember who holds the lock, for the next one's refusal message."""
    context = FlowRunContext.get()
    who: dict[str, Any] = {"since": datetime.now(UTC).isoformat(timespec="seconds")}
    if context is not None and context.flow_run is not None:
        who |= {"flow_run_id": str(context.flow_run.id), "flow_run_name": context.flow_run.name}
    try:
        with get_client(sync_client=True) as client:
            variable = _variable_name(name)
            if client.read_variable_by_name(variable) is None:
                client.create_variable(VariableCreate(name=variable, value=who))
            else:
                client.update_variable(VariableUpdate(name=variable, value=who))
    except Exception as exc:  # the lock works without this; never fail a recovery for it
        log.debug("could not record the lock holder: %s", type(exc).__name__)


def _clear_holder(name: str) -> None:
    try:
        with get_client(sync_client=True) as client:
            client.delete_variable_by_name(_variable_name(name))
    except Exception as exc:
        log.debug("could not clear the lock holder: %s", type(exc).__name__)


def _describe_holder(name: str) -> str:
    try:
        with get_client(sync_client=True) as client:
            variable = client.read_variable_by_name(_variable_name(name))
    except Exception:
        variable = None
    value = variable.value if variable is not None else None
    if not isinstance(value, dict):
        return "holder unknown (see Concurrency in the Prefect UI)"
    run = value.get("flow_run_name") or "a process outside any flow run"
    run_id = value.get("flow_run_id")
    return f"flow run {run!r}" + (f" ({run_id})" if run_id else "") + f" since {value.get('since')}"

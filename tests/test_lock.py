"""The recovery lock against a real (temporary) Prefect API: a global concurrency limit of 1."""

from __future__ import annotations

import queue
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from prefect import flow, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
from prefect.states import StateType

from flows.lock import break_lock, ensure_lock_limit, recovery_lock
from recovery.errors import ConflictError

pytestmark = pytest.mark.usefixtures("prefect_api")

_EVENTS: dict[str, queue.Queue[tuple[str, float]]] = {}


@flow
def locked_flow(name: str, token: str, hold_s: float, wait_s: float) -> float:
    """Take the lock, tell the test when, hold it ``hold_s``; return when it was acquired."""
    with recovery_lock(name, wait_s=wait_s):
        acquired = time.monotonic()
        _EVENTS[token].put(("acquired", acquired))
        time.sleep(hold_s)
        _EVENTS[token].put(("releasing", time.monotonic()))
    return acquired


def _start_holder(name: str, hold_s: float) -> tuple[Any, queue.Queue[tuple[str, float]]]:
    token = uuid.uuid4().hex
    _EVENTS[token] = queue.Queue()
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(locked_flow, name=name, token=token, hold_s=hold_s, wait_s=10, return_state=True)
    pool.shutdown(wait=False)
    event, _ = _EVENTS[token].get(timeout=30)
    assert event == "acquired"
    return future, _EVENTS[token]


def _limit(name: str) -> Any:
    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(name)


def test_a_second_recovery_is_refused_while_the_first_holds_the_lock(unique_prefect_name: str) -> None:
    holder, _ = _start_holder(unique_prefect_name, hold_s=4)
    token = uuid.uuid4().hex
    _EVENTS[token] = queue.Queue()
    started = time.monotonic()
    state = locked_flow(name=unique_prefect_name, token=token, hold_s=0, wait_s=1, return_state=True)
    waited = time.monotonic() - started
    assert state.type == StateType.FAILED
    error = state.result(raise_on_failure=False)
    assert isinstance(error, ConflictError)
    assert "another recovery is running: flow run" in str(error)
    assert _EVENTS[token].empty()  # the second body never ran
    assert 1 <= waited < 4
    assert holder.result(timeout=30).type == StateType.COMPLETED


def test_a_second_recovery_waits_and_runs_once_the_first_releases(unique_prefect_name: str) -> None:
    holder, events = _start_holder(unique_prefect_name, hold_s=1.5)
    token = uuid.uuid4().hex
    _EVENTS[token] = queue.Queue()
    state = locked_flow(name=unique_prefect_name, token=token, hold_s=0, wait_s=15, return_state=True)
    assert state.type == StateType.COMPLETED
    _, released = events.get(timeout=10)
    assert state.result() >= released
    assert holder.result(timeout=30).type == StateType.COMPLETED
    assert _limit(unique_prefect_name).active_slots == 0


def test_the_limit_is_created_when_missing_and_tightened_when_loosened(unique_prefect_name: str) -> None:
    ensure_lock_limit(unique_prefect_name)
    limit = _limit(unique_prefect_name)
    assert (limit.limit, limit.active, limit.active_slots) == (1, True, 0)
    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(
            unique_prefect_name, GlobalConcurrencyLimitUpdate(limit=5, active=False)
        )
    ensure_lock_limit(unique_prefect_name)
    limit = _limit(unique_prefect_name)
    assert (limit.limit, limit.active) == (1, True)


def test_a_timeout_inside_the_body_is_not_mistaken_for_a_busy_lock(unique_prefect_name: str) -> None:
    with pytest.raises(TimeoutError, match="from the body"), recovery_lock(unique_prefect_name, wait_s=2):
        raise TimeoutError("from the body")
    assert _limit(unique_prefect_name).active_slots == 0


def test_break_lock_frees_a_lock_left_taken_by_a_dead_recovery(unique_prefect_name: str) -> None:
    ensure_lock_limit(unique_prefect_name)
    with get_client(sync_client=True) as client:  # what a kill -9'ed holder leaves behind
        client.update_global_concurrency_limit(
            unique_prefect_name, GlobalConcurrencyLimitUpdate(active_slots=1)
        )
    with pytest.raises(ConflictError, match="holder unknown"), recovery_lock(unique_prefect_name, wait_s=0.5):
        pass
    assert break_lock(unique_prefect_name) == 1
    with recovery_lock(unique_prefect_name, wait_s=2):
        assert _limit(unique_prefect_name).active_slots == 1
    assert _limit(unique_prefect_name).active_slots == 0

"""Approvals against a real (temporary) Prefect API: a flow pauses on a plan, the test decides
through ``resume_decision`` as the CLI would, and the flow's returned record says what happened."""

from __future__ import annotations

import asyncio
import inspect
import queue
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from prefect import flow, get_client
from prefect.runtime import flow_run
from prefect.states import State, StateType

from flows.approval import arequest_approval, request_approval, resume_decision
from recovery.domain.models import ApprovalRecord
from recovery.domain.plan import Plan, PlannedAction
from recovery.errors import ConfigError, ConflictError, NotFoundError

pytestmark = pytest.mark.usefixtures("prefect_api")

PLAN = Plan(
    title="Checkpoint Delta",
    actions=[
        PlannedAction(kind="backup", target="raft snapshot"),
        PlannedAction(kind="delete", target="namespace/vault", detail="force after 60 s"),
    ],
)
#: flow runs announce their id here (keyed by a token parameter) so the test can resume them
_RUN_IDS: dict[str, queue.Queue[str]] = {}


def _announce(token: str) -> None:
    _RUN_IDS[token].put(str(flow_run.id))


@flow
def approval_flow(token: str, auto_approve: bool = False, timeout_s: int = 30) -> ApprovalRecord:
    _announce(token)
    return request_approval(PLAN, auto_approve=auto_approve, timeout_s=timeout_s, poll_interval_s=1)


@flow
async def async_approval_flow(token: str) -> ApprovalRecord:
    _announce(token)
    return await arequest_approval(PLAN, auto_approve=False, timeout_s=30, poll_interval_s=1)


@flow
def busy_flow(token: str) -> None:
    _announce(token)
    time.sleep(2)


def _start(fn: Any, **params: Any) -> tuple[Future[State[Any]], str]:
    """Run flow ``fn`` in a thread; return its future state and its run id."""
    token = uuid.uuid4().hex
    _RUN_IDS[token] = queue.Queue()
    pool = ThreadPoolExecutor(max_workers=1)
    if inspect.iscoroutinefunction(fn.fn):
        future = pool.submit(lambda: asyncio.run(fn(token=token, return_state=True, **params)))
    else:
        future = pool.submit(fn, token=token, return_state=True, **params)
    pool.shutdown(wait=False)
    return future, _RUN_IDS[token].get(timeout=30)


def _record(future: Future[State[Any]]) -> ApprovalRecord:
    state = future.result(timeout=60)
    assert state.type == StateType.COMPLETED, state
    record = state.result()
    assert isinstance(record, ApprovalRecord)
    return record


def _state_types(run_id: str) -> list[StateType]:
    with get_client(sync_client=True) as client:
        return [s.type for s in client.read_flow_run_states(uuid.UUID(run_id))]


def test_an_approval_resumes_the_paused_flow_and_records_who_and_why() -> None:
    future, run_id = _start(approval_flow)
    resume_decision(run_id, approved=True, approver="alice", reason="drill", wait_s=20)
    resumed = time.monotonic()
    record = _record(future)
    assert time.monotonic() - resumed < 3.5  # 1 s poll + ~1 s sync-flow exit
    assert (record.required, record.approved, record.approver, record.reason) == (
        True,
        True,
        "alice",
        "drill",
    )
    assert not record.auto and not record.timed_out and record.decided_at is not None
    assert StateType.PAUSED in _state_types(run_id)


def test_a_rejection_is_recorded_as_not_approved_with_the_reason() -> None:
    future, run_id = _start(approval_flow)
    resume_decision(run_id, approved=False, approver="bob", reason="wrong stack", wait_s=20)
    record = _record(future)
    assert (record.approved, record.approver, record.reason, record.timed_out) == (
        False,
        "bob",
        "wrong stack",
        False,
    )


def test_a_timeout_is_recorded_and_the_flow_still_completes_with_its_result() -> None:
    future, run_id = _start(approval_flow, timeout_s=2)
    record = _record(future)  # Completed, not Failed: request_approval put the run back to Running
    assert record.timed_out and not record.approved and record.approver is None
    with pytest.raises(ConflictError, match="no longer waiting"):
        resume_decision(run_id, approved=True, approver="late", reason="too late", wait_s=1)


def test_auto_approval_does_not_pause_the_run() -> None:
    future, run_id = _start(approval_flow, auto_approve=True)
    record = _record(future)
    assert record.auto and record.approved and record.approver == "auto"
    assert StateType.PAUSED not in _state_types(run_id)


def test_an_async_flow_can_wait_for_approval_too() -> None:
    future, run_id = _start(async_approval_flow)
    resume_decision(run_id, approved=True, approver="carol", reason="INC-7", wait_s=20)
    assert _record(future).approver == "carol"


def test_resuming_an_unknown_run_is_a_clear_not_found_error() -> None:
    with pytest.raises(NotFoundError, match="no flow run"):
        resume_decision(uuid.uuid4(), approved=True, approver="alice", reason="x", wait_s=1)


def test_resuming_with_a_malformed_id_or_a_blank_approver_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a flow run id"):
        resume_decision("not-a-uuid", approved=True, approver="alice", reason="x")
    with pytest.raises(ConfigError, match="approver"):
        resume_decision(uuid.uuid4(), approved=True, approver="  ", reason="x")


def test_resuming_a_run_that_never_asks_for_approval_gives_up_after_wait_s() -> None:
    future, run_id = _start(busy_flow)
    started = time.monotonic()
    with pytest.raises(ConflictError, match="not waiting for an approval"):
        resume_decision(run_id, approved=True, approver="alice", reason="x", wait_s=0.5)
    assert time.monotonic() - started < 1.5
    assert future.result(timeout=30).type == StateType.COMPLETED

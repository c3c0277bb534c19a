"""Human approval of a destructive plan: pause the flow run, show the plan, wait for a decision.

How it works (Prefect 3.9.1, measured under ``prefect_test_harness``):

* :func:`request_approval` (inside a flow) pauses the run with
  ``pause_flow_run(wait_for_input=Approval...)``. The UI shows the plan's Markdown as the form's
  description; ``approver`` and ``reason`` are required fields (a field with a default would become
  optional), and the server validates the submitted input against the saved schema, so a blank
  approver is refused at resume time.
* Resume latency is the pause's ``poll_interval`` (whole seconds): the paused process re-reads
  its own state every ``poll_interval_s``.
* **Timeout.** ``pause_flow_run`` raises ``prefect.exceptions.FlowPauseTimeout`` *inside the flow*
  when nobody answers in time. Catching it is not enough on its own: the run is still PAUSED on
  the server with an expired pause, and the server's ``HandleResumingPausedFlows`` rule then
  rejects every transition out of it -- the flow's final ``Completed`` becomes
  ``Failed('The flow was completed and never resumed.')`` and its return value is lost
  (``state.result()`` raises ``FailedRun``); tasks submitted meanwhile would get a ``Paused`` state
  and never run. So on timeout we *force* the run back to RUNNING
  (``set_flow_run_state(..., Running(), force=True)``, which skips orchestration rules) and return
  ``ApprovalRecord(timed_out=True)``. The flow then carries on normally: it can run tasks (notify,
  write the report), return a ``RecoveryResult(status='timed_out')``, and that result is persisted.
  Measured: the run then finishes ``Completed`` and the return value is intact.
* A decision arriving after the deadline: ``resume_flow_run`` is refused (the run is no longer
  paused, or the server answers that the pause expired) and :func:`resume_decision` raises
  :class:`~recovery.errors.ConflictError` saying the approval window closed.

:func:`resume_decision` is the CLI side (``recovery approve|reject RUN_ID``). It waits until the
run is PAUSED *and* its input schema is saved -- the pausing process saves the schema just after
the state change, and a resume in between is refused with "Run input schema not found".
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
from prefect import get_client, get_run_logger
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout, NotPausedError, ObjectNotFound
from prefect.flow_runs import apause_flow_run, pause_flow_run, resume_flow_run
from prefect.input import RunInput
from prefect.states import Running, State
from pydantic import Field, ValidationError

from recovery.domain.models import ApprovalRecord
from recovery.domain.plan import Plan
from recovery.errors import (
    ConfigError,
    ConflictError,
    NotFoundError,
    PermanentError,
    TransientError,
    UnreachableError,
)

#: How often a paused run checks whether it was resumed: the resume latency.
DEFAULT_POLL_INTERVAL_S = 2


class Approval(RunInput):
    """The approval form. No defaults on ``approver``/``reason``: they must be filled in."""

    approved: bool = Field(description="Tick to approve the plan above; leave unticked to reject it.")
    approver: str = Field(min_length=1, description="Who decides (name or handle).")
    reason: str = Field(min_length=1, description="Why: incident id, drill, or the reason to reject.")


def auto_approval(reason: str = "auto_approve=True") -> ApprovalRecord:
    """The record of an approval given by a parameter (scheduled drills), not by a person."""
    return ApprovalRecord(
        required=True, approved=True, approver="auto", reason=reason, auto=True, decided_at=_now()
    )


def _form(plan: Plan) -> type[Approval]:
    return Approval.with_initial_data(description=plan.to_markdown(), approved=False)


def _from_input(answer: Approval) -> ApprovalRecord:
    return ApprovalRecord(
        required=True,
        approved=answer.approved,
        approver=answer.approver,
        reason=answer.reason,
        decided_at=_now(),
    )


def _timed_out() -> ApprovalRecord:
    return ApprovalRecord(required=True, approved=False, timed_out=True, decided_at=_now())


def _current_run_id() -> UUID:
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise RuntimeError("request_approval must be called inside a flow run")
    return context.flow_run.id


def request_approval(
    plan: Plan, *, auto_approve: bool, timeout_s: int, poll_interval_s: int = DEFAULT_POLL_INTERVAL_S
) -> ApprovalRecord:
    """Pause the current (sync) flow run until someone approves or rejects ``plan``.

    Returns the decision; never raises on a rejection or a timeout -- the flow decides what a
    ``approved=False`` / ``timed_out=True`` record means (normally: do nothing, report, finish)."""
    if auto_approve:
        return _auto_approved(plan)
    run_id = _announce_wait(plan, timeout_s)
    answer: Approval | None
    try:
        answer = pause_flow_run(wait_for_input=_form(plan), timeout=timeout_s, poll_interval=poll_interval_s)
    except FlowPauseTimeout:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run_id, _running_after_timeout(), force=True)
        answer = None
    return _decided(plan, answer)


async def arequest_approval(
    plan: Plan, *, auto_approve: bool, timeout_s: int, poll_interval_s: int = DEFAULT_POLL_INTERVAL_S
) -> ApprovalRecord:
    """:func:`request_approval` for async flows (``pause_flow_run`` returns a coroutine there).
    Only the pause and the forced state change differ: the rest is shared with the sync one."""
    if auto_approve:
        return _auto_approved(plan)
    run_id = _announce_wait(plan, timeout_s)
    answer: Approval | None
    try:
        answer = await apause_flow_run(
            wait_for_input=_form(plan), timeout=timeout_s, poll_interval=poll_interval_s
        )
    except FlowPauseTimeout:
        async with get_client() as client:
            await client.set_flow_run_state(run_id, _running_after_timeout(), force=True)
        answer = None
    return _decided(plan, answer)


def _auto_approved(plan: Plan) -> ApprovalRecord:
    get_run_logger().info("Plan %r auto-approved (auto_approve=True)", plan.title)
    return auto_approval()


def _announce_wait(plan: Plan, timeout_s: int) -> UUID:
    """Log how long the run will wait; return its id (RuntimeError outside a flow run)."""
    logger = get_run_logger()
    run_id = _current_run_id()
    logger.info("Waiting up to %d s for approval of plan %r", timeout_s, plan.title)
    return run_id


def _running_after_timeout() -> State:
    """The state a timed-out pause is forced back to (see the module docstring: why force)."""
    return Running(message="approval timed out")


def _decided(plan: Plan, answer: Approval | None) -> ApprovalRecord:
    """The record of a person's answer, or of a timeout when ``answer`` is None, logged."""
    record = _timed_out() if answer is None else _from_input(answer)
    get_run_logger().info("Approval of plan %r: %s", plan.title, record.summary())
    return record


def resume_decision(
    flow_run_id: UUID | str,
    *,
    approved: bool,
    approver: str,
    reason: str,
    wait_s: float = 30,
    poll_s: float = 0.2,
) -> None:
    """Give a paused recovery its decision (the CLI's ``approve``/``reject``).

    Waits up to ``wait_s`` for the run to be paused for approval, then resumes it.
    Raises :class:`ConfigError` for a malformed id or a blank approver/reason,
    :class:`NotFoundError` when no such run exists, :class:`ConflictError` when the run has
    finished, its approval window closed, or it did not start waiting within ``wait_s``, and
    :class:`UnreachableError` when the Prefect API does not answer."""
    run_id = _parse_run_id(flow_run_id)
    try:
        answer = Approval(approved=approved, approver=approver.strip(), reason=reason.strip())
    except ValidationError as exc:
        fields = ", ".join(str(err["loc"][0]) for err in exc.errors())
        raise ConfigError(f"an approval needs a non-empty {fields}") from None
    run_input: dict[str, Any] = answer.model_dump(include={"approved", "approver", "reason"})
    deadline = time.monotonic() + wait_s
    try:
        with get_client(sync_client=True) as client:
            while True:
                waiting_state = _waiting_for_approval(client, run_id)
                if waiting_state is None:
                    try:
                        resume_flow_run(run_id, run_input=run_input)
                        return
                    except NotPausedError:
                        pass  # resumed or timed out between our read and our resume: look again
                    except FlowPauseTimeout:
                        raise ConflictError(
                            f"flow run {run_id}: the approval window closed (the pause timed out)"
                        ) from None
                    except RuntimeError as exc:
                        raise ConflictError(
                            f"flow run {run_id}: the server refused the decision: {exc}"
                        ) from None
                if time.monotonic() >= deadline:
                    raise ConflictError(
                        f"flow run {run_id} is not waiting for an approval "
                        f"(state {waiting_state or 'unknown'}) after {wait_s:g} s"
                    )
                time.sleep(poll_s)
    except httpx.HTTPStatusError as exc:
        error = TransientError if exc.response.status_code >= 500 else PermanentError
        raise error(f"Prefect API refused: HTTP {exc.response.status_code}") from exc
    except httpx.TransportError as exc:
        raise UnreachableError(f"Prefect API did not answer: {type(exc).__name__}") from exc


def _waiting_for_approval(client: Any, run_id: UUID) -> str | None:
    """None when ``run_id`` is paused with its approval schema saved; else the state's name.
    Raises when waiting longer cannot help (no such run, run finished)."""
    try:
        run = client.read_flow_run(run_id)
    except ObjectNotFound:
        raise NotFoundError(f"no flow run {run_id} on this Prefect API") from None
    state = run.state
    if state is None:
        return "no state"
    if state.is_final():
        raise ConflictError(
            f"flow run {run_id} is {state.name}: it is no longer waiting for an approval"
        )
    keyset = state.state_details.run_input_keyset if state.is_paused() else None
    if not keyset:
        return state.name or state.type.value
    try:
        client.read_flow_run_input(run_id, keyset["schema"])
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code != 404:
            raise
        return f"{state.name} (approval form not saved yet)"
    return None


def _parse_run_id(flow_run_id: UUID | str) -> UUID:
    if isinstance(flow_run_id, UUID):
        return flow_run_id
    try:
        return UUID(str(flow_run_id).strip())
    except ValueError:
        raise ConfigError(f"not a flow run id: {flow_run_id!r} (expected a UUID)") from None


def _now() -> datetime:
    return datetime.now(UTC)

"""Secret values never reach the Prefect API's copy of the run logs (read back from the API)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from prefect import flow, get_client, get_run_logger, task
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogHandler

from flows.logging_setup import install_prefect_redaction
from recovery.secrets import MASK, REDACTOR

pytestmark = pytest.mark.usefixtures("prefect_api")


@task
def leaky_task(canary: str) -> None:
    get_run_logger().info("task sees %s", canary)


@flow(log_prints=True)
def leaky_flow(canary: str, marker: str) -> None:
    logger = get_run_logger()
    logger.info("%s: token is %s", marker, canary)
    logging.getLogger("prefect.flow_runs.child").warning("child logger says %s", canary)
    print(f"printed {canary}")
    leaky_task(canary)
    try:
        raise RuntimeError(f"exception text with {canary}")
    except RuntimeError:
        logger.exception("caught an error")


def _api_logs(run_id: Any) -> list[str]:
    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
    return [log.message for log in logs]


def test_a_registered_secret_logged_in_a_flow_never_reaches_the_api_logs() -> None:
    install_prefect_redaction()
    # The canary goes in as a parameter only to reach the flow body in this test; real flows take
    # references, never values (parameters are stored in clear).
    canary, marker = f"canary-{uuid.uuid4().hex}", f"marker-{uuid.uuid4().hex}"
    REDACTOR.register(canary)
    state = leaky_flow(canary, marker, return_state=True)
    messages = _api_logs(state.state_details.flow_run_id)
    text = "\n".join(messages)
    assert f"{marker}: token is {MASK}" in text  # the logs were read back, and masked
    assert f"child logger says {MASK}" in text
    assert f"printed {MASK}" in text
    assert f"task sees {MASK}" in text
    assert "Traceback" in text and f"exception text with {MASK}" in text
    assert canary not in text


def test_installing_twice_adds_one_filter_per_logger_and_handler() -> None:
    install_prefect_redaction()
    install_prefect_redaction()
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        logger = logging.getLogger(name)
        assert sum(type(f).__name__ == "TracebackRedactingFilter" for f in logger.filters) == 1
        for handler in logger.handlers:
            assert sum(type(f).__name__ == "TracebackRedactingFilter" for f in handler.filters) == 1

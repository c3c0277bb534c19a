"""Recovery Validation Checklist (seed section "📊 Recovery Validation Checklist").

The seed's script curls every service's health URL, pings MongoDB and Redis, runs ``vault
status`` and ``aws secretsmanager list-secrets``, and echoes ✅/❌ per line. This flow does the same
checks concurrently, each under its own timeout, and leaves three records of the result:

* one log line per component, ✅/❌ like the seed (in the flow run's logs);
* a table artifact, key ``validation-report``, with columns component, ok, latency_ms, detail;
* the :class:`ValidationReport` it returns (``healthy`` and ``failing`` are derived from the checks).

An unhealthy world does not fail the run: the validation itself worked, and its verdict is data
that the caller acts on (``recovery validate`` exits 1; ``recover`` puts it in the report).

Entry points -- pick by where you are:

* :func:`validate_recovery` -- the flow (UI, deployments, drills); the CLI runs it with
  :func:`run_validation`.
* :func:`avalidate` / :func:`validate` -- the same steps inside *another* flow run (async / sync),
  so ``recover`` shows the check task and the artifact under its own run, with its inventory
  object passed directly instead of a path.

The flow is async on purpose: sync flow runs were measured paying ~1 s at exit, and the checks are
async anyway.
"""

from __future__ import annotations

import asyncio
import logging

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact, create_table_artifact
from prefect.exceptions import MissingContextError

from flows.logging_setup import install_prefect_redaction
from recovery.domain.models import ValidationReport
from recovery.domain.validation import log_line, markdown, rows, service_component, summary
from recovery.inventory import Inventory, load_inventory
from tasks.health import check_components

ARTIFACT_KEY = "validation-report"
DEFAULT_TIMEOUT_S = 5.0


@flow(name="validate-recovery")
async def validate_recovery(
    inventory: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> ValidationReport:
    """Check every component of the inventory (path, or ``$RECOVERY_INVENTORY``) and report.

    ``timeout_s`` bounds each check separately; the whole validation takes about that long when
    something hangs, and much less when everything answers.
    """
    install_prefect_redaction()
    inv = load_inventory(inventory)
    return await avalidate(inv, timeout_s)


async def avalidate(inv: Inventory, timeout_s: float = DEFAULT_TIMEOUT_S) -> ValidationReport:
    """The checklist inside an *async* flow run: check task, log lines, artifact."""
    report: ValidationReport = await check_components(inv, timeout_s)
    _log(inv, report)
    await acreate_table_artifact(table=rows(report), key=ARTIFACT_KEY, description=markdown(report))
    return report


def validate(inv: Inventory, timeout_s: float = DEFAULT_TIMEOUT_S) -> ValidationReport:
    """The checklist inside a *sync* flow run: the async check task is submitted to the flow's task
    runner (which gives it an event loop of its own), then logged and published the same way."""
    report: ValidationReport = check_components.submit(inv, timeout_s).result()
    _log(inv, report)
    create_table_artifact(table=rows(report), key=ARTIFACT_KEY, description=markdown(report))
    return report


def run_validation(inventory: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> ValidationReport:
    """Run :func:`validate_recovery` to completion from plain (non-async) code such as the CLI."""
    return asyncio.run(validate_recovery(inventory=inventory, timeout_s=timeout_s))


def _log(inv: Inventory, report: ValidationReport) -> None:
    logger = _logger()
    for check in report.checks:
        (logger.info if check.ok else logger.warning)(log_line(check))
    for svc in inv.services:
        if not svc.health_url:
            logger.info("⏭ %s has no health_url in the inventory: not checked", service_component(svc.name))
    (logger.info if report.healthy else logger.warning)("validation: %s", summary(report))


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:  # called outside a run (a script, a test): plain logging
        return logging.getLogger(__name__)

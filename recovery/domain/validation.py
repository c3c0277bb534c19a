"""The validation checklist as data: component names, and how a report is told to people.

The playbook's checklist echoes ``✅ X is healthy`` / ``❌ X is down`` per component. The flow logs
the same lines, publishes the same rows as a Prefect table artifact and the CLI prints them as a
Markdown table -- all rendered here from a :class:`ValidationReport`, so the three can never
disagree, and all pure so they are tested without a server.
"""

from __future__ import annotations

from recovery.domain.models import CheckResult, ValidationReport
from recovery.domain.report import table

#: Component names in a report. Services are ``service:<name>`` so they cannot clash with these.
MONGODB = "mongodb"
REDIS = "redis"
VAULT = "vault"
AWS_SECRETS_MANAGER = "aws-secrets-manager"

#: Columns of the artifact and of the printed table, in this order.
COLUMNS = ("component", "ok", "latency_ms", "detail")


def service_component(name: str) -> str:
    """The report's name for a service's HTTP health check."""
    return f"service:{name}"


def timeout_detail(timeout_s: float) -> str:
    """What a check that never answered reports (same wording as the health adapter's own deadline)."""
    return f"no answer within {timeout_s:g}s"


def failed(component: str, detail: str, latency_ms: float | None = None) -> CheckResult:
    """A failing check, for a probe that raised or never answered."""
    return CheckResult(component=component, ok=False, latency_ms=latency_ms, detail=detail)


def log_line(check: CheckResult) -> str:
    """One line per component, like the seed's script: ``✅ redis healthy (3 ms): PONG``."""
    mark, verdict = ("✅", "healthy") if check.ok else ("❌", "DOWN")
    latency = f" ({check.latency_ms:.0f} ms)" if check.latency_ms is not None else ""
    detail = f": {check.detail}" if check.detail else ""
    return f"{mark} {check.component} {verdict}{latency}{detail}"


def summary(report: ValidationReport) -> str:
    """One sentence for the end of the log, the artifact's description and the CLI."""
    total = len(report.checks)
    if total == 0:
        return "validation ran no checks: nothing is known to be healthy"
    if report.healthy:
        return f"all {total} components healthy"
    return f"{len(report.failing)} of {total} components failing: {', '.join(report.failing)}"


def rows(report: ValidationReport) -> list[dict[str, object]]:
    """The report as table rows keyed by :data:`COLUMNS` (the artifact's format)."""
    return [
        {"component": c.component, "ok": c.ok, "latency_ms": c.latency_ms, "detail": c.detail}
        for c in report.checks
    ]


def markdown(report: ValidationReport) -> str:
    """The summary and a Markdown table of every check (cells escaped)."""
    body = table(
        COLUMNS,
        (
            (
                c.component,
                "✅" if c.ok else "❌",
                f"{c.latency_ms:.0f}" if c.latency_ms is not None else None,
                c.detail,
            )
            for c in report.checks
        ),
    )
    return f"{summary(report)}\n\n{body}\n"

"""Publish a recovery's result: the Markdown report on disk and as a Prefect artifact."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect.artifacts import create_markdown_artifact

from recovery.adapters.files import atomic_write
from recovery.domain.models import RecoveryResult
from recovery.domain.report import render_report, report_filename
from recovery.inventory import Inventory
from recovery.secrets import REDACTOR


def publish_report(result: RecoveryResult, inv: Inventory) -> Path:
    """Write ``recovery-report-YYYYmmdd-HHMMSS.md`` under the reports dir and attach the same text to
    the run as a markdown artifact. The text goes through the redactor as a last line of defence."""
    now = datetime.now(UTC)
    text = REDACTOR.redact(render_report(result, now))
    directory = inv.reports_dir
    path = directory / report_filename(now)
    n = 2
    while path.exists():  # two reports in one second (a fast dry run, then the real one)
        path = directory / report_filename(now).replace(".md", f"-{n}.md")
        n += 1
    atomic_write(path, text.encode(), mode=0o640)
    create_markdown_artifact(key=f"recovery-report-{result.checkpoint}", markdown=text,
                             description=f"Recovery report: checkpoint {result.checkpoint}, {result.status}")
    return path

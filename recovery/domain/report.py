"""The recovery report: a Markdown rendering of a :class:`RecoveryResult`, paste-able into a
post-mortem.

Pure on purpose: the flow passes ``now`` and writes the text wherever the inventory says, so the
same result always renders the same report (tests compare text, drills diff reports). All times
are UTC ISO-8601. Every table cell is escaped -- a ``|`` or a line break inside a detail (error
text, a terraform address with an index) would otherwise break the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from recovery.domain.models import ApprovalRecord, RecoveryResult
from recovery.domain.postrecovery import as_utc, follow_ups, iso

STATUS_LINES = {
    "succeeded": "✅ succeeded",
    "failed": "❌ failed",
    "rejected": "⛔ rejected at approval — nothing was changed",
    "timed_out": "⏱ approval timed out — nothing was changed",
    "dry_run": "🧪 dry run — nothing was changed",
}


def report_filename(now: datetime) -> str:
    """``recovery-report-YYYYmmdd-HHMMSS.md`` in UTC, so reports sort by time."""
    return f"recovery-report-{as_utc(now).strftime('%Y%m%d-%H%M%S')}.md"


def render_report(result: RecoveryResult, now: datetime) -> str:
    """The whole report. ``now`` stamps the report and dates follow-ups of an unfinished run."""
    sections = [
        _header(result, now),
        _section("Decision", result.decision or "_No decision recorded._"),
        _section("Approval", _approval(result.approval)),
        _section("Plan", result.plan.to_markdown() if result.plan else "_No plan recorded._"),
        _section("Actions", _actions(result)),
        _section("Backups", _backups(result)),
        _section("Validation", _validation(result)),
    ]
    if result.error:
        sections.append(_section("Error", _fenced(result.error)))
    sections.append(_section("Post-recovery actions", _post_recovery(result, now)))
    return "\n".join(sections).rstrip() + "\n"


def escape_cell(value: object) -> str:
    """Make ``value`` safe inside a Markdown table cell: ``|`` escaped, line breaks become ``<br>``,
    empty becomes an em dash so the column does not collapse."""
    text = "" if value is None else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    text = "<br>".join(part.strip() for part in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return text.strip() or "—"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table with every cell escaped."""
    lines = [
        "| " + " | ".join(escape_cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(escape_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _section(title: str, body: str) -> str:
    return f"## {title}\n\n{body.rstrip()}\n"


def _header(result: RecoveryResult, now: datetime) -> str:
    duration = result.duration_s
    rows = [
        ("Checkpoint", result.checkpoint),
        ("Status", STATUS_LINES.get(result.status, result.status)),
        ("Dry run", "yes" if result.dry_run else "no"),
        ("Flow run", result.run_id or "—"),
        ("Started", iso(result.started_at)),
        ("Finished", iso(result.finished_at)),
        ("Duration", f"{duration:.1f} s" if duration is not None else "—"),
        ("Report written", iso(now)),
    ]
    title = f"# Recovery report — {escape_cell(result.checkpoint)}"
    return f"{title}\n\n{table(('Field', 'Value'), rows)}\n"


def _approval(approval: ApprovalRecord | None) -> str:
    if approval is None:
        return "_No approval step ran._"
    if not approval.required:
        return "No approval was required (nothing destructive, or a dry run)."
    when = f" at {iso(approval.decided_at)}" if approval.decided_at else ""
    if approval.timed_out:
        return (
            "**Timed out**: nobody approved or rejected the plan before the deadline"
            f"{when}. Nothing in the plan was carried out."
        )
    if approval.auto:
        reason = escape_cell(approval.reason or "no reason")
        return f"**Auto-approved**{when} (`auto_approve=True`): {reason}."
    verb = "Approved" if approval.approved else "Rejected"
    return (
        f"**{verb}** by **{escape_cell(approval.approver or 'unknown')}**{when}.\n\n"
        f"Reason: {escape_cell(approval.reason or 'no reason given')}"
    )


def _actions(result: RecoveryResult) -> str:
    if not result.actions:
        return "_No actions were carried out._"
    rows = [
        (a.name, a.target, a.outcome, f"{a.duration_s:.2f} s", iso(a.started_at), a.detail)
        for a in result.actions
    ]
    return table(("Action", "Target", "Outcome", "Duration", "Started", "Detail"), rows)


def _backups(result: RecoveryResult) -> str:
    if not result.backups:
        return "_No backups were taken._"
    rows = [
        (
            b.kind,
            b.path,
            "yes" if b.verified else "**NO**",
            b.checksum,
            b.serial if b.serial is not None else None,
            f"{b.size} B" if b.size is not None else None,
            b.detail,
        )
        for b in result.backups
    ]
    return table(("Kind", "Path", "Verified", "Checksum", "Serial", "Size", "Detail"), rows)


def _validation(result: RecoveryResult) -> str:
    report = result.validation
    if report is None:
        return "_Validation did not run._"
    if not report.checks:
        return "_Validation ran no checks._"
    verdict = "All checks passed." if report.healthy else f"**Failing:** {', '.join(report.failing)}"
    rows = [
        (c.component, "✅" if c.ok else "❌", f"{c.latency_ms:.0f} ms" if c.latency_ms is not None else None,
         c.detail)
        for c in report.checks
    ]
    return verdict + "\n\n" + table(("Component", "OK", "Latency", "Detail"), rows)


def _post_recovery(result: RecoveryResult, now: datetime) -> str:
    items = follow_ups(result, now)
    if not items:
        return "_Dry run: nothing changed, no follow-ups._"
    rows = [(f"[ ] {item.title}", iso(item.due), item.why) for item in items]
    return table(("Action", "Due (UTC)", "Why this deadline"), rows)


def _fenced(text: str) -> str:
    """A code block that cannot be closed early by backticks inside ``text``."""
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}\n{text.rstrip()}\n{fence}"

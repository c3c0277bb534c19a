"""The recovery report and the plan text are pure renderings: check them as text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from recovery.domain.models import (
    ActionRecord,
    ApprovalRecord,
    BackupRecord,
    CheckResult,
    RecoveryResult,
    ValidationReport,
)
from recovery.domain.plan import Plan, PlannedAction
from recovery.domain.postrecovery import POST_RECOVERY_ACTIONS, follow_ups
from recovery.domain.report import escape_cell, render_report, report_filename

START = datetime(2025, 9, 5, 14, 0, 0, tzinfo=UTC)
END = START + timedelta(minutes=3, seconds=20)
NOW = END + timedelta(seconds=5)


def _plan() -> Plan:
    return Plan(
        title="Checkpoint Charlie: destroy the AWS secrets stack",
        actions=[
            PlannedAction(kind="backup", target="terraform.tfstate", detail="state pull to backups/"),
            PlannedAction(
                kind="destroy", target='module.secrets_manager.aws_secretsmanager_secret.this["db"]'
            ),
            PlannedAction(kind="destroy", target="module.kms"),
            PlannedAction(kind="verify", target="/candlefish/", detail="no secret left under the prefix"),
        ],
    )


def _result(**changes: object) -> RecoveryResult:
    base = RecoveryResult(
        run_id="0b7c1c2e-0000-4000-8000-000000000001",
        checkpoint="charlie",
        started_at=START,
        finished_at=END,
        decision="auto-detect chose charlie: AWS secrets stack is corrupt | vault healthy",
        plan=_plan(),
        approval=ApprovalRecord(
            required=True, approved=True, approver="alice", reason="INC-42", decided_at=START
        ),
        actions=[
            ActionRecord(
                name="terraform destroy",
                target="module.kms",
                started_at=START,
                duration_s=12.345,
                outcome="done",
                detail="2 destroyed\nexit 0",
            )
        ],
        backups=[
            BackupRecord(
                kind="terraform-state",
                path="backups/terraform-state-20250905-140000.tfstate",
                verified=True,
                checksum="sha256:abc",
                size=1234,
                serial=7,
            )
        ],
        validation=ValidationReport(
            checks=[
                CheckResult(component="vault", ok=True, latency_ms=12.4, detail="active"),
                CheckResult(component="mongodb", ok=False, latency_ms=None, detail="refused | port 27017"),
            ]
        ),
        status="succeeded",
    )
    return base.model_copy(update=changes)


def test_report_has_every_section_in_post_mortem_order() -> None:
    text = render_report(_result(error="boom"), NOW)
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings[0] == "# Recovery report — charlie"
    sections = [h for h in headings if h.startswith("## ")]
    assert sections == [
        "## Decision",
        "## Approval",
        "## Plan",
        "## Actions",
        "## Backups",
        "## Validation",
        "## Error",
        "## Post-recovery actions",
    ]
    assert "| Started | 2025-09-05T14:00:00Z |" in text
    assert "| Finished | 2025-09-05T14:03:20Z |" in text
    assert "| Flow run | 0b7c1c2e-0000-4000-8000-000000000001 |" in text
    assert "**Approved** by **alice**" in text and "INC-42" in text


def test_post_mortem_is_due_exactly_48_hours_after_the_recovery_finished() -> None:
    text = render_report(_result(), NOW)
    row = next(line for line in text.splitlines() if "Conduct the post-mortem" in line)
    assert "2025-09-07T14:03:20Z" in row
    items = follow_ups(_result(), NOW)
    assert len(items) == len(POST_RECOVERY_ACTIONS) == 6
    assert items[1].due - END == timedelta(hours=48)


def test_table_cells_escape_pipes_and_line_breaks() -> None:
    text = render_report(_result(), NOW)
    assert (
        "| terraform destroy | module.kms | done | 12.35 s | 2025-09-05T14:00:00Z | 2 destroyed<br>exit 0 |"
        in text
    )
    assert "refused \\| port 27017" in text
    assert escape_cell("a|b\r\nc") == "a\\|b<br>c"
    assert escape_cell("") == "—"
    for line in text.splitlines():
        if line.startswith("| "):
            assert line.endswith(" |"), line


def test_backup_table_shows_checksum_serial_size_and_verification() -> None:
    text = render_report(_result(), NOW)
    assert (
        "| terraform-state | backups/terraform-state-20250905-140000.tfstate | yes "
        "| sha256:abc | 7 | 1234 B |" in text
    )


def test_validation_section_names_the_failing_components() -> None:
    text = render_report(_result(), NOW)
    assert "**Failing:** mongodb" in text
    assert "| vault | ✅ | 12 ms | active |" in text


def test_timed_out_approval_is_reported_as_such_and_nothing_was_changed() -> None:
    result = _result(
        status="timed_out",
        actions=[],
        approval=ApprovalRecord(required=True, approved=False, timed_out=True, decided_at=END),
    )
    text = render_report(result, NOW)
    assert "approval timed out — nothing was changed" in text
    assert "**Timed out**" in text
    assert "_No actions were carried out._" in text


def test_rejection_names_the_approver_and_reason() -> None:
    approval = ApprovalRecord(
        required=True, approved=False, approver="bob", reason="wrong stack", decided_at=END
    )
    text = render_report(_result(status="rejected", approval=approval), NOW)
    assert "**Rejected** by **bob**" in text and "wrong stack" in text


def test_dry_run_report_has_no_follow_ups_and_says_so() -> None:
    text = render_report(_result(status="dry_run", dry_run=True), NOW)
    assert "_Dry run: nothing changed, no follow-ups._" in text
    assert "Conduct the post-mortem" not in text


def test_error_block_cannot_be_closed_early_by_backticks_in_the_error() -> None:
    text = render_report(_result(status="failed", error="bad ``` fence"), NOW)
    assert "````\nbad ``` fence\n````" in text


def test_report_filename_is_a_sortable_utc_timestamp() -> None:
    assert (
        report_filename(datetime(2025, 9, 5, 14, 3, 20, tzinfo=UTC)) == "recovery-report-20250905-140320.md"
    )
    cest = datetime(2025, 9, 5, 16, 3, 20, tzinfo=timezone(timedelta(hours=2)))
    assert report_filename(cest) == "recovery-report-20250905-140320.md"


def test_plan_markdown_groups_by_kind_destructive_first_and_counts_them() -> None:
    text = _plan().to_markdown()
    assert text.startswith("### Checkpoint Charlie")
    assert "**2 of 4 actions destroy, delete or overwrite something.**" in text
    assert text.index("**Destroyed (terraform)** (2)") < text.index("**Backed up first** (1)")
    assert '- `module.secrets_manager.aws_secretsmanager_secret.this["db"]`' in text
    assert "- `/candlefish/` — no secret left under the prefix" in text


def test_empty_plan_says_there_is_nothing_to_do() -> None:
    assert "_Nothing to do._" in Plan(title="noop", actions=[]).to_markdown()


def test_recovery_result_round_trips_through_json() -> None:
    result = _result()
    again = RecoveryResult.model_validate_json(result.model_dump_json())
    assert again == result
    data = json.loads(result.model_dump_json())
    assert data["validation"]["healthy"] is False and data["validation"]["failing"] == ["mongodb"]
    assert again.validation is not None and not again.validation.healthy


def test_validation_with_no_checks_is_not_healthy() -> None:
    assert ValidationReport(checks=[]).healthy is False
    assert ValidationReport(checks=[CheckResult(component="vault", ok=True)]).healthy is True

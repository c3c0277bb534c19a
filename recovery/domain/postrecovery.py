"""The playbook's six post-recovery actions, each with a real due time.

The seed lists them without dates except the post-mortem ("within 48 hours"); a list without
dates does not get done, so each gets a due time counted from the moment the recovery finished
(UTC). The offsets, and why:

=====================================  =========  ==================================================
action                                 due after  why
=====================================  =========  ==================================================
Document the incident                  4 h        while memories and logs are fresh, same shift
Conduct the post-mortem                48 h       the playbook's own deadline
Update runbooks with lessons learned   7 d        needs the post-mortem's findings first
Test recovery procedures in staging    14 d       after the runbook changes they must exercise
Implement preventive measures          30 d       one planning cycle
Schedule a disaster-recovery drill     30 d       the drill itself, so the fixes get tested
=====================================  =========  ==================================================

A dry run changed nothing and has no incident behind it, so it gets no follow-ups. A rejected or
timed-out approval does: the incident that triggered the run is still there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from recovery.domain.models import RecoveryResult


class FollowUp(BaseModel):
    """One post-recovery action with its due time (UTC)."""

    model_config = ConfigDict(frozen=True)

    title: str
    due: datetime
    why: str


#: (title, offset from the end of the recovery, why that offset)
POST_RECOVERY_ACTIONS: tuple[tuple[str, timedelta, str], ...] = (
    ("Document the incident in the incident management system", timedelta(hours=4),
     "while logs and memories are fresh"),
    ("Conduct the post-mortem", timedelta(hours=48), "the playbook requires it within 48 hours"),
    ("Update runbooks with lessons learned", timedelta(days=7), "after the post-mortem's findings"),
    ("Test recovery procedures in staging", timedelta(days=14), "exercise the updated runbooks"),
    ("Implement preventive measures", timedelta(days=30), "one planning cycle"),
    ("Schedule and hold a disaster-recovery drill", timedelta(days=30), "prove the fixes work"),
)


def follow_ups(result: RecoveryResult, now: datetime) -> list[FollowUp]:
    """The follow-ups for ``result``, due from ``finished_at`` (or ``now`` if the run has not
    finished). Empty for a dry run."""
    if result.status == "dry_run":
        return []
    base = as_utc(result.finished_at or now)
    return [FollowUp(title=title, due=base + offset, why=why) for title, offset, why in POST_RECOVERY_ACTIONS]


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already (that is what we store)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime | None) -> str:
    """``2025-09-05T14:03:00Z`` -- seconds precision, UTC, the form people paste into tickets."""
    if moment is None:
        return "—"
    return as_utc(moment).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")

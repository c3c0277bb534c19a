"""Plans: the list of things a recovery is about to do, shown to a human *before* it happens.

A flow computes a :class:`Plan` from observed state + inventory with a pure function, then either
records it (dry run), shows it on the approval form, or carries it out. Why a separate model: the
approver must see exactly what will be destroyed or overwritten -- terraform addresses, secret
*names*, files, namespaces, PVs -- and the report must show the same list afterwards. Targets are
names, never secret values, so the plan is safe to render anywhere (UI form, logs, report).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ActionKind = Literal[
    "destroy",
    "delete",
    "revoke",
    "rotate",
    "overwrite",
    "restore",
    "scale",
    "stop",
    "start",
    "switch",
    "backup",
    "notify",
    "verify",
]

#: Order and wording of the groups on the approval form: the irreversible kinds first, so the
#: approver reads what cannot be undone before anything else.
KIND_HEADINGS: dict[str, str] = {
    "destroy": "Destroyed (terraform)",
    "delete": "Deleted",
    "revoke": "Revoked",
    "rotate": "Rotated",
    "overwrite": "Overwritten",
    "restore": "Restored",
    "scale": "Scaled",
    "stop": "Stopped",
    "start": "Started",
    "switch": "Switched",
    "backup": "Backed up first",
    "notify": "Notified",
    "verify": "Verified afterwards",
}

#: Kinds that lose data or access if the plan is wrong: the form warns about them.
DESTRUCTIVE_KINDS = frozenset({"destroy", "delete", "revoke", "rotate", "overwrite"})


class PlannedAction(BaseModel):
    """One thing the recovery will do. ``target`` names the object (an address, a path, a secret
    name); ``detail`` says how (``"force after 60 s"``, ``"3 -> 0 replicas"``)."""

    model_config = ConfigDict(frozen=True)

    kind: ActionKind
    target: str
    detail: str = ""

    @property
    def destructive(self) -> bool:
        return self.kind in DESTRUCTIVE_KINDS


class Plan(BaseModel):
    """What a recovery will do, in order. Rendered on the approval form and in the report."""

    title: str
    actions: list[PlannedAction] = Field(default_factory=list)

    @property
    def destructive(self) -> bool:
        """True when any action loses data or access (such plans need an approval)."""
        return any(action.destructive for action in self.actions)

    def by_kind(self) -> dict[str, list[PlannedAction]]:
        """Actions grouped by kind, groups in :data:`KIND_HEADINGS` order, actions in plan order."""
        groups: dict[str, list[PlannedAction]] = {kind: [] for kind in KIND_HEADINGS}
        for action in self.actions:
            groups.setdefault(action.kind, []).append(action)
        return {kind: actions for kind, actions in groups.items() if actions}

    def to_markdown(self) -> str:
        """The text an approval form shows: a title, a warning line counting what cannot be undone,
        then one bulleted group per kind. Targets are rendered as code so addresses stay legible."""
        lines = [f"### {self.title}", ""]
        if not self.actions:
            lines.append("_Nothing to do._")
            return "\n".join(lines) + "\n"
        irreversible = [a for a in self.actions if a.destructive]
        if irreversible:
            lines.append(
                f"**{len(irreversible)} of {len(self.actions)} actions destroy, delete or overwrite "
                "something.** Check each target below before approving."
            )
        else:
            lines.append(f"{len(self.actions)} actions, none destructive.")
        for kind, actions in self.by_kind().items():
            lines += ["", f"**{KIND_HEADINGS.get(kind, kind.capitalize())}** ({len(actions)})", ""]
            for action in actions:
                detail = f" — {_one_line(action.detail)}" if action.detail else ""
                lines.append(f"- `{_code(action.target)}`{detail}")
        return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _code(text: str) -> str:
    """Keep a target inside one inline-code span: no backticks, no line breaks."""
    return _one_line(text).replace("`", "'")

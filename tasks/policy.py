"""How every task of the product retries, caches and persists -- decided once, here.

* Retries are for transient faults only (:class:`recovery.errors.TransientError`: a refused
  connection, a 5xx, a held lock), with exponential backoff. A permanent fault stops at once with its
  reason. The delays come from ``RECOVERY_RETRY_DELAYS`` (comma-separated seconds, default
  ``2,5,15``) so tests and drills can shorten them without touching code.
* *Acting* tasks (backups, overwrites, destroys) persist their results and keep Prefect's default
  cache policy (inputs + task source + run id): when a crashed run is retried, finished steps are
  not redone. *Inspecting* tasks never cache: reading the world twice in one run (before and after a
  destroy) must read it twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from recovery.errors import TransientError

P = ParamSpec("P")
R = TypeVar("R")


def retry_delays() -> list[float]:
    raw = os.environ.get("RECOVERY_RETRY_DELAYS", "2,5,15")
    return [float(x) for x in raw.split(",") if x.strip()]


def only_transient(_task: Task[Any, Any], _run: TaskRun, state: State[Any]) -> bool:
    """Retry condition: retry when the task failed with a :class:`TransientError`, never otherwise."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:  # the result itself could not be read: do not guess, do not retry
        return False
    return isinstance(exc, TransientError)


def _decorate(fn: Callable[P, R], *, persist: bool, name: str | None) -> Task[P, R]:
    delays = retry_delays()
    options: dict[str, Any] = {
        "name": name or fn.__name__.replace("_", "-"),
        "retries": len(delays),
        "retry_delay_seconds": delays,
        "retry_condition_fn": only_transient,
    }
    if persist:
        options["persist_result"] = True
    else:
        options["cache_policy"] = NO_CACHE
        options["persist_result"] = False
    return task(**options)(fn)


def act(fn: Callable[P, R] | None = None, *, name: str | None = None) -> Any:
    """Decorator for a task that changes the world or takes a backup (persisted, cached per run)."""
    if fn is None:
        return lambda f: _decorate(f, persist=True, name=name)
    return _decorate(fn, persist=True, name=name)


def inspect(fn: Callable[P, R] | None = None, *, name: str | None = None) -> Any:
    """Decorator for a task that only reads the world (never cached)."""
    if fn is None:
        return lambda f: _decorate(f, persist=False, name=name)
    return _decorate(fn, persist=False, name=name)

"""One small error hierarchy for the whole product.

Adapters convert library errors at their boundary (``raise X from exc``) into one of two kinds:

* :class:`TransientError` -- the same call may succeed later (connection refused, 5xx, throttling,
  a lock held). Tasks retry these, with backoff.
* :class:`PermanentError` -- retrying cannot help (not found, access denied, bad input, a sealed
  Vault). The run stops and the reason goes into the report.

Error text must never carry the value of a secret: messages name things (a path, a secret *name*, an
address), never their contents.
"""

from __future__ import annotations


class RecoveryError(Exception):
    """Base of every error this product raises on purpose."""

    #: The process exit code the CLI uses when this error ends a command.
    exit_code: int = 1


class TransientError(RecoveryError):
    """A fault that may go away by itself: retry with backoff."""


class UnreachableError(TransientError):
    """The outside system did not answer (refused, timed out, DNS)."""


class PermanentError(RecoveryError):
    """A fault that retrying cannot fix: stop and explain."""


class NotFoundError(PermanentError):
    """The thing asked for does not exist (a secret, a namespace, a backup)."""


class ConflictError(PermanentError):
    """The outside system refused because of its current state (a sealed Vault, a busy lock)."""


class RecoveryBusyError(ConflictError):
    """Another recovery holds the lock: only one recovery may run at a time."""

    exit_code = 4


class ConfigError(PermanentError):
    """Bad input: a malformed inventory, an unknown checkpoint, a missing reference."""

    exit_code = 2


class PathEscapeError(ConfigError):
    """A path (or a symlink's target) leaves the directory it is confined to."""


class CommandError(PermanentError):
    """A local command exited non-zero. Carries the exit code and a (redacted) tail of its output."""

    def __init__(self, message: str, *, returncode: int | None = None, output_tail: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.output_tail = output_tail


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) is worth retrying."""
    return isinstance(exc, TransientError)

"""References to secrets, and the redaction that keeps their values out of every log.

The inventory never holds a secret value: it holds a :class:`SecretRef` saying *where* the value
comes from (an environment variable or a 0600 file). Resolving a reference returns a
``SecretStr`` and registers the value with :data:`REDACTOR`, so any log record that would carry it
is masked before it is written.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from recovery.errors import ConfigError

MASK = "***"


class Redactor:
    """Remembers secret values and masks them in text. Thread-safe; values shorter than 4 chars are
    not registered (they would mask ordinary words)."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def register(self, value: str | SecretStr | None) -> None:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw and len(raw) >= 4:
            with self._lock:
                self._values.add(raw)

    def redact(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


REDACTOR = Redactor()


class RedactingFilter(logging.Filter):
    """A logging filter that masks every registered secret value in a record's final message."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self._redactor.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to every handler of ``logger`` (the root logger by default) and of
    the loggers Prefect writes through, so records are masked whichever handler emits them."""
    targets = [logger or logging.getLogger()]
    if logger is None:
        targets += [logging.getLogger(name) for name in ("prefect", "httpx", "botocore", "hvac")]
    for target in targets:
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())
        for handler in target.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())


class SecretRef(BaseModel):
    """Where a secret comes from: exactly one of ``env`` (a variable name) or ``file`` (a path)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret reference needs exactly one of 'env' or 'file'")
        return self

    def describe(self) -> str:
        return f"env:{self.env}" if self.env else f"file:{self.file}"

    def resolve(self) -> SecretStr:
        """Read the value now. Raises :class:`ConfigError` naming the reference, never the value."""
        if self.env is not None:
            raw = os.environ.get(self.env)
            if raw is None:
                raise ConfigError(f"secret reference {self.describe()}: variable is not set")
        else:
            assert self.file is not None
            path = self.file.expanduser()
            try:
                raw = path.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"secret reference {self.describe()}: {exc.strerror}") from None
        REDACTOR.register(raw)
        return SecretStr(raw)


def secret_value(value: Any) -> str:
    """The raw value of a ``SecretStr`` (or a plain string), registered for redaction."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    REDACTOR.register(raw)
    return raw

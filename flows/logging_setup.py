"""Redact secret values from every log record, including the copy Prefect ships to its API.

Where the filter has to go (Prefect 3.9.1, measured): run loggers (``get_run_logger()``) log on
``prefect.flow_runs`` / ``prefect.task_runs``, and the API-bound copy is written by the
``APILogHandler`` attached to those two loggers (``prefect.extra`` and the loggers named in
``PREFECT_LOGGING_EXTRA_LOGGERS`` get the same handler). Two traps:

* A *logger* filter only sees records created on that exact logger, not records propagated up
  from a child (``prefect.flow_runs.anything``, ``recovery.adapters.vault``); a *handler* filter
  sees every record the handler emits. So the filter goes on the handlers -- and on the loggers
  too, for handlers Prefect adds later.
* ``setup_logging()`` rebuilds handlers when it runs again, dropping their filters. So
  :func:`install_prefect_redaction` is idempotent and cheap: flows call it at their start.

The handler formats the traceback of ``logger.exception(...)`` into the message it ships; the
base :class:`~recovery.secrets.RedactingFilter` only masks the message, so
:class:`TracebackRedactingFilter` also pre-renders and masks ``exc_text`` and ``stack_info``.
"""

from __future__ import annotations

import logging

from prefect.settings import PREFECT_LOGGING_EXTRA_LOGGERS

from recovery.secrets import REDACTOR, RedactingFilter, Redactor

#: Loggers whose records (or handlers) can reach the console or the Prefect API.
PREFECT_LOGGERS = ("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.extra")
#: Our own and the client libraries' loggers: their messages may quote URLs, paths, errors.
OTHER_LOGGERS = ("recovery", "flows", "tasks", "httpx", "botocore", "hvac", "kubernetes")

_formatter = logging.Formatter()


class TracebackRedactingFilter(RedactingFilter):
    """Masks registered secret values in the message *and* the traceback/stack text."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__(redactor)
        self._redactor_ref = redactor  # the base class keeps its own copy private

    def filter(self, record: logging.LogRecord) -> bool:
        super().filter(record)
        if record.exc_info and not record.exc_text:
            # Formatters reuse a pre-set exc_text instead of formatting exc_info again.
            record.exc_text = _formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redactor_ref.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redactor_ref.redact(record.stack_info)
        return True


def _has_redaction(filterer: logging.Filterer) -> bool:
    return any(isinstance(f, TracebackRedactingFilter) for f in filterer.filters)


def _attach(filterer: logging.Filterer) -> None:
    if not _has_redaction(filterer):
        filterer.addFilter(TracebackRedactingFilter())


def redacted_loggers() -> list[logging.Logger]:
    """Every logger :func:`install_prefect_redaction` covers (root included)."""
    names = [*PREFECT_LOGGERS, *OTHER_LOGGERS, *(PREFECT_LOGGING_EXTRA_LOGGERS.value() or [])]
    return [logging.getLogger(), *(logging.getLogger(name) for name in dict.fromkeys(names))]


def install_prefect_redaction() -> None:
    """Attach the redacting filter to the loggers above and to every handler they (and the root
    logger) have now. Idempotent: call it at the start of every flow."""
    for logger in redacted_loggers():
        _attach(logger)
        for handler in logger.handlers:
            _attach(handler)

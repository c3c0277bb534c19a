"""The one place AWS library errors become this product's errors.

Every :class:`~recovery.adapters.aws.AwsAdapter` call runs inside :func:`boundary`. Retryable faults
(no answer, a broken connection, 5xx, throttling) become :class:`TransientError` -- with
:class:`UnreachableError` when nobody answered -- so the task layer retries them; everything else
becomes a :class:`PermanentError` subclass (not found, conflict, bad input) so a run stops and says
why. Messages name the operation and the resource (a secret *name*, a key id, a user), never a value.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore import exceptions as bx

from recovery.errors import (
    ConfigError,
    ConflictError,
    NotFoundError,
    PermanentError,
    RecoveryError,
    TransientError,
    UnreachableError,
)
from recovery.secrets import REDACTOR

_THROTTLING = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "RequestLimitExceeded", "RequestThrottled", "SlowDown",
    "ProvisionedThroughputExceededException", "ConcurrentModification", "ConcurrentModificationException",
    "PriorRequestNotComplete",
}  # fmt: skip
_SERVER_FAULTS = {
    "InternalServiceError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException",
    "KMSInternalException", "DependencyTimeoutException", "ServiceFailure", "RequestTimeout",
    "RequestTimeoutException",
}  # fmt: skip
_INVALID_INPUT = {
    "ValidationException", "ValidationError", "InvalidParameterException", "InvalidParameterValue",
    "InvalidParameterCombination", "InvalidInput", "MalformedPolicyDocument",
}  # fmt: skip
_CONFLICT = {
    "ResourceExistsException", "EntityAlreadyExists", "AlreadyExistsException", "InvalidRequestException",
    "KMSInvalidStateException", "DeleteConflict", "LimitExceeded", "LimitExceededException",
}  # fmt: skip


@contextmanager
def boundary(operation: str, resource: str = "") -> Iterator[None]:
    """Turn every boto3/botocore error raised inside into one of ours, naming the operation and the
    resource (a secret *name*, a key id, a user) -- never a value. The one error-mapping place."""
    where = f"AWS {operation}" + (f" {resource!r}" if resource else "")
    try:
        yield
    except bx.ClientError as exc:
        raise from_client_error(exc, where) from exc
    except (bx.ConnectionError, bx.ReadTimeoutError) as exc:
        raise UnreachableError(f"{where}: endpoint did not answer ({type(exc).__name__})") from exc
    except bx.HTTPClientError as exc:
        raise TransientError(f"{where}: connection broke ({type(exc).__name__})") from exc
    except (bx.NoCredentialsError, bx.PartialCredentialsError, bx.ProfileNotFound, bx.NoRegionError) as exc:
        raise ConfigError(f"{where}: AWS configuration problem: {exc}") from exc
    except bx.ParamValidationError as exc:
        raise ConfigError(f"{where}: invalid parameters: {_without_values(str(exc))}") from exc
    except bx.BotoCoreError as exc:
        raise PermanentError(f"{where}: {type(exc).__name__}: {REDACTOR.redact(str(exc))}") from exc


def from_client_error(exc: bx.ClientError, where: str) -> RecoveryError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    # AWS messages name resources, not values; redact anyway in case a server echoes input.
    detail = REDACTOR.redact(str(error.get("Message") or error.get("message") or ""))[:300]
    text = f"{where}: {code} (HTTP {status})" + (f": {detail}" if detail else "")
    if code in _THROTTLING or code in _SERVER_FAULTS or status >= 500 or status == 429:
        return TransientError(text)
    if code == "NoSuchEntity" or "NotFound" in code:
        return NotFoundError(text)
    if code in _INVALID_INPUT:
        return ConfigError(text)
    if code in _CONFLICT:
        return ConflictError(text)
    return PermanentError(text)


def _without_values(report: str) -> str:
    """botocore's parameter report quotes the offending *value* (which may be a secret): keep only
    which parameter was wrong and why."""
    kept = [line.split(", value:")[0] for line in report.splitlines()]
    return REDACTOR.redact("; ".join(line for line in kept if line))

"""Domain errors. Every one carries a message that names what was wrong and what is allowed.

A command that raises any of these records nothing.
"""

from __future__ import annotations

from typing import Any


class CivicError(Exception):
    """Base class of every error the platform reports to its users."""

    code = "civic_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class InvalidInput(CivicError):
    """A value is not allowed: names the field, the value and what is allowed."""

    code = "invalid_input"

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        super().__init__(
            f"{field}: {value!r} is not allowed; allowed: {allowed}",
            field=field,
            value=value,
            allowed=allowed,
        )
        self.field = field
        self.value = value
        self.allowed = allowed


class NotFound(CivicError):
    """No such thing, or not visible to the actor (the two are indistinguishable on purpose)."""

    code = "not_found"

    def __init__(self, kind: str, key: Any, known: list[str] | None = None) -> None:
        message = f"{kind} {key} not found"
        if known is not None:
            message += f"; known: {', '.join(known) if known else '(none)'}"
        super().__init__(message, kind=kind, key=str(key))


class PermissionDenied(CivicError):
    """The actor's role may not do this; names the roles that may."""

    code = "permission_denied"

    def __init__(self, action: str, role: str, allowed_roles: list[str]) -> None:
        super().__init__(
            f"{action}: role {role!r} may not do this; allowed roles: {', '.join(allowed_roles)}",
            action=action,
            role=role,
            allowed_roles=allowed_roles,
        )


class RuleViolation(CivicError):
    """The command breaks a rule of the lifecycle or of the rubric."""

    code = "rule_violation"


class AlreadyExists(RuleViolation):
    code = "already_exists"


class VersionConflict(CivicError):
    """The caller expected another version of the stream than the one stored."""

    code = "version_conflict"

    def __init__(self, kind: str, key: Any, expected: int, actual: int) -> None:
        super().__init__(
            f"{kind} {key}: expected version {expected}, but it is at version {actual}; "
            "reload and retry",
            expected=expected,
            actual=actual,
        )


class ConcurrentChange(VersionConflict):
    """Another writer recorded a change on the same stream first; nothing was recorded.

    Unlike a stale ``If-Match`` (:class:`VersionConflict`), the caller did nothing wrong:
    the same request sent again may well succeed. Over HTTP it is answered 409
    ``concurrent_change`` with ``Retry-After: 1``, and its ``Idempotency-Key`` is not kept
    (a retry with the same key runs afresh)."""

    code = "concurrent_change"

    def __init__(self) -> None:
        CivicError.__init__(
            self, "another change was recorded on the same stream at the same time; reload and retry"
        )


class RequestTakenOver(VersionConflict):
    """The request ran past its claim on its Idempotency-Key and a retry took the key over;
    this request recorded nothing (see :mod:`core.fences`)."""

    code = "request_taken_over"

    def __init__(self) -> None:
        CivicError.__init__(
            self, "请求已被重试接管，本次未记录 a retry with the same Idempotency-Key took this request over; "
            "nothing was recorded by this one: the retry's answer stands",
        )


class ConfigurationError(CivicError):
    """The platform is misconfigured (storage URL, plugin settings)."""

    code = "configuration_error"


class PluginError(CivicError):
    """A plugin is broken, incompatible or conflicts with another one."""

    code = "plugin_error"


def invalid_from(exc: Any, prefix: str = "") -> InvalidInput:
    """The first problem of a pydantic ValidationError as an InvalidInput naming its field."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    field = ".".join(part for part in (prefix, where) if part) or prefix or "value"
    return InvalidInput(field, first.get("input"), first["msg"])


class StoreTampered(CivicError):
    """The store was changed behind the platform's back: a stream's hash chain is broken,
    so nothing more is recorded on it until an auditor has looked (``civic audit verify``)."""

    code = "store_tampered"

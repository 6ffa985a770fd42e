"""One exception tree, so the CLI can print one clear line and pick an exit code.

Every message says what went wrong and what to do next; detail belongs in the log.
"""

from __future__ import annotations

from smbml_connect.redaction import redact

__all__ = [
    "ApiError",
    "AuthError",
    "ConfigError",
    "DataValidationError",
    "GaveUpError",
    "NotFittedError",
    "SmbmlError",
    "SourceFatalError",
    "SourceRetriableError",
    "StoreError",
    "TokenRejectedError",
    "failure_words",
    "mark_recorded",
    "run_recorded",
]


class SmbmlError(Exception):
    """Base of every error smbml_connect raises on purpose."""

    exit_code = 1


class ConfigError(SmbmlError):
    """The config file or a command-line option is wrong; the user must edit it."""

    exit_code = 2


class AuthError(SmbmlError):
    """A token is missing, wrong or lacks a permission."""

    exit_code = 3


class TokenRejectedError(AuthError):
    """The credential itself was refused (401): every further request would be too, so the
    run stops at once instead of trying each table."""


class SourceRetriableError(SmbmlError):
    """The source failed in a way that may pass if tried again later (429, 5xx, timeout)."""

    exit_code = 4


class GaveUpError(SourceRetriableError):
    """One request's retries were spent. ``failure`` says what kept failing; the message
    adds what that means for a read in pages. A write says what it means for itself (a
    Sheets sync: which tabs were written), from ``failure``."""

    def __init__(self, failure: str) -> None:
        self.failure = failure
        super().__init__(f"{failure}; nothing after the last saved page was lost, run again later.")


class SourceFatalError(SmbmlError):
    """The source refused in a way that retrying will not fix."""

    exit_code = 5


class ApiError(SourceFatalError):
    """A service refused a request for good (400, 404, 409 ...): retrying will not help.

    Carries the HTTP ``status``, the response ``body`` with secrets redacted, the service's
    own ``detail`` line and ``advice``: what to do next.
    """

    def __init__(
        self, service: str, status: int, what: str, body: str = "", *, detail: str = "",
        advice: str = "",
    ) -> None:  # fmt: skip

        self.service, self.status, self.what = service, status, what
        self.body = redact(body)[:2000]
        self.detail = redact(detail or f"HTTP {status}")[:300]
        self.advice = advice
        super().__init__(
            f"{service} refused {what} (HTTP {status}): {self.detail}"
            + (f"; {advice}" if advice else "")
        )


class DataValidationError(SmbmlError):
    """Input data cannot be used as a whole (for example a required column is missing)."""

    exit_code = 6


class NothingReadError(SmbmlError):
    """The source gave no table and the store holds no row from an earlier run: a run
    pointed at the wrong folder (or at a folder holding only a workbook) was "ok" every
    hour with empty results. It fails (exit 1, README's "the run failed") and writes none."""


class NotEnoughDataError(DataValidationError):
    """Too little history for an analytic: it is skipped and the run still counts as ok."""


class StoreError(SmbmlError):
    """The local store cannot be opened or is from a newer version."""

    exit_code = 7


class NotFittedError(SmbmlError, ValueError):
    """A model was asked to predict before it was fitted."""

    exit_code = 8


class Terminated(BaseException):
    """SIGTERM (a shutdown, `systemctl stop`, `kill`, a scheduler's time limit) turned into
    an exception, so a stopped run is recorded with what it did, as Ctrl+C's is. Not a
    KeyboardInterrupt: its words and exit code are its own."""


_RECORDED = "smbml_run_recorded"


def mark_recorded(exc: BaseException) -> None:
    """Say on ``exc`` that the run it stopped is in the store's run table (as failed), so
    the command line tells `smbml status` shows it only when it does: a stop during
    start-up, before any run was recorded, was said to be shown there."""
    setattr(exc, _RECORDED, True)


def run_recorded(exc: BaseException) -> bool:
    """Whether the run ``exc`` stopped was recorded (``mark_recorded``)."""
    return bool(getattr(exc, _RECORDED, False))


def failure_words(exc: BaseException) -> str:
    """What a run's record says stopped it: our own errors say it in words; Ctrl+C is not
    "KeyboardInterrupt: "; anything else (a bug) keeps its class for the log reader."""
    if isinstance(exc, SmbmlError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "stopped by Ctrl+C"
    if isinstance(exc, Terminated):
        return (
            "stopped: the system asked smbml to end (SIGTERM: a shutdown, a service stop or kill)"
        )
    return f"{type(exc).__name__}: {exc}"

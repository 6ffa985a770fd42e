"""The log file smbml writes: its handler, and where a person finds the details it holds."""

from __future__ import annotations

import logging
import logging.handlers
import os
from typing import Any

__all__ = ["PrivateLog", "log_details"]


class PrivateLog(logging.handlers.RotatingFileHandler):
    """The log names customers (a rejected row's e-mail): only the user may read it. The
    mode os.open gives applies to a new file only, so an older, wider log is narrowed;
    rotated files are this one renamed and keep its mode."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if hasattr(os, "fchmod"):  # not on Windows, whose files have no such mode bits
            os.fchmod(fd, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def log_details() -> str:
    """Where the details of an unexpected error are: smbml's own log file (by its handler:
    a library's file handler is not ours), or how to get one. "see the log" named no file a
    shop owner reading the report could find."""
    ours = [h for h in logging.getLogger().handlers if isinstance(h, PrivateLog)]
    if ours:
        return f"details in {ours[-1].baseFilename}"
    return "no log file was written: run again with --log-file PATH for the details"

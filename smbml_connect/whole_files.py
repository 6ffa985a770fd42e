"""Output files written whole or not at all.

A workbook saved straight over the last one and stopped half-way (Ctrl+C, a full disk, a
scheduler's timeout) left a zip Excel refuses, and the last good results were gone. Here
the new file is written beside the old one under a hidden name and moved over it in one
step (``os.replace``), so the old file stays until the new one is complete.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replaced"]


@contextmanager
def replaced(path: Path) -> Iterator[Path]:
    """A temporary file in ``path``'s folder to write; it becomes ``path`` when the block
    ends, and is removed (``path`` untouched) when the block raises or is interrupted."""
    target = path.resolve() if path.is_symlink() else path  # write the file a link points to
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _new_beside(target)
    try:
        yield temporary
        if target.exists():
            shutil.copymode(target, temporary)  # keep who may read it, as a save over it did
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _new_beside(target: Path) -> Path:
    """An empty file of a name no one else has, in the same folder (a move within one
    disk is one step); hidden, so a folder source never lists one left by a killed run."""
    while True:
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate

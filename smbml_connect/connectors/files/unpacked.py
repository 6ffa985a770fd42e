"""How much an .xlsx unpacks to, checked from its zip directory before any part is read.

A workbook is a zip of XML parts. openpyxl's read-only mode streams the worksheets, but
reads the shared strings, styles and the other parts whole, at about six bytes of memory
per unpacked byte (measured: a 400 KB file whose one shared string was 400 MB of "a" took
2.3 GB and ended in "Orders (0 MB) is too big for this computer's memory", find55
security 4). The directory's sizes can be trusted as an upper bound: Python's zipfile
reads a part no further than the size its directory gives and checks the CRC at the end.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Unpacked", "machine_memory", "size_words", "too_big", "unpacked"]

_STREAMED = re.compile(r"xl/worksheets/[^/]+\.xml", re.IGNORECASE)  # read row by row
_READ_WHOLE = re.compile(r"\.(xml|rels)$", re.IGNORECASE)  # the XML parts; not media
_PER_BYTE = 8  # memory per unpacked byte of a part read whole (6 measured, with room)
_SHARE = 4  # of the machine's memory, what a workbook's parts read whole may take
# A part read whole that unpacks this far is no part Excel writes: its XML is text, which
# deflate packs 5 to 30 times, not the 1,000 times of one string repeated.
_BOMB_RATIO, _BOMB_FLOOR = 200, 64 << 20
_UNKNOWN_MEMORY = 4 << 30  # when the system does not say: a small laptop's


@dataclass(frozen=True)
class Unpacked:
    """A workbook's sizes: of the file, all its parts unpacked, and its largest parts."""

    packed: int
    total: int
    whole: int  # the parts openpyxl reads whole, unpacked
    largest: zipfile.ZipInfo | None  # the largest part read whole
    sheet: zipfile.ZipInfo | None  # the largest worksheet


def unpacked(path: Path) -> Unpacked | None:
    """The sizes of ``path``'s parts from its zip directory; None when it is no zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return None  # said by the workbook reader, as before
    # Pictures and embedded files are never read (a products list with 160 MB of photos
    # was refused on a 4 GB laptop, its whole run peaking at 137 MB): only XML counts.
    whole = [
        i for i in infos if _READ_WHOLE.search(i.filename) and not _STREAMED.fullmatch(i.filename)
    ]
    sheets = [i for i in infos if _STREAMED.fullmatch(i.filename)]
    return Unpacked(
        packed=path.stat().st_size,
        total=sum(i.file_size for i in infos),
        whole=sum(i.file_size for i in whole),
        largest=max(whole, key=lambda i: i.file_size, default=None),
        sheet=max(sheets, key=lambda i: i.file_size, default=None),
    )


def too_big(path: Path, memory: int | None = None) -> str | None:
    """Why ``path`` is refused before it is opened, in one line naming it; None to read it."""
    sizes = unpacked(path)
    if sizes is None:
        return None
    memory = memory or machine_memory()
    part = sizes.largest
    what = f"{path.name} ({size_words(sizes.packed)}) unpacks to {size_words(sizes.total)}" + (
        f", {size_words(part.file_size)} of it in {part.filename}" if part else ""
    )
    if (
        part
        and part.file_size > _BOMB_FLOOR
        and part.file_size > _BOMB_RATIO * max(part.compress_size, 1)
    ):
        return (
            f"{what}, packed {part.file_size // max(part.compress_size, 1):,} times (Excel's "
            "own parts pack 5 to 30 times): it is not read, as it could take gigabytes of "
            "memory (open it in Excel and save it again, or export its tabs as CSV UTF-8)"
        )
    if sizes.whole * _PER_BYTE > memory // _SHARE or (
        sizes.sheet and sizes.sheet.file_size > memory // 2
    ):
        return (
            f"{what}: reading it would take more of this computer's memory "
            f"({size_words(memory)}) than it can spare, so it is not read (export its tabs as "
            "CSV UTF-8 into a folder: CSV files are read a page at a time)"
        )
    return None


def size_words(size: int) -> str:
    """A size as people say it: "412 KB", "400 MB", "2.3 GB"."""
    if size < 1 << 20:
        return f"{max(size, 1) / 1024:,.0f} KB"
    if size < 1 << 30:
        return f"{size / (1 << 20):,.0f} MB"
    return f"{size / (1 << 30):,.1f} GB"


def machine_memory() -> int:
    """The computer's physical memory in bytes (a small laptop's when it does not say)."""
    if sys.platform == "win32":
        return _windows_memory() or _UNKNOWN_MEMORY
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return _UNKNOWN_MEMORY


def _windows_memory() -> int | None:
    class _Status(ctypes.Structure):
        _fields_ = [
            ("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
            ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
            ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
            ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
            ("ullAvailExtendedVirtual", ctypes.c_ulonglong),
        ]  # fmt: skip

    status = _Status()
    status.dwLength = ctypes.sizeof(_Status)
    try:
        ok = ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return None
    return int(status.ullTotalPhys) if ok else None

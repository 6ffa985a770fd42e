"""CSV text -> batches of records, where a damaged line is rejected and reading goes on.

``csv.reader`` (and pandas) trust quotes: one unbalanced ``"`` opens a field that runs
to the next quote, possibly the end of the file, and every line in between becomes one
value. Here each record is checked against the header: a record that spans several
lines while one of those lines reads as a whole record by itself, a field count that
differs from the header's, or a field over ``csv.field_size_limit()`` rejects the first
line of that record only; parsing starts again on the next line. Lines are read in
batches, so a file of millions of rows never sits in memory whole.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
from charset_normalizer import from_bytes

from smbml_connect.errors import SourceFatalError
from smbml_connect.ports import SourceReject
from smbml_connect.secret_columns import hidden_line
from smbml_connect.sheet_rows import (
    above_header,
    body_frame,
    column_names,
    columns_frame,
    header_index,
    is_blank,
    known_headers,
)

__all__ = [
    "CannotRead",
    "CsvBatch",
    "CsvFile",
    "Decoding",
    "cannot_read",
    "detect_encoding",
    "head_of_csv",
    "open_csv",
    "opened",
]

BATCH_LINES = 100_000
_SHOWN = 200  # characters of a rejected line kept in the rejects
_HEADER_SEARCH = 50  # lines looked at for the header (a title or note may sit above it)
_ADVICE = 'save it as UTF-8 (in Excel: File > Save As > "CSV UTF-8 (Comma delimited)")'


@dataclass
class CsvBatch:
    """Records cut to the header's width, the line each starts on, and the lines rejected."""

    rows: list[list[str]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    rejects: list[SourceReject] = field(default_factory=list)
    columns: list[list[str]] | None = None  # instead of rows, when the batch is read by column
    blanks: list[int] = field(default_factory=list)  # lines with no value (listed as skipped)

    def frame(self, names: list[str]) -> pd.DataFrame:
        if self.columns is None:
            return body_frame(self.rows, self.numbers, names)
        return columns_frame(self.columns, self.numbers, names)


@dataclass
class CsvFile:
    """An open CSV: its column names, and its records batch by batch (read once)."""

    names: list[str]
    batches: Iterator[CsvBatch]
    encoding: str
    notes: list[tuple[int, str]] = field(default_factory=list)  # (lines, what the run says)
    above: list[tuple[int, list[Any]]] = field(default_factory=list)  # filled rows over the header
    header_row: int = 0  # the header's line


@dataclass(frozen=True)
class Decoding:
    """How a file's bytes become text; ``odd`` lines of a UTF-8 file are Windows-1252."""

    encoding: str
    errors: str = "strict"
    odd: int = 0
    first_odd: int = 0
    said: bool = False  # a code page judged from the text (``_code_page``): the run says so

    def note(self, name: str) -> list[tuple[int, str]]:
        """What the run says of a file with odd lines, or read in a code page judged from
        its text: (how many, the sentence)."""
        if self.said:
            return [
                (
                    1,
                    f"{name} is not UTF-8: it was read as {_CODE_PAGES[self.encoding]}, the "
                    'encoding its letters fit (as Excel\'s plain "CSV" saves on a Windows '
                    "set to that language); if names look wrong, set it in smbml.toml: "
                    f'[source] encoding = "{self.encoding}" (or another), or {_ADVICE}',
                )
            ]
        if not self.odd:
            return []
        one = self.odd == 1
        which = (
            f"line {self.first_odd}, which is"
            if one
            else f"{self.odd:,} lines (the first is line {self.first_odd}), which are"
        )
        read = "that line was" if one else "those lines were"
        return [
            (
                self.odd,
                f"{name} is UTF-8 except {which} Windows-1252 (as Excel's plain \"CSV (Comma "
                'delimited)" saves, pasted or appended to a "CSV UTF-8" file): '
                f"{read} read as Windows-1252 and the rest as UTF-8; check "
                f"{'its' if one else 'their'} accented letters, or save the whole file as "
                '"CSV UTF-8" and load it again',
            )
        ]


def opened(path: Path, mode: str = "r", **options: Any) -> Any:
    """The file, open; one that cannot be opened is one line naming it (Excel on Windows
    keeps a file it has open locked: "unexpected PermissionError" before)."""
    try:
        return path.open(mode, **options)
    except OSError as exc:
        raise cannot_read(path, exc) from None


class CannotRead(SourceFatalError):
    """A file the system would not open (not one whose bytes are wrong)."""


def cannot_read(path: Path, exc: OSError) -> CannotRead:
    """Why a source file or folder cannot be read, and what to do, in one line."""
    if isinstance(exc, PermissionError):
        why = (
            "permission denied (close it if Excel or another program has it open, or let "
            "your user read it; then run again)"
        )
    else:
        why = (exc.strerror or str(exc)).lower()
    return CannotRead(f"cannot read {path.name}: {why}")


def open_csv(
    path: Path, batch_lines: int = BATCH_LINES, decoding: Decoding | None = None
) -> CsvFile:
    """Decide the encoding (unless ``decoding`` says it) and dialect, find the header;
    records come lazily."""
    decoding = decoding or detect_encoding(path)
    encoding = decoding.encoding
    stream = opened(path, encoding=encoding, newline="", errors=_errors(decoding))
    try:
        head = _decoded(path, stream, lambda s: list(itertools.islice(s, _HEADER_SEARCH)))
    except BaseException:
        stream.close()
        raise
    dialect, instructed = _dialect(head)
    skip = int(instructed)  # Excel's "sep=;" line is not a row
    records = _records(head[skip:], dialect)
    start = header_index([r for r, _ in records])
    notes = decoding.note(path.name)
    if start is None:
        stream.close()
        return CsvFile([], iter(()), encoding, notes)
    header, used = records[start]
    names = column_names(header)
    reader = _Reader(path, dialect, names, len(header), batch_lines)
    firsts = [skip + 1] + [n + skip + 1 for _, n in records[:-1]]  # each record's first line
    above = above_header([r for r, _ in records], start, firsts)
    used += skip
    batches = reader.batches(stream, head[used:], used + 1)
    return CsvFile(names, batches, encoding, notes, above, firsts[start])


def head_of_csv(path: Path, rows: int = 40, encoding: str | None = None) -> pd.DataFrame:
    """The header and first ``rows`` rows of a CSV, read as ``open_csv`` reads it (which
    file is which export is decided from these, so they must split the same way); the
    encoding (unless the config says it) is judged from the first 64 KB, as the whole file
    may be large."""
    decoding = Decoding(encoding) if encoding else None
    try:
        opened = open_csv(path, rows * 4, decoding or detect_encoding(path, limit=65_536))
    except CannotRead:
        raise  # said now: an empty head would misplace the file
    except SourceFatalError:
        return pd.DataFrame()  # bytes in no encoding: said when the file is read
    batches = opened.batches
    try:
        batch = next(batches, None)
    except SourceFatalError:
        batch = None
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    if batch is None:
        return body_frame([], [], opened.names)
    return batch.frame(opened.names).head(rows)


def detect_encoding(path: Path, limit: int | None = None) -> Decoding:
    """UTF-8 (with or without BOM), UTF-16 (BOM or not), else Windows-1252 if it decodes.

    A UTF-8 file with a few Windows-1252 lines (one Excel save appended to another) is
    read as UTF-8, those lines as Windows-1252, and says so (``Decoding.note``): read as
    Windows-1252 whole, every accented letter of the UTF-8 lines became mojibake
    (``ZoÃ«``), silently. ``limit``: judge from the first bytes only (a file's head).
    """
    with opened(path, "rb") as raw:
        head = raw.read(4096)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Decoding("utf-16")  # Excel's "Unicode Text" save
    if head and head.count(b"\0") > len(head) // 4:  # UTF-16 written without a BOM
        le = head[1::2].count(b"\0") > head[0::2].count(b"\0")
        return Decoding("utf-16-le" if le else "utf-16-be")
    if _decodes(path, "utf-8", limit):
        return Decoding("utf-8-sig")
    odd, first, utf8, sample = _odd_lines(path, limit)
    if utf8:
        return Decoding("utf-8-sig", _AS_CP1252, odd, first)
    western = _decodes(path, "cp1252", limit)
    if western and _reads_as_words(sample.decode("cp1252", "replace"), latin=True):
        return Decoding("cp1252")  # Excel's plain "CSV (Comma delimited)" in the West
    found = _code_page(sample)
    if found is not None and _decodes(path, found, limit):
        return Decoding(found, said=True)
    if not western and found is None:
        raise SourceFatalError(f"{path.name} is not text in an encoding smbml reads: {_ADVICE}")
    raise SourceFatalError(
        f"{path.name} is not UTF-8 and its encoding cannot be told with confidence (read as "
        f"Windows-1252, Excel's Western one, its letters come out as {_odd_word(sample)!r}): "
        'say which it is in smbml.toml, [source] encoding = "cp1250" (Central European; '
        "cp1251 Cyrillic, cp1253 Greek, cp1254 Turkish, cp932 Japanese, gbk Chinese, cp949 "
        f"Korean), or {_ADVICE}"
    )


# Excel's plain "CSV" on Windows writes the system's ANSI code page. Western European is
# cp1252, judged first; these are the others, by locale. Thai (cp874) and Vietnamese
# (cp1258) are left out: their letters fit the bytes of Chinese and Korean text too well.
_CODE_PAGES = {
    "cp1250": "Central European (Windows-1250)", "cp1251": "Cyrillic (Windows-1251)",
    "cp1253": "Greek (Windows-1253)", "cp1254": "Turkish (Windows-1254)",
    "cp1255": "Hebrew (Windows-1255)", "cp1256": "Arabic (Windows-1256)",
    "cp1257": "Baltic (Windows-1257)", "cp932": "Japanese (Shift-JIS)",
    "gb18030": "Simplified Chinese (GBK)", "cp949": "Korean (Windows-949)",
    "big5": "Traditional Chinese (Big5)",
}  # fmt: skip
_SAMPLE = 1 << 18  # bytes the encoding is judged from: names repeat, 256 KB hold plenty
# Marks that begin a word as punctuation does ("„Müller", "«Oui»", "¿Qué?"), and the degree
# sign before C or F: any other symbol followed by a letter is a letter of another code page
# ("£ukasz" is Polish "Łukasz", "Ma³gorzata" "Małgorzata" read as Windows-1252).
_OPENERS = frozenset("„‚“‘«¿¡°")
_WORD = re.compile(r"[^\s,;\t|\"]+")


def _odd(word: str, latin: bool) -> bool:
    """Whether ``word`` cannot be written this way: a symbol inside it followed by a
    letter, or (``latin``: decoded to a Latin code page) four or more letters none of
    them ASCII ("Èâàíîâ" is Cyrillic "Иванов" read as Windows-1252)."""
    for at, char in enumerate(word[:-1]):
        if char.isascii() or (unicodedata.category(char)[0] in "LMN" and char not in "¹²³"):
            continue
        if word[at + 1].isalpha() and not (at == 0 and char in _OPENERS):
            return True
    return latin and len(word) >= 4 and word.isalpha() and not any(c.isascii() for c in word)


def _reads_as_words(text: str, latin: bool) -> bool:
    """Whether the words of ``text`` that hold a letter beyond ASCII read as words: at
    most one in twenty may not (a "5°C" or a typo is no other encoding)."""
    words = [w for w in _WORD.findall(text) if not w.isascii()]
    odd = sum(_odd(w, latin) for w in words)
    return odd * 20 <= len(words)


def _odd_word(sample: bytes) -> str:
    text = sample.decode("cp1252", "replace")
    return next((w for w in _WORD.findall(text) if not w.isascii() and _odd(w, True)), "")


def _code_page(sample: bytes) -> str | None:
    """The one code page of ``_CODE_PAGES`` ``sample`` is text in, with confidence, else
    None. East Asian ones first (``_common_share``): the bytes of a Japanese file decode
    as Korean or Chinese too, but to rare characters only. Then the single-byte ones,
    ranked by charset-normalizer (how much each decoding looks like a mess, then like a
    language): the first is taken when its words read as words and no other decodes the
    sample differently about as well (a few Polish names fit Windows-1250 and Turkish
    Windows-1254 alike). charset-normalizer alone took a short Japanese file for Korean."""
    shares = {e: _common_share(sample, e) for e in _WIDE}
    top = max(shares.values())
    wide = [e for e, share in shares.items() if share >= 0.95 and share >= top - 0.02]
    if len(wide) == 1:
        return wide[0]
    if wide:  # Korean and Chinese share their everyday bytes: the languages decide
        return _ranked_first(sample, wide, words=False)
    return _ranked_first(sample, [e for e in _CODE_PAGES if e not in _WIDE], words=True)


def _ranked_first(sample: bytes, encodings: list[str], words: bool) -> str | None:
    """charset-normalizer's first of ``encodings`` for ``sample``, when (``words``) its
    words read as words and no other decodes it differently about as well."""
    ranked = [m for m in from_bytes(sample, cp_isolation=encodings) if m.encoding in encodings]
    if not ranked:
        return None
    best, *others = ranked
    text = str(best)
    if words and not _reads_as_words(text, latin=best.encoding in _LATIN):
        return None
    for other in others:
        if str(other) == text:
            continue
        if other.chaos <= best.chaos + 0.01 and other.coherence >= best.coherence - 0.05:
            return None
    return best.encoding


# East Asian code pages and the standard of their everyday characters: a character of the
# code page beyond it (a Korean syllable only Windows-949 adds, a half-width katakana
# amid kanji) is what another code page's text decodes to.
_WIDE = {"cp932": "shift_jis", "gb18030": "gb2312", "cp949": "euc_kr", "big5": "big5"}


def _common_share(sample: bytes, encoding: str) -> float:
    """The share of ``sample``'s characters beyond ASCII that are everyday ones of
    ``encoding`` (two bytes in its core standard); 0 when it does not decode."""
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(sample)  # a cut end waits
    except UnicodeDecodeError:
        return 0.0
    counts = {c: n for c, n in Counter(text).items() if not c.isascii()}
    if not counts:
        return 0.0
    core = _WIDE[encoding]
    common = sum(n for c, n in counts.items() if _everyday(c, core))
    return common / sum(counts.values())


def _everyday(char: str, core: str) -> bool:
    if "\uff61" <= char <= "\uff9f":  # half-width katakana
        return False
    try:
        encoded = char.encode(core)
    except UnicodeEncodeError:
        return False
    if len(encoded) != 2:
        return False
    return core != "big5" or b"\xa4\x40" <= encoded <= b"\xc6\x7e"  # Big5's frequent ones


_LATIN = frozenset({"cp1250", "cp1254", "cp1257"})


def _blocks(path: Path, limit: int | None) -> Iterator[bytes]:
    with opened(path, "rb") as raw:
        if limit is not None:
            yield raw.read(limit)
            return
        yield from iter(lambda: raw.read(1 << 22), b"")


def _decodes(path: Path, encoding: str, limit: int | None = None) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    for block in _blocks(path, limit):
        if block.isascii() and not decoder.getstate()[0]:
            continue
        try:
            decoder.decode(block)
        except UnicodeDecodeError:
            return False
    if limit is not None:
        return True  # a character cut at the limit is not an error
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _odd_lines(path: Path, limit: int | None) -> tuple[int, int, bool, bytes]:
    """Lines that are not UTF-8 (how many, and the first's number), whether another
    line is UTF-8 beyond ASCII (then the file is UTF-8 with a few lines from elsewhere),
    and the sample the encoding is judged from: the lines beyond ASCII, wherever they
    are, up to ``_SAMPLE`` bytes. The file's first 256 KB were the sample: a Polish list
    whose first accented name came later was all ASCII there, passed as Windows-1252,
    and its names were stored as "£ukasz" without a word."""
    odd = first = 0
    utf8 = False
    sample: list[bytes] = []
    size = 0
    for number, line in enumerate(_byte_lines(path, limit), 1):
        if line.isascii():
            continue
        if size < _SAMPLE:
            sample.append(line)
            size += len(line)
        try:
            line.decode("utf-8")
            utf8 = True
        except UnicodeDecodeError:
            odd += 1
            first = first or number
    return odd, first, utf8, b"".join(sample)[:_SAMPLE]


def _byte_lines(path: Path, limit: int | None) -> Iterator[bytes]:
    """Lines split at CR, LF or CR LF, as the reader counts them (a last line cut at
    ``limit`` is left out)."""
    tail = b""
    for block in _blocks(path, limit):
        lines = (tail + block).splitlines(keepends=True)
        tail = lines.pop() if lines else b""  # may go on in the next block
        yield from lines
    if tail and limit is None:
        yield tail


_AS_CP1252 = "smbml.cp1252"  # the codec error handler of a UTF-8 file's odd lines


def _errors(decoding: Decoding) -> str:
    if decoding.errors == _AS_CP1252:
        codecs.register_error(_AS_CP1252, _as_cp1252)  # here, not at import: no effect then
    return decoding.errors


def _as_cp1252(exc: UnicodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8, read as Windows-1252; bytes that are neither stay an error."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    try:
        return exc.object[exc.start : exc.end].decode("cp1252"), exc.end
    except UnicodeDecodeError:
        raise exc from None


def _decoded(path: Path, stream: TextIO, read: Any) -> Any:
    try:
        return read(stream)
    except UnicodeDecodeError as exc:
        raise SourceFatalError(
            f"{path.name} has bytes that are not {exc.encoding}: {_ADVICE}"
        ) from exc


def _dialect(lines: Sequence[str]) -> tuple[Any, bool]:
    """How ``lines`` (a file's first) split into cells, and whether the first is Excel's
    ``sep=X`` line: an instruction to follow, not a row.

    The quote is always ``"``, RFC 4180's, which every exporter writes: ``csv.Sniffer``
    also guessed it, and a Shopify value such as ``'7412...`` (or ``Jones' Bakery``) made
    it choose ``'``, so every line split wrongly. The delimiter is the one that splits the
    header into the most cells the lines below agree with (``_fit``), not the sniffer's
    first choice: it took ``,`` for a ``;`` file whose header says ``(EUR, incl. VAT)``
    and gave up on a short file with a footer line.
    """
    sep = _SEP_LINE.fullmatch(lines[0]) if lines else None
    if sep:
        return _with_delimiter(sep.group(1), lines[1:2]), True
    fits = [(_fit(lines, d), -rank, d) for rank, d in enumerate(_DELIMITERS)]
    best, _, delimiter = max(fits)
    return _with_delimiter(delimiter if best > _NO_FIT else ",", lines), False


_DELIMITERS = ",;\t|"
_SEP_LINE = re.compile(r"sep=([^\r\n])\r?\n?", re.IGNORECASE)  # Excel's first line
_TITLE_ROWS = 10  # rows a header may sit under (a report's title, a note)
_NO_FIT = (False, 0, -_TITLE_ROWS, 0, 0.0, 0.0)
# A cell that reads as one value: a number (decimal comma or point), a date, a code.
_PLAIN = re.compile(r"[-+(]?[$€£¥]?\s?\d[\d.,' ]*\)?-?|[\w@.+/:-]*")


def _fit(lines: Sequence[str], delimiter: str) -> tuple[bool, int, int, int, float, float]:
    """How well ``delimiter`` splits ``lines``: (rows below the header mostly agree with
    its width, whether it names two columns we know, how near the top the header is, its
    width, the share of cells below that read as one value, the share of rows that agree).

    The header is the first row of two or more filled cells whose width at least half of
    the rows below share; failing that, the first such row. A title above it counts
    against it (the right delimiter finds the header on its first line, the wrong one may
    find it only in the data), then a wider header wins; at equal width, the delimiter
    whose cells read as values (``489,11`` rather than ``11;217.57``). A header that names
    two columns we know beats one nearer the top that does not: a ``;`` file under the
    title "Umsatzbericht, erstellt am 03.12.2026" split by its comma into a two-cell
    "header" that every decimal-comma row agreed with.
    """
    rows = [r for r, _ in _records(lines, _with_delimiter(delimiter, [])) if not is_blank(r)]
    first = None
    for at, row in enumerate(rows[:_TITLE_ROWS]):
        width = len(column_names(row))
        if width < 2 or sum(bool(c.strip()) for c in row) < 2:
            continue
        below = rows[at + 1 :]
        agree = sum(len(r) >= width and is_blank(r[width:]) for r in below) / max(len(below), 1)
        cells = [c.strip() for r in below for c in r[:width]]
        plain = sum(bool(_PLAIN.fullmatch(c)) for c in cells) / max(len(cells), 1)
        named = min(known_headers(column_names(row)), 2)
        fit = (agree >= 0.5 or not below, named, -at, width, plain, agree)
        if fit[0] and named == 2:
            return fit
        if fit[0]:
            first = first if first and first[0] and first[1] >= named else fit
            continue
        first = first or fit
    return first or _NO_FIT


def _with_delimiter(delimiter: str, header: Sequence[str]) -> Any:
    """A dialect of ``delimiter`` and ``"``; values after ``, `` lose their leading space
    when the header (its first line) writes every delimiter so."""
    line = header[0] if header else ""
    spaced = line.count(delimiter) > 0 and line.count(delimiter + " ") == line.count(delimiter)
    return type("Detected", (csv.excel,), {"delimiter": delimiter, "skipinitialspace": spaced})


def _records(lines: Sequence[str], dialect: Any) -> list[tuple[list[str], int]]:
    """Records of ``lines`` with the number of lines read up to the end of each."""
    reader = csv.reader(lines, dialect)
    out = []
    try:
        for row in reader:
            out.append((row, reader.line_num))
    except csv.Error:
        pass  # the header sits above; damage below it is judged line by line later
    return out


def _shown(line: str) -> str:
    line = line.rstrip("\r\n")
    return line if len(line) <= _SHOWN else line[:_SHOWN] + f"... ({len(line):,} characters)"


class _Reader:
    """Data lines -> checked records; the state is only where the header left off."""

    def __init__(
        self, path: Path, dialect: Any, names: list[str], header_len: int, batch_lines: int
    ) -> None:
        self.path, self.dialect, self.names = path, dialect, names
        self.width, self.header_len = len(names), header_len
        self.batch_lines = batch_lines
        self.delimiter = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}.get(
            dialect.delimiter, repr(dialect.delimiter)
        )

    def batches(self, stream: TextIO, head: list[str], number: int) -> Iterator[CsvBatch]:
        """Batches of records from ``head`` (starting at line ``number``) and the rest of
        ``stream``; the last record of a batch waits for the next, as it may go on there.

        The next lines are read before a batch is cut, so the file's last batch holds its
        last record: without that, every file longer than the header search ended with a
        batch of one row, which was read alone (its date order and decimal mark decided
        by itself, see ``schema.Evidence``)."""
        with stream:
            carry, fresh = head, self._next_lines(stream)
            while True:
                ahead = self._next_lines(stream) if fresh else []
                lines = carry + fresh
                end = not ahead
                if not lines:
                    return
                batch, used = self._batch(lines, number, end)
                if batch.numbers or batch.rejects or batch.blanks:
                    yield batch
                carry, number, fresh = lines[used:], number + used, ahead
                if end and not carry:
                    return

    def _next_lines(self, stream: TextIO) -> list[str]:
        return _decoded(self.path, stream, lambda s: list(itertools.islice(s, self.batch_lines)))

    def _batch(self, lines: list[str], number: int, end: bool) -> tuple[CsvBatch, int]:
        """Records of ``lines`` (starting at line ``number``) and how many lines they used."""
        whole = lines if end else lines[:-1]
        fast = self._plain(whole, number) or self._fast(whole, number)
        if fast is not None:
            return fast, len(lines) if end else len(lines) - 1
        return self._careful(lines, number, end)

    def _plain(self, lines: list[str], number: int) -> CsvBatch | None:
        """No quote, no blank row, every line the header's length: split by column at once.

        Most large exports look like this; splitting the whole batch on the delimiter is
        several times faster than a record at a time.
        """
        d = self.dialect
        if not lines or d.skipinitialspace or d.escapechar:
            return None
        text = "".join(lines)
        if d.quotechar in text or min(map(len, lines)) <= 3 * self.header_len + 2:
            return None  # quotes, or perhaps a blank row: the record path decides
        if max(map(len, lines)) > csv.field_size_limit():
            return None  # perhaps a value over the limit: the record path rejects it
        if set(map(str.count, lines, itertools.repeat(d.delimiter))) != {self.header_len - 1}:
            return None
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        cells = text.removesuffix("\n").replace("\n", d.delimiter).split(d.delimiter)
        n, step = len(lines), self.header_len
        if len(cells) != n * step:
            return None  # a line break inside a line: cannot happen, but never guess
        columns = [cells[i::step] for i in range(step)]
        if any(any(c) for c in columns[self.width :]):
            return None
        return CsvBatch(numbers=list(range(number, number + n)), columns=columns[: self.width])

    def _fast(self, lines: list[str], number: int) -> CsvBatch | None:
        """Every line one whole record of the header's length: no check per record needed."""
        try:
            rows = list(csv.reader(lines, self.dialect))
        except csv.Error:
            return None
        if len(rows) != len(lines):
            return None  # some record spans lines
        lengths = set(map(len, rows))
        if not lengths <= {self.header_len, 0}:
            return None
        if self.header_len > self.width and any(any(r[self.width :]) for r in rows):
            return None
        numbers = list(range(number, number + len(rows)))
        short = 3 * self.header_len + 2  # a blank row is delimiters, perhaps quotes and spaces
        if 0 in lengths or any(
            is_blank(r) for r, line in zip(rows, lines, strict=True) if len(line) <= short
        ):
            kept = [(r, n) for r, n in zip(rows, numbers, strict=True) if r and not is_blank(r)]
            blanks = sorted(set(numbers) - {n for _, n in kept})
            rows, numbers = [r for r, _ in kept], [n for _, n in kept]
            if self.header_len > self.width:
                rows = [r[: self.width] for r in rows]
            return CsvBatch(rows, numbers, blanks=blanks)
        if self.header_len > self.width:
            rows = [r[: self.width] for r in rows]
        return CsvBatch(rows, numbers)

    def _careful(self, lines: list[str], number: int, end: bool) -> tuple[CsvBatch, int]:
        """Record by record; a bad record rejects its first line and parsing restarts after it."""
        batch = CsvBatch()
        pos = 0
        while pos < len(lines):
            reader = csv.reader(itertools.islice(lines, pos, None), self.dialect)
            done = 0  # lines of lines[pos:] used by accepted records
            while True:
                start = pos + done
                try:
                    row = next(reader)
                except StopIteration:
                    return batch, len(lines)
                except csv.Error as exc:
                    batch.rejects.append(self._reject(lines[start], number + start, str(exc)))
                    pos = start + 1
                    break
                span = reader.line_num - done
                if not end and start + span >= len(lines):
                    if start > 0:  # may go on in the next batch: read it again there
                        return batch, start
                    span = len(lines)  # one "record" filling a whole batch is damage
                problem = self._problem(row, lines[start : start + span])
                if problem:
                    column, reason = problem
                    batch.rejects.append(
                        SourceReject(number + start, column, self._shown(lines[start]), reason)
                    )
                    pos = start + 1
                    break
                done += span
                if not is_blank(row):
                    batch.rows.append(row[: self.width] + [""] * (self.width - len(row)))
                    batch.numbers.append(number + start)
                else:
                    batch.blanks.append(number + start)
        return batch, len(lines)

    def _problem(self, row: list[str], lines: list[str]) -> tuple[str, str] | None:
        """Why a record cannot be trusted: (column, reason), or None when it can."""
        if len(lines) > 1:
            # A line inside a quoted value that reads as a whole record by itself: the
            # quote is a stray one, not a value with line breaks (a note, an address).
            swallowed = self.header_len >= 2 and any(
                len(next(csv.reader([line], self.dialect), [])) == self.header_len
                for line in lines[1:]
            )
            opened = next((i for i, v in enumerate(row) if "\n" in v or "\r" in v), len(row) - 1)
            column = self.names[opened] if opened < self.width else ""
            if swallowed or len(row) != self.header_len:
                return column, (
                    f"a quote opened in {column or 'this line'} is not closed on its line: it "
                    f"would take in the next {len(lines) - 1:,} line(s); this line is not loaded "
                    "and reading goes on at the next line (fix the quote and load again)"
                )
        if not row or is_blank(row):
            return None
        if len(row) < self.width or (len(row) > self.width and any(row[self.width :])):
            return "", (
                f"{len(row)} values where the header has {self.width}: a {self.delimiter} too "
                "many or missing, or a stray quote; this line is not loaded"
            )
        return None

    def _reject(self, line: str, number: int, error: str) -> SourceReject:
        if "field larger than field limit" in error:
            reason = (
                f"a value is longer than {csv.field_size_limit():,} characters (or a quote is "
                "never closed); this line is not loaded"
            )
        else:
            reason = f"the line cannot be read as CSV ({error}); it is not loaded"
        return SourceReject(number, "", self._shown(line), reason)

    def _shown(self, line: str) -> str:
        """The line as a reject shows it: a cell under a header naming a secret as ***."""
        return _shown(hidden_line(line, self.names, self.dialect))

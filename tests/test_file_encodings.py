"""CSV files Excel saved outside Western Europe (find56_intl item 2).

Excel's plain "CSV (Comma delimited)" writes the system's ANSI code page: Windows-1252
in France or Germany, Shift-JIS (cp932) in Japan, Windows-1250 in Poland, Windows-1251
in Russia. Every such file decoded as Windows-1252 (which maps almost every byte), so
every name became mojibake, silently. Now the text decides; a file it cannot decide is
one line naming the file and the config key, ``[source] encoding``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smbml_connect.connectors.files.csv_lines import detect_encoding
from smbml_connect.connectors.files.source import FilesSource
from smbml_connect.errors import SourceFatalError
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.ports import RunResult
from smbml_connect.store import Store

JAPANESE = [("さくら", "山田"), ("太郎", "佐々木"), ("ゆい", "高橋"), ("健一", "伊藤"),
            ("美咲", "渡辺"), ("翔", "中村"), ("あおい", "小林"), ("大輔", "加藤")]  # fmt: skip
POLISH = [("Łukasz", "Wójcik"), ("Małgorzata", "Żółkiewska"), ("Paweł", "Kowalczyk"),
          ("Zofia", "Wiśniewska"), ("Jędrzej", "Dąbrowski"), ("Agnieszka", "Szczęsna"),
          ("Michał", "Woźniak"), ("Bożena", "Kołodziej")]  # fmt: skip
RUSSIAN = [("Иван", "Петров"), ("Ольга", "Смирнова"), ("Дмитрий", "Кузнецов"),
           ("Анна", "Попова"), ("Сергей", "Васильев"), ("Мария", "Соколова")]  # fmt: skip
CHINESE = [("张伟", "北京市"), ("王芳", "上海市"), ("李娜", "广州市"), ("刘洋", "深圳市"),
           ("陈静", "杭州市")]  # fmt: skip
KOREAN = [("김민준", "서울"), ("이서연", "부산"), ("박지훈", "대구"), ("최수아", "인천"),
          ("정우진", "광주")]  # fmt: skip
FRENCH = [("Hélène", "Lefèvre"), ("François", "Gaël"), ("Zoë", "Brûlé"), ("Céline", "Dupré"),
          ("Noël", "Garçon"), ("Anaïs", "Mathé")]  # fmt: skip
GERMAN = [("Jürgen", "Müller"), ("Grete", "Weiß"), ("Jörg", "Schäfer"), ("Änne", "Groß"),
          ("Uwe", "Köhler"), ("Björn", "Krüger")]  # fmt: skip


def _shop(folder: Path, names: list[tuple[str, str]], encoding: str, sep: str = ",") -> None:
    """Customers as Excel saves them in that locale (CRLF, its code page), one order each."""
    folder.mkdir()
    rows = [sep.join(["Customer ID", "First Name", "Last Name", "Email", "City"])]
    for n, (first, last) in enumerate(names, 1):
        rows.append(sep.join([f"K{n:03d}", first, last, f"k{n}@example.com", last[:2] + "shi"]))
    (folder / "customers.csv").write_bytes(("\r\n".join(rows) + "\r\n").encode(encoding))
    orders = ["Order ID,Customer ID,Order Date,Total"] + [
        f"O{n:03d},K{n:03d},2025-0{1 + n % 9}-1{n % 9},{1200 + 70 * n}" for n in range(1, 7)
    ]
    (folder / "orders.csv").write_text("\r\n".join(orders) + "\r\n", encoding="ascii")


def _run(folder: Path, store: Store, encoding: str | None = None) -> RunResult:
    source = FilesSource(folder, encoding=encoding)
    return run_pipeline(source, store, RunOptions(steps=[]))


def _names(store: Store) -> list[tuple[str, str]]:
    contacts = store.read("contacts").sort_values("contact_id")
    return list(zip(contacts["first_name"], contacts["last_name"], strict=True))


@pytest.mark.parametrize(
    ("names", "encoding", "sep", "said"),
    [
        (JAPANESE, "cp932", ",", "Japanese (Shift-JIS)"),
        (POLISH, "cp1250", ";", "Central European (Windows-1250)"),
        (RUSSIAN, "cp1251", ";", "Cyrillic (Windows-1251)"),
        (CHINESE, "gb18030", ",", "Simplified Chinese (GBK)"),
        (KOREAN, "cp949", ",", "Korean (Windows-949)"),
    ],
)
def test_a_file_in_its_countrys_code_page_is_read_in_it(
    tmp_path: Path, store: Store, names, encoding, sep, said
):
    _shop(tmp_path / "shop", names, encoding, sep)
    result = _run(tmp_path / "shop", store)
    assert result.loaded["contacts"] == len(names)
    assert _names(store) == names
    notes = [n.message for n in result.notices if "is not UTF-8" in n.message]
    assert len(notes) == 1 and said in notes[0] and f'encoding = "{encoding}"' in notes[0]


@pytest.mark.parametrize("names", [FRENCH, GERMAN])
def test_western_files_still_read_as_windows_1252(tmp_path: Path, store: Store, names):
    _shop(tmp_path / "shop", names, "cp1252", ";")
    assert detect_encoding(tmp_path / "shop" / "customers.csv").encoding == "cp1252"
    result = _run(tmp_path / "shop", store)
    assert _names(store) == names
    assert not [n for n in result.notices if "is not UTF-8" in n.message]


def test_a_file_too_short_to_tell_is_one_line_naming_the_file_and_the_key(
    tmp_path: Path, store: Store
):
    """Two Polish names fit Windows-1250 and Turkish Windows-1254 alike: not guessed."""
    _shop(tmp_path / "shop", POLISH[:2], "cp1250", ";")
    with pytest.raises(SourceFatalError) as refused:
        detect_encoding(tmp_path / "shop" / "customers.csv")
    line = str(refused.value)
    assert "customers.csv" in line and '[source] encoding = "cp1250"' in line
    assert "£ukasz" in line and "\n" not in line
    result = _run(tmp_path / "shop", store)
    assert "contacts" in result.incomplete and "encoding cannot be told" in result.errors[0]

    _run(tmp_path / "shop", store, encoding="cp1250")  # stated: read so
    assert _names(store) == POLISH[:2]

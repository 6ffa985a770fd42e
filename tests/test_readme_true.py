"""What the README promises a new user, checked against what the code does."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smbml_connect import registry

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[tuple[int, str]]:
    """(offset, text) of each fenced block in ``language``, in README order."""
    fence = re.compile(rf"```{language}\n(.*?)```", re.S)
    return [(m.start(), m.group(1)) for m in fence.finditer(README)]


def _uncommented(block: str) -> str:
    """The config as a user makes it by removing the '# ' in front of every example line."""
    lines = []
    for line in block.splitlines():
        if line.startswith("#"):
            line = line[2:] if line.startswith("# ") else line[1:]
        lines.append(line)
    return "\n".join(lines)


def test_every_config_key_the_readme_shows_works_where_it_is_shown(tmp_path: Path):
    import tomllib

    block = next(text for _, text in _blocks("toml") if 'kind = "files"' in text)
    assert "# store = " in block
    data = tomllib.loads(_uncommented(block))  # every commented example line switched on
    (tmp_path / "shop.xlsx").write_bytes(b"")
    config = registry.parse_config(data, base=tmp_path)
    assert config is not None
    assert data["store"] == "smbml.sqlite"  # a top-level key, not one of a destination's


def test_smbml_is_found_as_written_once_the_readme_has_activated_the_environment(
    tmp_path: Path,
):
    first_use = min(
        offset
        for offset, text in _blocks("bash")
        if any(line.startswith("smbml ") for line in text.splitlines())
    )
    activations = [o for o, text in _blocks("bash") if "source .venv/bin/activate" in text]
    assert activations and activations[0] <= first_use
    activate = Path(sys.prefix) / "bin" / "activate"
    if not activate.exists() or shutil.which("bash") is None:
        pytest.skip(
            f"the tests do not run in a virtual environment with bin/activate ({sys.prefix})"
        )
    completed = subprocess.run(
        ["bash", "-c", f"source {activate} && command -v smbml && smbml demo --help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[0] == str(Path(sys.prefix) / "bin" / "smbml")


def test_the_readme_names_every_file_the_demo_writes(tmp_path: Path):
    completed = subprocess.run(
        [sys.executable, "-m", "smbml_connect", "demo", "--out", str(tmp_path / "out"),
         "--quiet", "--contacts", "200"],
        capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
             "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_STATE_HOME": str(tmp_path / "state")},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    section = README[README.index("`demo` builds") : README.index("## Using your own data")]
    promised = re.search(r"writes\s+(\w+)\s+files", section)
    assert promised is not None
    numbers = {"two": 2, "three": 3, "four": 4}
    assert numbers[promised.group(1)] == len(written)
    named = re.findall(r"^- `([^`]+)`:", section, re.M)
    assert sorted(named) == written


def test_the_quickstart_demo_tells_where_the_smbml_command_is(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    sys.path.insert(0, str(ROOT))
    try:
        import quickstart
    finally:
        sys.path.remove(str(ROOT))
    monkeypatch.chdir(ROOT)  # the README's case: the demo run in the clone
    quickstart.next_steps()
    printed = capsys.readouterr().out
    assert "`source .venv/bin/activate`" in printed and str(quickstart.BIN / "smbml") in printed
    monkeypatch.chdir(tmp_path)  # run from another folder: the path must still be right
    quickstart.next_steps()
    assert f"`source {ROOT / '.venv' / 'bin' / 'activate'}`" in capsys.readouterr().out


def test_the_scheduler_and_command_examples_keep_comments_where_their_tools_allow_them():
    """find55_readme item 4: the systemd unit had `EnvironmentFile=... # SMBML_...`, and
    systemd takes only whole lines as comments, so the path read ended in the comment and
    every timed run failed. TOML and shells take a comment after a value; these do not."""
    units = _blocks("ini")
    assert units
    for _, block in units:  # systemd: whole-line comments (# or ;), sections, Key=value
        for line in block.splitlines():
            text = line.strip()
            if not text or text[0] in "#;" or re.fullmatch(r"\[\w+\]", text):
                continue
            key, sign, value = text.partition("=")
            assert sign and re.fullmatch(r"-?[A-Z][A-Za-z]+", key), line
            assert not re.search(r"\s[#;]", value), f"a comment inside a setting: {line}"
    for _, block in _blocks("cron"):  # five time fields and a command, where % is a newline
        for line in block.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                fields = line.split(None, 5)
                assert len(fields) == 6, line
                assert "%" not in fields[5].replace("\\%", ""), line
    for _, block in _blocks("bat"):  # cmd.exe has REM, no #: it passed "#" on to smbml
        assert all("#" not in line for line in block.splitlines()), block

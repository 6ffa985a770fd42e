"""The ``smbml`` command: thin wrappers that parse, call the pipeline and print.

Errors reach the user as one line and a non-zero exit code; the detail goes to the
log file (redacted), whose path the error line names.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import pandas as pd
import platformdirs
from click.core import ParameterSource
from rich.console import Console

from smbml_connect import __version__
from smbml_connect.credentials import RedactingFilter, redact
from smbml_connect.errors import (
    ConfigError,
    DataValidationError,
    SmbmlError,
    Terminated,
    run_recorded,
)
from smbml_connect.log_file import PrivateLog
from smbml_connect.redaction import escape_controls

if TYPE_CHECKING:
    from smbml_connect.config import Config
    from smbml_connect.connector import AuthSpec
    from smbml_connect.ports import RunResult

__all__ = ["main"]

log = logging.getLogger("smbml_connect")
console = Console(stderr=True, highlight=False)


# What a source's records that are not rows of a table were (``RunResult.not_loaded``).
_NOT_LOADED = {
    "order_lines": "HubSpot line items of a deal or quote, not of an order",
    "activities": "HubSpot calls, emails or notes about no contact, emails that bounced",
}


def _echo(message: str = "", *, reveal: bool = False, **styles: Any) -> None:
    """Every line the command prints: lines quote source text (names, values, stage
    labels, a line of a file that could not be read), so anything shaped like a secret is
    shown as *** and control characters as escapes, not obeyed by the terminal. ``reveal``:
    the one line meant to show a secret (the pairing code `smbml serve` gives)."""
    text = escape_controls(message if reveal else redact(message))
    if styles:
        click.secho(text, **styles)
    else:
        click.echo(text)


def default_log_path() -> Path:
    return Path(platformdirs.user_log_dir("smbml_connect", appauthor=False)) / "smbml.log"


def _setup_logging(path: Path, verbose: bool, chosen: bool = True) -> Path | None:
    """The log file, or None when the default one cannot be written (a service account
    whose home is not writable): the command goes on and says so in one line. A file the
    user chose with --log-file that cannot be written is an error."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
        root.removeHandler(old)
        old.close()  # dropped unclosed, its file lingered until garbage collection
    if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        # without any handler, Python prints a logged error's whole traceback on stderr
        root.addHandler(logging.NullHandler())
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    try:
        handler = _log_file(path)
    except OSError as exc:
        why = (exc.strerror or str(exc)).lower()
        if chosen:
            raise ConfigError(
                f"cannot write the log file {path} ({why}): choose another with --log-file PATH"
            ) from None
        _echo(
            f"warning: cannot write the log in {path.parent} ({why}); going on without a log "
            "file (choose one with --log-file PATH)",
            fg="yellow",
            err=True,
        )
        return None
    root.addHandler(handler)
    return path


def _log_file(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = PrivateLog(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    for n in range(1, handler.backupCount + 1):  # rotated by an older release: 0644
        older = path.with_name(f"{path.name}.{n}")
        if older.exists() and hasattr(os, "fchmod"):
            older.chmod(0o600)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    return handler


@contextmanager
def _steps(quiet: bool) -> Iterator[Callable[[str], None]]:
    """A spinner that names the current step, so long steps show they are alive."""
    if quiet or not console.is_terminal:
        yield lambda message: log.info(message)
        return
    with console.status("Starting ...") as status:

        def update(message: str) -> None:
            log.info(message)
            status.update(f"{message} ...")

        yield update


@contextmanager
def _quiet_when_the_reader_leaves() -> Iterator[None]:
    """`smbml status | head`, `smbml run | head`: the reader leaving early is not an error."""
    try:
        yield
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at nothing so that flush is quiet too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # no real file descriptor (a test runner's stream)
            pass
        finally:
            os.close(devnull)
        sys.exit(0)


_RECORDED = ("run", "demo", "schedule")  # commands whose stopped run the store records


@contextmanager
def _ended_by_sigterm() -> Iterator[None]:
    """SIGTERM (a shutdown, `systemctl stop`, `kill`) raises `Terminated`: by default it
    ends the process where it stands, so a run stayed "running" (then "interrupted") with
    nothing of what it loaded or left out said (find56_weeks item 1). `smbml serve`'s
    server puts its own handler in place while it runs (uvicorn stops gracefully)."""

    def ended(signum: int, frame: object) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, ended)
    except ValueError:  # not the main thread (an embedding app): nothing to catch with
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stopped_run(ctx: click.Context, exc: BaseException) -> str:
    """What a stop left of a run: recorded as stopped, or none begun yet (a stop while
    the config was read said `smbml status` showed a run it had no record of)."""
    if ctx.invoked_subcommand not in _RECORDED:
        return "."
    if run_recorded(exc):
        return ": `smbml status` shows the run as stopped."
    return ": stopped before the run began; nothing was read."


class _Group(click.Group):
    """Turn every expected error into one line and an exit code; log the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _quiet_when_the_reader_leaves(), _ended_by_sigterm():
                return super().invoke(ctx)
        except SmbmlError as exc:
            log.error("%s", exc, exc_info=True)
            _echo(f"error: {redact(str(exc))}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Terminated as exc:
            log.info("stopped by SIGTERM")
            _echo(
                "Stopped: the system asked smbml to end (SIGTERM)" + _stopped_run(ctx, exc),
                err=True,
            )
            sys.exit(143)  # 128 + SIGTERM, what a shell reports for a command it ended
        except KeyboardInterrupt as exc:  # click would print "Aborted!", nothing of what stopped
            log.info("stopped by Ctrl+C")
            _echo("Stopped by Ctrl+C" + _stopped_run(ctx, exc), err=True)
            sys.exit(130)  # the shell's code for a command ended by Ctrl+C
        except PermissionError as exc:  # a file or folder the user may not open: not a bug
            log.error("permission denied", exc_info=True)
            where = exc.filename or "a file it needs"
            _echo(
                f"error: cannot open {redact(str(where))}: permission denied (let your user "
                "read it and open the folders it is in, then run again)",
                fg="red",
                err=True,
            )
            sys.exit(1)
        except Exception as exc:
            log.exception("unexpected error")
            log_path = ctx.obj.get("log_path") if ctx.obj else None
            details = (
                f"details in {log_path}"
                if log_path
                else "no log file: run again with --log-file PATH for the details"
            )
            _echo(
                f"error: unexpected {type(exc).__name__}: {redact(str(exc))[:200]} ({details})",
                fg="red",
                err=True,
            )
            sys.exit(70)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smbml")
@click.option(
    "--log-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the detailed log goes (default: your user log folder).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.pass_context
def cli(ctx: click.Context, log_file: Path | None, verbose: bool) -> None:
    """smbml_connect: predictions for your business, from your CRM or spreadsheets.

    \b
    Start here:
      smbml demo                 try it on a sample business, no account needed
      smbml run -c smbml.toml    run on your own data, as the config file says
      smbml status               what the last runs did, and what was rejected
      smbml inspect              which tabs and headers feed which tables
      smbml schedule --every 1h  keep Google Sheets result tabs fresh
    """  # fmt: skip
    ctx.obj = {"log_path": None}
    ctx.obj["log_path"] = _setup_logging(
        log_file or default_log_path(), verbose, log_file is not None
    )


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word if n == 1 else word + 's'}"


def _print_result(result: RunResult, outputs: list[Path]) -> None:
    counts = result.counts()
    loaded = ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in counts["loaded"].items() if n)
    _echo(f"Loaded {loaded}." if loaded else "Nothing loaded.")
    for step in result.steps.values():
        for line in step.summary:
            _echo(f"  {line}")
    skipped = result.rows_skipped
    if result.rejected_rows or result.cleared_values or skipped:
        held = f", {_plural(skipped, 'row')} skipped (blank, total or heading rows, or records of another kind such as supplier bills or bank withdrawals)"
        _echo(
            f"{_plural(result.rejected_rows, 'row')} rejected{held if skipped else ''} and "
            f"{_plural(result.cleared_values, 'value')} left empty: see the Rejects tab "
            "(or `smbml status`)."
        )
    if result.notices:
        _echo("Data checks:")
        for notice in result.notices:
            _echo(f"  {notice.message}")
    for table, n in result.not_loaded.items():
        example = _NOT_LOADED.get(table, _NOT_LOADED["order_lines"])
        are, were = ("is", "was") if n == 1 else ("are", "were")
        _echo(
            f"{_plural(n, 'source record')} {are} not {table.replace('_', ' ')} (e.g. {example}) "
            f"and {were} left out."
        )
    if result.consent_skipped:
        _echo(f"{_plural(result.consent_skipped, 'contact')} opted out of processing: not scored.")
    unreadable = getattr(result, "consent_unreadable", 0)
    if unreadable:
        _echo(
            f"{unreadable:,} of them have a consent value that could not be read, so it counts "
            "as an opt-out: see the Rejects tab (action 'treated as opt-out')."
        )
    said = {  # a Sheets push's lines are printed under it, one a line, not twice
        f"{push.destination}: {'; '.join(push.unwritten)}"
        for push in result.pushes
        if push.kind == "sheets" and push.unwritten
    }
    for error in result.errors:
        if error not in said:
            _echo(f"problem: {error}")
    for line in result.skipped:
        _echo(f"skipped: {line}")
    for push in result.pushes:
        if push.kind == "sheets":  # the tabs written, then what was not kept or left
            _echo(f"{push.destination}: {_plural(push.written, 'row')} written.")
            for line in [*push.detail, *push.notes, *push.unwritten]:
                _echo(f"  {line}")
            continue
        if push.kind != "crm":
            continue  # files are named below
        verb = "would write" if "dry run" in push.destination else "wrote"
        _echo(
            f"{push.destination}: {verb} {push.written:,} values, {push.unchanged:,} unchanged, "
            f"{push.not_written:,} not written."
        )
        for line in [*push.detail, *push.unwritten]:
            _echo(f"  {line}")
        for record, reason in push.failed[:10]:
            _echo(f"  not written: {record}: {reason}")
    for path in outputs:
        _echo(f"Wrote {path}")


F = TypeVar("F", bound=Callable[..., Any])
DEMO_STORE = "demo-store.sqlite"  # where `smbml demo` keeps its store, in --out


def _config_option(help_text: str) -> Callable[[F], F]:
    """The -c/--config option every command shares; only its help differs."""
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path("smbml.toml"),
        show_default=True,
        help=help_text,
    )


def _store_option(help_text: str) -> Callable[[F], F]:
    """The --store option every command shares; only its help differs."""
    return click.option(
        "--store",
        "store_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=help_text,
    )


@cli.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder for results.xlsx and report.html.",
)
@_store_option("Store file (default: a fresh demo-store.sqlite in --out).")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the sample business.")
@click.option(
    "--contacts",
    type=click.IntRange(50, 200_000),
    default=2000,
    show_default=True,
    help="How many contacts the sample business has.",
)
@click.option("--quiet", is_flag=True, help="No progress display.")
def demo(out_dir: Path, store_path: Path | None, seed: int, contacts: int, quiet: bool) -> None:
    """Build a sample business and run everything on it: no account needed.

    Writes results.xlsx and report.html into --out and prints where they are.
    """  # fmt: skip
    from smbml_connect.connectors.sample.source import SampleSource
    from smbml_connect.pipeline import RunOptions, run_pipeline
    from smbml_connect.report import HtmlReport, ResultsWorkbook
    from smbml_connect.sample import SampleConfig, generate
    from smbml_connect.steps import STEPS
    from smbml_connect.store import STORE_VARIABLE, Store, serve_command

    out_dir.mkdir(parents=True, exist_ok=True)
    store_file = store_path or out_dir / DEMO_STORE
    if store_path is None:  # a demo starts fresh every time
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store_file}{suffix}").unlink(missing_ok=True)
    outputs = [out_dir / "results.xlsx", out_dir / "report.html"]
    with _steps(quiet) as progress:
        progress("Generating the sample business")
        business = generate(SampleConfig(seed=seed, contacts=contacts))
        with Store(store_file) as store:
            result = run_pipeline(
                SampleSource(business),
                store,
                RunOptions(steps=STEPS, as_of=business.as_of, kind="demo"),
                [ResultsWorkbook(outputs[0]), HtmlReport(outputs[1])],
                progress,
            )
    _print_result(result, [p.resolve() for p in outputs])
    _echo(
        "The Instructions tab's =SMB.LEADSCORE_OF example reads this demo's store: for the "
        f"Excel add-in, run {serve_command(store_file)} (xlwings add-in: set "
        f"{STORE_VARIABLE} to {store_file.resolve()})."
    )


def _source_kinds() -> list[str]:
    from smbml_connect import registry

    return [c.kind for c in registry.connectors() if c.make_source is not None]


def _read_config(config_path: Path, source: str | None = None) -> Config:
    """The config file, with --source overriding its kind; without a file, the defaults."""
    from smbml_connect import registry
    from smbml_connect.config import read_config_file

    if not config_path.exists() and source is not None:
        return registry.parse_config({"source": {"kind": source}})
    if source is None:
        return registry.load_config(config_path)
    data = read_config_file(config_path)
    table = data.setdefault("source", {})
    if isinstance(table, dict) and table.get("kind") != source:
        data["source"] = {k: v for k, v in table.items() if k in ("tables", "mapping")}
        data["source"]["kind"] = source
    return registry.parse_config(data, base=config_path.resolve().parent)


class _SourceChoice(click.Choice):
    """The registered source kinds, read when the command runs (plugins may add some)."""

    def __init__(self) -> None:
        super().__init__([])

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        self.choices = tuple(_source_kinds())
        return super().convert(value, param, ctx)

    def get_metavar(self, param: Any, ctx: Any = None) -> str:
        self.choices = tuple(_source_kinds())
        return "[" + "|".join(self.choices) + "]"


class _RunCommand(click.Command):
    """`smbml run --help` ends with the registered sources, each in one line."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from smbml_connect import registry

        rows = [(c.kind, c.summary) for c in registry.connectors() if c.make_source]
        with formatter.section("Sources"):
            formatter.write_dl(rows)


@cli.command(cls=_RunCommand)
@_config_option("The config file.")
@_store_option("Store file (overrides the config).")
@click.option(
    "--source",
    type=_SourceChoice(),
    default=None,
    help="Where to pull from (overrides the config; a source that needs no keys of its own, "
    "such as hubspot, needs no config file).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Pull and score, but only show what would be written to HubSpot.",
)
@click.option(
    "--accept-removals",
    is_flag=True,
    help="Leave out the rows gone from your files, and remove the records HubSpot no longer "
    "lists, even when over half of a table went at once (otherwise taken for a file being "
    "replaced or synced, or a HubSpot account emptied by mistake, and they are kept).",
)
@click.option(
    "--switch-account",
    is_flag=True,
    help="Replace this store's HubSpot records with those of the account the token reads: "
    "remove the records read before (and everything computed from them), then read the "
    "account whole. For a token of another account, which otherwise stops the run before "
    "anything is read or written. Not with --dry-run: it changes the store.",
)
@click.option("--quiet", is_flag=True, help="No progress display.")
def run(
    config_path: Path,
    store_path: Path | None,
    source: str | None,
    dry_run: bool,
    accept_removals: bool,
    switch_account: bool,
    quiet: bool,
) -> None:
    """Pull your data, compute everything, and write the results where the config says."""  # fmt: skip
    from filelock import Timeout

    from smbml_connect.runner import build_run
    from smbml_connect.schedule import run_lock
    from smbml_connect.store import default_store_path

    if switch_account and dry_run:
        raise click.UsageError(
            "--switch-account removes records from the store, which a dry run must not do: "
            "run it without --dry-run"
        )
    config = _read_config(config_path, source)
    # The scheduled run's lock: two runs at once would write one store and one set of
    # result tabs together, each tab from whichever finished it last.
    path = store_path or config.store or default_store_path()
    try:
        lock = run_lock(path)
    except Timeout:
        raise click.ClickException(
            f"another run of {path} is going (a scheduled one?): run again when it has finished"
        ) from None
    try:
        with _steps(quiet) as progress:
            result, outputs = build_run(
                config,
                path,
                progress,
                dry_run=dry_run,
                accept_removals=accept_removals,
                switch_account=switch_account,
            )
    finally:
        lock.release()
    _print_result(result, outputs)
    if result.status != "ok":
        sys.exit(1)


def _auth_command(spec: AuthSpec) -> click.Command:
    """`smbml auth <name>` for one connector's secret: read it, check it, keep it."""

    def command(config_path: Path, token_stdin: bool = False, key_file: Path | None = None) -> None:
        from smbml_connect import registry
        from smbml_connect.credentials import Secret, store_secret

        config = (
            registry.load_config(config_path)
            if config_path.exists()
            else registry.parse_config({"source": {"kind": "sample"}})
        )
        label = spec.credential.label
        if spec.input == "token":
            if token_stdin:
                raw = sys.stdin.readline().strip()
            else:
                raw = click.prompt(label, hide_input=True).strip()
            if not raw:
                raise click.UsageError("no token given")
        else:
            raw = key_file.read_text(encoding="utf-8") if key_file else sys.stdin.read()
            raw = raw.strip()
            if not raw:
                raise click.UsageError("no key given: pass --key-file or pipe the JSON in")
        secret = Secret(raw)
        who = spec.check(config, secret)
        store_secret(spec.credential, secret.reveal(), config.profile)
        what = "Token" if spec.input == "token" else "Key"
        _echo(f"{what} accepted ({who}) and saved in the keyring for profile {config.profile!r}.")

    params: list[click.Parameter] = [
        click.Option(
            ["-c", "--config", "config_path"],
            type=click.Path(dir_okay=False, path_type=Path),
            default=Path("smbml.toml"),
            show_default=True,
            help="Config file (for the profile name and what to check access to; optional).",
        )
    ]
    if spec.input == "token":
        params.append(
            click.Option(
                ["--token-stdin"], is_flag=True, help="Read the token from standard input."
            )
        )
    else:
        params.append(
            click.Option(
                ["--key-file"],
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                default=None,
                help="The JSON key file (otherwise read from standard input).",
            )
        )
    return click.Command(spec.credential.name, callback=command, params=params, help=spec.help)


class _AuthGroup(click.Group):
    """One subcommand per registered connector that needs a secret."""

    def _specs(self) -> dict[str, Any]:
        from smbml_connect import registry

        return {c.auth.credential.name: c.auth for c in registry.connectors() if c.auth}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self._specs())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = self._specs().get(cmd_name)
        return _auth_command(spec) if spec else None


@cli.group(cls=_AuthGroup)
def auth() -> None:
    """Save the credentials a source needs in your system keyring."""


@cli.command()
@_config_option("The config file.")
def inspect(config_path: Path) -> None:
    """Show which tab or file feeds each table and how its headers were matched.

    Nothing is stored. Fix a wrong match with [source.mapping.<table>] in the config,
    e.g. "Cust Mail" = "email".
    """  # fmt: skip
    from smbml_connect import registry
    from smbml_connect.connector import Inspectable
    from smbml_connect.runner import connector_context, make_source
    from smbml_connect.secret_columns import left_out_columns

    config = registry.load_config(config_path)
    if not registry.connector(config.source.kind).spreadsheet:
        _echo(
            f"inspect shows how spreadsheet tabs and headers are matched; a {config.source.kind} "
            "source has fixed fields (HubSpot: see the README, and [source.mapping.<table>])."
        )
        return
    source = make_source(connector_context(config))
    if not isinstance(source, Inspectable):
        raise ConfigError(
            f"the {config.source.kind} connector says it is spreadsheet-shaped, but its source "
            "cannot show where tables come from (a bug in that connector)"
        )
    tables = source.available()
    _echo(f"Source: {_source_words(config.source.settings, source.name)}")
    if not tables:  # each file's own reason first: "rename a tab" was all it said
        from smbml_connect.pipeline import nothing_read
        from smbml_connect.ports import ListsNotRead

        lines = source.not_read() if isinstance(source, ListsNotRead) else []
        _show_not_read(source)
        listed = ['each is listed above under "Not read", with why and what to do'] if lines else []
        raise DataValidationError(nothing_read(listed))
    for table in tables:
        frame = source.pull(table)
        where = source.where(table)
        rows = f"{len(frame):,} row" + ("" if len(frame) == 1 else "s")
        _echo(f"\n{table}: {rows}" + (f" from {where!r}" if where else ""))
        mapping = source.header_mappings.get(table)
        for line in mapping.describe(left_out_columns(frame)) if mapping else []:
            _echo(f"  {line}")
        _show_left_out(source, table)
    _show_not_read(source)


def _source_words(settings: object, name: str) -> str:
    """Where the source is, as the config names it (a path, a spreadsheet), not its store
    name: "files:fold#145728" is an id the user never wrote."""
    for key in ("path", "spreadsheet"):
        if (where := getattr(settings, key, None)) is not None:
            return str(where)
    return name.split("#")[0]


def _show_not_read(source: object) -> None:
    """The tabs or files that give no table, each with why (a run says the same)."""
    from smbml_connect.ports import ListsNotRead

    lines = source.not_read() if isinstance(source, ListsNotRead) else []
    if lines:
        _echo("\nNot read:")
    for line in lines:
        _echo(f"  {line}")


def _show_left_out(source: object, table: str, shown: int = 5) -> None:
    """What a run will not load from this table, before it runs: rows that cannot be
    read (rejected), rows that hold no record (skipped), supplier bills (left out) and
    values a known export's layout could not read (left empty)."""
    from smbml_connect.layouts import CLEARED_ACTION, COPY_ROW
    from smbml_connect.ports import ListsUnreadable, SkipsRows
    from smbml_connect.sales import NOT_A_SALE_ROW, REFUND_TAKEN_OFF, SUPPLIER_BILL

    unread = source.unreadable(table) if isinstance(source, ListsUnreadable) else []
    if unread:
        _echo(
            f"  {_plural(len(unread), 'row')} cannot be read; a run rejects "
            f"{'it' if len(unread) == 1 else 'them'} and lists them in `smbml status`:"
        )
        for reject in unread[:shown]:
            _echo(f"    row {reject.row}: {reject.reason}")
        if len(unread) > shown:
            _echo(f"    ... and {len(unread) - shown:,} more")
    listed = source.skipped_rows(table) if isinstance(source, SkipsRows) else None
    if listed is None or listed.empty:
        return
    bill = listed["reason"].astype(str).str.startswith(SUPPLIER_BILL)
    moved = listed["reason"].astype(str).str.startswith(NOT_A_SALE_ROW)
    refund = listed["reason"].astype(str).str.startswith(REFUND_TAKEN_OFF)
    cleared = listed["action"].eq(CLEARED_ACTION)
    copied = listed["reason"].astype(str).str.endswith(COPY_ROW)
    groups = (
        (listed[copied], "hold orders another file holds too (a copy of the export) and will "
         "be skipped:", "holds an order another file holds too (a copy of the export) and will "
         "be skipped:"),
        (listed[~bill & ~moved & ~refund & ~cleared & ~copied], "hold no record (blank, total or header "
         "rows) and will be skipped:", "holds no record (a blank, total or header row) and will "
         "be skipped:"),
        (listed[bill], "are supplier bills (purchases, not sales) and will be left out:",
         "is a supplier bill (a purchase, not a sale) and will be left out:"),
        (listed[moved], "moved money but sold nothing (withdrawals, fees, holds) and will be "
         "left out:", "moved money but sold nothing and will be left out:"),
        (listed[refund], "are refunds that will be taken off the payments they name:",
         "is a refund that will be taken off the payment it names:"),
        (listed[cleared], "have a value that cannot be read; it will be left empty:",
         "has a value that cannot be read; it will be left empty:"),
    )  # fmt: skip
    for rows, many, one in groups:
        if rows.empty:
            continue
        _echo(f"  {_plural(len(rows), 'row')} {many}" if len(rows) > 1 else f"  1 row {one}")
        for row, reason, file in zip(
            rows["source_row"].head(shown),
            rows["reason"].head(shown),
            _files(rows.head(shown)),
            strict=True,
        ):
            _echo(f"    row {row}{f' of {file!r}' if file else ''}: {reason}")
        if len(rows) > shown:
            _echo(f"    ... and {len(rows) - shown:,} more")


def _files(rows: pd.DataFrame) -> list[str]:
    """The file each skipped row is in, when an export of several files says (row 2 of a
    copy set aside is not row 2 of the file read)."""
    from smbml_connect.schema import FILE

    out = []
    for raw in rows.get("row", pd.Series("", index=rows.index)):
        try:
            found = json.loads(raw).get(FILE, "") if isinstance(raw, str) and raw else ""
        except (ValueError, AttributeError):
            found = ""
        out.append(found if isinstance(found, str) else "")
    return out


@cli.command()
@_config_option("The config file (read again before every run).")
@_store_option("Store file (overrides the config).")
@click.option("--every", default=None, help="Run every interval, e.g. 15m, 1h, 1d.")
@click.option("--cron", default=None, help="Run on a cron schedule, e.g. '0 7 * * 1-5'.")
@click.option(
    "--once",
    is_flag=True,
    help="Run once now under the lock and exit (for cron, systemd timers, Task Scheduler).",
)
def schedule(
    config_path: Path, store_path: Path | None, every: str | None, cron: str | None, once: bool
) -> None:
    """Keep the results fresh: one run at a time, each recorded in the store.

    A failed run is logged and the next one still happens. Without --once the command
    keeps running (Ctrl+C stops it); the [schedule] section of the config is used when
    neither --every nor --cron is given.
    """  # fmt: skip
    from smbml_connect.registry import load_config
    from smbml_connect.schedule import Outcome, run_forever, run_once

    def show(outcome: Outcome) -> None:
        colour = {"ok": "green", "partial": "yellow", "skipped": "yellow"}.get(
            outcome.status, "red"
        )
        _echo(f"{pd.Timestamp.now():%Y-%m-%d %H:%M} {outcome.message}", fg=colour)

    if once:
        outcome = run_once(config_path, store_path)
        show(outcome)
        sys.exit(0 if outcome.status in ("ok", "skipped") else 1)
    if every is None and cron is None:
        planned = load_config(config_path).schedule
        every, cron = planned.every, planned.cron
    if every is None and cron is None:
        raise click.UsageError("give --every, --cron or --once (or [schedule] in the config)")
    _echo(f"Refreshing {'every ' + every if every else 'on ' + repr(cron)}; Ctrl+C stops.")
    stopped = run_forever(
        config_path, store_path, every=every, cron=cron, on_outcome=show, on_stop_asked=_stopping
    )
    if stopped == "now":
        _echo("Stopped: the run that was going is recorded as stopped by Ctrl+C.")
        sys.exit(130)  # the shell's code for a command ended by Ctrl+C
    if stopped in ("ended now", "ended between runs"):
        _echo(
            "Stopped: the system asked smbml to end (SIGTERM)"
            + (
                "; the run that was going is recorded as stopped."
                if stopped == "ended now"
                else ", between runs."
            ),
            err=True,
        )
        sys.exit(143)  # 128 + SIGTERM
    _echo("Stopped after the run." if stopped == "after the run" else "Stopped.")


def _stopping() -> None:
    """Said from the Ctrl+C handler, in the middle of whatever was printing: written to the
    terminal at once, since Python refuses to reenter a stream it is writing."""
    line = "Stopping after the current run (Ctrl+C again to stop now).\n"
    try:
        os.write(sys.stderr.fileno(), line.encode(sys.stderr.encoding or "utf-8", "replace"))
    except (OSError, ValueError, AttributeError):  # no real descriptor (a test's stream)
        _echo(line.rstrip("\n"), err=True)


@cli.command()
@_store_option(
    "Store whose synced scores LEADSCORE_OF reads (default: $SMBML_STORE, else the store in "
    "your user data folder)."
)
@click.option("--port", type=click.IntRange(1024, 65535), default=None, help="Port (default 8765).")
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="Another origin allowed to call the API (the add-in's own is always allowed).",
)
@click.option("--new-code", is_flag=True, help="Make a new pairing code (unpairs every workbook).")
@click.option(
    "--cert-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the local certificate (default: your user data folder).",
)
def serve(
    store_path: Path | None,
    port: int | None,
    origins: tuple[str, ...],
    new_code: bool,
    cert_dir: Path | None,
) -> None:
    """Serve the Excel add-in (=SMB.FORECAST and friends) on https://localhost."""
    import platformdirs

    from smbml_connect.credentials import pairing_code
    from smbml_connect.excel_addin.local_cert import (
        ensure_certificate,
        office_dev_certs,
        trust_command,
    )
    from smbml_connect.excel_addin.officejs import DEFAULT_PORT
    from smbml_connect.excel_addin.serve import ServeSettings, serve_forever
    from smbml_connect.runtime import freeze_loaded_objects
    from smbml_connect.store import worksheet_store_path

    port = port or DEFAULT_PORT
    certs = office_dev_certs()
    if certs is None:
        folder = cert_dir or Path(platformdirs.user_data_dir("smbml_connect", appauthor=False))
        certs = ensure_certificate(folder / "certs")
        _echo("Trust the local certificate once (Excel refuses an untrusted one):")
        _echo(f"  {trust_command(certs.ca)}")
    code, kept = pairing_code(new=new_code)
    settings = ServeSettings(
        secret=code,
        port=port,
        store_path=store_path or worksheet_store_path(),
        extra_origins=origins,
    )
    base = f"https://localhost:{port}"
    _echo(f"Add-in manifest: {base}/manifest.xml (sideload it once in Excel)")
    # The code is shown on this terminal only; it never goes to the log.
    _echo(f"Pairing code:    {code.reveal()}", reveal=True)
    if not kept:
        _echo("  (no keyring here: the code changes when the server restarts)")
    _echo(f"Serving on {base} (this computer only); Ctrl+C stops.")
    # All is loaded and no thread runs yet: full collections during requests skip it.
    freeze_loaded_objects()
    serve_forever(settings, certs)


REJECTS_LISTED = 20  # rejects `smbml status` lists unless asked for all


@cli.command()
@_config_option("The config file whose `store =` to read, if it has one.")
@_store_option(
    "Store file (default: the config's store, else the newer of ./demo-store.sqlite and "
    "the store in your user data folder)."
)
@click.option(
    "-n",
    "--runs",
    "limit",
    type=click.IntRange(1, 1000),
    default=5,
    show_default=True,
    help="How many recent runs to show.",
)
@click.option(
    "--all-rejects",
    "all_rejects",
    is_flag=True,
    help=f"List every reject of the latest run, not the first {REJECTS_LISTED}.",
)
def status(config_path: Path, store_path: Path | None, limit: int, all_rejects: bool) -> None:
    """Show the last runs, what they loaded, the data checks, and the rows they rejected."""
    given = click.get_current_context().get_parameter_source("config_path")
    store = _status_store(config_path, store_path, given != ParameterSource.DEFAULT)
    _status(store, limit, None if all_rejects else REJECTS_LISTED)


def _status_store(config_path: Path, store_path: Path | None, named: bool = False) -> Path:
    """The store `status` reads: --store, the config's `store =`, or the newer of the demo's
    store here and the default one (the demo tells a new user to run `smbml status` next).
    A config named with -c must exist: a mistyped name showed another store's runs."""
    from smbml_connect.errors import StoreError
    from smbml_connect.store import default_store_path

    if store_path is not None:
        candidates = [store_path]
    elif named and not config_path.exists():
        raise ConfigError(f"config file {config_path} not found")
    elif config_path.exists() and (configured := _read_config(config_path).store) is not None:
        candidates = [configured]
    else:
        candidates = [default_store_path(), Path(DEMO_STORE)]
    found = [p for p in candidates if p.exists()]
    if not found:
        where = " or ".join(str(p) for p in candidates)
        raise StoreError(f"no store at {where} yet: run `smbml demo` or `smbml run` first")
    return max(found, key=lambda p: p.stat().st_mtime)


def _status(path: Path, limit: int, listed: int | None = REJECTS_LISTED) -> None:
    from smbml_connect.store import Store

    with Store.reading(path) as store:
        runs = store.runs(limit)
        _echo(f"Store: {path}")
        for source, (_, words, since) in store.accounts().items():  # which portal it holds
            _echo(f"  {source} records: {words} (since {since[:10]})")
        for source, zone in store.zones().items():  # the clock its dates were read on
            _echo(f"  {source} dates and times read on the clock of: {zone}")
        if runs.empty:
            _echo("No runs yet.")
            return
        for row in runs.itertuples(index=False):
            _print_run(row)
        latest = int(runs["run_id"].iloc[0])
        rejects = store.rejects(latest)
        if not rejects.empty:
            _print_rejects(rejects, latest, _run_files(runs["counts"].iloc[0]), listed)


def _run_files(counts: Any) -> dict[str, str]:
    """table -> the file or tab a run read it from, as its counts keep it."""
    kept = json.loads(counts) if isinstance(counts, str) and counts else {}
    files = kept.get("files", {}) if isinstance(kept, dict) else {}
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def _print_rejects(
    rejects: pd.DataFrame, run: int, files: dict[str, str], listed: int | None
) -> None:
    """A run's rejects, the rows to act on first and skipped rows last, each named by its
    file where the source has files; the first ``listed`` (all for None), and how many
    more there are and how to see them."""
    from smbml_connect.ports import SKIPPED_ROW
    from smbml_connect.value_words import reject_files, rejects_to_act_on_first

    ordered = rejects_to_act_on_first(rejects)
    ordered = ordered.assign(source=reject_files(ordered, files))
    shown = ordered.drop(columns=["row"]).head(len(ordered) if listed is None else listed)
    rows = shown["source_row"].astype("Int64").astype("string")  # 3, not 3.0
    shown["source_row"] = rows.fillna("")  # a row left out after loading has none
    more = len(rejects) - len(shown)
    which = f"first {len(shown)} of {len(rejects):,}" if more else "all"
    order = ", the rows to act on first" if more and (shown["action"] != SKIPPED_ROW).any() else ""
    _echo(f"Rejects of run {run} ({which}{order}):")
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        _echo(shown.to_string(index=False, na_rep="", max_colwidth=60))
    if more:
        skipped = int((ordered["action"].iloc[len(shown) :] == SKIPPED_ROW).sum())
        kinds = f" ({skipped:,} of them skipped rows)" if skipped else ""
        _echo(f"... and {more:,} more{kinds}: `smbml status --all-rejects` lists them all.")


def _nothing_loaded(status: str, counts: dict[str, Any]) -> str:
    """A run with no loaded counts: one still loading, or ended while it loaded (what it
    stored by then is not counted anywhere), is not one that loaded nothing."""
    if counts:
        return "nothing loaded"
    if status == "running":
        return "loading"
    if status == "interrupted":
        return "ended while loading (what it stored by then is not counted)"
    return "nothing loaded"


def _print_run(row: Any) -> None:
    """One run of `smbml status`: what it loaded, rejected and noticed, and what went wrong."""
    counts = json.loads(row.counts) if isinstance(row.counts, str) and row.counts else {}
    loaded = ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in counts.get("loaded", {}).items())
    started = row.started_at[:19] if isinstance(row.started_at, str) else "?"
    _echo(
        f"run {row.run_id} [{row.kind}] {row.status:<11} started {started}Z  "
        f"{loaded or _nothing_loaded(row.status, counts)}"
    )
    if counts:
        parts = [
            f"{_plural(counts.get('rejected_rows', 0), 'row')} rejected",
            *(
                [f"{_plural(counts['skipped_rows'], 'row')} skipped"]
                if counts.get("skipped_rows")
                else []
            ),
            f"{_plural(counts.get('cleared_values', 0), 'value')} left empty",
        ]
        # A run stopped before consent was read counted no opt-outs: "0" would be false.
        if counts.get("consent_skipped") or row.status in ("ok", "partial"):
            parts.append(f"{_plural(counts.get('consent_skipped', 0), 'contact')} opted out")
        if counts.get("consent_unreadable"):
            parts.append(f"{_plural(counts['consent_unreadable'], 'unreadable consent value')}")
        if counts.get("skipped_tables"):
            parts.append(f"{_plural(counts['skipped_tables'], 'table')} not read")
        _echo(f"    {', '.join(parts)}")
        notices = counts.get("notices", [])
        if notices:
            _echo("    data checks:")
        for notice in notices:
            _echo(f"      {notice.get('message', '')}")
        notes = counts.get("push_notes", [])  # all was written: a note, not a problem
        if notes:
            _echo("    notes:")
        for note in notes:
            _echo(f"      {note}")
    if isinstance(row.error, str) and row.error:  # a run without a problem has none (not "nan")
        _echo(f"    problem: {row.error}")


def main() -> None:
    # Process-wide settings belong to the entry point, not to an import. Importing this
    # module loads no OpenMP runtime (tests/test_no_import_effects.py checks), so the
    # setting is read when a command first loads LightGBM or scikit-learn.
    from smbml_connect.runtime import prefer_passive_openmp_waits

    prefer_passive_openmp_waits()
    cli(prog_name="smbml")

"""The one config file (TOML): sources, mappings, destinations, consent and schedule.

Validated once at start; an error names the key ("source.kind: ...") and what is
allowed. Secrets never live here: a key that looks like one is refused with a pointer
to the keyring or the environment variables.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from smbml_connect.business_zone import zone_named
from smbml_connect.coerce import ColumnFormat
from smbml_connect.errors import ConfigError
from smbml_connect.redaction import redact
from smbml_connect.schema import TABLES

__all__ = [
    "Config",
    "ConfigSchema",
    "DestinationConfig",
    "SourceConfig",
    "load_config",
    "parse_config",
    "read_config_file",
]

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T", bound=BaseModel)

_SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey", "private_key", "credential")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(BaseModel):
    """``[source]``: the keys every source shares; the rest belong to its connector.

    The connector's own keys (a files source's ``path``, a sheet's ``spreadsheet``) are
    validated by the settings model it registers and land in ``settings``.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str
    tables: dict[str, str] = Field(default_factory=dict)
    mapping: dict[str, dict[str, str]] = Field(default_factory=dict)
    # table -> canonical column -> "decimal=," / "decimal=." / "dayfirst" / "monthfirst"
    formats: dict[str, dict[str, str]] = Field(default_factory=dict)
    # A row gone from a source read whole (a file, a sheet) is left out of the results;
    # "keep" keeps counting it (a folder that receives only each new export). Unset: left out.
    removed_rows: Literal["leave_out", "keep"] | None = None
    settings: BaseModel | None = None  # the connector's own keys, validated

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for table, columns in value.items():
            for column, text in columns.items():
                if table in TABLES and column not in TABLES[table].names:
                    raise ValueError(f"{table} has no column {column!r}")
                ColumnFormat.parse(text)
        return value

    def column_formats(self) -> dict[str, dict[str, ColumnFormat]]:
        """``formats`` typed: table -> column -> how its values are written."""
        return {
            table: {column: ColumnFormat.parse(text) for column, text in columns.items()}
            for table, columns in self.formats.items()
        }

    @field_validator("tables", "mapping", "formats")
    @classmethod
    def _known_tables(cls, value: dict[str, object]) -> dict[str, object]:
        unknown = [t for t in value if t not in TABLES]
        if unknown:
            raise ValueError(f"unknown table {unknown[0]!r}; known tables: {', '.join(TABLES)}")
        return value

    def settings_as(self, model: type[M]) -> M:
        """The connector's own keys, typed; refuses a config validated for another kind."""
        if not isinstance(self.settings, model):
            raise ConfigError(f"source.kind {self.kind!r} has no {model.__name__}")
        return self.settings


class ConsentConfig(_Strict):
    column: str = "marketing_consent"
    missing_means: Literal["consented", "opted_out"] = "consented"


class DestinationConfig(BaseModel):
    """One ``[[destinations]]`` entry; its keys besides ``kind`` belong to that output."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str
    settings: BaseModel | None = None  # validated by the destination kind's own model

    def settings_as(self, model: type[M]) -> M:
        if not isinstance(self.settings, model):
            raise ConfigError(f"destination kind {self.kind!r} has no {model.__name__}")
        return self.settings


class ScheduleConfig(_Strict):
    every: str | None = None  # "15m", "1h", "1d"
    cron: str | None = None  # five fields: minute hour day month weekday

    @field_validator("every")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d+\s*[smhd]", value.strip()):
            raise ValueError(f"{value!r} is not an interval; write e.g. '15m', '1h' or '1d'")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) != 5:
            raise ValueError(f"{value!r} is not a cron expression of five fields, e.g. '0 * * * *'")
        return value


class AnalyticsConfig(BaseModel):
    """``[analytics]``: which steps run, as of when; ``[analytics.<key>]`` is a step's own."""

    model_config = ConfigDict(extra="allow", frozen=True)

    enabled: list[str] | None = None  # None: every registered analytic
    as_of: date | datetime | None = None
    # A table that failed to load this run: hold back the steps that read it ("skip"), or
    # compute them from the store's last complete copy of it and say so ("last_complete").
    incomplete_inputs: Literal["skip", "last_complete"] = "skip"
    settings: dict[str, BaseModel] = Field(default_factory=dict)  # validated, per key


class Config(BaseModel):
    """The whole file; connector sections (``[hubspot]``, ``[google]``) land in ``sections``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    source: SourceConfig
    destinations: list[DestinationConfig] = Field(default_factory=list)
    store: Path | None = None
    profile: str = "default"
    # The business's time zone ("America/New_York"): times written without one are read
    # on its clock, and days and months are counted on it. Unset: the source's, else UTC.
    time_zone: str | None = None
    # The shop's currency ("JPY"), for amounts no currency column names: "¥" and "$" are
    # shared by several. Unset: the orders' or deals' currency column, else the account's
    # (HubSpot), else USD.
    currency: str | None = None
    consent: ConsentConfig = ConsentConfig()
    analytics: AnalyticsConfig = AnalyticsConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    sections: dict[str, BaseModel] = Field(default_factory=dict)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else str(zone_named(value))

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise ValueError(f'{value!r} is not a currency code; use three letters, like "JPY"')
        return code

    def section(self, model: type[M]) -> M:
        """A connector's own section, typed (its defaults when the file has none)."""
        for value in self.sections.values():
            if isinstance(value, model):
                return value
        raise ConfigError(f"no config section holds {model.__name__}")

    def written_files(self) -> list[tuple[str, Path]]:
        """(key, path) of every file the destinations write: a destination's model names
        them with ``files()`` (a workbook's rejects beside it), else its paths are them."""
        found: list[tuple[str, Path]] = []
        for i, destination in enumerate(self.destinations):
            settings = destination.settings
            named = getattr(settings, "files", None)
            if callable(named):
                found += [(f"destinations[{i}].path", path) for path in named()]
            elif settings is not None:
                found += [(f"destinations[{i}].{k}", v) for k, v in settings if isinstance(v, Path)]
        return found


@dataclass(frozen=True)
class ConfigSchema:
    """What the registered connectors add to the file; the composition root builds it.

    ``sources``: source kind -> the model of its own ``[source]`` keys. ``mapped_by_header``: the source
    kinds whose mapping gives headers canonical columns. ``sections``: a top-level table name -> its model. ``destinations``: ``[[destinations]]`` kind ->
    its model. ``analytics``: ``[analytics.<key>]`` -> the settings model the steps
    declared. ``secret_hints``: environment variables to name when a secret is refused.
    """

    sources: Mapping[str, type[BaseModel]]
    # Source kinds whose ``[source.mapping.<table>]`` is header = canonical column (files,
    # a spreadsheet); HubSpot's is column = property, and a new column name is its to add.
    mapped_by_header: frozenset[str] = frozenset()
    sections: Mapping[str, type[BaseModel]] = field(default_factory=dict)
    destinations: Mapping[str, type[BaseModel]] = field(default_factory=dict)
    analytics: Mapping[str, type[BaseModel]] = field(default_factory=dict)
    secret_hints: tuple[str, ...] = ()


def _names_a_secret(key: str, value: object) -> bool:
    """A key named like a secret, unless it names an address that holds none: `[google]
    token_url` says where a token is asked for (refused as a secret, the documented key
    could not be set)."""
    lowered = key.lower()
    if not any(word in lowered for word in _SECRET_WORDS):
        return False
    if lowered.endswith(("_url", "_uri")) and isinstance(value, str):
        return redact(value) != value
    return True


def _find_secret_keys(data: object, prefix: str = "") -> list[str]:
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if _names_a_secret(str(key), value):
                found.append(path)
            found += _find_secret_keys(value, path)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _find_secret_keys(value, f"{prefix}[{i}]")
    return found


_TOP_KEYS = ("store", "profile", "time_zone", "currency")  # Config's keys that hold a value


def _unknown_key(
    where: str,
    keys: Iterable[str] = (),
    otherwise: str = "check the spelling; see the README for the keys",
) -> str:
    """What an unknown key at ``where`` is told: a top-level key under a section (TOML puts
    a key under the last [section] above it; the data checks say "set time_zone at the top
    of the config") belongs at the top, not "check the spelling"; else the close one of the
    section's own ``keys`` ("enable" for "enabled")."""
    key = where.rsplit(".", 1)[-1]
    if "." in where and key in _TOP_KEYS:
        return (
            f"{key} belongs at the top of the file, above [source] (a key below a [section] "
            "line belongs to that section)"
        )
    close = difflib.get_close_matches(key, list(keys), n=1)
    if close:
        return f"unknown key (did you mean {close[0]!r}?)"
    return f"unknown key ({otherwise})"


def _check(model: type[M], data: object, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, where, model) from None


def _config_error(
    exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None
) -> ConfigError:
    first = exc.errors()[0]
    parts = [*(prefix.split(".") if prefix else []), *(str(p) for p in first["loc"])]
    where = ".".join(parts)
    message = first["msg"]
    if first["type"] == "value_error":  # our own sentence, without pydantic's "Value error, "
        message = str(first.get("ctx", {}).get("error", message))
    elif first["type"] == "extra_forbidden":
        own = model.model_fields if model is not None and len(first["loc"]) == 1 else {}
        message = _unknown_key(where, own)
    elif first["type"] == "missing":
        message = "this kind needs it (see the README)"
    return ConfigError(f"config error at {where or '(top level)'}: {message}")


def _choice(kind: str, known: Mapping[str, object], where: str) -> None:
    if kind not in known:
        allowed = ", ".join(repr(k) for k in known)
        raise ConfigError(f"config error at {where}: {kind!r} is not one of {allowed}")


def parse_config(data: dict[str, object], schema: ConfigSchema, base: Path | None = None) -> Config:
    """Validate a config mapping; relative paths are taken from ``base`` (the file's folder)."""
    secrets = _find_secret_keys(data)
    if secrets:
        hint = " / ".join(schema.secret_hints) or "the environment variables in the README"
        raise ConfigError(
            f"config key {secrets[0]} looks like a secret; secrets do not belong in the config "
            f"file: store them with keyring or set {hint}"
        )
    reserved = set(Config.model_fields) - {"sections"}
    own = {k: v for k, v in data.items() if k in reserved}
    unknown = [k for k in data if k not in reserved and k not in schema.sections]
    if unknown or "sections" in data:
        where = "sections" if "sections" in data else unknown[0]
        raise ConfigError(
            f"config error at {where}: {_unknown_key(where, {*reserved, *schema.sections})}"
        )
    config = _check(Config, own, "")
    source = config.source
    _choice(source.kind, schema.sources, "source.kind")
    source_settings = _check(schema.sources[source.kind], source.model_extra or {}, "source")
    if source.kind in schema.mapped_by_header:
        _check_mapping_targets(source.mapping)
    destinations = []
    for i, destination in enumerate(config.destinations):
        where = f"destinations[{i}]"
        _choice(destination.kind, schema.destinations, f"{where}.kind")
        settings = _check(schema.destinations[destination.kind], destination.model_extra, where)
        destinations.append(_settled(destination, settings))
    sections = {
        name: _check(model, data.get(name, {}), name) for name, model in schema.sections.items()
    }
    own_keys = config.analytics.model_extra or {}
    stray = [k for k in own_keys if k not in schema.analytics]
    given = data.get("analytics")  # a table: Config has validated it above
    if stray or (isinstance(given, dict) and "settings" in given):
        where = f"analytics.{stray[0] if stray else 'settings'}"
        keys = [k for k in AnalyticsConfig.model_fields if k != "settings"]
        listed = f"the analytics' own keys are: {', '.join(keys)}; its sections are: " + ", ".join(
            schema.analytics
        )
        told = _unknown_key(where, [*keys, *schema.analytics], listed)
        raise ConfigError(f"config error at {where}: {told}")
    analytics = {
        key: _check(model, own_keys.get(key, {}), f"analytics.{key}")
        for key, model in schema.analytics.items()
    }
    config = config.model_copy(
        update={
            "source": _settled(source, source_settings),
            "destinations": destinations,
            "sections": sections,
            "analytics": _settled(config.analytics, analytics),
        }
    )
    return _resolve_paths(config, base) if base is not None else config


def _check_mapping_targets(mapping: Mapping[str, Mapping[str, str]]) -> None:
    """Each header must be given a column of its table: a typo ("totl") would keep the
    header aside as a column of its own and leave the real one empty (every total gone)."""
    for table, columns in mapping.items():
        names = TABLES[table].names
        for header, column in columns.items():
            if column in names:
                continue
            close = difflib.get_close_matches(column.lower(), names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"config error at source.mapping.{table}.{_toml_key(header)}: {column!r} is not "
                f"a column of {table} ({hint}its columns: {', '.join(names)}); a header with no "
                "column of its own needs no mapping: it is kept with the row as it is"
            )


def _toml_key(key: str) -> str:
    """A key as the user wrote it in the file: bare when TOML allows it, else quoted."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _settled(part: T, settings: object) -> T:
    """The part with its own keys validated into ``settings`` (and no longer loose extras)."""
    fields = {k: getattr(part, k) for k in type(part).model_fields if k != "settings"}
    return type(part).model_construct(**fields, settings=settings)


def _resolve_paths(config: Config, base: Path) -> Config:
    def resolved(settings: BaseModel | None, where: str) -> BaseModel | None:
        if settings is None:
            return None
        paths = {
            name: _resolve(value, base, f"{where}.{name}")
            for name, value in settings
            if isinstance(value, Path)
        }
        return settings.model_copy(update=paths) if paths else settings

    source = config.source.model_copy(
        update={"settings": resolved(config.source.settings, "source")}
    )
    destinations = [
        d.model_copy(update={"settings": resolved(d.settings, f"destinations[{i}]")})
        for i, d in enumerate(config.destinations)
    ]
    store = None if config.store is None else _resolve(config.store, base, "store")
    config = config.model_copy(
        update={"source": source, "destinations": destinations, "store": store}
    )
    refuse_overwrites(config, config.store)
    return config


def _resolve(path: Path, base: Path, where: str) -> Path:
    """``~`` is the user's home (never a folder named "~" beside the config); a relative
    path is taken from ``base``, the config's folder; an absolute one stays as given."""
    try:
        path = path.expanduser()
    except RuntimeError:  # no HOME (a service account): say so rather than make "~"
        raise ConfigError(
            f"config error at {where}: {str(path)!r} starts with ~, but this account has no "
            "home folder: write the full path"
        ) from None
    return path if path.is_absolute() else base / path


def refuse_overwrites(config: Config, store: Path | None) -> None:
    """A file a destination writes must be none the run reads: the source's workbook or
    CSV (a workbook destination "shop.xlsx" replaced the customers and orders in it with
    result tabs), nor the store. Checked at load and again with the store a run opens."""
    inputs = [(f"source.{k}", v) for k, v in config.source.settings or () if isinstance(v, Path)]
    if store is not None:
        inputs.append(("store", store))
    for where, written in config.written_files():
        for key, read in inputs:
            if _same_file(written, read):
                what = "the store" if key == "store" else f"the source's file ({key})"
                raise ConfigError(
                    f"config error at {where}: {written.name!r} is {what}, and smbml never "
                    "writes over a file it reads: name another file for the results"
                )


def _same_file(a: Path, b: Path) -> bool:
    """One file by two names: the same path, or (both there) one file on disk, which
    covers "Shop.xlsx" for "shop.xlsx" where case does not count (Windows, macOS)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them is not there yet
        return False


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's TOML, as Windows editors save it too: a UTF-8 byte-order mark (PowerShell's
    `Out-File -Encoding utf8`, older Notepad) is invisible in every editor and is skipped;
    a file in another encoding (Notepad's "ANSI") names the line that is not UTF-8."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read the config file {path}: {(exc.strerror or str(exc)).lower()}"
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {path} is not UTF-8 text: line {line} has a character saved in "
            f"another encoding (such as Notepad's ANSI): save {path.name} as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def load_config(path: str | Path, schema: ConfigSchema) -> Config:
    path = Path(path)
    return parse_config(read_config_file(path), schema, base=path.resolve().parent)

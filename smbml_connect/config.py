"""The one config file (TOML): sources, mappings, destinations, consent and schedule.

Validated once at start; an error names the key ("source.kind: ...") and what is
allowed. Secrets never live here: a key that looks like one is refused with a pointer
to the keyring or the environment variables.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from smbml_connect.errors import ConfigError
from smbml_connect.schema import TABLES

__all__ = ["Config", "load_config", "parse_config"]

_SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey", "private_key", "credential")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    kind: Literal["files", "sample", "hubspot", "gsheets"]
    path: Path | None = None
    spreadsheet: str | None = None  # gsheets: the spreadsheet's URL or key
    tables: dict[str, str] = Field(default_factory=dict)
    mapping: dict[str, dict[str, str]] = Field(default_factory=dict)
    seed: int = 7

    @field_validator("tables", "mapping")
    @classmethod
    def _known_tables(cls, value: dict[str, object]) -> dict[str, object]:
        unknown = [t for t in value if t not in TABLES]
        if unknown:
            raise ValueError(f"unknown table {unknown[0]!r}; known tables: {', '.join(TABLES)}")
        return value


class HubSpotConfig(_Strict):
    """The token is not here: `smbml auth hubspot` keeps it in the keyring."""

    requests_per_10s: int = Field(100, ge=1, le=1000)  # 190 on Professional; headers win if higher
    search_per_second: int = Field(5, ge=1, le=50)
    push: bool = True  # write scores back as properties after each run
    api_url: str = "https://api.hubapi.com"  # only changed for a local emulator
    timeout_seconds: float = Field(60.0, gt=0, le=600)
    attempts: int = Field(6, ge=1, le=20)  # per request, for 429, 5xx and timeouts


class GoogleConfig(_Strict):
    """The service-account key is not here: `smbml auth google` keeps it in the keyring."""

    requests_per_minute: int = Field(60, ge=1, le=600)  # Google's default per-user quota
    write_results: bool = True  # a gsheets source gets its result tabs in the same spreadsheet
    api_url: str = "https://sheets.googleapis.com"  # only changed for a local emulator
    timeout_seconds: float = Field(120.0, gt=0, le=600)
    attempts: int = Field(6, ge=1, le=20)  # per request, for 429, 5xx and timeouts


class ConsentConfig(_Strict):
    column: str = "marketing_consent"
    missing_means: Literal["consented", "opted_out"] = "consented"


class DestinationConfig(_Strict):
    kind: Literal["workbook", "report", "gsheets"]
    path: Path | None = None  # workbook, report
    spreadsheet: str | None = None  # gsheets: URL or key of the spreadsheet for result tabs


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


class LeadsConfig(_Strict):
    label: Literal["customer", "order", "won_deal"] = "customer"
    horizon_days: int = Field(90, ge=7, le=730)
    fairness_column: str | None = "country"
    protected: list[str] = Field(default_factory=list)  # extra columns to warn about


class CustomersConfig(_Strict):
    horizon_days: int = Field(365, ge=30, le=1095)  # churn risk and value look this far ahead


class ForecastConfig(_Strict):
    horizon: int = Field(12, ge=1, le=120)  # periods ahead
    frequency: Literal["D", "W", "M", "Q"] = "M"
    products: int = Field(20, ge=0, le=500)  # best sellers forecast one by one; the rest as one


class PricingConfig(_Strict):
    max_change: float = Field(0.10, gt=0, le=0.5)  # largest step, as a share of today's price
    min_margin: float = Field(0.0, ge=0, lt=1)  # share of the price left after unit cost
    ending: float | None = Field(None, ge=0, lt=1)  # e.g. 0.99 for prices ending in .99
    floor: dict[str, float] = Field(default_factory=dict)  # product_id: lowest price allowed
    ceiling: dict[str, float] = Field(default_factory=dict)  # product_id: highest price allowed


class AnalyticsConfig(_Strict):
    enabled: list[str] | None = None  # None: every registered analytic
    as_of: date | datetime | None = None
    leads: LeadsConfig = LeadsConfig()
    customers: CustomersConfig = CustomersConfig()
    forecast: ForecastConfig = ForecastConfig()
    pricing: PricingConfig = PricingConfig()


class Config(_Strict):
    source: SourceConfig
    destinations: Annotated[list[DestinationConfig], Field(min_length=0)] = Field(
        default_factory=list
    )
    store: Path | None = None
    profile: str = "default"
    consent: ConsentConfig = ConsentConfig()
    analytics: AnalyticsConfig = AnalyticsConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    hubspot: HubSpotConfig = HubSpotConfig()
    google: GoogleConfig = GoogleConfig()


def _find_secret_keys(data: object, prefix: str = "") -> list[str]:
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if any(word in str(key).lower() for word in _SECRET_WORDS):
                found.append(path)
            found += _find_secret_keys(value, path)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _find_secret_keys(value, f"{prefix}[{i}]")
    return found


def parse_config(data: dict[str, object], base: Path | None = None) -> Config:
    """Validate a config mapping; relative paths are taken from ``base`` (the file's folder)."""
    secrets = _find_secret_keys(data)
    if secrets:
        raise ConfigError(
            f"config key {secrets[0]} looks like a secret; secrets do not belong in the config "
            "file: store them with keyring or set SMBML_HUBSPOT_TOKEN / "
            "SMBML_GOOGLE_SERVICE_ACCOUNT"
        )
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see the README for the keys)"
        raise ConfigError(f"config error at {where}: {message}") from None
    if config.source.kind == "files" and config.source.path is None:
        raise ConfigError("config error at source.path: a files source needs a path")
    if config.source.kind == "gsheets" and not config.source.spreadsheet:
        raise ConfigError(
            "config error at source.spreadsheet: a gsheets source needs the spreadsheet's URL"
        )
    for i, destination in enumerate(config.destinations):
        if destination.kind == "gsheets" and not destination.spreadsheet:
            raise ConfigError(f"config error at destinations[{i}].spreadsheet: give its URL")
        if destination.kind != "gsheets" and destination.path is None:
            raise ConfigError(
                f"config error at destinations[{i}].path: a {destination.kind} needs a path"
            )
    return _resolve_paths(config, base) if base is not None else config


def _resolve_paths(config: Config, base: Path) -> Config:
    def resolve(path: Path | None) -> Path | None:
        if path is None:
            return None
        return path if path.is_absolute() else base / path  # an absolute path stays as given

    source = config.source.model_copy(update={"path": resolve(config.source.path)})
    destinations = [d.model_copy(update={"path": resolve(d.path)}) for d in config.destinations]
    return config.model_copy(
        update={"source": source, "destinations": destinations, "store": resolve(config.store)}
    )


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return parse_config(data, base=path.resolve().parent)

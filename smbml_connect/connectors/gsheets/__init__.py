"""Google Sheets: tables in from tabs, result tabs out (refreshed by `smbml schedule`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from smbml_connect.config import Config, DestinationConfig
from smbml_connect.connector import AuthSpec, Connector, ConnectorContext
from smbml_connect.connectors.gsheets.http import SheetsApi, SheetsLimits
from smbml_connect.connectors.gsheets.sheets import SheetsResults, SheetsSource, spreadsheet_key
from smbml_connect.credentials import CredentialSpec, Secret
from smbml_connect.http import secret_safe_url
from smbml_connect.ports import Destination, Source

__all__ = [
    "CONNECTOR",
    "KEY",
    "GoogleSettings",
    "SheetsDestinationSettings",
    "SheetsSourceSettings",
]

KEY = CredentialSpec("google", "SMBML_GOOGLE_SERVICE_ACCOUNT", "Google service-account key")


class GoogleSettings(BaseModel):
    """``[google]``. The key is not here: `smbml auth google` keeps it in the keyring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_minute: int = Field(60, ge=1, le=600)  # Google's default per-user quota
    write_results: bool = True  # a gsheets source gets its result tabs in the same spreadsheet
    api_url: str = "https://sheets.googleapis.com"  # only changed for a local emulator
    token_url: str | None = None  # None: the key's token_uri; set for a local emulator
    timeout_seconds: float = Field(120.0, gt=0, le=600)
    attempts: int = Field(6, ge=1, le=20)  # per request, for 429, 5xx and timeouts
    take_over_tabs: bool = False  # result tabs another config wrote become this one's

    @field_validator("api_url", "token_url")
    @classmethod
    def _safe(cls, value: str | None) -> str | None:
        return None if value is None else secret_safe_url(value)


class SheetsSourceSettings(BaseModel):
    """``[source]`` keys of a gsheets source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spreadsheet: str  # the spreadsheet's URL or key


class SheetsDestinationSettings(BaseModel):
    """``[[destinations]] kind = "gsheets"``: where the result tabs go."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spreadsheet: str  # URL or key of the spreadsheet for result tabs


def _api(context: ConnectorContext) -> SheetsApi:
    """gspread with Google's quota as the limit; one client for reading and writing."""

    def make() -> SheetsApi:
        settings = context.config.section(GoogleSettings)
        limits = SheetsLimits(
            per_minute=settings.requests_per_minute,
            read_timeout=settings.timeout_seconds,
            attempts=settings.attempts,
        )
        return SheetsApi(
            context.secret(KEY),
            api_url=settings.api_url,
            limits=limits,
            token_url=settings.token_url,
        )

    return context.client("gsheets", make)


def check_key(config: Config, key: Secret) -> str:
    """Get a token with the key (proves it is valid), and open the configured spreadsheet."""
    settings = config.section(GoogleSettings)
    api = SheetsApi(
        key, api_url=settings.api_url, limits=SheetsLimits(attempts=3), token_url=settings.token_url
    )
    wanted = None
    if isinstance(config.source.settings, SheetsSourceSettings):
        wanted = config.source.settings.spreadsheet
    for destination in config.destinations:
        if wanted is None and isinstance(destination.settings, SheetsDestinationSettings):
            wanted = destination.settings.spreadsheet
    if wanted is None:
        api.authorise()
        return f"signed in as {api.account}"
    meta = api.client.http_client.fetch_sheet_metadata(spreadsheet_key(wanted))
    title = meta.get("properties", {}).get("title", "")
    return f"{api.account} can open {title!r}"


def _source(context: ConnectorContext) -> Source:
    source = context.config.source
    spreadsheet = source.settings_as(SheetsSourceSettings).spreadsheet
    return SheetsSource(_api(context), spreadsheet, source.tables, source.mapping)


def _same_spreadsheet(context: ConnectorContext) -> list[Destination]:
    """A gsheets source gets its result tabs in the same spreadsheet (unless turned off)."""
    config = context.config
    if context.dry_run:
        return []
    if not config.section(GoogleSettings).write_results:
        return []
    spreadsheet = config.source.settings_as(SheetsSourceSettings).spreadsheet
    return [SheetsResults(_api(context), spreadsheet, take_over=_take_over(context))]


def _destination(context: ConnectorContext, entry: DestinationConfig) -> Destination | None:
    if context.dry_run:
        return None
    spreadsheet = entry.settings_as(SheetsDestinationSettings).spreadsheet
    return SheetsResults(_api(context), spreadsheet, take_over=_take_over(context))


def _take_over(context: ConnectorContext) -> bool:
    return context.config.section(GoogleSettings).take_over_tabs


CONNECTOR = Connector(
    kind="gsheets",
    summary="a Google Sheet (needs `smbml auth google` or SMBML_GOOGLE_SERVICE_ACCOUNT)",
    spreadsheet=True,
    source_settings=SheetsSourceSettings,
    make_source=_source,
    section="google",
    settings=GoogleSettings,
    auth=AuthSpec(
        credential=KEY,
        input="key_file",
        help="Check a Google service-account key, then keep it in the keyring.\n\n"
        "Create the key in Google Cloud Console (IAM > Service accounts > Keys > JSON), enable "
        "the Google Sheets API for its project, and share your spreadsheet with the service "
        "account's e-mail. Delete the downloaded file afterwards: the keyring has it.",
        check=check_key,
    ),
    implied_destinations=_same_spreadsheet,
    destination_settings=SheetsDestinationSettings,
    make_destination=_destination,
)

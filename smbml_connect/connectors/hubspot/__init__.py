"""HubSpot CRM v3: contacts, deals, orders, line items and products in; properties out."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, field_validator

from smbml_connect.config import Config
from smbml_connect.connector import AuthSpec, Connector, ConnectorContext, NoSettings
from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.connectors.hubspot.push import HubSpotDestination
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.credentials import CredentialSpec, Secret
from smbml_connect.http import secret_safe_url
from smbml_connect.ports import Destination, Source

__all__ = ["CONNECTOR", "TOKEN", "HubSpotSettings"]

# Every process on the same token shares its request window through a file here.
LIMITS_FOLDER = Path(platformdirs.user_cache_dir("smbml_connect")) / "limits"
TOKEN = CredentialSpec("hubspot", "SMBML_HUBSPOT_TOKEN", "HubSpot private-app token")


class HubSpotSettings(BaseModel):
    """``[hubspot]``. The token is not here: `smbml auth hubspot` keeps it in the keyring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_10s: int = Field(100, ge=1, le=1000)  # 190 on Professional; headers win if higher
    search_per_second: int = Field(5, ge=1, le=50)
    push: bool = True  # write scores back as properties after each run
    api_url: str = "https://api.hubapi.com"  # only changed for a local emulator
    timeout_seconds: float = Field(60.0, gt=0, le=600)
    attempts: int = Field(6, ge=1, le=20)  # per request, for 5xx, timeouts and drops
    # How long one request may wait on "too many requests" in all before the run gives up.
    max_wait_seconds: float = Field(300.0, ge=0, le=3600)

    @field_validator("api_url")
    @classmethod
    def _safe(cls, value: str) -> str:
        """The private-app token goes to this address: https, or http to this machine."""
        return secret_safe_url(value)


def _api(context: ConnectorContext) -> HubSpotApi:
    """One client per run with the account's limits, shared by the source and the push."""

    def make() -> HubSpotApi:
        settings = context.config.section(HubSpotSettings)
        limits = Limits(
            per_window=settings.requests_per_10s,
            search_per_second=settings.search_per_second,
            read_timeout=settings.timeout_seconds,
            attempts=settings.attempts,
            max_wait=settings.max_wait_seconds,
            shared_folder=LIMITS_FOLDER,
        )
        return HubSpotApi(context.secret(TOKEN), host=settings.api_url, limits=limits)

    return context.client("hubspot", make)


def check_token(config: Config, token: Secret) -> str:
    """One cheap call with the token; raises AuthError naming a missing scope."""
    api = HubSpotApi(token, host=config.section(HubSpotSettings).api_url, limits=Limits(attempts=3))
    body = api.json(
        "checking the token", api.client.crm.objects.basic_api.get_page, "contacts", limit=1
    )
    said = "contacts readable" if "results" in body else "answered"
    source = HubSpotSource(api)
    account = source.account()  # which portal: the user sees it is the right one
    return f"{said}, {account.words}" if account else f"{said}; {source.account_unknown}"


def _source(context: ConnectorContext) -> Source:
    return HubSpotSource(_api(context), mapping=context.config.source.mapping)


def _push(context: ConnectorContext) -> list[Destination]:
    """Scores go back to the records they came from, when HubSpot is the source."""
    config = context.config
    if not config.section(HubSpotSettings).push:
        return []
    return [HubSpotDestination(_api(context), dry_run=context.dry_run, account=config.profile)]


CONNECTOR = Connector(
    kind="hubspot",
    summary="HubSpot CRM (needs `smbml auth hubspot` or SMBML_HUBSPOT_TOKEN)",
    source_settings=NoSettings,
    make_source=_source,
    section="hubspot",
    settings=HubSpotSettings,
    auth=AuthSpec(
        credential=TOKEN,
        input="token",
        help="Check a HubSpot private-app token with one call, then keep it in the keyring.\n\n"
        "Create the token in HubSpot under Settings > Integrations > Private Apps with the "
        "scopes listed in the README. It is never written to the config or the log.",
        check=check_token,
    ),
    implied_destinations=_push,
)

"""What a connector package tells the composition root about itself, as data.

A connector (files, HubSpot, Google Sheets, the sample, or a new CRM) is one package
whose ``CONNECTOR`` says: its kind, the settings it reads from the config, the secret it
needs, and how to make its source and destinations. Config validation, credentials, the
runner and the CLI loop over the registered connectors, so adding one touches nothing
else. The core defines this shape; only the registry knows the connectors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict

from smbml_connect.config import Config, DestinationConfig
from smbml_connect.credentials import CredentialSpec, Secret
from smbml_connect.headers import HeaderMapping
from smbml_connect.ports import Destination, Source

__all__ = [
    "AuthSpec",
    "Connector",
    "ConnectorContext",
    "Inspectable",
    "NoSettings",
]

C = TypeVar("C")


class NoSettings(BaseModel):
    """A connector without keys of its own: any key is refused as unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class ConnectorContext:
    """What factories get: the validated config, secrets on demand, and shared clients.

    ``clients`` is filled lazily, so a source and a destination of the same service share
    one client (one rate limiter); tests put an emulator's client in it beforehand.
    """

    config: Config
    secret: Callable[[CredentialSpec], Secret]
    dry_run: bool = False
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, name: str, make: Callable[[], C]) -> C:
        if name not in self.clients:
            self.clients[name] = make()
        client: C = self.clients[name]
        return client


@dataclass(frozen=True)
class AuthSpec:
    """How ``smbml auth <name>`` takes and checks the secret.

    ``input`` is "token" (a hidden prompt, or one line on stdin with --token-stdin) or
    "key_file" (--key-file, or the whole of stdin). ``check`` makes one cheap call with
    the secret and says whom it reached; it raises AuthError naming what is missing.
    """

    credential: CredentialSpec
    input: Literal["token", "key_file"]
    help: str
    check: Callable[[Config, Secret], str]


@dataclass(frozen=True)
class Connector:
    """One connector's public face. Every field but ``kind`` is optional."""

    kind: str
    summary: str  # one line, listed by `smbml run --help`
    # Tabs and headers are matched by name (spreadsheet-shaped); `smbml inspect` shows how,
    # and each [source.mapping] target must be a column of its table (checked at load).
    spreadsheet: bool = False
    # [source] kind = <kind>: the model of its own keys and the factory of the source.
    source_settings: type[BaseModel] | None = None
    make_source: Callable[[ConnectorContext], Source] | None = None
    # A top-level config table of its own, e.g. [hubspot], always validated (defaults).
    section: str | None = None
    settings: type[BaseModel] | None = None
    auth: AuthSpec | None = None
    # Destinations that follow when this connector is the source (HubSpot writes back to
    # the records it read); the runner asks only the source's connector.
    implied_destinations: Callable[[ConnectorContext], list[Destination]] | None = None
    # [[destinations]] kind = <kind>: the model of its keys and the factory.
    destination_settings: type[BaseModel] | None = None
    # None when this run writes nowhere there (a dry run does not touch Google Sheets).
    make_destination: Callable[[ConnectorContext, DestinationConfig], Destination | None] | None = (
        None
    )


@runtime_checkable
class Inspectable(Protocol):
    """A spreadsheet-shaped source: where each table comes from and how headers matched."""

    @property
    def header_mappings(self) -> Mapping[str, HeaderMapping]: ...

    def where(self, table: str) -> str: ...

"""The bundled sample business as a source, so the demo runs the same pipeline as a real sync."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from smbml_connect.connector import Connector, ConnectorContext
from smbml_connect.connectors.sample.source import SampleSource
from smbml_connect.ports import Source
from smbml_connect.sample import SampleConfig, generate

__all__ = ["CONNECTOR", "SampleSettings", "SampleSource"]


class SampleSettings(BaseModel):
    """``[source]`` keys of the sample business."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 7


def _source(context: ConnectorContext) -> Source:
    seed = context.config.source.settings_as(SampleSettings).seed
    return SampleSource(generate(SampleConfig(seed=seed)))


CONNECTOR = Connector(
    kind="sample",
    summary="the bundled sample business (no account needed)",
    source_settings=SampleSettings,
    make_source=_source,
)

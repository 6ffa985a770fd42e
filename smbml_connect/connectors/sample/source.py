"""The bundled sample business as a source, so the demo runs the same pipeline as a real sync."""

from __future__ import annotations

import pandas as pd

from smbml_connect.sample import SampleBusiness, messy_export
from smbml_connect.schema import SOURCE_ROW

__all__ = ["SampleSource"]


class SampleSource:
    """Serves the sample's tables the way an export would: as text, with a few known faults."""

    incremental = False
    zone_words = "the sample business's"

    def __init__(self, business: SampleBusiness, messy: bool = True) -> None:
        self.business = business
        self.name = "sample"
        if messy:
            self.raw, self.faults = messy_export(business, seed=business.config.seed)
        else:
            self.raw, self.faults = dict(business.tables), pd.DataFrame()

    def available(self) -> list[str]:
        return list(self.raw)

    def time_zone(self) -> str | None:
        """The sample is drawn on UTC's clock (its as_of is midnight UTC)."""
        return "UTC"

    def pull(self, entity: str, since: str | None = None) -> pd.DataFrame:
        frame = self.raw[entity].drop(columns=["source"], errors="ignore").copy()
        frame[SOURCE_ROW] = range(2, len(frame) + 2)  # as if row 1 held the headers
        return frame

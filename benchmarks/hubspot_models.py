"""The deal and lead models learnt from HubSpot beside the same models on the sample's files.

The sample business (the demo's, or --seed N) is put into the HubSpot emulator as a
shop using HubSpot has it, pulled back through the connector into a fresh store, and
the deal win model and the lead model are fitted on what came back, as the run's
steps fit them; then the same on the sample's own tables (the files path). Prints JSON:
per path, each card's held-out AUC, calibration error and Brier, the closed deals'
landmark snapshots whose stage is known, and whether the stage history counts as one.

    python benchmarks/hubspot_models.py [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from smbml_connect.analytics.leads.contact_features import (
    CONTACT_PHRASES,
    has_stage_history,
    lead_training_frame,
)
from smbml_connect.analytics.leads.deals import DealWinModel, deal_training_frame
from smbml_connect.analytics.leads.scoring import LeadScorer
from smbml_connect.connectors.hubspot.http import HubSpotApi, Limits
from smbml_connect.connectors.hubspot.source import HubSpotSource
from smbml_connect.credentials import Secret
from smbml_connect.pipeline import RunOptions, run_pipeline
from smbml_connect.sample import SampleConfig, generate
from smbml_connect.schema import TABLES
from smbml_connect.store import Store
from smbml_connect.testing.hubspot_emulator import TEST_TOKEN, HubSpotEmulator
from smbml_connect.testing.hubspot_sample import load_sample


def _live(frame: pd.DataFrame) -> pd.DataFrame:
    if "archived_at" not in frame:
        return frame
    return frame[frame["archived_at"].isna()].reset_index(drop=True)


def _cards(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, Any]:
    training = lead_training_frame(tables, as_of)
    lead = LeadScorer(phrases=CONTACT_PHRASES).fit(
        training.frame, "converted", time_column="snapshot_at", group_column="contact_id",
        fairness_column="country",
    )  # fmt: skip
    deal = DealWinModel().fit(tables, as_of)
    frame = deal_training_frame(tables, as_of)
    out: dict[str, Any] = {
        "stage_history": has_stage_history(tables.get("deal_stages")),
        "deal_stage_rows": len(tables["deal_stages"]),
        "closed_deal_snapshots": len(frame),
        "closed_deal_snapshots_with_stage": int(frame["stage"].notna().sum())
        if "stage" in frame
        else 0,
    }
    for name, card in (("lead", lead.card_), ("deal", deal.card_)):
        out[name] = {
            k: round(float(card["held_out"][k]), 4) for k in ("auc", "calibration_error", "brier")
        }
        out[name]["learner"] = card["learner"]
    return out


def from_hubspot(seed: int) -> dict[str, Any]:
    business = generate(SampleConfig(seed=seed))
    with HubSpotEmulator(rate_limits=False) as hub, tempfile.TemporaryDirectory() as folder:
        load_sample(hub.state, business)
        api = HubSpotApi(
            Secret(TEST_TOKEN), host=hub.url, limits=Limits(per_window=1000, read_timeout=30.0)
        )
        with Store(Path(folder) / "store.db") as store:
            run_pipeline(HubSpotSource(api), store, RunOptions(steps=[]))
            tables = {t: _live(store.read(t)) for t in TABLES}
        requests = hub.total_requests()
    out = _cards(tables, business.as_of)
    out["requests"] = requests
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=SampleConfig().seed)
    args = parser.parse_args()
    business = generate(SampleConfig(seed=args.seed))
    print(
        json.dumps(
            {"files": _cards(business.tables, business.as_of), "hubspot": from_hubspot(args.seed)},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

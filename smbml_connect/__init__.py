"""smbml_connect: predictions for small businesses, inside the tools they already use."""

import os

# OpenMP threads (LightGBM, scikit-learn) spin while they wait for work by default. When
# anything else keeps the cores busy (a second run, Excel's recalculation, a test worker)
# the spinning threads steal each other's time slices: two sample runs side by side took
# 262 s each instead of 51 s. Sleeping waits cost little when the machine is idle (38 s
# against 39 s alone). It must be set before the OpenMP runtime loads; the user's own
# setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from smbml_connect.errors import SmbmlError

__all__ = ["SmbmlError", "__version__"]
__version__ = "0.1.0"

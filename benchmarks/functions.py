"""Worksheet functions through `smbml serve`, timed as Excel would feel them.

Starts the real HTTPS server (local certificate, pairing code) in this process and
calls it over keep-alive HTTPS, as the add-in does. Each case prints:
- cold_ms: the first call after the server started (nothing cached, first use of the
  model code in the process);
- warm_ms: the same function on new inputs once the process is warm (computed, not
  cached: what a user sees after editing the data);
- cached_ms: the identical call again (a recalculation storm);
- direct_ms: the registry called in-process on the warm inputs, without the server (the
  reference: the rest is HTTP, JSON and TLS);
- target_ms where the issue sets one.

    python benchmarks/functions.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from excel_helpers import leads_table, monthly

from smbml_connect.credentials import Secret
from smbml_connect.excel_addin.local_cert import ensure_certificate
from smbml_connect.excel_addin.serve import PAIRING_HEADER, ServerThread, ServeSettings
from smbml_connect.functions import FunctionContext, call

CODE = "benchmark-pairing-code"


def _serials(dates: list[list[Any]]) -> list[list[float]]:
    return [[float((d[0] - monthly(1)[0][0][0]).days + 43831)] for d in dates]  # 2020-01-01


def _forecast_args(shift: float) -> list[Any]:
    dates, values = monthly(60)
    return [_serials(dates), [[v[0] + shift] for v in values], 12]


def _lead_args(seed: int) -> list[Any]:
    return [leads_table(10_000, unknown=2_000, seed=seed, wide=True)]


def _batch(offset: int) -> list[dict[str, Any]]:
    """500 different tests: every batch is new, so warm_ms is computed, not cached."""
    return [
        {"name": "ABTEST", "args": [100 + i + 500 * offset, 100_000, 400, 100_000]}
        for i in range(500)
    ]


class Client:
    def __init__(self, base: str, ca: Path) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.verify = str(ca)
        self.session.trust_env = False

    def ms(self, calls: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
        """From sending the request (built beforehand, as the add-in builds its own) to
        having the parsed answer."""
        body = orjson.dumps({"calls": calls})
        headers = {PAIRING_HEADER: CODE, "Content-Type": "application/json"}
        started = time.perf_counter()
        response = self.session.post(self.base + "/api/call", data=body, headers=headers,
                                     timeout=300)  # fmt: skip
        response.raise_for_status()
        results = orjson.loads(response.content)["results"]
        elapsed = 1000 * (time.perf_counter() - started)
        errors = [r["error"] for r in results if "error" in r]
        if errors:
            raise SystemExit(f"benchmark call failed: {errors[0]}")
        return elapsed, results


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def case(
    client: Client,
    name: str,
    make: Any,
    repeat: int,
    target: dict[str, float],
) -> dict[str, Any]:
    cold, results = client.ms(make(0))
    warm = [client.ms(make(i + 1))[0] for i in range(repeat)]
    cached = [client.ms(make(repeat))[0] for _ in range(repeat)]
    context = FunctionContext()
    direct = []
    for i in range(repeat):
        calls = make(100 + i)
        started = time.perf_counter()
        for c in calls:
            call(c["name"], c["args"], context)
        direct.append(1000 * (time.perf_counter() - started))
    return {
        "name": name,
        "cold_ms": round(cold, 1),
        "warm_ms": _median(warm),
        "cached_ms": _median(cached),
        "direct_ms": _median(direct),
        **{f"target_{k}": v for k, v in target.items()},
        "cells_returned": sum(len(r["value"]) * len(r["value"][0]) for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--port", type=int, default=18999)
    args = parser.parse_args()
    certs = ensure_certificate(Path(tempfile.mkdtemp()) / "certs")
    settings = ServeSettings(secret=Secret(CODE), port=args.port, context=FunctionContext())
    with ServerThread(settings, certs):
        client = Client(f"https://localhost:{args.port}", certs.ca)
        cases = [
            case(client, "FORECAST 60 monthly points, 12 ahead",
                 lambda i: [{"name": "FORECAST", "args": _forecast_args(i)}], args.repeat,
                 {"warm_ms": 200.0}),
            case(client, "LEADSCORE 10,000 rows x 10 columns",
                 lambda i: [{"name": "LEADSCORE", "args": _lead_args(i)}], max(2, args.repeat // 2),
                 {"cold_ms": 2000.0, "cached_ms": 100.0}),
            case(client, "500 single-cell ABTEST calls in one request",
                 lambda i: _batch(i), args.repeat, {}),
        ]  # fmt: skip
    print(
        json.dumps(
            {
                "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
                "cases": cases,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

"""BLAS held to one thread while a model's work runs in two Python threads.

Lead and deal scoring cross-validate the logistic regression in one thread while
LightGBM's folds run in another. The logistic fits' matrix products (8,000 x 20 on a
10,000-row table) are small, and OpenBLAS split them over every core: its threads then
waited for the core the trees held. A cold LEADSCORE of 10,000 rows spent 5.2-7.5 CPU
seconds where 2.6 do with one BLAS thread, for the same scores to the last digit.

The setting is process-wide (OpenBLAS's own), and worksheet calls run several at once
on the server's workers: the first holder sets it, the last one out puts back what was
there, under one lock. threadpoolctl lets only one thread change OpenBLAS (the first to
try; others are ignored), so the thread in hand takes that role each time: else a
holder on another worker could not put the setting back and it would stay at one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import threadpoolctl

__all__ = ["one_blas_thread"]

_LOCK = threading.Lock()
_held = 0
_limiter: Any = None  # threadpoolctl's limiter while held: it knows the original setting


def _take_control() -> None:
    clear = getattr(
        getattr(threadpoolctl, "OpenBLASController", None), "clear_controlling_thread", None
    )
    if clear is not None:  # threadpoolctl 3.6 on: one controlling thread
        clear(force=True)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS libraries limited to one thread inside; as before once every holder left."""
    global _held, _limiter
    with _LOCK:
        if _held == 0:
            _take_control()
            _limiter = threadpoolctl.threadpool_limits(limits=1, user_api="blas")
        _held += 1
    try:
        yield
    finally:
        with _LOCK:
            _held -= 1
            if _held == 0:
                _take_control()
                _limiter.restore_original_limits()
                _take_control()  # no thread keeps the role: the next one in takes it
                _limiter = None

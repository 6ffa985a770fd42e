"""Results by a hash of the inputs, so a recalculation storm does not retrain.

Excel recalculates every dependent cell when anything upstream changes, and a sheet
may hold the same formula many times. Identical calls share one computation: the
first caller computes, the others wait for it (single flight), and later calls get
the stored result until it falls out of the least-recently-used window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["CacheStats", "ResultCache", "input_hash"]

T = TypeVar("T")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return {"date": value.isoformat()}
    return str(value)


def input_hash(name: str, args: Any) -> str:
    text = json.dumps([name, args], default=_plain, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    waits: int = 0  # calls that waited for an identical call already running


class ResultCache(Generic[T]):
    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self.stats = CacheStats()
        self._done: OrderedDict[str, T] = OrderedDict()
        self._running: dict[str, Future[T]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._done)

    def get_or_compute(self, key: str, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                self.stats.hits += 1
                return self._done[key]
            running = self._running.get(key)
            if running is None:
                future: Future[T] = Future()
                self._running[key] = future
                self.stats.misses += 1
            else:
                self.stats.waits += 1
        if running is not None:
            return running.result()
        try:
            value = compute()
        except BaseException as error:
            with self._lock:
                del self._running[key]
            future.set_exception(error)
            raise
        with self._lock:
            del self._running[key]
            self._done[key] = value
            while len(self._done) > self.max_entries:
                self._done.popitem(last=False)
        future.set_result(value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._done.clear()

"""Results by a hash of the inputs, so a recalculation storm does not retrain.

Excel recalculates every dependent cell when anything upstream changes, and a sheet
may hold the same formula many times. Identical calls share one computation: the
first caller computes, the others wait for it (single flight), and later calls get
the stored result until it falls out of the least-recently-used window.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

__all__ = ["CacheStats", "ResultCache", "input_hash"]

T = TypeVar("T")


def _plain(value: Any) -> Any:
    return f"{type(value).__name__}:{value}"


def input_hash(name: str, args: Any) -> str:
    """sha256 of the inputs as JSON: orjson, because a 100,000-cell range is hashed on
    every recalculation and the standard library takes ten times as long."""
    text = orjson.dumps(
        [name, args], default=_plain, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(text).hexdigest()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    waits: int = 0  # calls that waited for an identical call already running


class ResultCache(Generic[T]):
    """LRU by count and by weight (cells), so 500 small results and a few big ones both fit."""

    def __init__(
        self,
        max_entries: int = 20_000,
        max_weight: int = 20_000_000,
        weigh: Callable[[T], int] = lambda _: 1,
    ) -> None:
        self.max_entries = max_entries
        self.max_weight = max_weight
        self.weigh = weigh
        self.stats = CacheStats()
        self.weight = 0
        self._done: OrderedDict[str, tuple[T, int]] = OrderedDict()
        self._running: dict[str, Future[T]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._done)

    def get_or_compute(self, key: str, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                self.stats.hits += 1
                return self._done[key][0]
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
        weight = self.weigh(value)
        with self._lock:
            del self._running[key]
            if weight <= self.max_weight:
                self._done[key] = (value, weight)
                self.weight += weight
            while len(self._done) > self.max_entries or self.weight > self.max_weight:
                self.weight -= self._done.popitem(last=False)[1][1]
        future.set_result(value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._done.clear()
            self.weight = 0

"""A bounded cache shared by FUSE's threads, whose values are computed outside its lock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import LRUCache

V = TypeVar("V")


class Memo(Generic[V]):
    """``get(key, compute)``: the value kept for ``key``, or ``compute()``'s, kept. A failure is not kept.

    Two threads may compute the same value at once; they get equal results, and holding
    the lock while reading the source would serialise every FUSE thread.
    """

    def __init__(self, size: int) -> None:
        self._values: LRUCache[Hashable, V] = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._values:
                return self._values[key]
        value = compute()
        with self._lock:
            self._values[key] = value
        return value

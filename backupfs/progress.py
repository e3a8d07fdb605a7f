"""A progress bar on stderr for work a user waits on, silent when not on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Count, rate and time left for one stage of work, redrawn at most 10 times a second.

    A ``total`` of 0 means not known in advance (a folder being listed): count and rate only.
    """

    def __init__(self, label: str, total: int, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._start = time.monotonic()
        self._last_draw = 0.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and (now - self._last_draw >= 0.1 or self.done >= self.total):
            self._last_draw = now
            self._draw(now)

    def update(self, done: int, total: int) -> None:
        """Absolute progress, for work that reports its own counts."""
        self.total = total
        self.advance(done - self.done)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-6)
        rate = self.done / elapsed
        if self.total:
            left = max(self.total - self.done, 0) / rate if rate > 0 else 0.0
            bar = "#" * int(min(self.done / self.total, 1.0) * 30)
            line = f"{self.label}: [{bar:<30}] {self.done:,}/{self.total:,} {rate:,.0f}/s, {left:4.0f} s left "
        else:
            line = f"{self.label}: {self.done:,} {rate:,.0f}/s "
        self.stream.write("\r" + line)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Progress of work a user waits on: a bar on a terminal, a status file for other commands.

Bars are tqdm's: one per phase, with count, rate and time left, redrawn at most five times
a second, left at their final count when the phase ends, and drawn only when stderr is a
terminal (never into a log file or a pipe) and only for a phase that lasts longer than
half a second. Work that runs in a background process (typing the unnamed files after a
mount is ready) also writes how far it is into a small :class:`StatusFile`, which
``backupfs info`` reads while that process lives.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

# tqdm's default lock is a multiprocessing one, a semaphore file in /dev/shm; bars are drawn by
# one process at a time here, and a mount of an encrypted backup must create no file at all.
tqdm.set_lock(threading.RLock())

_REDRAW_SECONDS = 0.2
_SHOW_AFTER_SECONDS = 0.5
_STATUS_SECONDS = 0.5
# Held while a bar closes, so that close_all never cuts a closing bar short.
_CLOSING = threading.Lock()


_KNOWN_TOTAL = "{desc}: {percentage:3.0f}%|{bar}| {count}/{count_total}{unit} [{elapsed}<{remaining}, {speed}{postfix}]"
_UNKNOWN_TOTAL = "{desc}: {count}{unit} [{elapsed}, {speed}{postfix}]"
_STEPS = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]"


class _Bar(tqdm):
    """tqdm, with counts and rates written as 225,000 and 1,234/s rather than 225000 or 225k."""

    @property
    def format_dict(self) -> dict[str, Any]:
        values = super().format_dict
        rate = values["rate"] or (values["n"] / values["elapsed"] if values["elapsed"] else 0)
        values["count"] = f"{int(values['n']):,}"
        values["count_total"] = f"{int(values['total'] or 0):,}"
        values["speed"] = f"{rate:,.0f}/s"
        return values


@dataclass(frozen=True)
class Status:
    """How far a background process is with one phase, as its status file says."""

    pid: int
    label: str
    done: int
    total: int
    started: float
    mountpoint: str

    def seconds_left(self, now: float | None = None) -> float | None:
        elapsed = (now or time.time()) - self.started
        if self.done <= 0 or elapsed <= 0 or self.total <= self.done:
            return None
        return (self.total - self.done) * elapsed / self.done


class StatusFile:
    """The file a background process writes its progress into, for the life of that process.

    Replaced whole each time (written aside, then renamed), so a reader never sees half of
    it; removed by :meth:`remove` when the process ends. A file whose process has died is
    ignored by :func:`read_status`.
    """

    def __init__(self, path: Path, mountpoint: str) -> None:
        self.path = path
        self.mountpoint = mountpoint
        self._written = 0.0

    def write(self, label: str, done: int, total: int, started: float, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._written < _STATUS_SECONDS:
            return
        self._written = now
        status = Status(os.getpid(), label, done, total, started, self.mountpoint)
        fd, aside = tempfile.mkstemp(prefix=self.path.name + ".", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(status), out)
        os.replace(aside, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def read_status(path: Path) -> Status | None:
    """The status in ``path`` if the process that writes it is still running, else None."""
    try:
        status = Status(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    try:
        os.kill(status.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, but another user's
        pass
    return status


class Progress:
    """One phase of work: ``advance`` or ``update`` it, and close it (or use it as a context manager).

    ``total`` None means not known in advance: count and rate only. ``unit`` None means the
    work is counted in steps of unequal size, whose count and rate would mean nothing: only
    the share done and the time are shown. ``show`` None means "when ``stream`` is a
    terminal"; ``status`` also records the progress in a status file.
    """

    def __init__(
        self,
        label: str,
        total: float | None = None,
        unit: str | None = "files",
        *,
        show: bool | None = None,
        stream: TextIO | None = None,
        status: StatusFile | None = None,
    ) -> None:
        stream = stream or sys.stderr
        if show is None:
            show = stream.isatty()
        self.label = label
        self._status = status
        self._started = time.time()
        self._bar = _Bar(
            total=total, desc=label, unit=f" {unit}" if unit else "", file=stream, disable=not show, leave=True,
            mininterval=_REDRAW_SECONDS, delay=_SHOW_AFTER_SECONDS, dynamic_ncols=True,
            bar_format=_STEPS if unit is None else _UNKNOWN_TOTAL if total is None else _KNOWN_TOTAL,
        )
        self.done: float = 0
        self.total = total
        self._counted = unit is not None
        self._lock = threading.Lock()

    def advance(self, count: int = 1) -> None:
        """Relative progress; threads may advance one bar together."""
        with self._lock:
            self._move_to(self.done + count, None)

    def update(self, done: float, total: float | None = None) -> None:
        """Absolute progress, for work that reports its own counts; ``total`` when it became known."""
        with self._lock:
            self._move_to(done, total)

    def _move_to(self, done: float, total: float | None) -> None:
        if total is not None and total != self.total:
            if self.total is None and self._counted:  # from count and rate to a bar
                self._bar.bar_format = _KNOWN_TOTAL
            self.total = self._bar.total = total
        step, self.done = done - self.done, done
        self._bar.update(step)
        if self._status is not None:
            self._status.write(self.label, int(self.done), int(self.total or 0), self._started)

    def describe(self, text: str) -> None:
        """What is being done within the phase, shown after the counts."""
        self._bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        """Leave the bar at its last count on a line of its own, if it was shown at all."""
        bar = self._bar
        if not bar.disable and time.time() - bar.start_t >= _SHOW_AFTER_SECONDS:
            # A Ctrl-C right after a redraw can land before tqdm notes that it drew, and
            # tqdm would then close as if it never had, leaving the line unfinished.
            bar.last_print_t = max(bar.last_print_t, bar.start_t + _SHOW_AFTER_SECONDS)
        with _CLOSING:
            bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def close_all() -> None:
    """Close every bar still open, each on a line of its own: for a process that must exit at once.

    A bar another thread is closing is let finish first; none closes after this returns
    (the lock is kept), so that the exit that follows cuts no line short.
    """
    _CLOSING.acquire()
    for bar in list(_Bar._instances):
        bar.close()

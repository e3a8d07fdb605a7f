"""What a build learnt of each backup, kept in the index for ``info`` to show."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any


class PhaseClock:
    """Seconds spent in each phase of a build."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> float:
        now = time.perf_counter()
        self.laps[phase] = round(now - self._last, 3)
        self._last = now
        return self.laps[phase]


@dataclass
class BackupStats:
    """One backup of an index: what it is, how much of its own index survived, what was named.

    Kept as JSON in the index's ``meta`` (:meth:`as_meta`, :meth:`from_meta`).
    """

    root: str
    display_name: str
    device_name: str | None
    product_type: str | None
    ios_version: str | None
    last_backup_date: str | None  # ISO 8601
    udid: str | None
    encrypted: bool | None
    layout: str  # "hashed" (iOS 10+) or "flat"
    index_file: str | None  # Manifest.db or Manifest.mbdb, when there is one
    index_state: str  # "intact", "damaged", "missing" or "locked" (encrypted, and no password given)
    index_problem: str | None
    index_records: int
    notes: list[str]
    payloads: int
    named: dict[str, int]  # by origin
    missing_payloads: int  # files the index lists without a payload
    unnamed: dict[str, int] = field(default_factory=dict)  # by type folder, once sorted
    unnamed_to_type: int = 0  # files still to be sorted by type
    seconds: dict[str, float] = field(default_factory=dict)  # by phase of the build
    readable: dict[str, str] = field(default_factory=dict)  # folder of the readable folder -> what it holds
    decrypted: bool = False  # encrypted, and its password was given: what has a key is shown decrypted

    def as_meta(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_meta(cls, values: dict[str, Any]) -> BackupStats:
        return cls(**values)

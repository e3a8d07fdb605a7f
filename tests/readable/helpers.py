"""What the renderer tests share: reading a CSV as a spreadsheet would, damaging a database, expected dates."""

from __future__ import annotations

import csv
import io
import random
import sqlite3
from datetime import datetime

from backupfs.readable.base import Plan, safe_name

DAMAGE = (sqlite3.DatabaseError, ValueError, KeyError)  # what the framework turns into a short note
NOT_A_DATABASE = b"\x8f\x13 not a database at all " * 300


def planned(plan: Plan | None) -> Plan:
    """The plan, which the test expects there to be."""
    assert plan is not None
    return plan


def assert_names_safe_and_unique(plan: Plan, *, flat: bool) -> None:
    """Every planned name is one Windows and macOS accept, and no two differ only by case;
    ``flat``: the folder has no subfolders."""
    paths = [planned.path for planned in plan.files]
    assert all(safe_name(part) == part for path in paths for part in path.split("/"))
    assert len({path.casefold() for path in paths}) == len(paths)
    if flat:
        assert not any("/" in path for path in paths)


def stamp(unix: float | None, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A date as the lists show it, in local time; "" when unknown."""
    return "" if unix is None else datetime.fromtimestamp(unix).astimezone().strftime(pattern)


def csv_rows(data: bytes) -> list[list[str]]:
    """The rows of a CSV file, read by the csv module; it must start with the mark Excel needs to read UTF-8."""
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the byte-order mark to read UTF-8"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def page_size(data: bytes) -> int:
    """The page size a database file's header gives (1 stands for 65536)."""
    size = int.from_bytes(data[16:18], "big")
    return 65_536 if size == 1 else size


def truncated(data: bytes) -> bytes:
    """The database file cut in half, as an interrupted copy leaves it."""
    return data[:len(data) // 2]


def garbage_pages(data: bytes, kept: int = 1, seed: int = 5) -> bytes:
    """The database file with its first ``kept`` pages intact (the header and schema, with ``kept`` 1) and
    every later page overwritten by random bytes, the same for a seed."""
    start = page_size(data) * kept
    return data[:start] + random.Random(seed).randbytes(len(data) - start)


def damaged_table(data: bytes, table: str, how: str) -> bytes:
    """The database file cut before the root page of ``table`` (``how`` "truncated"), or with that page
    overwritten by garbage ("garbage"): the schema reads, the table does not."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(data)
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    finally:
        conn.close()
    size = page_size(data)
    start = (root - 1) * size
    if how == "truncated":
        return data[:start]
    return data[:start] + bytes((index * 151 + 7) % 256 for index in range(size)) + data[start + size:]

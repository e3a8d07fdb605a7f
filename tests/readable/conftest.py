"""A backup for renderer tests: named files on disk, read through the same contract as in a mount."""

from __future__ import annotations

import posixpath
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from backupfs.readable.base import lenient_text
from backupfs.source.sqlite import readonly_uri


class FixtureBackup:
    """Implements :class:`backupfs.readable.base.Backup` over files written by a test.

    ``add(domain, relative_path, data)`` puts a file in; a database is written with
    :meth:`add_database`. Links are computed as the mount shows files: ``<Domain>/<path>``
    beside the readable folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[tuple[str, str], Path] = {}

    def add(self, domain: str, relative_path: str, data: bytes) -> Path:
        path = self.folder / domain / relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files[(domain, relative_path)] = path
        return path

    def add_database(self, domain: str, relative_path: str, script: str) -> Path:
        """A database built by running ``script`` (SQL) on an empty file."""
        path = self.folder / domain / relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as conn:
            conn.executescript(script)
        conn.close()
        self.files[(domain, relative_path)] = path
        return path

    def database(self, domain: str, relative_path: str) -> sqlite3.Connection | None:
        path = self.files.get((domain, relative_path))
        if path is None:
            return None
        conn = sqlite3.connect(readonly_uri(path), uri=True)
        conn.text_factory = lenient_text
        return conn

    def has(self, domain: str, relative_path: str) -> bool:
        return (domain, relative_path) in self.files

    def read(self, domain: str, relative_path: str) -> bytes | None:
        path = self.files.get((domain, relative_path))
        return None if path is None else path.read_bytes()

    def link(self, from_file: str, domain: str, relative_path: str) -> str | None:
        """Percent-encoded, as a URL must be (a space, a '#' or a '?' in a file name would break it)."""
        if (domain, relative_path) not in self.files:
            return None
        start = posixpath.dirname(f"0 Your data/{from_file}")
        return quote(posixpath.relpath(f"{domain}/{relative_path}", start), safe="/")


@pytest.fixture
def backup(tmp_path: Path) -> FixtureBackup:
    return FixtureBackup(tmp_path / "backup")


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dates are shown in local time: a module that expects exact dates or names pins the zone with
    ``pytestmark = pytest.mark.usefixtures("utc")``."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()

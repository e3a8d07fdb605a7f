"""Metadata of entries placed straight from Manifest.db, read from its blob when asked for.

:mod:`backupfs.index.bulk` leaves each row's metadata in the private copy of the
manifest (``manifest_row``), so a large backup mounts without decoding every blob first.
The same decoding fills the index in the background (``complete.fill_attributes``); until
then, the filesystem asks here, one row at a time.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from backupfs.index.paths import recorded_attributes
from backupfs.source.manifest.mbfile import decode_mbfile
from backupfs.source.manifest.records import Kind
from backupfs.source.sqlite import connect_readonly


def row_attributes(kind: Kind, blob: object) -> tuple[int, int, int | None]:
    """``(mode, mtime_ns, recorded size)`` from a row's blob; an unreadable blob gives the defaults."""
    try:
        meta = decode_mbfile(blob)  # type: ignore[arg-type]
    except ValueError:
        return (*recorded_attributes(kind, None, None), None)
    return (*recorded_attributes(kind, meta.mode, meta.mtime), meta.size if kind is Kind.FILE else None)


class ManifestMetadata:
    """Reads rows of each backup's Manifest.db copy; safe to share between threads."""

    def __init__(self, manifests: list[Path | None]) -> None:
        self._manifests = manifests
        self._connections: dict[int, sqlite3.Connection] = {}
        self._lock = threading.Lock()

    def attributes(self, backup: int, row: int, kind: Kind) -> tuple[int, int, int | None]:
        """What :func:`row_attributes` gives for ``row`` of ``backup``'s manifest copy.

        Raises OSError when the copy cannot be read (it lives in the cache and may have
        been removed by hand).
        """
        with self._lock:
            try:
                found = self._connection(backup).execute("SELECT file FROM Files WHERE rowid=?", (row,)).fetchone()
            except sqlite3.Error as exc:
                raise OSError(f"cannot read the metadata of row {row} from {self._manifests[backup]}: {exc}") from None
        return row_attributes(kind, None if found is None else found[0])

    def _connection(self, backup: int) -> sqlite3.Connection:
        conn = self._connections.get(backup)
        if conn is None:
            manifest = self._manifests[backup]
            if manifest is None:
                raise sqlite3.OperationalError("no copy of Manifest.db is recorded for this backup")
            conn = connect_readonly(manifest, check_same_thread=False)
            self._connections[backup] = conn
        return conn

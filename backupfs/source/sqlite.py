"""SQLite files of the source: the one way to open one read-only, and a private copy of one.

SQLite cannot be asked to open a file with O_NOATIME, nor is it trusted not to write
beside a database (a ``-shm``, a journal), so it never opens a file of the source: a
database of the source (a surviving Manifest.db, a database that names other files) is
read through the careful reader of :mod:`backupfs.source.safe_open` into a private copy in
the cache, which SQLite then opens with :func:`readonly_uri`. The index itself is opened
the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from backupfs.source.safe_open import SourceFile
from backupfs.source.sqlite_view import Reader, open_view


def readonly_uri(path: Path) -> str:
    """An absolute ``file:`` URI; quoting keeps ``?``, ``#`` and ``%`` in folder names literal."""
    absolute = os.path.abspath(os.fsdecode(path))
    return "file:///" + quote(absolute.lstrip("/"), errors="surrogateescape") + "?mode=ro&immutable=1"


def snapshot_database(path: Path, destination: Path, wal_path: Path | None, chunk: int = 1 << 20) -> None:
    """Copy an SQLite database of the source into ``destination``, its ``-wal`` merged in.

    ``wal_path`` is explicit because inside a backup a database's ``-wal`` is a payload with
    its own hash.
    """
    database = SourceFile(path)
    reader: Reader = database
    size = database.size
    try:
        wal = SourceFile(wal_path) if wal_path is not None else None
    except OSError:
        wal = None
    view = open_view(database.read, database.size, wal.read if wal else None, wal.size if wal else 0)
    if view is not None:
        reader, size = view, view.size
    with open(destination, "wb") as out:
        for offset in range(0, size, chunk):
            out.write(reader.read(min(chunk, size - offset), offset))

"""The bytes behind each file of the mount, read lazily from the source.

Most files are plain windows onto one payload. SQLite databases are presented through a
view (see ``sqlite_view``) so a read-only client can open them: WAL-mode headers are
patched and a ``-wal`` sibling's committed pages are merged in. Views are computed on
first use and kept in a bounded cache; source descriptors are owned by the objects that
read through them and closed when the last user lets go.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from cachetools import LRUCache

from backupfs.index import Entry
from backupfs.manifest_meta import ManifestMetadata
from backupfs.source import UNKNOWN, shown_size
from backupfs.sourceio import open_source
from backupfs.sqlite_view import SqliteView, needs_view, open_view

log = logging.getLogger(__name__)

_SQLITE_HEAD = 100
_VIEW_CACHE_SIZE = 64
# Stats of payloads the index does not hold, and merged views' sizes (computing one means
# reading a whole -wal): tiny entries, so far more of them than of the views themselves.
_STAT_CACHE_SIZE = 65536


class Reader(Protocol):
    def read(self, size: int, offset: int) -> bytes: ...


class SourceFile:
    """An open payload; the descriptor is closed when the object is collected."""

    def __init__(self, path: str | Path, root: str | Path | None = None) -> None:
        self.fd = open_source(path, root)
        self.size = os.fstat(self.fd).st_size
        weakref.finalize(self, os.close, self.fd)

    def read(self, size: int, offset: int) -> bytes:
        return os.pread(self.fd, size, offset)


class TextReader:
    """A file whose bytes the index holds."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int, offset: int) -> bytes:
        return self.data[offset:offset + size]


class Contents:
    """Opens the content of index entries; shared by all FUSE threads."""

    def __init__(self, roots: list[Path], manifests: list[Path | None] | None = None) -> None:
        self._roots = roots
        self._root_names = [str(root) for root in roots]  # joining strings costs a tenth of a Path join
        self._manifest = ManifestMetadata(manifests or [None] * len(roots))
        self._recorded: LRUCache[tuple[int, int], tuple[int, int, int | None]] = LRUCache(maxsize=_STAT_CACHE_SIZE)
        self._views: LRUCache[tuple[int, str], SqliteView | None] = LRUCache(maxsize=_VIEW_CACHE_SIZE)
        self._stats: LRUCache[tuple[int, str], tuple[int, int]] = LRUCache(maxsize=_STAT_CACHE_SIZE)
        self._view_sizes: LRUCache[tuple[int, str], int] = LRUCache(maxsize=_STAT_CACHE_SIZE)
        self._lock = threading.Lock()

    def resolved(self, entry: Entry) -> Entry:
        """``entry`` with the metadata its Manifest.db row holds, when the index left it there."""
        row = entry.manifest_row
        if row is None:
            return entry

        def recorded() -> tuple[int, int, int | None]:
            return self._manifest.attributes(entry.backup, row, entry.kind)

        try:
            mode, mtime_ns, size = self._memoised(self._recorded, (entry.backup, row), recorded)
        except OSError as exc:
            log.warning("%s: %s", entry.path, exc)
            return entry
        mtime_ns = entry.mtime_ns if mtime_ns == UNKNOWN else mtime_ns
        return replace(entry, mode=mode, mtime_ns=mtime_ns, manifest_size=size, manifest_row=None)

    def _source(self, entry: Entry, relpath: str) -> SourceFile:
        return SourceFile(relpath, self._roots[entry.backup])

    def payload_stat(self, entry: Entry) -> tuple[int, int]:
        """``(size, mtime_ns)`` of the payload itself.

        The index leaves out what the listing did not stat (see ``source.UNKNOWN``); it is
        read from the source on first use and cached. A payload that has gone shows as
        empty rather than vanishing from its folder.
        """
        size, mtime_ns = entry.size, entry.mtime_ns
        if size != UNKNOWN and mtime_ns != UNKNOWN:
            return size, mtime_ns

        def lstat() -> tuple[int, int]:
            try:
                st = os.lstat(os.path.join(self._root_names[entry.backup], entry.source or ""))
            except OSError:
                return 0, 0
            return shown_size(st), st.st_mtime_ns

        known = self._memoised(self._stats, (entry.backup, entry.source or ""), lstat)
        return (known[0] if size == UNKNOWN else size), (known[1] if mtime_ns == UNKNOWN else mtime_ns)

    def stat(self, entry: Entry) -> tuple[int, int]:
        """``(size, mtime_ns)`` as the mount shows them: a merged database view has its own size."""
        size, mtime_ns = self.payload_stat(entry)
        if entry.wal_source is None:
            return size, mtime_ns
        if entry.view_size is not None:
            return entry.view_size, mtime_ns

        def view_size() -> int:
            view = self._merged_view(entry)
            return size if view is None else view.size

        try:
            return self._memoised(self._view_sizes, (entry.backup, entry.source or ""), view_size), mtime_ns
        except OSError:
            return size, mtime_ns

    def _memoised(self, cache: LRUCache, key: tuple[int, Any], compute: Callable[[], Any]) -> Any:
        """``cache[key]``, computed outside the lock when missing; a failure is not cached.

        Two threads may compute the same value at once; they get equal results, and
        holding the lock while reading the source would serialise every FUSE thread.
        """
        with self._lock:
            if key in cache:
                return cache[key]
        value = compute()
        with self._lock:
            cache[key] = value
        return value

    def open(self, entry: Entry) -> Reader:
        """A reader for one open() of ``entry``; raises OSError when the payload cannot be read."""
        if entry.source is None:  # a notice (see backupfs.notice): its text is in the index
            return TextReader((entry.target or "").encode())
        if entry.wal_source is not None:
            view = self._merged_view(entry)
            if view is not None:
                return view
        source = self._source(entry, entry.source or "")
        if needs_view(source.read(_SQLITE_HEAD, 0)):
            view = open_view(source.read, source.size)
            if view is not None:
                return view
        return source

    def _merged_view(self, entry: Entry) -> SqliteView | None:
        root = self._roots[entry.backup]
        return self._memoised(
            self._views, (entry.backup, entry.source or ""), lambda: merged_view(root, entry.source or "", entry.wal_source)
        )


def merged_view(root: Path, source: str, wal_source: str | None) -> SqliteView | None:
    """The database at ``source`` with its ``-wal`` merged in (None: not an SQLite database).

    Raises OSError when the database cannot be read, or its ``-wal`` has gone since the
    index was built; a ``-wal`` that cannot be read is left out.
    """
    database = SourceFile(source, root)
    try:
        wal = SourceFile(wal_source, root) if wal_source else None
    except FileNotFoundError:
        raise  # listed when indexed, gone now: fail the read rather than show older content
    except OSError:  # unreadable, or not a regular file: the database alone is what can be shown
        wal = None
    if wal is None:
        return open_view(database.read, database.size)
    return open_view(database.read, database.size, wal.read, wal.size)


def snapshot_database(path: Path, destination: Path, wal_path: Path | None, chunk: int = 1 << 20) -> None:
    """Copy an SQLite database of the source into the cache, its ``-wal`` merged in.

    SQLite cannot be asked to open a file with O_NOATIME, so a database of the source
    (a surviving Manifest.db, a database that names other files) is read through our own
    careful reader into a private copy, which SQLite then opens freely. ``wal_path`` is
    explicit because inside a backup a database's ``-wal`` is a payload with its own hash.
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

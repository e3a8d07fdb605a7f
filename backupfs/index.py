"""The mount's directory tree, persisted as an SQLite file in the user's cache folder.

Keeping the tree in SQLite rather than in Python objects keeps memory flat however many
files a backup holds, and makes the second mount of the same backup instant. The file is
written once to a temporary name and renamed into place, so an interrupted build never
leaves a half-written index behind; once in place it is never modified, which lets every
reader open it ``immutable`` (no locking, no journal).

Paths are stored as UTF-8 bytes with surrogate escapes, because names recovered from old
indexes are not always valid UTF-8. A node is keyed by its depth and its whole path rather
than by parent and name: the children of a folder are then one contiguous key range
(depth + 1, paths starting with ``folder/``), and an intact Manifest.db's rows can be copied
in by SQLite alone, with no per-row splitting of paths in Python.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from backupfs.layout import Node
from backupfs.records import Kind
from backupfs.source import UNKNOWN

FORMAT_VERSION = 8

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE backups(no INTEGER PRIMARY KEY, root TEXT NOT NULL, prefix TEXT NOT NULL, manifest TEXT);
CREATE TABLE nodes(
    depth INTEGER NOT NULL,
    path BLOB NOT NULL,
    kind INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    backup INTEGER NOT NULL,
    source TEXT,
    file_id TEXT,
    origin TEXT,
    target BLOB,
    wal_source TEXT,
    manifest_size INTEGER,
    real_name BLOB,
    file_type TEXT,
    manifest_row INTEGER,
    view_size INTEGER,
    PRIMARY KEY(depth, path)
) WITHOUT ROWID;
"""

_COLUMNS = (
    "path, kind, mode, size, mtime_ns, backup, source, file_id, origin, target, wal_source, manifest_size, "
    "real_name, file_type, manifest_row, view_size"
)
NODE_COLUMNS = f"depth, {_COLUMNS}"


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _decode(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry read back from the index; ``path`` is relative to the mount root."""

    path: str
    kind: Kind
    mode: int
    size: int
    mtime_ns: int
    backup: int
    source: str | None
    file_id: str | None
    origin: str | None
    target: str | None
    wal_source: str | None
    manifest_size: int | None
    real_name: str | None
    file_type: str | None
    manifest_row: int | None = None  # its row in the backup's Manifest.db while its metadata is still there
    view_size: int | None = None  # the size of a database shown merged with its -wal, once worked out


ROOT = Entry("", Kind.DIR, 0o040555, 0, 0, 0, None, None, None, None, None, None, None, None)


def depth_of(path: str) -> int:
    """How deep a mount path ("a/b/c") lies: 1 for an entry of the root."""
    return path.count("/") + 1


# Index files this process is writing: one that must exit at once removes them first
# (see backupfs.finish), as an interrupted build must leave nothing behind.
WRITING: set[str] = set()


@contextmanager
def new_index(path: Path, start_from: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A connection to a new index file, renamed over ``path`` when the block succeeds.

    The file starts empty, or as a copy of ``start_from``. It is written next to ``path``
    and only renamed into place once complete: readers of the old file keep reading it
    (an index is never modified in place) and an interrupted build leaves nothing behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, index_tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    WRITING.add(index_tmp)
    try:
        if start_from is not None:
            shutil.copyfile(start_from, index_tmp)
        conn = sqlite3.connect(index_tmp)
        try:
            # The file is private until renamed, so durability on the way is worthless; a
            # large page cache keeps SQLite's B-tree inserts in memory.
            conn.executescript(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-131072;"
            )
            yield conn
            conn.commit()
        finally:
            conn.close()
        os.replace(index_tmp, path)
    except BaseException:
        Path(index_tmp).unlink(missing_ok=True)
        raise
    finally:
        WRITING.discard(index_tmp)


def create_tables(
    conn: sqlite3.Connection, roots: list[Path], prefixes: list[tuple[str, ...]], manifests: list[Path | None]
) -> None:
    """The empty tables of a new index, with one row per backup.

    ``prefixes`` are the folders each backup is shown in (none when there is one backup);
    ``manifests`` the private copies of their Manifest.db that ``manifest_row`` points into.
    """
    conn.executescript(_SCHEMA)
    conn.executemany(
        "INSERT INTO backups VALUES (?, ?, ?, ?)",
        [
            (no, str(root), json.dumps(prefix), None if manifest is None else str(manifest))
            for no, (root, prefix, manifest) in enumerate(zip(roots, prefixes, manifests))
        ],
    )


def set_meta(conn: sqlite3.Connection, meta: dict[str, object]) -> None:
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])


def node_row(node: Node) -> tuple:
    """``node`` as a row of ``nodes`` (in :data:`NODE_COLUMNS` order)."""
    return (
        len(node.path),
        _encode("/".join(node.path)),
        int(node.kind),
        node.mode,
        node.size,
        node.mtime_ns,
        node.backup,
        node.source,
        node.file_id,
        node.origin,
        None if node.target is None else _encode(node.target),
        node.wal_source,
        node.manifest_size,
        None if node.real_name is None else _encode(node.real_name),
        node.file_type,
        node.manifest_row,
        node.view_size,
    )


class Index:
    """Read access to a finished index, safe to share between FUSE's threads.

    Connections are pooled rather than kept per thread: libfuse calls into Python from
    threads that Python sees anew on every call, so thread-local connections were opened
    afresh for each request (half a millisecond of a ``stat``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool: queue.SimpleQueue[tuple[sqlite3.Connection, int]] = queue.SimpleQueue()
        self._generation = 0
        self.refresh()

    def refresh(self) -> None:
        """Move to the file now at ``path``, after the completion of the index replaced it."""
        self._generation += 1
        with self._connection() as conn:
            backups = conn.execute("SELECT root, prefix, manifest FROM backups ORDER BY no").fetchall()
            meta = conn.execute("SELECT key, value FROM meta").fetchall()
        self.roots = [Path(root) for root, _, _ in backups]
        self.prefixes = [tuple(json.loads(prefix)) for _, prefix, _ in backups]
        # Private copies of each backup's Manifest.db, for entries whose metadata is still there.
        self.manifests = [None if manifest is None else Path(manifest) for _, _, manifest in backups]
        self.meta = {key: json.loads(value) for key, value in meta}

    @property
    def pending_dirs(self) -> list[str]:
        """Folders whose content is not known yet: unnamed payloads still to be typed."""
        return list(self.meta.get("pending_dirs", []))

    def file_ids(self, backup: int) -> set[str]:
        """The file ids shown for ``backup`` so far."""
        with self._connection() as conn:
            query = "SELECT group_concat(file_id, ' ') FROM nodes WHERE backup=? AND file_id IS NOT NULL"
            return set((conn.execute(query, (backup,)).fetchone()[0] or "").split())

    def unread_count(self) -> int:
        """Entries whose metadata is still to be read: from a manifest row, the payload, or a ``-wal``."""
        with self._connection() as conn:
            query = (
                "SELECT count(*) FROM nodes WHERE manifest_row IS NOT NULL OR (kind=1 AND (size=? OR mtime_ns=?)) "
                "OR (wal_source IS NOT NULL AND view_size IS NULL)"
            )
            return conn.execute(query, (UNKNOWN, UNKNOWN)).fetchone()[0]

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection to the current file, taken from the pool and given back after use."""
        conn = None
        while conn is None:
            try:
                conn, generation = self._pool.get_nowait()
            except queue.Empty:
                index_uri = f"file:{quote(str(self.path))}?mode=ro&immutable=1"
                conn = sqlite3.connect(index_uri, uri=True, check_same_thread=False)
                generation = self._generation
            if generation != self._generation:  # opened on a file since replaced
                conn.close()
                conn = None
        try:
            yield conn
        finally:
            self._pool.put((conn, generation))

    def lookup(self, path: str) -> Entry | None:
        """The entry at ``path`` ("a/b/c", no leading slash; "" is the root)."""
        if path == "":
            return ROOT
        with self._connection() as conn:
            query = f"SELECT {_COLUMNS} FROM nodes WHERE depth=? AND path=?"
            row = conn.execute(query, (depth_of(path), _encode(path))).fetchone()
        return None if row is None else self._entry(row)

    @staticmethod
    def _children(path: str, after: str | None = None) -> tuple[str, tuple[int | bytes, ...]]:
        """The WHERE clause selecting the entries directly inside folder ``path``, and its values.

        Only those whose name sorts after ``after``, when given: one key range either way.
        """
        if path == "":
            return ("depth=1", ()) if after is None else ("depth=1 AND path>?", (_encode(after),))
        start = _encode(path) + b"/"
        # Every child is one level deeper and starts with "path/"; "0" is the byte after "/".
        lowest = start if after is None else start + _encode(after)
        return "depth=? AND path>? AND path<?", (depth_of(path) + 1, lowest, start[:-1] + b"0")

    def listing(self, path: str) -> list[tuple[str, int]]:
        """``(name, mode)`` of each entry directly inside directory ``path``.

        What a directory listing needs and no more: building full entries costs ten
        times as much, and a walk of the mount lists every entry.
        """
        where, values = self._children(path)
        skip = len(_encode(path)) + 2 if path else 1
        with self._connection() as conn:
            rows = conn.execute(f"SELECT substr(path, {skip}), mode FROM nodes WHERE {where}", values).fetchall()
        return [(name.decode("utf-8", "surrogateescape"), mode) for name, mode in rows]

    def listing_attributes(
        self, path: str, after: str | None = None, limit: int = -1, skip: int = 0
    ) -> list[tuple[str, int, int, int, int, bool]]:
        """``(name, kind, mode, size, mtime_ns, final)`` of entries directly inside folder ``path``.

        For a listing that carries every entry's attributes (FUSE's READDIRPLUS), without
        building a full entry per child. ``final`` is false when the attributes still need
        the source: a size or mtime the listing of payloads did not stat, metadata still in
        a Manifest.db row, or the size of a database shown merged with its ``-wal``.
        In the order of their names' bytes: up to ``limit`` entries after the one named
        ``after``, or after the first ``skip``, so a long folder can be read in chunks.
        """
        where, values = self._children(path, after)
        start = len(_encode(path)) + 2 if path else 1
        query = (
            f"SELECT substr(path, {start}), kind, mode, coalesce(view_size, size), mtime_ns, "
            "manifest_row IS NULL AND (wal_source IS NULL OR view_size IS NOT NULL) AND size <> ? AND mtime_ns <> ? "
            f"FROM nodes WHERE {where} ORDER BY depth, path LIMIT ? OFFSET ?"
        )
        with self._connection() as conn:
            rows = conn.execute(query, (UNKNOWN, UNKNOWN, *values, limit, skip)).fetchall()
        return [(name.decode("utf-8", "surrogateescape"), *rest) for name, *rest in rows]

    def size_mismatches(self) -> dict[int, int]:
        """Per backup, how many payloads differ in size from what their index row records.

        Read from a completed index, which holds every payload's real size.
        """
        with self._connection() as conn:
            query = (
                "SELECT backup, count(*) FROM nodes WHERE manifest_size IS NOT NULL AND source IS NOT NULL "
                "AND size <> manifest_size GROUP BY backup"
            )
            return dict(conn.execute(query).fetchall())

    def walk(self) -> Iterator[Entry]:
        """Every entry, for reports and tests."""
        with self._connection() as conn:
            for row in conn.execute(f"SELECT {_COLUMNS} FROM nodes"):
                yield self._entry(row)

    @staticmethod
    def _entry(row: tuple) -> Entry:
        return Entry(
            path=_decode(row[0]) or "",
            kind=Kind(row[1]),
            mode=row[2],
            size=row[3],
            mtime_ns=row[4],
            backup=row[5],
            source=row[6],
            file_id=row[7],
            origin=row[8],
            target=_decode(row[9]),
            wal_source=row[10],
            manifest_size=row[11],
            real_name=_decode(row[12]),
            file_type=row[13],
            manifest_row=row[14],
            view_size=row[15],
        )

    def close(self) -> None:
        """Close the connections not in use (all of them, once no call is running)."""
        while True:
            try:
                conn, _ = self._pool.get_nowait()
            except queue.Empty:
                return
            conn.close()

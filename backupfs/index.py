"""The mount's directory tree, persisted as an SQLite file in the user's cache folder.

Keeping the tree in SQLite rather than in Python objects keeps memory flat however many
files a backup holds, and makes the second mount of the same backup instant. The file is
written once to a temporary name and renamed into place, so an interrupted build never
leaves a half-written index behind; once in place it is never modified, which lets every
reader open it ``immutable`` (no locking, no journal).

Paths are stored as UTF-8 bytes with surrogate escapes, because names recovered from old
indexes are not always valid UTF-8.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from backupfs.layout import OTHER_DATA, Node
from backupfs.records import Kind

FORMAT_VERSION = 5

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE backups(no INTEGER PRIMARY KEY, root TEXT NOT NULL, prefix TEXT NOT NULL);
CREATE TABLE nodes(
    parent BLOB NOT NULL,
    name BLOB NOT NULL,
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
    PRIMARY KEY(parent, name)
) WITHOUT ROWID;
CREATE TABLE pending(
    backup INTEGER NOT NULL,
    file_id TEXT NOT NULL,
    source TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    mode INTEGER NOT NULL
);
"""

_COLUMNS = (
    "name, kind, mode, size, mtime_ns, backup, source, file_id, origin, target, wal_source, manifest_size, "
    "real_name, file_type"
)


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


ROOT = Entry("", Kind.DIR, 0o040555, 0, 0, 0, None, None, None, None, None, None, None, None)


@dataclass(frozen=True, slots=True)
class PendingPayload:
    """An unnamed payload waiting to be typed, then placed under ``other-data``."""

    backup: int
    file_id: str
    source: str
    size: int
    mtime_ns: int
    mode: int


def write_index(
    path: Path,
    roots: list[Path],
    nodes: Iterable[Node],
    meta: dict[str, object],
    pending: Iterable[PendingPayload] = (),
    prefixes: list[tuple[str, ...]] | None = None,
) -> None:
    """Write an index atomically at ``path``; it is complete once no payload is ``pending``.

    ``prefixes`` are the folders each backup is shown in (none when there is one backup).
    """
    pending = list(pending)
    prefixes = prefixes or [()] * len(roots)

    def fill(conn: sqlite3.Connection) -> None:
        conn.executescript(_SCHEMA)
        conn.executemany(
            "INSERT INTO backups VALUES (?, ?, ?)",
            [(no, str(root), json.dumps(prefix)) for no, (root, prefix) in enumerate(zip(roots, prefixes))],
        )
        pending_dirs = sorted({"/".join((*prefixes[p.backup], OTHER_DATA)) for p in pending})
        _set_meta(conn, {**meta, "format_version": FORMAT_VERSION, "pending_dirs": pending_dirs})
        _insert_nodes(conn, nodes)
        conn.executemany(
            "INSERT INTO pending VALUES (?,?,?,?,?,?)",
            ((p.backup, p.file_id, p.source, p.size, p.mtime_ns, p.mode) for p in pending),
        )

    _write_atomically(path, None, fill)


def complete_index(path: Path, nodes: Iterable[Node], meta: Callable[[], dict[str, object]]) -> None:
    """Replace the index at ``path`` by a copy holding ``nodes`` instead of its pending payloads.

    ``nodes`` may be produced as they are consumed, and ``meta()`` is called once they
    all are, so whatever is learnt on the way can be recorded. Readers of the old file keep
    reading it (it is never modified in place); :meth:`Index.refresh` moves to the new one.
    """

    def fill(conn: sqlite3.Connection) -> None:
        _insert_nodes(conn, nodes)
        conn.execute("DELETE FROM pending")
        _set_meta(conn, {**meta(), "pending_dirs": []})

    _write_atomically(path, path, fill)


def _set_meta(conn: sqlite3.Connection, meta: dict[str, object]) -> None:
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])


def _insert_nodes(conn: sqlite3.Connection, nodes: Iterable[Node]) -> None:
    conn.executemany(
        "INSERT INTO nodes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            (
                _encode("/".join(n.path[:-1])),
                _encode(n.path[-1]),
                int(n.kind),
                n.mode,
                n.size,
                n.mtime_ns,
                n.backup,
                n.source,
                n.file_id,
                n.origin,
                None if n.target is None else _encode(n.target),
                n.wal_source,
                n.manifest_size,
                None if n.real_name is None else _encode(n.real_name),
                n.file_type,
            )
            for n in nodes
        ),
    )


def _write_atomically(path: Path, start_from: Path | None, fill: Callable[[sqlite3.Connection], None]) -> None:
    """Write a new file next to ``path`` (a copy of ``start_from`` if given), then rename it over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, index_tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if start_from is not None:
            shutil.copyfile(start_from, index_tmp)
        conn = sqlite3.connect(index_tmp)
        try:
            conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
            fill(conn)
            conn.commit()
        finally:
            conn.close()
        os.replace(index_tmp, path)
    except BaseException:
        Path(index_tmp).unlink(missing_ok=True)
        raise


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
        """Move to the file now at ``path`` (after :func:`complete_index` replaced it)."""
        self._generation += 1
        with self._connection() as conn:
            backups = conn.execute("SELECT root, prefix FROM backups ORDER BY no").fetchall()
            meta = conn.execute("SELECT key, value FROM meta").fetchall()
        self.roots = [Path(root) for root, _ in backups]
        self.prefixes = [tuple(json.loads(prefix)) for _, prefix in backups]
        self.meta = {key: json.loads(value) for key, value in meta}

    @property
    def pending_dirs(self) -> list[str]:
        """Folders whose content is not known yet: unnamed payloads still to be typed."""
        return list(self.meta.get("pending_dirs", []))

    def pending(self) -> Iterator[PendingPayload]:
        """The unnamed payloads still to be typed, by backup then file id (copies side by side)."""
        with self._connection() as conn:
            query = "SELECT backup, file_id, source, size, mtime_ns, mode FROM pending ORDER BY backup, file_id"
            for row in conn.execute(query):
                yield PendingPayload(*row)

    def pending_count(self) -> int:
        with self._connection() as conn:
            return conn.execute("SELECT count(*) FROM pending").fetchone()[0]

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
        parent, _, name = path.rpartition("/")
        with self._connection() as conn:
            query = f"SELECT {_COLUMNS} FROM nodes WHERE parent=? AND name=?"
            row = conn.execute(query, (_encode(parent), _encode(name))).fetchone()
        return None if row is None else self._entry(parent, row)

    def listing(self, path: str) -> list[tuple[str, int]]:
        """``(name, mode)`` of each entry directly inside directory ``path``.

        What a directory listing needs and no more: building full entries costs ten
        times as much, and a walk of the mount lists every entry.
        """
        with self._connection() as conn:
            rows = conn.execute("SELECT name, mode FROM nodes WHERE parent=?", (_encode(path),)).fetchall()
        return [(name.decode("utf-8", "surrogateescape"), mode) for name, mode in rows]

    def recorded_sizes(self) -> list[tuple[int, str, int]]:
        """``(backup, source, size)`` of every file whose index row records a size."""
        with self._connection() as conn:
            query = "SELECT backup, source, manifest_size FROM nodes WHERE manifest_size IS NOT NULL AND source IS NOT NULL"
            return conn.execute(query).fetchall()

    def walk(self) -> Iterator[Entry]:
        """Every entry, for reports and tests."""
        with self._connection() as conn:
            for parent, *row in conn.execute(f"SELECT parent, {_COLUMNS} FROM nodes"):
                yield self._entry(_decode(parent) or "", row)

    @staticmethod
    def _entry(parent: str, row: tuple) -> Entry:
        name = _decode(row[0]) or ""
        return Entry(
            path=f"{parent}/{name}" if parent else name,
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
        )

    def close(self) -> None:
        """Close the connections not in use (all of them, once no call is running)."""
        while True:
            try:
                conn, _ = self._pool.get_nowait()
            except queue.Empty:
                return
            conn.close()

"""Reading an index: the mount's tree, persisted as an SQLite file in the user's cache folder.

Keeping the tree in SQLite rather than in Python objects keeps memory flat however many
files a backup holds, and makes the second mount of the same backup instant. An index is
never modified once written (see :mod:`backupfs.index.writing`), so it is opened
``immutable``: no locking, no journal.
"""

from __future__ import annotations

import json
import queue
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backupfs.index.schema import (
    COLUMNS,
    ROOT,
    Node,
    decode,
    depth_of,
    encode,
    row_node,
)
from backupfs.index.stats import BackupStats
from backupfs.source.payloads import UNSTATED
from backupfs.source.sqlite import connect_readonly

_SELECT = ", ".join(COLUMNS)


PAYLOADS_AS_THEY_ARE = "payloads_as_they_are"
"""Meta key: true in an index whose payloads are shown byte for byte (a repaired backup's view)."""
MEASURED_IN = "readable_measured_in"
"""Meta key: the time zone the readable folder's sizes were measured in (see index.readable.local_zone)."""


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
    def backup_stats(self) -> list[BackupStats]:
        """What the build learnt of each backup, in the order of :attr:`roots`."""
        return [BackupStats.from_meta(values) for values in self.meta["backups"]]

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
            return conn.execute(query, (UNSTATED, UNSTATED)).fetchone()[0]

    def unmeasured(self, zone: str) -> list[str]:
        """Files of the readable folder whose size is still to be measured (by rendering them):
        all of them when they were measured in another time zone than ``zone``."""
        everything = self.meta.get(MEASURED_IN) != zone
        with self._connection() as conn:
            query = "SELECT path FROM nodes WHERE view IS NOT NULL" + ("" if everything else " AND size=?")
            rows = conn.execute(query, () if everything else (UNSTATED,)).fetchall()
        return [decode(path) or "" for (path,) in rows]

    def class_keys(self) -> dict[int, dict[int, bytes]]:
        """Per backup whose payloads can be decrypted, its class keys (an index kept in memory only)."""
        keys: dict[int, dict[int, bytes]] = {}
        with self._connection() as conn:
            for backup, clas, key in conn.execute("SELECT backup, class, key FROM class_keys"):
                keys.setdefault(backup, {})[clas] = key
        return keys

    def file_key(self, backup: int, source: str) -> tuple[bytes, int | None] | None:
        """The wrapped key of the payload at ``source`` and the plaintext size its manifest records."""
        with self._connection() as conn:
            return conn.execute(
                "SELECT wrapped_key, size FROM file_keys WHERE backup=? AND source=?", (backup, source)
            ).fetchone()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection to the current file, taken from the pool and given back after use."""
        conn = None
        while conn is None:
            try:
                conn, generation = self._pool.get_nowait()
            except queue.Empty:
                conn = connect_readonly(self.path, check_same_thread=False)
                generation = self._generation
            if generation != self._generation:  # opened on a file since replaced
                conn.close()
                conn = None
        try:
            yield conn
        finally:
            self._pool.put((conn, generation))

    def lookup(self, path: str) -> Node | None:
        """The entry at ``path`` ("a/b/c", no leading slash; "" is the root)."""
        if path == "":
            return ROOT
        with self._connection() as conn:
            query = f"SELECT {_SELECT} FROM nodes WHERE depth=? AND path=?"
            row = conn.execute(query, (depth_of(path), encode(path))).fetchone()
        return None if row is None else row_node(row)

    def named(self, backup: int, real_name: str, outside: str) -> Node | None:
        """The file of ``backup`` named ``real_name`` ("domain/relativePath") that is not in the
        folder ``outside``, the first copy when there are several."""
        with self._connection() as conn:
            return find_named(conn, backup, real_name, outside)

    @staticmethod
    def _children(path: str, after: str | None = None) -> tuple[str, tuple[int | bytes, ...]]:
        """The WHERE clause selecting the entries directly inside folder ``path``, and its values.

        Only those whose name sorts after ``after``, when given: one key range either way.
        """
        if path == "":
            return ("depth=1", ()) if after is None else ("depth=1 AND path>?", (encode(after),))
        start = encode(path) + b"/"
        # Every child is one level deeper and starts with "path/"; "0" is the byte after "/".
        lowest = start if after is None else start + encode(after)
        return "depth=? AND path>? AND path<?", (depth_of(path) + 1, lowest, start[:-1] + b"0")

    def listing(self, path: str) -> list[tuple[str, int]]:
        """``(name, mode)`` of each entry directly inside directory ``path``.

        What a directory listing needs and no more: building full entries costs ten
        times as much, and a walk of the mount lists every entry.
        """
        where, values = self._children(path)
        skip = len(encode(path)) + 2 if path else 1
        with self._connection() as conn:
            rows = conn.execute(f"SELECT substr(path, {skip}), mode FROM nodes WHERE {where}", values).fetchall()
        return [(name.decode("utf-8", "surrogateescape"), mode) for name, mode in rows]

    def children(self, path: str) -> list[Node]:
        """The entries directly inside folder ``path``, whole: for a walk that needs each one's
        payload (an extract), one query per folder rather than one lookup per entry."""
        where, values = self._children(path)
        with self._connection() as conn:
            rows = conn.execute(f"SELECT {_SELECT} FROM nodes WHERE {where} ORDER BY depth, path", values).fetchall()
        return [row_node(row) for row in rows]

    def listing_attributes(
        self, path: str, after: str | None = None, limit: int = -1, skip: int = 0, rendered_sizes_hold: bool = True
    ) -> list[tuple[str, int, int, int, int, bool]]:
        """``(name, kind, mode, size, mtime_ns, final)`` of entries directly inside folder ``path``.

        For a listing that carries every entry's attributes (FUSE's READDIRPLUS), without
        building a full entry per child. ``final`` is false when the attributes still need
        the source: a size or mtime the listing of payloads did not stat, metadata still in
        a Manifest.db row, or the size of a database shown merged with its ``-wal``; or, unless
        ``rendered_sizes_hold``, the size of a rendered file (measured in another time zone).
        In the order of their names' bytes: up to ``limit`` entries after the one named
        ``after``, or after the first ``skip``, so a long folder can be read in chunks.
        """
        where, values = self._children(path, after)
        start = len(encode(path)) + 2 if path else 1
        query = (
            f"SELECT substr(path, {start}), kind, mode, coalesce(view_size, size), mtime_ns, "
            "manifest_row IS NULL AND (wal_source IS NULL OR view_size IS NOT NULL) AND size <> ? AND mtime_ns <> ? "
            f"AND (view IS NULL OR ?) FROM nodes WHERE {where} ORDER BY depth, path LIMIT ? OFFSET ?"
        )
        with self._connection() as conn:
            rows = conn.execute(query, (UNSTATED, UNSTATED, rendered_sizes_hold, *values, limit, skip)).fetchall()
        return [(name.decode("utf-8", "surrogateescape"), *rest) for name, *rest in rows]

    def size_mismatches(self) -> dict[int, int]:
        """Per backup, how many payloads are shorter than their index row records: cut short.

        Read from a completed index, which holds every payload's real size. A longer one is
        no loss: the ciphertext of an encrypted file is padded beyond its recorded size.
        """
        with self._connection() as conn:
            query = (
                "SELECT backup, count(*) FROM nodes WHERE manifest_size IS NOT NULL AND source IS NOT NULL "
                "AND size < manifest_size GROUP BY backup"
            )
            return dict(conn.execute(query).fetchall())

    def walk(self) -> Iterator[Node]:
        """Every entry, for reports and tests."""
        with self._connection() as conn:
            for row in conn.execute(f"SELECT {_SELECT} FROM nodes"):
                yield row_node(row)

    def close(self) -> None:
        """Close the connections not in use (all of them, once no call is running)."""
        while True:
            try:
                conn, _ = self._pool.get_nowait()
            except queue.Empty:
                return
            conn.close()


def find_named(conn: sqlite3.Connection, backup: int, real_name: str, outside: str) -> Node | None:
    """:meth:`Index.named` on an open connection (also one writing a new index)."""
    inside = encode(f"{outside}/")
    row = conn.execute(
        f"SELECT {_SELECT} FROM nodes WHERE real_name=? AND backup=? AND kind=1 AND substr(path, 1, ?) != ? "
        "ORDER BY depth, path LIMIT 1",
        (encode(real_name), backup, len(inside), inside),
    ).fetchone()
    return None if row is None else row_node(row)

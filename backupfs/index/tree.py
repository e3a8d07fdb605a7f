"""Write the mount's tree into a new index: every payload at a unique path, every folder present.

Nodes arrive from several places (an intact Manifest.db copied in by SQLite, names proven
in Python, typed unnamed payloads), so the rules that make the tree whole are applied to
the table itself rather than to Python objects, which a large backup cannot afford:

* a node whose path is taken is never dropped: a folder keeps the path and a file or a
  symlink moves to ``<name>~<first 8 hex digits of its fileid>`` (the whole fileid, then
  ``~2``, ``~3``... when that is taken too; a link without a fileid is tagged with the
  SHA1 of its target), in the same folder, so a link's target keeps its meaning;
* :meth:`TreeWriter.finish` adds every missing parent folder, and gives a database's
  ``-wal``/``-journal`` sibling its ``.raw`` name (see :mod:`backupfs.index.paths`).
"""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from collections.abc import Iterable

from backupfs.index.paths import RAW_SUFFIX, safe_component
from backupfs.index.schema import NODE_COLUMNS, Node, node_row
from backupfs.naming.prove import Origin
from backupfs.source.manifest.records import Kind

_BATCH = 4096
_FOLDER_MODE = stat.S_IFDIR | 0o555
_INSERT = f"INSERT INTO nodes ({NODE_COLUMNS}) VALUES ({','.join('?' * len(NODE_COLUMNS.split(',')))}) ON CONFLICT DO NOTHING"


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class TreeWriter:
    """Adds nodes to the ``nodes`` table of an index being written, keeping every one visible."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, nodes: Iterable[Node]) -> None:
        """Insert ``nodes``; one whose path is taken is placed by the clash rules instead."""
        batch: list[Node] = []
        for node in nodes:
            batch.append(node)
            if len(batch) >= _BATCH:
                self._insert(batch)
                batch = []
        if batch:
            self._insert(batch)

    def _insert(self, batch: list[Node]) -> None:
        before = self.conn.total_changes
        self.conn.executemany(_INSERT, [node_row(node) for node in batch])
        if self.conn.total_changes - before == len(batch):
            return
        for node in batch:  # some path was taken: find which nodes did not go in
            if not self._holds(node):
                self._place_clashing(node)

    def _holds(self, node: Node) -> bool:
        row = self.conn.execute(
            "SELECT kind, file_id, source, target FROM nodes WHERE depth=? AND path=?",
            (node.depth, _raw(node.path)),
        ).fetchone()
        target = None if node.target is None else _raw(node.target)
        return row == (int(node.kind), node.file_id, node.source, target)

    def _place_clashing(self, node: Node) -> None:
        path = node.path
        taken_by = self._kind_at(path)
        if node.kind is Kind.DIR:
            if taken_by is Kind.DIR:
                return  # the same folder from two sources: one is enough
            self._move_aside(path)  # a folder keeps the path; the file there moves
            self.conn.execute(_INSERT, node_row(node))
            return
        node.path = "/".join(self._unique_path(path, node.file_id, node.target))
        self.conn.execute(_INSERT, node_row(node))

    def _kind_at(self, path: str) -> Kind | None:
        row = self.conn.execute(
            "SELECT kind FROM nodes WHERE depth=? AND path=?", (path.count("/") + 1, _raw(path))
        ).fetchone()
        return None if row is None else Kind(row[0])

    def _move_aside(self, path: str) -> None:
        """Give the file or link at ``path`` a unique name, freeing the path for a folder."""
        depth = path.count("/") + 1
        file_id, target = self.conn.execute(
            "SELECT file_id, target FROM nodes WHERE depth=? AND path=?", (depth, _raw(path))
        ).fetchone()
        new = self._unique_path(path, file_id, None if target is None else _text(target))
        self._rename(path, "/".join(new))

    def _rename(self, old: str, new: str) -> None:
        self.conn.execute(
            "UPDATE nodes SET depth=?, path=? WHERE depth=? AND path=?",
            (new.count("/") + 1, _raw(new), old.count("/") + 1, _raw(old)),
        )

    def _unique_path(self, path: str, file_id: str | None, target: str | None) -> tuple[str, ...]:
        """``path`` with a tag from the file id (or the link target) that no node holds yet."""
        parts = tuple(path.split("/"))
        base, leaf = parts[:-1], parts[-1]
        tag = file_id or hashlib.sha1(_raw(target or "")).hexdigest()
        candidates = [f"{leaf}~{tag[:8]}", f"{leaf}~{tag}"]
        counter = 2
        while True:
            for candidate in candidates:
                new = base + (safe_component(candidate),)
                if self._kind_at("/".join(new)) is None:
                    return new
            candidates = [f"{leaf}~{tag}~{counter}"]
            counter += 1

    def finish(self) -> None:
        """Add the missing parent folders, then name WAL siblings ``.raw`` (in that order)."""
        self._add_parent_folders()
        self._rename_wal_siblings()

    def _add_parent_folders(self) -> None:
        parents: set[bytes] = set()
        for (path,) in self.conn.execute("SELECT path FROM nodes"):
            cut = path.rfind(b"/")
            if cut > 0:
                parents.add(path[:cut])
        folders = set(parents)
        for parent in parents:
            cut = parent.rfind(b"/")
            while cut > 0 and parent[:cut] not in folders:
                parent = parent[:cut]
                folders.add(parent)
                cut = parent.rfind(b"/")
        self.add(
            Node(path=_text(folder), kind=Kind.DIR, mode=_FOLDER_MODE)
            for folder in sorted(folders, key=lambda f: (f.count(b"/"), f))
        )

    def _rename_wal_siblings(self) -> None:
        """A database's ``-wal``/``-journal`` is shown as ``<name>.raw`` and linked to the database.

        The database itself is shown with its WAL merged in; a SQLite client that found a
        ``-wal`` beside it would try to replay it a second time.
        """
        query = """
            SELECT w.path, w.source, w.backup = d.backup, r.path IS NULL
            FROM nodes w
            JOIN nodes d ON d.depth = w.depth AND d.path = substr(w.path, 1, length(w.path) - :cut) AND d.kind = 1
            LEFT JOIN nodes r ON r.depth = w.depth AND r.path = CAST(w.path || '.raw' AS BLOB)
            WHERE w.kind = 1 AND w.origin IS NOT :unnamed AND substr(w.path, -:cut) = CAST(:suffix AS BLOB)
        """
        renames, links = [], []
        for suffix in ("-wal", "-journal"):
            values = {"cut": len(suffix), "suffix": suffix, "unnamed": Origin.UNKNOWN}
            for raw_path, source, same_backup, raw_free in self.conn.execute(query, values).fetchall():
                path = _text(raw_path)
                head, _, leaf = path.rpartition("/")
                raw_name = safe_component(leaf + RAW_SUFFIX)
                if raw_name != leaf + RAW_SUFFIX:  # cut to NAME_MAX: check that name instead
                    raw_free = self._kind_at(f"{head}/{raw_name}" if head else raw_name) is None
                if not raw_free:
                    continue
                renames.append((path, f"{head}/{raw_name}" if head else raw_name))
                if suffix == "-wal" and same_backup:
                    links.append((source, path.count("/") + 1, raw_path[: -len(suffix)]))
        for old, new in renames:
            self._rename(old, new)
        self.conn.executemany("UPDATE nodes SET wal_source=? WHERE depth=? AND path=?", links)

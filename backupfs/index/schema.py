"""The index's one table, ``nodes``, and :class:`Node`, the record each of its rows is.

This module is the one list of the columns: the table's definition, the record written
and read back, and the conversions between them. Adding a column means a field of
:class:`Node`, a line of :data:`SCHEMA`, and a step of :data:`FORMAT_VERSION` with its
line in :data:`FORMAT_CHANGES` (an index of another format is rebuilt, never read).

Paths are stored as UTF-8 bytes with surrogate escapes, because names recovered from old
indexes are not always valid UTF-8. A node is keyed by its depth and its whole path rather
than by parent and name: the children of a folder are then one contiguous key range
(depth + 1, paths starting with ``folder/``), and an intact Manifest.db's rows can be copied
in by SQLite alone, with no per-row splitting of paths in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter

from backupfs.source.manifest.records import Kind

FORMAT_VERSION = 11
FORMAT_CHANGES = {
    1: "a persistent index of the mount's tree in the user's cache folder",
    2: "names harvested from the backup's own databases",
    3: "unnamed payloads typed once the mount is up (a pending table)",
    4: "payloads listed without a stat: size and mtime may be unknown (-1) until read",
    5: "each backup's folder prefix kept once, in the backups table",
    6: "nodes keyed by (depth, path); an intact Manifest.db copied in by SQL (manifest_row)",
    7: "view_size: the size of a database shown merged with its -wal",
    8: "names made safe by the rules of index.paths (escapes, length limits, link targets)",
    9: "meta of each backup holds unnamed_to_type, the files still to be sorted by type",
    10: "view: a file of the readable folder rendered on open (renderer and key); real_name indexed",
    11: "file_keys and class_keys: what decrypts an encrypted backup's payloads (indexes kept in memory only)",
}

SCHEMA = """
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
    view TEXT,
    PRIMARY KEY(depth, path)
) WITHOUT ROWID;
CREATE TABLE file_keys(
    backup INTEGER NOT NULL,
    source TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    size INTEGER,
    PRIMARY KEY(backup, source)
) WITHOUT ROWID;
CREATE TABLE class_keys(backup INTEGER NOT NULL, class INTEGER NOT NULL, key BLOB NOT NULL, PRIMARY KEY(backup, class));
"""
SECRET_TABLES = ("file_keys", "class_keys")
"""Tables only an index kept in memory fills (see :mod:`backupfs.source.sqlite`): with them,
a payload of an encrypted backup is decrypted (each file's key, wrapped as its manifest
holds it, and the plaintext size it records; the backup's unwrapped class keys)."""


@dataclass(slots=True)
class Node:
    """One entry of the mount: written into the index, and read back from it.

    ``path`` is relative to the mount root, "a/b/c" ("" is the root itself).
    """

    path: str
    kind: Kind
    mode: int = 0
    size: int = 0
    mtime_ns: int = 0
    backup: int = 0
    source: str | None = None  # the payload, relative to its backup's folder
    file_id: str | None = None
    origin: str | None = None  # where the name came from (naming.Origin)
    target: str | None = None  # a symlink's target, or a notice's text
    wal_source: str | None = None  # the payload of a database's -wal, merged into what is shown
    manifest_size: int | None = None  # the size the backup's own index records
    real_name: str | None = None  # "domain/relativePath" as the backup names it, before made safe
    file_type: str | None = None  # sniffed "folder/ext" of an unnamed payload
    manifest_row: int | None = None  # its row in the Manifest.db copy while its metadata is read lazily
    view_size: int | None = None  # size of a database shown merged with its -wal, once worked out
    view: str | None = None  # a rendered file of the readable folder: "<renderer folder>/<key>"

    @property
    def depth(self) -> int:
        return depth_of(self.path)


COLUMNS = tuple(field.name for field in fields(Node))
"""Of ``nodes``, in :class:`Node` order; ``depth`` is stored too, before them (see :func:`node_row`)."""
NODE_COLUMNS = ", ".join(("depth", *COLUMNS))
# Stored as BLOB, since names need not be valid UTF-8: their places in a row of COLUMNS.
_AS_BYTES = tuple(COLUMNS.index(name) for name in ("path", "target", "real_name"))
_KIND = COLUMNS.index("kind")
_values = attrgetter(*COLUMNS)

ROOT = Node("", Kind.DIR, 0o040555)


def depth_of(path: str) -> int:
    """How deep a mount path ("a/b/c") lies: 1 for an entry of the root."""
    return path.count("/") + 1


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def decode(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "surrogateescape")


def node_row(node: Node) -> tuple:
    """``node`` as a row of ``nodes``, in :data:`NODE_COLUMNS` order (it runs once per node written)."""
    values = list(_values(node))
    for place in _AS_BYTES:
        if values[place] is not None:
            values[place] = encode(values[place])
    values[_KIND] = int(values[_KIND])
    return (depth_of(node.path), *values)


def row_node(row: tuple) -> Node:
    """A row selected as ``SELECT <COLUMNS>`` (see :data:`COLUMNS`) back as a :class:`Node`."""
    values = list(row)
    for place in _AS_BYTES:
        if values[place] is not None:
            values[place] = decode(values[place])
    values[_KIND] = Kind(values[_KIND])
    return Node(*values)

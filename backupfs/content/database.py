"""A database shown with its ``-wal`` merged in, so that any SQLite client opens it read-only.

Merging means reading the whole ``-wal`` once, so a view is computed on first use and
kept in a bounded cache, and so is its size (far smaller, so many more of them).
"""

from __future__ import annotations

import functools

from backupfs.content.memo import Memo
from backupfs.index.payload_files import PayloadFiles
from backupfs.index.schema import Node
from backupfs.source.sqlite_view import SqliteView, merged_view

_VIEWS_KEPT = 64
_SIZES_KEPT = 65536


class DatabaseContent:
    """Nodes whose ``-wal`` the index linked to them (see :mod:`backupfs.index.tree`)."""

    def __init__(self, files: PayloadFiles) -> None:
        self._files = files
        self._views: Memo[SqliteView | None] = Memo(_VIEWS_KEPT)
        self._sizes: Memo[int] = Memo(_SIZES_KEPT)

    def claims(self, node: Node) -> bool:
        return node.wal_source is not None

    def open(self, node: Node) -> SqliteView | None:
        """The merged view; None when the payload is no SQLite database (it is then served as it is)."""
        return self._view(node)

    def size(self, node: Node, payload_size: int) -> int:
        """The size the merged view shows; the payload's when it is no SQLite database.

        Raises OSError when the database or its ``-wal`` cannot be read.
        """
        if node.view_size is not None:
            return node.view_size

        def view_size() -> int:
            view = self._view(node)
            return payload_size if view is None else view.size

        return self._sizes.get((node.backup, node.source), view_size)

    def _view(self, node: Node) -> SqliteView | None:
        def view() -> SqliteView | None:
            return merged_view(functools.partial(self._files.open, node.backup), node.source or "", node.wal_source)

        return self._views.get((node.backup, node.source), view)

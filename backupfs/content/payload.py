"""A payload shown as it is (or decrypted): its bytes read from the source at any offset, never copied.

The one change made to what is read: a database in WAL mode (iOS keeps them so) without a
``-wal`` beside it is shown with its header switched to rollback mode, which a read-only
SQLite client needs to open it at all (see :mod:`backupfs.source.sqlite_view`).
"""

from __future__ import annotations

import os

from backupfs.content.memo import Memo
from backupfs.index.payload_files import PayloadFiles
from backupfs.index.schema import Node
from backupfs.source.payloads import UNSTATED, shown_size
from backupfs.source.sqlite_view import (
    BytesReader,
    Reader,
    SizedReader,
    needs_view,
    open_view,
)

_SQLITE_HEAD = 100
_READ_WHOLE = 64 * 1024  # a payload up to this size is read in one go when opened
_STATS_KEPT = 65536  # sizes and mtimes of payloads the index does not hold yet


class PayloadContent:
    """Any node with a payload."""

    def __init__(self, files: PayloadFiles, as_they_are: bool = False) -> None:
        self._files = files
        self._as_they_are = as_they_are  # a repaired backup's payloads: byte for byte, for tools that check them
        self._stats: Memo[tuple[int, int]] = Memo(_STATS_KEPT)

    def claims(self, node: Node) -> bool:
        return node.source is not None

    def open(self, node: Node) -> Reader:
        """Raises OSError when the payload cannot be read (gone, a link, a FIFO, refused).

        A small payload is read whole at once: the read that tells whether it is a database
        to show through a view then serves every read after it too, and the payload is
        closed at once. Most files of a phone are small, and an extract reads them all.
        """
        source = self._files.open(node.backup, node.source or "")
        if self._as_they_are:
            return source
        whole = source.size <= _READ_WHOLE
        head = source.read(source.size if whole else _SQLITE_HEAD, 0)
        reader: SizedReader = BytesReader(head) if whole else source
        if needs_view(head):
            view = open_view(reader.read, reader.size)
            if view is not None:
                return view
        return reader

    def stat(self, node: Node) -> tuple[int, int]:
        """``(size, mtime_ns)`` of the payload itself.

        The index leaves out what the listing did not stat (see ``payloads.UNSTATED``); it
        is read from the source on first use and kept. A payload that has gone shows as
        empty rather than vanishing from its folder.
        """
        size, mtime_ns = node.size, node.mtime_ns
        if size != UNSTATED and mtime_ns != UNSTATED:
            return size, mtime_ns

        def lstat() -> tuple[int, int]:
            try:
                st = os.lstat(os.path.join(self._files.root_name(node.backup), node.source or ""))
            except OSError:
                return 0, 0
            return self._files.shown_size(node.backup, node.source or "", shown_size(st)), st.st_mtime_ns

        known = self._stats.get((node.backup, node.source), lstat)
        return (known[0] if size == UNSTATED else size), (known[1] if mtime_ns == UNSTATED else mtime_ns)

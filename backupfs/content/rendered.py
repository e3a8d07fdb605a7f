"""A file of the readable folder: rendered from the backup's databases when it is opened.

Rendering a long conversation takes a moment, and one open leads to many reads, so the
last few pages rendered are kept, within a bound: a handful of entries, each as large as
its page (a conversation of 20,000 messages is a few megabytes).
"""

from __future__ import annotations

from backupfs.content.memo import Memo
from backupfs.index.payload_files import PayloadFiles
from backupfs.index.readable import local_zone, render
from backupfs.index.schema import Node
from backupfs.index.store import MEASURED_IN, Index
from backupfs.source.payloads import UNSTATED
from backupfs.source.sqlite_view import BytesReader

_PAGES_KEPT = 8


class RenderedContent:
    """Nodes with a ``view``: a renderer and a key (see :mod:`backupfs.index.readable`)."""

    def __init__(self, index: Index, files: PayloadFiles) -> None:
        self._index = index
        self._files = files
        self._pages: Memo[bytes] = Memo(_PAGES_KEPT)

    def claims(self, node: Node) -> bool:
        return node.view is not None

    def open(self, node: Node) -> BytesReader:
        return BytesReader(self._page(node))

    def size(self, node: Node) -> int:
        """Measured in the background once the index is completed, in this time zone; until then, rendered to know."""
        if node.size != UNSTATED and self._index.meta.get(MEASURED_IN) == local_zone():
            return node.size
        return len(self._page(node))

    def _page(self, node: Node) -> bytes:
        return self._pages.get((node.backup, node.view), lambda: render(self._index, self._files, node))

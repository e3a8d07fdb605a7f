"""A notice: a text file the index holds whole (see :mod:`backupfs.index.notices`), no payload behind it."""

from __future__ import annotations

from backupfs.index.schema import Node
from backupfs.source.sqlite_view import BytesReader


class NoticeContent:
    """The text of a node with no payload, kept in its ``target``."""

    def claims(self, node: Node) -> bool:
        return node.source is None

    def open(self, node: Node) -> BytesReader:
        return BytesReader((node.target or "").encode())

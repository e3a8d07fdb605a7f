"""A notice: a text file the index holds whole (see :mod:`backupfs.index.notices`), no payload behind it."""

from __future__ import annotations

from backupfs.index.schema import Node


class TextReader:
    """Serves bytes held in memory."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int, offset: int) -> bytes:
        return self.data[offset:offset + size]


class NoticeContent:
    """The text of a node with no payload, kept in its ``target``."""

    def claims(self, node: Node) -> bool:
        return node.source is None

    def open(self, node: Node) -> TextReader:
        return TextReader((node.target or "").encode())

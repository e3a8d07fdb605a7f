"""What each node's bytes and shown attributes are, by kind of content.

A content kind is a small class with ``claims(node)`` and ``open(node)``; :class:`Contents`
asks them in the order of :attr:`Contents.kinds` and the first that claims a node and
opens it serves it (an ``open`` that gives None passes the node on). Today's kinds: a file
of the readable folder (rendered on open), a notice (text the index holds), a database
with its ``-wal`` merged, a payload as it is (decrypted, for an encrypted backup whose password
was given: see :class:`backupfs.index.payload_files.PayloadFiles`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Protocol

from backupfs.content.database import DatabaseContent
from backupfs.content.memo import Memo
from backupfs.content.notice import NoticeContent
from backupfs.content.payload import PayloadContent
from backupfs.content.rendered import RenderedContent
from backupfs.index.manifest_rows import ManifestMetadata
from backupfs.index.payload_files import PayloadFiles
from backupfs.index.schema import Node
from backupfs.index.store import PAYLOADS_AS_THEY_ARE, Index
from backupfs.source.payloads import UNSTATED
from backupfs.source.sqlite_view import Reader

log = logging.getLogger(__name__)

_ROWS_KEPT = 65536  # metadata decoded from Manifest.db rows the index has not filled in yet


class ContentKind(Protocol):
    def claims(self, node: Node) -> bool: ...

    def open(self, node: Node) -> Reader | None: ...


class Contents:
    """Opens and measures the content of index nodes; shared by all FUSE threads."""

    def __init__(self, index: Index, keep_folders_open: bool = False) -> None:
        self._manifest = ManifestMetadata(index.manifests)
        self._recorded: Memo[tuple[int, int, int | None]] = Memo(_ROWS_KEPT)
        files = PayloadFiles(index, keep_folders_open)
        self.rendered = RenderedContent(index, files)
        self.payloads = PayloadContent(files, as_they_are=bool(index.meta.get(PAYLOADS_AS_THEY_ARE)))
        self.databases = DatabaseContent(files)
        self.kinds: tuple[ContentKind, ...] = (self.rendered, NoticeContent(), self.databases, self.payloads)

    def resolved(self, node: Node) -> Node:
        """``node`` with the metadata its Manifest.db row holds, when the index left it there."""
        row = node.manifest_row
        if row is None:
            return node
        try:
            mode, mtime_ns, size = self._recorded.get(
                (node.backup, row), lambda: self._manifest.attributes(node.backup, row, node.kind)
            )
        except OSError as exc:
            log.warning("%s: %s", node.path, exc)
            return node
        mtime_ns = node.mtime_ns if mtime_ns == UNSTATED else mtime_ns
        return replace(node, mode=mode, mtime_ns=mtime_ns, manifest_size=size, manifest_row=None)

    def payload_stat(self, node: Node) -> tuple[int, int]:
        """``(size, mtime_ns)`` of the payload itself (see :meth:`PayloadContent.stat`)."""
        return self.payloads.stat(node)

    def stat(self, node: Node) -> tuple[int, int]:
        """``(size, mtime_ns)`` as the mount shows them: rendered files and merged databases have their own size."""
        if self.rendered.claims(node):
            return self.rendered.size(node), node.mtime_ns
        if node.source is None:  # a notice: the index holds its text, and its size
            return node.size, node.mtime_ns
        size, mtime_ns = self.payloads.stat(node)
        if not self.databases.claims(node):
            return size, mtime_ns
        try:
            return self.databases.size(node, size), mtime_ns
        except OSError:
            return size, mtime_ns

    def open(self, node: Node) -> Reader:
        """A reader for one open() of ``node``; raises OSError when its content cannot be read."""
        for kind in self.kinds:
            if kind.claims(node):
                reader = kind.open(node)
                if reader is not None:
                    return reader
        raise OSError(f"no content for {node.path}")

"""The readable folder of each backup: planned from its databases by the renderers, rendered on open.

Planning runs as a step of the completion (see :mod:`backupfs.index.complete`): each
renderer lists its files, which become nodes under ``<backup>/0 Your data/<folder>/``:
a file rendered on open (its ``view`` says by which renderer, with which key), or the
backup's own file under a human name (the same payload, never a copy). A renderer that
cannot read its database gives a short text saying so instead; the mount goes on. Sizes
are measured in the background afterwards (:func:`rendered_size`), and until then asked
for on first use.

Renderers read the backup through :class:`IndexBackup`: a database is opened read-only
on a private copy in the user's cache folder, its ``-wal`` merged in (SQLite never opens
a file of the source), made once and kept beside the index.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import multiprocessing
import os
import posixpath
import shutil
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from itertools import repeat
from pathlib import Path
from urllib.parse import quote

from backupfs.index.payload_files import PayloadFiles
from backupfs.index.schema import Node, encode
from backupfs.index.sorting import ignore_interrupts
from backupfs.index.store import Index
from backupfs.readable.base import READABLE_FOLDER, Plan, Renderer, lenient_text
from backupfs.readable.registry import RENDERERS
from backupfs.source.manifest.records import Kind
from backupfs.source.payloads import UNSTATED, shown_size
from backupfs.source.sqlite import (
    connect_readonly,
    copy_database,
    database_exists,
    in_memory,
)

log = logging.getLogger(__name__)

ORIGIN = "readable"
_FILE_MODE = stat.S_IFREG | 0o444
_MAX_READ = 64 << 20  # Backup.read serves small files (an image to inline, a plist), not videos

UNREADABLE = """\
backupfs could not read {what} from this backup ({why}).

The database that holds them is damaged or of a shape backupfs does not know. The
database itself is still in the mount, at its place under the domain folders, where
another tool may read more of it; the rest of this folder is not affected.
"""

EMPTY = """\
This folder holds your data in readable form: messages, contacts, notes, calendars,
calls, photos and more, each in its own folder, rendered from the databases of the
backup.

backupfs found none of those databases under a proven name in this backup, so there is
nothing to show here. The files it did find are in the other folders of the mount.
"""

ENCRYPTED = """\
This backup is encrypted, and backupfs could not decrypt it here: its databases
(messages, contacts, notes...) are shown only as encrypted bytes.

If you know the backup's password, mount it again with it ('backupfs mount' asks
for it). If its index (Manifest.db) is gone, the keys of its files are gone with
it and no password can decrypt them: README-backupfs.txt at the top says more.
"""

Find = Callable[[str], "Node | None"]  # "domain/relativePath" -> the node that shows it, outside the readable folder


class IndexBackup:
    """One backup of an index, as a renderer may read it (the ``Backup`` of :mod:`backupfs.readable.base`)."""

    def __init__(self, find: Find, files: PayloadFiles, number: int, prefix: tuple[str, ...], copies: Path) -> None:
        self._find = find
        self._files = files
        self._number = number
        self._home = "/".join((*prefix, READABLE_FOLDER))
        self._copies = copies
        self._opened: list[sqlite3.Connection] = []
        self.newest_read_ns = 0  # the newest mtime of what was read: the date of what is rendered from it

    def payload(self, domain: str, relative_path: str) -> Node | None:
        """The node that shows that file of the backup, when it has a payload."""
        node = self._find(f"{domain}/{relative_path}")
        return node if node is not None and node.source is not None else None

    def stated(self, domain: str, relative_path: str) -> Node | None:
        """:meth:`payload`, its size and mtime read from the source when the index does not know them yet."""
        node = self.payload(domain, relative_path)
        if node is None or (node.size != UNSTATED and node.mtime_ns != UNSTATED):
            return node
        try:
            st = os.lstat(os.path.join(self._files.root_name(self._number), node.source or ""))
        except OSError:
            return node  # the completion's own stat will say what is wrong with it
        size = self._files.shown_size(self._number, node.source or "", shown_size(st))
        return dataclasses.replace(node, size=size if node.size == UNSTATED else node.size,
                                   mtime_ns=st.st_mtime_ns if node.mtime_ns == UNSTATED else node.mtime_ns)

    def _reading(self, domain: str, relative_path: str) -> Node | None:
        node = self.stated(domain, relative_path)
        if node is not None:
            self.newest_read_ns = max(self.newest_read_ns, node.mtime_ns)
        return node

    def has(self, domain: str, relative_path: str) -> bool:
        return self.payload(domain, relative_path) is not None

    def read(self, domain: str, relative_path: str) -> bytes | None:
        node = self._reading(domain, relative_path)
        if node is None:
            return None
        try:
            payload = self._files.open(self._number, node.source or "")
            return payload.read(min(payload.size, _MAX_READ), 0)
        except OSError:
            return None

    def database(self, domain: str, relative_path: str) -> sqlite3.Connection | None:
        node = self._reading(domain, relative_path)
        if node is None:
            return None
        copy = self._copies / f"{node.file_id or 'database'}.sqlite"
        if not database_exists(copy):
            if not in_memory(copy):
                self._copies.mkdir(mode=0o700, parents=True, exist_ok=True)  # messages are private
            try:
                wal = self._files.open(self._number, node.wal_source) if node.wal_source else None
            except OSError:
                wal = None
            copy_database(self._files.open(self._number, node.source or ""), wal, copy)
        conn = connect_readonly(copy)
        conn.text_factory = lenient_text
        self._opened.append(conn)
        return conn

    def link(self, from_file: str, domain: str, relative_path: str) -> str | None:
        node = self._find(f"{domain}/{relative_path}")
        if node is None:
            return None
        start = posixpath.dirname(f"{self._home}/{from_file}")
        return quote(posixpath.relpath(node.path, start), safe="/")

    def close(self) -> None:
        """Close the databases a renderer opened (renderers need not close them)."""
        for conn in self._opened:
            conn.close()
        self._opened.clear()


@functools.cache
def local_zone() -> str:
    """What the local time zone is, as far as rendering goes: pages show local times, so
    their sizes, measured once and kept in the index, hold only in the zone they were
    measured in (a laptop that travels renders "Saturday" where it rendered "Friday")."""
    try:
        rules = hashlib.sha1(Path("/etc/localtime").read_bytes()).hexdigest()
    except OSError:
        rules = ""
    return json.dumps([os.environ.get("TZ", ""), time.tzname, time.timezone, time.altzone, rules])


def copies_folder(index_path: Path, backup: int) -> Path:
    """Where the private copies of one backup's databases live, beside its index."""
    return index_path.with_name(f"{index_path.name}.databases-{backup}")


def remove_copies(index_path: Path) -> None:
    """Forget the copies made for an index being replaced: the backup may hold other databases now."""
    if in_memory(index_path):
        return  # a new index in memory has new copies: its path is new
    for folder in index_path.parent.glob(f"{index_path.name}.databases-*"):
        shutil.rmtree(folder, ignore_errors=True)


def renderer_named(folder: str) -> Renderer:
    return next(renderer for renderer in RENDERERS if renderer.folder == folder)


@contextmanager
def reading(backup: IndexBackup) -> Iterator[IndexBackup]:
    try:
        yield backup
    finally:
        backup.close()


def readable_nodes(
    backup: IndexBackup, number: int, prefix: tuple[str, ...], locked: bool, done: Callable[[], None]
) -> tuple[list[Node], dict[str, str]]:
    """The nodes of one backup's readable folder, and what each renderer says of its part.

    ``done()`` is called after each renderer, for a progress bar; ``locked`` when the backup
    is encrypted and cannot be decrypted.
    """
    home = (*prefix, READABLE_FOLDER)
    if locked:
        return [_text_node(home, "About this folder.txt", number, ENCRYPTED)], {}
    nodes: list[Node] = []
    summaries: dict[str, str] = {}
    for renderer in RENDERERS:
        backup.newest_read_ns = 0
        with reading(backup):
            try:
                plan = renderer.plan(backup)
            except Exception as exc:  # a damaged or unexpected database: say so, keep the rest
                log.warning("%s: cannot read %s: %s", "/".join(home), renderer.folder, exc)
                text = UNREADABLE.format(what=renderer.folder.lower(), why=_reason(exc))
                nodes.append(_text_node(home, f"{renderer.folder}/Could not be read.txt", number, text))
                summaries[renderer.folder] = "could not be read"
                plan = None
        if plan is not None:
            nodes += _planned_nodes(plan, renderer, backup, number, home)
            summaries[renderer.folder] = plan.summary
        done()
    if not nodes:
        nodes.append(_text_node(home, "About this folder.txt", number, EMPTY))
    return nodes, summaries


def _planned_nodes(plan: Plan, renderer: Renderer, backup: IndexBackup, number: int, home: tuple[str, ...]) -> list[Node]:
    nodes = []
    for planned in plan.files:
        path = "/".join((*home, renderer.folder, planned.path))
        mtime_ns = planned.mtime * 1_000_000_000 if planned.mtime is not None else backup.newest_read_ns
        if planned.same_as is None:
            view = f"{renderer.folder}/{planned.key}"
            nodes.append(Node(path, Kind.FILE, _FILE_MODE, UNSTATED, mtime_ns, number, origin=ORIGIN, view=view))
            continue
        shown = backup.stated(*planned.same_as)
        if shown is None:
            continue  # listed by the database, absent from the backup
        nodes.append(Node(
            path, Kind.FILE, shown.mode, shown.size, shown.mtime_ns if planned.mtime is None else mtime_ns, number, source=shown.source,
            file_id=shown.file_id, origin=shown.origin, real_name=shown.real_name, manifest_size=shown.manifest_size,
        ))
    return nodes


def _text_node(home: tuple[str, ...], path: str, number: int, text: str) -> Node:
    """A notice: a text file whose content the index holds."""
    return Node("/".join((*home, path)), Kind.FILE, _FILE_MODE, len(text.encode()), 0, number, target=text)


def _reason(exc: Exception) -> str:
    return str(exc).strip().rstrip(".") or type(exc).__name__


def render(index: Index, files: PayloadFiles, node: Node) -> bytes:
    """The bytes of a rendered file of the readable folder; a short explanation when it cannot be rendered."""
    folder, _, key = (node.view or "").partition("/")
    prefix = index.prefixes[node.backup]
    home = "/".join((*prefix, READABLE_FOLDER))
    backup = IndexBackup(
        lambda real_name: index.named(node.backup, real_name, home), files, node.backup, prefix,
        copies_folder(index.path, node.backup),
    )
    with reading(backup):
        try:
            return renderer_named(folder).render(backup, key)
        except Exception as exc:  # the database changed or broke since it was planned
            log.warning("cannot render %s: %s", node.path, exc)
            return UNREADABLE.format(what=folder.lower(), why=_reason(exc)).encode()


_MEASURING_PROCESSES = 4
_MEASURED_AT_A_TIME = 16  # files per task: a long conversation takes a second, most a few milliseconds
_MEASURED_IN_PROCESSES = 64  # fewer files are rendered here: starting the processes would cost more


def measured_chunks(index_path: Path, paths: list[str]) -> Iterator[list[tuple[int, int, bytes]]]:
    """``(size, depth, path)`` of the rendered files at ``paths``, a few at a time, as they are rendered.

    Rendering is Python-bound, so many files are shared among a few processes (started
    afresh, not forked: the caller may run threads).
    """
    chunks = [paths[start : start + _MEASURED_AT_A_TIME] for start in range(0, len(paths), _MEASURED_AT_A_TIME)]
    if len(paths) < _MEASURED_IN_PROCESSES or in_memory(index_path):  # another process cannot see this memory
        yield from (measure(index_path, chunk) for chunk in chunks)
        return
    context = multiprocessing.get_context("spawn")
    workers = min(_MEASURING_PROCESSES, os.cpu_count() or 1)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=ignore_interrupts) as pool:
        try:
            yield from pool.map(measure, repeat(index_path), chunks)
        except BaseException:  # stopped: what is not measured yet is not wanted
            pool.shutdown(cancel_futures=True)
            raise


def measure(index_path: Path, paths: list[str]) -> list[tuple[int, int, bytes]]:
    """Render the files at ``paths`` of the index at ``index_path`` and say how long each is."""
    index = Index(index_path)
    try:
        files = PayloadFiles(index)
        measured = []
        for path in paths:
            node = index.lookup(path)
            if node is not None and node.view is not None:
                measured.append((len(render(index, files, node)), node.depth, encode(node.path)))
        return measured
    finally:
        index.close()

"""SQLite files of the source: the one way to open one read-only, and a private copy of one.

SQLite cannot be asked to open a file with O_NOATIME, nor is it trusted not to write
beside a database (a ``-shm``, a journal), so it never opens a file of the source: a
database of the source (a surviving Manifest.db, a database that names other files) is
read through the careful reader of :mod:`backupfs.source.safe_open` into a private copy in
the cache, which SQLite then opens with :func:`readonly_uri`. The index itself is opened
the same way.

A private copy may also live in memory, never on a disk: what is decrypted from an
encrypted backup must not be written anywhere (issue 14). Such a copy has a path under
:data:`IN_MEMORY`, which holds a NUL byte so that no call of the operating system can ever
create it by mistake (Python refuses the path before the system sees it). SQLite opens it
through its ``memdb`` VFS, shared by every connection of this process (and of a child
forked from it); replacing one is atomic, as a rename is for files (:func:`new_memory_database`).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import quote

from backupfs.errors import BackupfsError
from backupfs.source.safe_open import SourceFile
from backupfs.source.sqlite_view import Reader, SizedReader, open_view

IN_MEMORY = Path("/\0backupfs-in-memory")
"""The root of private copies kept in memory (see the module docstring)."""

_CHUNK = 1 << 20


def in_memory(path: Path) -> bool:
    """Whether ``path`` names a private copy kept in memory."""
    return path.is_relative_to(IN_MEMORY)


def readonly_uri(path: Path) -> str:
    """An absolute ``file:`` URI; quoting keeps ``?``, ``#`` and ``%`` in folder names literal."""
    if in_memory(path):
        return f"file:{quote(_MEMORY.current(path))}?vfs=memdb&mode=ro"
    absolute = os.path.abspath(os.fsdecode(path))
    return "file:///" + quote(absolute.lstrip("/"), errors="surrogateescape") + "?mode=ro&immutable=1"


def connect_readonly(path: Path, check_same_thread: bool = True) -> sqlite3.Connection:
    """A read-only connection to a private copy or an index, whose sorts and temporary tables stay in memory.

    By default SQLite may spill a large sort into a temporary file: for a decrypted
    database that would be plaintext on a disk.
    """
    conn = sqlite3.connect(readonly_uri(path), uri=True, check_same_thread=check_same_thread)
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


def database_exists(path: Path) -> bool:
    """Whether a private copy exists at ``path`` (on disk or in memory)."""
    return _MEMORY.holds(path) if in_memory(path) else path.exists()


def remove_database(path: Path) -> None:
    """Forget a private copy; nothing when there is none."""
    if in_memory(path):
        _MEMORY.forget(path)
    else:
        path.unlink(missing_ok=True)


def snapshot_database(path: Path, destination: Path, wal_path: Path | None) -> None:
    """Copy an SQLite database of the source into ``destination``, its ``-wal`` merged in.

    ``wal_path`` is explicit because inside a backup a database's ``-wal`` is a payload with
    its own hash.
    """
    try:
        wal = SourceFile(wal_path) if wal_path is not None else None
    except OSError:
        wal = None
    copy_database(SourceFile(path), wal, destination)


def copy_database(database: SizedReader, wal: SizedReader | None, destination: Path) -> None:
    """Copy a database read through ``database`` (and its ``-wal``) into ``destination``, merged.

    On disk the copy is written beside ``destination`` and renamed into place, so a reader
    never sees half of one; in memory it is swapped in whole.
    """
    reader: Reader = database
    size = database.size
    view = open_view(database.read, database.size, wal.read if wal else None, wal.size if wal else 0)
    if view is not None:
        reader, size = view, view.size
    if in_memory(destination):
        _MEMORY.load(destination, b"".join(reader.read(min(_CHUNK, size - at), at) for at in range(0, size, _CHUNK)))
        return
    aside = destination.with_name(f"{destination.name}.{os.getpid()}.tmp")
    try:
        with open(aside, "wb") as out:
            out.writelines(reader.read(min(_CHUNK, size - offset), offset) for offset in range(0, size, _CHUNK))
        os.replace(aside, destination)
    finally:
        aside.unlink(missing_ok=True)


@contextmanager
def private_folder(parent: Path) -> Iterator[Path]:
    """A scratch folder for private copies, removed with all it holds once done: in memory when ``parent`` is."""
    if not in_memory(parent):
        with tempfile.TemporaryDirectory(dir=parent) as folder:
            yield Path(folder)
        return
    folder = parent / f"scratch-{next(_MEMORY.numbers)}"
    try:
        yield folder
    finally:
        _MEMORY.forget_inside(folder)  # a connection still open keeps its database until it closes


@contextmanager
def new_memory_database(path: Path, start_from: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A connection to a new database kept in memory, put in place at ``path`` when the block succeeds.

    It starts empty, or as a copy of ``start_from``. Until the block ends, readers of
    ``path`` keep reading what was there, as with a file renamed over another.
    """
    with _MEMORY.replacing(path) as conn:
        if start_from is not None:
            with closing(connect_readonly(start_from)) as source:
                source.backup(conn)
        yield conn


class _MemoryDatabases:
    """The private copies kept in memory: each path's current ``memdb`` database, kept alive.

    SQLite frees a ``memdb`` database when its last connection closes, so one read-only
    connection per database holds it until it is replaced or forgotten.
    """

    def __init__(self) -> None:
        self._current: dict[Path, str] = {}
        self._holders: dict[Path, sqlite3.Connection] = {}
        self.numbers = itertools.count()
        self._lock = threading.Lock()

    def current(self, path: Path) -> str:
        """The ``memdb`` name of what ``path`` holds now (a name no database has yet when it holds nothing)."""
        with self._lock:
            return self._current.get(path) or self._name(path)

    def holds(self, path: Path) -> bool:
        with self._lock:
            return path in self._current

    def _name(self, path: Path) -> str:
        # memdb shares a database among connections when its name starts with "/"; the NUL goes.
        return "/" + str(path.relative_to(IN_MEMORY)) + f"#{next(self.numbers)}"

    @contextmanager
    def replacing(self, path: Path) -> Iterator[sqlite3.Connection]:
        with self._lock:
            name = self._name(path)
        conn = sqlite3.connect(f"file:{quote(name)}?vfs=memdb", uri=True)
        conn.execute("PRAGMA temp_store=MEMORY")  # no temporary file: what is written here is plaintext
        try:
            yield conn
            conn.commit()
            holder = sqlite3.connect(f"file:{quote(name)}?vfs=memdb&mode=ro", uri=True, check_same_thread=False)
            with self._lock:
                self._current[path] = name
                old = self._holders.pop(path, None)
                self._holders[path] = holder
            if old is not None:
                old.close()  # readers still on it keep it until they move over
        finally:
            conn.close()

    def load(self, path: Path, data: bytes) -> None:
        """Put the database whose bytes are ``data`` at ``path``."""
        with closing(sqlite3.connect(":memory:")) as loaded, self.replacing(path) as conn:
            try:
                loaded.deserialize(data)
            except AttributeError:
                raise BackupfsError(
                    "reading an encrypted backup needs Python 3.11 or newer (its databases are opened in memory only): "
                    "install a newer Python and backupfs with it"
                ) from None
            loaded.backup(conn)

    def forget_inside(self, folder: Path) -> None:
        with self._lock:
            inside = [path for path in self._current if path.is_relative_to(folder)]
        for path in inside:
            self.forget(path)

    def forget(self, path: Path) -> None:
        with self._lock:
            self._current.pop(path, None)
            holder = self._holders.pop(path, None)
        if holder is not None:
            holder.close()


_MEMORY = _MemoryDatabases()

"""Writing an index: always a new file, renamed into place once complete.

Once in place an index is never modified, which lets every reader open it ``immutable``
(no locking, no journal): the background completion writes a new file from a copy, and
readers move over (:meth:`backupfs.index.store.Index.refresh`). An interrupted build
leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backupfs.errors import BackupfsError
from backupfs.index.schema import SCHEMA
from backupfs.source.sqlite import in_memory, new_memory_database

# Index files this process is writing: one that must exit at once removes them first
# (see backupfs.index.complete), as an interrupted build must leave nothing behind.
WRITING: set[str] = set()


@contextmanager
def new_index(path: Path, start_from: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A connection to a new index file, renamed over ``path`` when the block succeeds.

    The file starts empty, or as a copy of ``start_from``. It is written next to ``path``
    and only renamed into place once complete: readers of the old file keep reading it
    (an index is never modified in place) and an interrupted build leaves nothing behind.
    An index kept in memory (that of an encrypted backup) is replaced the same way.
    Windows replaces no file that is open, so a caller reading ``path`` in this process
    closes it (``Index.close``) before the block ends.
    """
    if in_memory(path):
        with new_memory_database(path, start_from) as conn:
            yield conn
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, index_tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    WRITING.add(index_tmp)
    try:
        if start_from is not None:
            shutil.copyfile(start_from, index_tmp)
        # uri=True: where SQLite is not built to read URIs anyway (Windows), ATTACH of a
        # private copy by its read-only URI (source.sqlite.readonly_uri) needs it.
        conn = sqlite3.connect(index_tmp, uri=True)
        try:
            # The file is private until renamed, so durability on the way is worthless; a
            # large page cache keeps SQLite's B-tree inserts in memory.
            conn.executescript(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-131072;"
            )
            yield conn
            conn.commit()
        finally:
            conn.close()
        os.replace(index_tmp, path)
    except BaseException:
        Path(index_tmp).unlink(missing_ok=True)
        raise
    finally:
        WRITING.discard(index_tmp)


def create_tables(
    conn: sqlite3.Connection, roots: list[Path], prefixes: list[tuple[str, ...]], manifests: list[Path | None]
) -> None:
    """The empty tables of a new index, with one row per backup.

    ``prefixes`` are the folders each backup is shown in (none when there is one backup);
    ``manifests`` the private copies of their Manifest.db that ``manifest_row`` points into.
    """
    conn.executescript(SCHEMA)
    conn.executemany(
        "INSERT INTO backups VALUES (?, ?, ?, ?)",
        [
            (no, str(root), json.dumps(prefix), None if manifest is None else str(manifest))
            for no, (root, prefix, manifest) in enumerate(zip(roots, prefixes, manifests))
        ],
    )


def set_meta(conn: sqlite3.Connection, meta: dict[str, object]) -> None:
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])


@contextmanager
def write_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise BackupfsError(
            f"cannot write the index in {path.parent} ({reason}): free some space or use --index-dir."
        ) from None

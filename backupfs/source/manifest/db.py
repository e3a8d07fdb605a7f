"""Manifest.db, the index of iOS 10+ backups, read without touching the source.

The database is opened ``mode=ro&immutable=1``: an ordinary open of a WAL-mode file
creates ``-wal``/``-shm`` siblings, a write to the user's evidence. A damaged database
is read as far as it goes: rows are fetched in rowid order and, when a damaged page
stops the scan, reading resumes past it, so one bad page costs only its own rows.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from backupfs.source.manifest.mbfile import MBFileMeta, decode_mbfile
from backupfs.source.manifest.records import (
    Kind,
    ManifestReadResult,
    ManifestRecord,
    file_id,
)
from backupfs.source.sqlite import in_memory, readonly_uri

log = logging.getLogger(__name__)

_KINDS = {1: Kind.FILE, 2: Kind.DIR, 4: Kind.SYMLINK}
_FILE_ID = re.compile(r"[0-9a-fA-F]{40}")
_MAX_ROWID = (1 << 63) - 1
_QUERY = "SELECT rowid, fileID, domain, relativePath, flags, file FROM Files WHERE rowid > :after AND ({}) ORDER BY rowid"
_NO_META = MBFileMeta()


def read_manifest_db(
    path: Path,
    progress: Callable[[int, int], None] | None = None,
    name: str | None = None,
    condition: str = "1",
    parameters: dict[str, object] | None = None,
) -> ManifestReadResult:
    """Every usable row of ``Files``; damage is reported in the result, never raised.

    ``progress(rows_done, rows_expected)`` is called as rows are decoded, for a progress bar.
    ``name`` is what messages call the file (``path`` may be a private copy in the cache).
    ``condition`` (SQL over the row's columns, with named ``parameters``) limits the rows read.
    """
    name = name or path.name
    if _is_empty(path):  # SQLite would take it for a new, empty database
        return ManifestReadResult([], complete=False, problem=f"{name} is empty (0 bytes).")
    try:
        conn = sqlite3.connect(readonly_uri(path), uri=True)
    except sqlite3.Error as exc:
        return ManifestReadResult([], complete=False, problem=f"{name} could not be opened as a database ({exc}).")
    try:
        conn.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
        # A truncated file is shorter than its header says; SQLite then refuses the whole
        # file as malformed unless schema checks are relaxed. The connection stays read-only.
        conn.execute("PRAGMA writable_schema=ON")
        try:
            has_files = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='Files'").fetchone()
        except sqlite3.DatabaseError as exc:
            return _unreadable(path, name, f"is not a readable SQLite database ({exc})")
        if not has_files:
            return _unreadable(path, name, "has no Files table; it is empty or damaged")
        query = _QUERY.format(condition)
        result = _read_files(conn, name, progress, lambda after: conn.execute(query, {**(parameters or {}), "after": after}))
    finally:
        conn.close()
    missing = _truncated_bytes(path)
    if missing and result.complete:
        problem = f"{name} is truncated ({missing:,} bytes missing at the end); every file record in it was read."
        return ManifestReadResult(result.records, complete=False, problem=problem)
    return result


def _unreadable(path: Path, name: str, why: str) -> ManifestReadResult:
    """No rows at all; a file cut short says so, as that is what the user can look into."""
    missing = _truncated_bytes(path)
    if missing:
        why = f"is truncated ({missing:,} bytes missing at the end) and its list of files cannot be read"
    return ManifestReadResult([], complete=False, problem=f"{name} {why}.")


def _is_empty(path: Path) -> bool:
    if in_memory(path):  # a decrypted copy, put there whole: SQLite tells the rest
        return False
    try:
        return os.stat(path).st_size == 0
    except OSError:
        return False  # SQLite's own error then says why


def _truncated_bytes(path: Path) -> int:
    """How much shorter the file is than its own header says (0 when it cannot tell)."""
    if in_memory(path):
        return 0
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
            size = handle.seek(0, os.SEEK_END)
    except OSError:
        return 0
    if len(header) < 100 or header[24:28] != header[92:96]:
        return 0
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    return max(0, int.from_bytes(header[28:32], "big") * page_size - size)


def read_manifest_names(path: Path) -> list[tuple[str, str]]:
    """The (domain, relativePath) of every file row, without decoding metadata blobs.

    Used for names from another backup, where only names are wanted and decoding every
    blob would cost seconds. Reads as far as the file allows; never raises.
    """
    names: list[tuple[str, str]] = []
    try:
        conn = sqlite3.connect(readonly_uri(path), uri=True)
    except sqlite3.Error:
        return names
    try:
        conn.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
        conn.execute("PRAGMA writable_schema=ON")
        for domain, relative_path in conn.execute("SELECT domain, relativePath FROM Files WHERE flags = 1"):
            if isinstance(domain, str) and isinstance(relative_path, str):
                names.append((domain, relative_path))
    except sqlite3.Error as exc:
        log.info("%s: names read up to an error: %s", path.name, exc)
    finally:
        conn.close()
    return names


_Query = Callable[[int], sqlite3.Cursor]  # the rows after a rowid, in rowid order


def _read_files(
    conn: sqlite3.Connection, name: str, progress: Callable[[int, int], None] | None, query: _Query
) -> ManifestReadResult:
    records: list[ManifestRecord] = []
    skipped = bad_blobs = 0
    errors: list[str] = []
    expected = 0
    if progress is not None:
        try:
            expected = conn.execute("SELECT max(rowid) FROM Files").fetchone()[0] or 0
        except sqlite3.DatabaseError:
            expected = 0
    for done, row in enumerate(_rows(conn, errors, query), 1):
        if progress is not None and done % 1024 == 0:
            progress(done, max(expected, done))
        record, blob_ok = _record(row)
        if record is None:
            skipped += 1
            continue
        bad_blobs += not blob_ok
        records.append(record)
    if progress is not None:
        progress(len(records) + skipped, len(records) + skipped)
    if skipped or bad_blobs:
        log.info("%s: skipped %d rows without domain/path/known flags; %d unreadable blobs", name, skipped, bad_blobs)
    if errors:
        log.info("%s is damaged: %s", name, errors[0])
        return ManifestReadResult(
            records,
            complete=False,
            problem=(
                f"{name} is damaged ({errors[0]}); {len(records)} file records were read "
                "and the rows in damaged parts are missing."
            ),
        )
    return ManifestReadResult(records, complete=True)


def _rows(conn: sqlite3.Connection, errors: list[str], query: _Query) -> Iterator[tuple]:
    """Rows in rowid order, stepping over damaged stretches of the table.

    After an error at rowid ``last``, seeks to ``last + gap`` for growing gaps until one
    reads, then narrows the gap by bisection so few good rows past the damage are lost.
    """
    last = 0
    while True:
        try:
            for row in query(last):
                if row[0] <= last:  # a damaged page can send the cursor backwards: never loop
                    continue
                last = row[0]
                yield row
            return
        except sqlite3.DatabaseError as exc:
            errors.append(str(exc))
        failed, gap = 0, 1
        while last + gap <= _MAX_ROWID and not _readable_after(conn, query, last + gap):
            failed, gap = gap, gap * 4
        if last + gap > _MAX_ROWID:
            return
        while gap - failed > 1:
            middle = (failed + gap) // 2
            if _readable_after(conn, query, last + middle):
                gap = middle
            else:
                failed = middle
        last += gap


def _readable_after(conn: sqlite3.Connection, query: _Query, rowid: int) -> bool:
    try:
        query(rowid).fetchone()
    except sqlite3.DatabaseError:
        return False
    return True


def _record(row: tuple) -> tuple[ManifestRecord | None, bool]:
    """The record for one row (None when unusable) and whether its blob decoded."""
    _, fid, domain, relative_path, flags, blob = row
    kind = _KINDS.get(flags) if type(flags) is int else None
    if not isinstance(domain, str) or not isinstance(relative_path, str) or kind is None:
        return None, True
    if not (isinstance(fid, str) and _FILE_ID.fullmatch(fid)):
        fid = file_id(domain, relative_path)
    try:
        meta, blob_ok = decode_mbfile(blob), True
    except ValueError:
        meta, blob_ok = _NO_META, False
    record = ManifestRecord(
        file_id=fid.lower(),
        domain=domain,
        relative_path=relative_path,
        kind=kind,
        size=meta.size,
        mode=meta.mode,
        mtime=meta.mtime,
        ctime=meta.ctime,
        birth=meta.birth,
        uid=meta.uid,
        gid=meta.gid,
        target=meta.target if kind is Kind.SYMLINK else None,
        encrypted=meta.encrypted,
        encryption_key=meta.encryption_key,
    )
    return record, blob_ok

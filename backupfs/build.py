"""Build (or reuse) the index of a mount: source -> naming -> typing -> layout -> index.

The index is keyed by the backups' identity and validated against cheap stat data of the
source (the root, the payload folders, the index and plist files), so a second mount of
an unchanged backup reads nothing but that stat data. Everything built here lives in the
user's cache folder; the source is only read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import signal
import sqlite3
import stat
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any
from urllib.parse import quote

from backupfs import __version__
from backupfs.catalog import DEFAULT_PATH as DEFAULT_CATALOG
from backupfs.catalog import Catalog
from backupfs.content import merged_view, snapshot_database
from backupfs.errors import BackupfsError
from backupfs.index import (
    FORMAT_VERSION,
    Index,
    create_tables,
    new_index,
    set_meta,
)
from backupfs.layout import OTHER_DATA, Node, folder_node, named_nodes, safe_component, unnamed_nodes
from backupfs.manifest_bulk import copied_names, match_payloads, place_plain_rows, plain_domains
from backupfs.manifest_db import read_manifest_db, read_manifest_names, readonly_uri
from backupfs.manifest_meta import row_attributes
from backupfs.manifest_mbdb import read_manifest_mbdb
from backupfs.naming import Origin, OpenDatabase, harvest_names, name_generated, name_payloads
from backupfs.notice import ENCRYPTED_NO_INDEX_TEXT, notice_node
from backupfs.progress import Progress, Status, StatusFile, read_status
from backupfs.salvage import salvage_files_rows
from backupfs.records import IndexReadResult, Kind
from backupfs.sniff import HEAD_SIZE, FileType, sniff
from backupfs.source import (
    ROOT_FILES, SNAPSHOT, UNKNOWN, Backup, Payload, find_backups, list_payloads, shown_size, sibling_backups,
)
from backupfs.tree import TreeWriter
from backupfs.sourceio import read_head

log = logging.getLogger(__name__)

TYPING = "Sorting unnamed files by type"
ENCRYPTED = FileType("encrypted", None)
NOT_A_FILE = FileType("unknown", None)
# Reading heads waits on the disk, and threads of one process also wait for its interpreter
# lock between reads: 40,000 cold heads took 11.8 s with 2 threads, 4.2 s with 8 (16 or 32:
# no better) and 2.6 s with 4 processes of 8 threads. Processes pay off on large backups only.
_READERS = 8
_TYPING_PROCESSES = 4
_TYPING_IN_PROCESSES = 20_000
_BATCH = 128
_TYPING_CHUNK = 4096


def default_index_dir() -> Path:
    """The platform's cache folder for backupfs, never inside a backup."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "backupfs"


@dataclass(frozen=True)
class IndexState:
    """How much of a backup's own index survived."""

    state: str  # "intact", "damaged" or "missing"
    problem: str | None


def _snapshot_index(index_path: Path, workdir: Path) -> Path:
    """A private copy of a Manifest.db (its -wal merged) for SQLite to open."""
    copy = workdir / f"index-{hashlib.sha1(str(index_path).encode()).hexdigest()}.db"
    wal = index_path.with_name(index_path.name + "-wal")
    snapshot_database(index_path, copy, wal if os.path.lexists(wal) else None)
    return copy


def read_index(backup: Backup, workdir: Path, show_progress: bool | None = None) -> tuple[IndexReadResult, IndexState]:
    """Read whatever the backup's index still holds; SQLite only ever sees a private copy."""
    if backup.index_path is None:
        return IndexReadResult([], complete=False), IndexState("missing", None)
    if backup.index_format == "db":
        try:
            copy = _snapshot_index(backup.index_path, workdir)
        except OSError as exc:
            return IndexReadResult([], complete=False), IndexState("damaged", f"Manifest.db cannot be read ({exc.strerror}).")
        with Progress("Reading Manifest.db", None, unit="rows", show=show_progress) as bar:
            result = read_manifest_db(copy, bar.update, name=backup.index_path.name)
        if not result.complete:
            result = _with_salvaged_rows(result, copy)
    else:
        result = read_manifest_mbdb(backup.index_path)
    if result.complete and result.records:
        return result, IndexState("intact", None)
    problem = result.problem or f"{backup.index_path.name} holds no file records."
    return result, IndexState("damaged", problem)


def _with_salvaged_rows(result: IndexReadResult, copy: Path) -> IndexReadResult:
    """Add the rows SQLite could not reach, read from the damaged file's pages directly."""
    known = {record.file_id for record in result.records}
    extra = [record for record in salvage_files_rows(copy.read_bytes()) if record.file_id not in known]
    if not extra:
        return result
    rows = "1 more row was" if len(extra) == 1 else f"{len(extra):,} more rows were"
    problem = f"{result.problem or 'Manifest.db is damaged.'} {rows} salvaged from its pages."
    return IndexReadResult(result.records + extra, complete=False, problem=problem)


def _other_indexes(backup: Backup, names_from: list[Path]) -> list[Path]:
    """Index files of sibling backups and of the backups given with --names-from."""
    indexes = [b.index_path for b in sibling_backups(backup) if b.index_path is not None]
    for path in names_from:
        if path.is_file():
            indexes.append(path)
            continue
        indexes += [b.index_path for b in find_backups(path) if b.index_path is not None]
    own = backup.index_path.resolve() if backup.index_path else None
    return sorted({p for p in indexes if p.resolve() != own})


def _names_from_other_backups(indexes: list[Path], workdir: Path) -> list[tuple[str, str]]:
    """Every file name those indexes hold; their metadata is never applied to this backup."""
    names: list[tuple[str, str]] = []
    for index_path in indexes:
        if index_path.name.endswith(".mbdb"):
            result = read_manifest_mbdb(index_path)
            names += [(r.domain, r.relative_path) for r in result.records if r.kind is Kind.FILE]
            continue
        try:
            names += read_manifest_names(_snapshot_index(index_path, workdir))
        except OSError as exc:
            log.info("cannot read names from %s: %s", index_path, exc)
    return names


def _listed(backup: Backup, show_progress: bool | None) -> list[Payload]:
    with Progress("Listing files", None, unit="folders", show=show_progress) as bar:
        payloads = backup.payloads(bar.update)
        bar.describe(f"{len(payloads):,} files")
    return payloads


def _database_opener(backup: Backup, payloads: list[Payload], workdir: Path) -> OpenDatabase:
    """Open payload databases for harvesting, through a private copy in the cache."""
    relpaths = {p.file_id: p.relpath for p in payloads if stat.S_ISREG(p.st_mode)}

    def open_database(fid: str, wal_fid: str | None) -> sqlite3.Connection | None:
        if fid not in relpaths:
            return None
        copy = workdir / f"harvest-{fid}.sqlite"
        wal = backup.root / relpaths[wal_fid] if wal_fid in relpaths else None
        try:
            snapshot_database(backup.root / relpaths[fid], copy, wal)
            conn = sqlite3.connect(f"file:{quote(str(copy))}?mode=ro&immutable=1", uri=True)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except (OSError, sqlite3.Error) as exc:
            log.info("cannot read %s for names: %s", relpaths[fid], exc)
            return None
        return conn

    return open_database


def _signature(backups: list[Backup], catalog_stamp: str, other_indexes: list[Path]) -> str:
    """Cheap fingerprint of everything an index depends on.

    Adding or removing a payload changes its folder's mtime, so stat data of the root,
    its known files and the 256 bucket folders (also under Snapshot/) is enough. Only
    ``stat`` is used: listing a folder would update its access time.
    """
    buckets = [f"{n:02x}" for n in range(256)]
    names = [".", *ROOT_FILES, SNAPSHOT, *buckets, *(f"{SNAPSHOT}/{b}" for b in buckets)]
    parts: list[object] = [FORMAT_VERSION, __version__, catalog_stamp]
    for index_path in other_indexes:
        try:
            st = os.stat(index_path)
        except OSError:
            continue
        parts.append((str(index_path), st.st_mtime_ns, st.st_size, st.st_ino))
    for backup in backups:
        parts.append(str(backup.root.resolve()))
        for name in names:
            try:
                st = os.lstat(backup.root / name)
            except OSError:
                continue
            parts.append((name, st.st_mtime_ns, st.st_size, st.st_ino))
    return hashlib.sha1(json.dumps(parts).encode()).hexdigest()


def _type_payloads(root: Path, encrypted: bool, payloads: Iterable[Payload]) -> dict[str, tuple[FileType, Payload]]:
    """Sniff the head of each unnamed payload, and stat it on the way (it is open anyway).

    Reads run in parallel to overlap disk latency. Returns each file id's type and its
    payload with the real size and mtime filled in.
    """
    todo = list({p.file_id: p for p in payloads}.values())
    if encrypted:
        return {p.file_id: (ENCRYPTED, p) for p in todo}

    def one(payload: Payload) -> tuple[str, tuple[FileType, Payload]]:
        if not stat.S_ISREG(payload.st_mode):
            return payload.file_id, (NOT_A_FILE, payload)
        try:
            head, st = read_head(payload.relpath, HEAD_SIZE, root)
        except OSError as exc:
            log.info("cannot read %s to type it: %s", payload.relpath, exc)
            return payload.file_id, (NOT_A_FILE, payload)
        seen = Payload(payload.file_id, payload.relpath, st.st_size, st.st_mtime_ns, st.st_mode)
        return payload.file_id, (sniff(head, st.st_size), seen)

    def batch(payloads: list[Payload]) -> list[tuple[str, tuple[FileType, Payload]]]:
        return [one(payload) for payload in payloads]

    # Batches, not one task per file: a thread-pool task costs more than a cached read.
    batches = [todo[start : start + _BATCH] for start in range(0, len(todo), _BATCH)]
    with ThreadPoolExecutor(_READERS) as pool:
        return dict(pair for results in pool.map(batch, batches) for pair in results)


def _typed_chunks(
    root: Path, encrypted: bool, chunks: list[list[Payload]]
) -> Iterator[tuple[list[Payload], dict[str, tuple[FileType, Payload]]]]:
    """Each chunk with what :func:`_type_payloads` says of it, in order.

    Many chunks are typed by a few worker processes (started afresh, not forked: the
    caller may run threads); a few, here.
    """
    if sum(len(chunk) for chunk in chunks) < _TYPING_IN_PROCESSES:
        for chunk in chunks:
            yield chunk, _type_payloads(root, encrypted, chunk)
        return
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(_TYPING_PROCESSES, mp_context=context, initializer=_ignore_interrupts)
    try:
        yield from zip(chunks, pool.map(_type_payloads, repeat(root), repeat(encrypted), chunks))
    except BaseException:  # Ctrl-C, or the caller stopped early: what is not typed yet is not wanted
        pool.shutdown(cancel_futures=True)  # the workers end once their chunk is done (about a second)
        raise
    pool.shutdown()


def _ignore_interrupts() -> None:
    """In a typing worker: Ctrl-C is for the process that started it, which ends the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _PhaseClock:
    """Seconds spent in each phase of a build, kept in the index so ``info`` can show them."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> float:
        now = time.perf_counter()
        self.laps[phase] = round(now - self._last, 3)
        self._last = now
        return self.laps[phase]


def _backup_stats(
    backup: Backup, payloads: list[Payload], names: dict, state: IndexState, index_records: int, missing: int
) -> dict[str, object]:
    info = backup.info
    return {
        "root": str(backup.root),
        "display_name": backup.display_name(),
        "device_name": info.device_name,
        "product_type": info.product_type,
        "ios_version": info.ios_version,
        "last_backup_date": info.last_backup_date.isoformat() if info.last_backup_date else None,
        "udid": info.udid,
        "encrypted": info.encrypted,
        "layout": backup.layout.value,
        "index_file": backup.index_path.name if backup.index_path else None,
        "index_state": state.state,
        "index_problem": state.problem,
        "index_records": index_records,
        "notes": list(info.notes),
        "payloads": len(payloads),
        "named": dict(Counter(n.origin for n in names.values())),
        "unnamed": {},  # by type folder, once typed
        "missing_payloads": missing,
    }


def _prefixes(backups: list[Backup]) -> list[tuple[str, ...]]:
    """One folder per backup when there are several, unique even for copies of one device."""
    if len(backups) == 1:
        return [()]
    seen: Counter[str] = Counter()
    prefixes = []
    for backup in backups:
        name = safe_component(backup.display_name())
        seen[name] += 1
        prefixes.append((name if seen[name] == 1 else f"{name} ({seen[name]})",))
    return prefixes


def build_index(
    backups: list[Backup],
    index_dir: Path | None = None,
    show_progress: bool | None = None,
    catalog_path: Path | None = None,
    names_from: list[Path] | None = None,
    complete_later: bool = False,
) -> Index:
    """Return the index for these backups, building it when absent or stale.

    With ``complete_later`` the index may come back with unnamed payloads still pending
    (:attr:`Index.pending_dirs`), which :func:`finish_typing` completes, and with metadata
    still to be read from the manifest or the payloads, which :func:`fill_attributes` fills.

    ``names_from`` are other backups (folders) or index files whose names may name files
    of these backups; sibling backups in the same MobileSync folder are always used.
    """
    catalog_path = catalog_path or DEFAULT_CATALOG
    catalog = Catalog.load(catalog_path)
    catalog_stat = catalog_path.stat()
    catalog_stamp = f"{catalog_path.resolve()}:{len(catalog)}:{catalog_stat.st_size}:{catalog_stat.st_mtime_ns}"
    other_indexes = [_other_indexes(backup, names_from or []) for backup in backups]
    signature = _signature(backups, catalog_stamp, [p for group in other_indexes for p in group])
    key = hashlib.sha1("\n".join(b.identity() for b in backups).encode()).hexdigest()
    path = (index_dir or default_index_dir()) / f"{key}.index.sqlite"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupfsError(
            f"cannot create the index folder {path.parent} ({exc.strerror}): give a writable one with --index-dir."
        ) from None
    if path.exists():
        try:
            index = Index(path)
            if index.meta.get("signature") == signature:
                log.info("reusing index %s", path)
                if not all(m is None or m.exists() for m in index.manifests):
                    raise ValueError("a copy of Manifest.db it points into is gone")
                if not complete_later:
                    index.close()
                    complete_index(path, show_progress)
                    index = Index(path)
                return index
            index.close()
        except Exception as exc:  # a damaged cache file is rebuilt, never trusted
            log.info("index %s unusable (%s); rebuilding", path, exc)

    copies = [path.with_name(f"{key}.manifest-{number}.sqlite") for number in range(len(backups))]
    prefixes = _prefixes(backups)
    try:
        with _index_write_errors(path), new_index(path) as conn:
            create_tables(conn, [b.root for b in backups], prefixes, [None] * len(backups))
            tree = TreeWriter(conn)
            stats, pending_dirs = [], []
            for number, (backup, prefix) in enumerate(zip(backups, prefixes)):
                backup_stats, unnamed = _place_backup(
                    conn, tree, number, backup, prefix, copies[number], other_indexes[number], catalog, show_progress
                )
                stats.append(backup_stats)
                if unnamed:  # typed later (finish_typing), which lists them again
                    pending_dirs.append("/".join((*prefix, OTHER_DATA)))
            tree.finish()
            set_meta(conn, {"signature": signature, "backups": stats, "format_version": FORMAT_VERSION,
                            "pending_dirs": pending_dirs})
    except BaseException:
        for copy in copies:
            copy.unlink(missing_ok=True)
        raise
    if not complete_later:
        complete_index(path, show_progress)
    return Index(path)


def complete_index(path: Path, show_progress: bool | None = None) -> None:
    """Leave nothing pending or lazily read in the index at ``path``."""
    index = Index(path)
    pending = bool(index.pending_dirs)
    index.close()
    if pending:
        finish_typing(path, show_progress)
    fill_attributes(path, show_progress)


def completion_status_path(index_path: Path) -> Path:
    """Where the background completion of an index says how far it is."""
    return index_path.with_name(index_path.name + ".progress")


def running_completion(index_path: Path) -> Status | None:
    """How far another process (a mount's background completion) is with this index, if one is at it."""
    return read_status(completion_status_path(index_path))


def _place_backup(
    conn: sqlite3.Connection,
    tree: TreeWriter,
    number: int,
    backup: Backup,
    prefix: tuple[str, ...],
    manifest_copy: Path,
    other_indexes: list[Path],
    catalog: Catalog,
    show_progress: bool | None,
) -> tuple[dict[str, object], int]:
    """Name and place one backup's payloads; returns its statistics and how many stay unnamed."""
    clock = _PhaseClock()
    payloads = _listed(backup, show_progress)
    clock.lap("list")
    with tempfile.TemporaryDirectory(dir=manifest_copy.parent) as workdir:
        copied = _copy_manifest_rows(conn, number, backup, prefix, manifest_copy, show_progress)
        if copied is not None:
            result, state, copied_rows = copied
            conn.execute("UPDATE backups SET manifest=? WHERE no=?", (str(manifest_copy), number))
            named_by_copy, snapshot_copies, missing = match_payloads(conn, number, payloads, backup.layout)
        else:
            manifest_copy.unlink(missing_ok=True)
            result, state = read_index(backup, Path(workdir), show_progress)
            named_by_copy, snapshot_copies, missing, copied_rows = set(), [], 0, 0
        clock.lap("read_index")
        payload_ids = {p.file_id for p in payloads}
        to_name = payload_ids - named_by_copy
        # Steps of the bar: the index, other backups, catalog and app containers; databases
        # that name files; then two for the generated camera-roll and Photos names.
        with Progress("Naming files", 4, unit=None, show=show_progress) as bar:
            bar.describe("from the index, the catalog and app containers")
            others = _names_from_other_backups(other_indexes, Path(workdir))
            index_origin = Origin.MANIFEST if state.state == "intact" else Origin.SALVAGED_INDEX
            names = name_payloads(to_name, result.records, catalog, backup.info.bundle_ids, others, index_origin)
            if len(names) < len(to_name):  # harvesting reads databases named by the manifest too
                known = copied_names(conn, number) if named_by_copy else {}
                everything = {**known, **names}
                bar.update(1)
                bar.describe("from databases that name files")
                harvest_names(everything, payload_ids, _database_opener(backup, payloads, Path(workdir)))

                def generating(share: float, what: str) -> None:
                    bar.update(2 + 2 * share)
                    bar.describe(f"generating {what}")

                generating(0, "camera roll names")
                name_generated(everything, payload_ids, generating)
                names = {fid: name for fid, name in everything.items() if fid not in known}
            named = len(names) + len(named_by_copy)
            bar.update(4)
            bar.describe(f"{named:,} of {len(payload_ids):,} named")
        clock.lap("name")
    placed = named_nodes(number, prefix, payloads, names, result.records) + snapshot_copies
    with Progress("Writing the index", len(placed), unit="entries", show=show_progress) as bar:
        tree.add(_counted(placed, bar))
    unnamed = len(payload_ids) - named
    tree.add([folder_node(prefix)] if prefix else [])
    tree.add([folder_node(prefix + (OTHER_DATA,))] if unnamed else [])
    if backup.info.encrypted and state.state != "intact":
        tree.add([notice_node(prefix, ENCRYPTED_NO_INDEX_TEXT)])
    clock.lap("place")
    missing += len({r.file_id for r in result.records if r.kind is Kind.FILE} - payload_ids)
    stats = _backup_stats(backup, payloads, names, state, len(result.records) + copied_rows, missing)
    stats["seconds"] = clock.laps
    stats["unnamed_to_type"] = unnamed
    if named_by_copy:
        stats["named"][Origin.MANIFEST] = stats["named"].get(Origin.MANIFEST, 0) + len(named_by_copy)
    log.info("%s: %s", backup.root, ", ".join(f"{phase} {secs:.2f} s" for phase, secs in clock.laps.items()))
    return stats, unnamed


def _copy_manifest_rows(
    conn: sqlite3.Connection,
    number: int,
    backup: Backup,
    prefix: tuple[str, ...],
    copy: Path,
    show_progress: bool | None,
) -> tuple[IndexReadResult, IndexState, int] | None:
    """Place an intact Manifest.db's plain rows by SQLite alone (see :mod:`manifest_bulk`).

    Returns the carefully read other rows and how many rows were copied, or None when the
    manifest is absent, has a ``-wal`` to merge, or turns out damaged: it is then read the
    careful way, whole.
    The private copy stays beside the index, which points into it for metadata.
    """
    index_path = backup.index_path
    if backup.index_format != "db" or index_path is None or os.path.lexists(f"{index_path}-wal"):
        return None
    try:
        snapshot_database(index_path, copy, None)
        with closing(sqlite3.connect(readonly_uri(copy), uri=True)) as manifest:
            domains = plain_domains(manifest, "main")
            rows = manifest.execute("SELECT count(*) FROM Files").fetchone()[0]
    except (OSError, sqlite3.DatabaseError):
        return None
    with Progress("Reading Manifest.db", rows, unit="rows", show=show_progress) as bar:
        conn.commit()  # what is written so far stays, whatever the copy below meets
        conn.execute("ATTACH DATABASE ? AS manifest", (readonly_uri(copy),))
        try:
            copied = place_plain_rows(conn, "manifest", number, prefix, backup.layout, domains, bar.update)
            failure = None
        except sqlite3.DatabaseError as exc:
            conn.rollback()  # a damaged page met mid-copy leaves a transaction that cannot commit
            failure = exc
        finally:
            conn.commit()  # a database cannot be detached inside a transaction
            conn.execute("DETACH DATABASE manifest")
        if failure is None:
            # The other rows, read with care; damage the copy did not trip over shows here.
            query = "SELECT group_concat(manifest_row) FROM nodes WHERE backup=? AND manifest_row IS NOT NULL"
            placed = f"[{conn.execute(query, (number,)).fetchone()[0] or ''}]"
            condition = "rowid NOT IN (SELECT value FROM json_each(:placed))"
            result = read_manifest_db(copy, name=index_path.name, condition=condition, parameters={"placed": placed})
            if result.complete:
                bar.update(rows)
    if failure is not None or not result.complete:
        log.info("%s cannot be copied whole (%s); reading it row by row", index_path, failure or result.problem)
        conn.execute("DELETE FROM nodes WHERE backup=?", (number,))
        return None
    return result, IndexState("intact", None), copied


def build_index_apart(*args: Any, **kwargs: Any) -> Index:
    """:func:`build_index` in a child process; the caller only opens the finished file.

    A build holds every name of the backup in Python objects. The process that goes on to
    serve the mount would keep that memory for the life of the mount (a forked server
    inherits it too), so the build runs in a process of its own that exits when done.
    Errors come back as the same one-line :class:`BackupfsError`.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the builder
        os.close(read_end)
        code, reply = 0, b""
        try:
            index = build_index(*args, **kwargs)
            reply = b"ok\0" + os.fsencode(index.path)
        except BackupfsError as exc:
            code, reply = 1, b"error\0" + str(exc).encode(errors="replace")
        except KeyboardInterrupt:
            code = 130
        except BaseException:
            code, reply = 2, b"crash\0" + traceback.format_exc().encode(errors="replace")
        with os.fdopen(write_end, "wb") as out:
            out.write(reply)
        os._exit(code)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as replies:
            reply = replies.read()
    finally:  # also on Ctrl-C, which the builder gets too: it closes its progress bar before we say more
        os.waitpid(pid, 0)
    kind, _, detail = reply.partition(b"\0")
    if kind == b"ok":
        return Index(Path(os.fsdecode(detail)))
    if kind == b"error":
        raise BackupfsError(detail.decode())
    if kind == b"crash":
        raise RuntimeError(f"building the index failed:\n{detail.decode()}")
    raise KeyboardInterrupt


def unnamed_payloads(index: Index) -> list[tuple[int, list[Payload]]]:
    """Per backup whose ``other-data`` is pending, its unnamed payloads, copies side by side.

    Listed again rather than kept in the index: listing costs about a second for 300,000
    payloads, while writing them all down would delay the mount by longer.
    """
    found = []
    for number, (root, prefix) in enumerate(zip(index.roots, index.prefixes)):
        if "/".join((*prefix, OTHER_DATA)) not in index.pending_dirs:
            continue
        named = index.file_ids(number)
        unnamed = [p for p in list_payloads(root) if p.file_id not in named]
        unnamed.sort(key=lambda p: p.file_id)  # stable: copies keep their listing order
        found.append((number, unnamed))
    return found


def finish_typing(path: Path, show_progress: bool | None = None, status: StatusFile | None = None) -> None:
    """Type the unnamed payloads of the index at ``path`` and place them under ``other-data``.

    Runs after the mount is up when mounting (the named tree does not depend on it), or
    before returning for commands that report on every file. Payloads are typed and
    written a chunk at a time, so memory does not grow with the size of the backup.
    """
    index = Index(path)
    try:
        roots, prefixes, stats = index.roots, index.prefixes, index.meta["backups"]
        counts: list[Counter[str]] = [Counter() for _ in roots]
        clock = _PhaseClock()
        todo = unnamed_payloads(index)

        def nodes(bar: Progress) -> Iterator[Node]:
            placed_folders: set[tuple[str, ...]] = set()
            for number, unnamed in todo:
                chunks = list(_chunks(unnamed, _TYPING_CHUNK))
                for chunk, typed in _typed_chunks(roots[number], bool(stats[number]["encrypted"]), chunks):
                    types = {fid: ftype for fid, (ftype, _) in typed.items()}
                    seen = [typed[p.file_id][1] if typed[p.file_id][1].relpath == p.relpath else p for p in chunk]
                    counts[number].update(types[p.file_id].folder for p in chunk)
                    for node in unnamed_nodes(number, prefixes[number], seen, types):
                        if node.kind is Kind.DIR:
                            if node.path in placed_folders:
                                continue
                            placed_folders.add(node.path)
                        yield node
                    bar.advance(len(chunk))

        def meta() -> dict[str, object]:
            seconds = clock.lap("type")
            for number, backup_stats in enumerate(stats):
                if counts[number]:
                    backup_stats["unnamed"] = dict(counts[number])
                    backup_stats["unnamed_to_type"] = 0
                    backup_stats["seconds"] = backup_stats.get("seconds", {}) | {"type": seconds}
            return {"backups": stats}

        # A new file from a copy: readers of the old one keep reading it, and Index.refresh
        # moves them over.
        total = sum(len(unnamed) for _, unnamed in todo)
        with Progress(TYPING, total, show=show_progress, status=status) as bar:
            with _index_write_errors(path), new_index(path, start_from=path) as conn:
                TreeWriter(conn).add(nodes(bar))
                set_meta(conn, {**meta(), "pending_dirs": []})
    finally:
        index.close()


def fill_attributes(path: Path, show_progress: bool | None = None, status: StatusFile | None = None) -> None:
    """Write into the index what a fast build left to be read later: metadata and sizes.

    Rows copied from an intact Manifest.db keep their metadata in its private copy, and
    listing payloads does not stat them. Both are filled here, once, so listings can
    carry every attribute; until then the filesystem reads them one by one, the same way.
    """
    index = Index(path)
    try:
        manifests, roots, unknown = index.manifests, index.roots, index.unread_count()
    finally:
        index.close()
    if not unknown:
        return

    def phase(label: str, total: int) -> Progress:
        return Progress(label, total, show=show_progress, status=status)

    with _index_write_errors(path), new_index(path, start_from=path) as conn:
        # Values are gathered in side tables and applied by one UPDATE each: SQLite's
        # own loop costs a fraction of one Python-bound UPDATE per row.
        conn.execute(
            "CREATE TEMP TABLE filled(depth INTEGER, path BLOB, mode INTEGER, mtime_ns INTEGER, manifest_size INTEGER)"
        )
        rows = conn.execute("SELECT count(*) FROM nodes WHERE manifest_row IS NOT NULL").fetchone()[0]
        with phase("Reading metadata from Manifest.db", rows) as bar:
            for number, manifest in enumerate(manifests):
                if manifest is not None:
                    _fill_manifest_rows(conn, number, manifest, bar)
        conn.execute(
            "UPDATE nodes SET mode=f.mode, mtime_ns=f.mtime_ns, manifest_size=f.manifest_size, manifest_row=NULL "
            "FROM filled f WHERE nodes.depth=f.depth AND nodes.path=f.path"
        )
        conn.execute("UPDATE backups SET manifest=NULL")
        conn.execute("CREATE TEMP TABLE stated(depth INTEGER, path BLOB, size INTEGER, mtime_ns INTEGER)")
        _fill_payload_stats(conn, roots, phase)
        conn.execute(
            "UPDATE nodes SET size=s.size, mtime_ns=s.mtime_ns FROM stated s WHERE nodes.depth=s.depth AND nodes.path=s.path"
        )
        _fill_view_sizes(conn, roots, phase)
    for manifest in manifests:
        if manifest is not None:
            manifest.unlink(missing_ok=True)


def _fill_manifest_rows(conn: sqlite3.Connection, number: int, manifest: Path, bar: Progress) -> None:
    """Decode the metadata blob of each row placed from ``manifest`` into ``filled``."""
    conn.execute("ATTACH DATABASE ? AS manifest", (readonly_uri(manifest),))
    try:
        rows = conn.execute(
            "SELECT n.depth, n.path, n.kind, n.mtime_ns, f.file FROM nodes n JOIN manifest.Files f "
            "ON f.rowid = n.manifest_row WHERE n.backup=? AND n.manifest_row IS NOT NULL",
            (number,),
        )
        while batch := rows.fetchmany(_TYPING_CHUNK):
            filled = []
            for depth, node_path, kind, mtime_ns, blob in batch:
                mode, recorded_mtime, size = row_attributes(Kind.DIR if kind == Kind.DIR else Kind.FILE, blob)
                filled.append((depth, node_path, mode, mtime_ns if recorded_mtime == UNKNOWN else recorded_mtime, size))
            conn.execute("SAVEPOINT filling")  # keeps the read cursor valid across inserts
            conn.executemany("INSERT INTO filled VALUES (?,?,?,?,?)", filled)
            conn.execute("RELEASE filling")
            bar.advance(len(batch))
        conn.commit()  # a database cannot be detached inside a transaction
    finally:
        conn.execute("DETACH DATABASE manifest")


def _fill_payload_stats(conn: sqlite3.Connection, roots: list[Path], phase: Callable[[str, int], Progress]) -> None:
    """Size and mtime of every file whose listing left them unknown, into ``stated``.

    Runs once the manifest's mtimes are in ``nodes``, so only what they leave unknown is read.

    ``lstat`` runs in a few threads, which overlap the disk's latency on a cold cache.
    """
    rows = conn.execute(
        "SELECT depth, path, backup, source, size, mtime_ns FROM nodes "
        "WHERE kind=1 AND source IS NOT NULL AND (size=? OR mtime_ns=?)",
        (UNKNOWN, UNKNOWN),
    ).fetchall()

    root_names = [str(root) for root in roots]

    def stat_batch(batch: list[tuple]) -> list[tuple]:
        done = []
        for depth, node_path, backup, source, size, mtime_ns in batch:
            try:
                st = os.lstat(os.path.join(root_names[backup], source))
            except OSError:
                continue  # left unknown: the filesystem will try again, and say why
            done.append((depth, node_path, shown_size(st) if size == UNKNOWN else size,
                         st.st_mtime_ns if mtime_ns == UNKNOWN else mtime_ns))
        bar.advance(len(batch))
        return done

    batches = [rows[start : start + _TYPING_CHUNK] for start in range(0, len(rows), _TYPING_CHUNK)]
    with phase("Reading file sizes", len(rows)) as bar, ThreadPoolExecutor(_READERS) as pool:
        # Written once every thread is done: an insert per row would wait for the
        # interpreter lock behind the stat threads at every step.
        stated = [row for done in pool.map(stat_batch, batches) for row in done]
    conn.executemany("INSERT INTO stated VALUES (?,?,?,?)", stated)


def _fill_view_sizes(conn: sqlite3.Connection, roots: list[Path], phase: Callable[[str, int], Progress]) -> None:
    """The size of each database shown merged with its ``-wal``: it means reading the whole ``-wal``.

    A database that cannot be read keeps the payload's size, as the filesystem shows it then.
    """
    rows = conn.execute(
        "SELECT depth, path, backup, source, wal_source, size FROM nodes WHERE wal_source IS NOT NULL AND view_size IS NULL"
    ).fetchall()
    sizes = []
    with phase("Merging databases with their -wal", len(rows)) as bar:
        for depth, node_path, backup, source, wal_source, size in rows:
            try:
                view = merged_view(roots[backup], source, wal_source)
            except OSError:
                view = None
            sizes.append((size if view is None else view.size, depth, node_path))
            bar.advance()
    conn.executemany("UPDATE nodes SET view_size=? WHERE depth=? AND path=?", sizes)


def _counted(nodes: list[Node], bar: Progress) -> Iterator[Node]:
    """``nodes``, counted on ``bar`` a chunk at a time (a count per node would cost more than the node)."""
    for start in range(0, len(nodes), _TYPING_CHUNK):
        yield from nodes[start : start + _TYPING_CHUNK]
        bar.advance(min(_TYPING_CHUNK, len(nodes) - start))


def _chunks(payloads: list[Payload], size: int) -> Iterator[list[Payload]]:
    """Runs of about ``size`` payloads; copies of a payload never straddle two."""
    chunk: list[Payload] = []
    for payload in payloads:
        if len(chunk) >= size and payload.file_id != chunk[-1].file_id:
            yield chunk
            chunk = []
        chunk.append(payload)
    if chunk:
        yield chunk


@contextmanager
def _index_write_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise BackupfsError(
            f"cannot write the index in {path.parent} ({reason}): free some space or use --index-dir."
        ) from None

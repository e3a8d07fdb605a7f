"""Build (or reuse) the index of a mount: source -> naming -> index, the pipeline of a first mount.

Each backup is listed, what its own index still holds is read (an intact Manifest.db is
copied in by SQLite alone, :mod:`backupfs.index.bulk`), its payloads are named (every name
proven by its hash, :mod:`backupfs.naming`), and the named ones placed in the tree. What a
mount does not need to be ready, typing the unnamed payloads and reading sizes and
metadata, is left to :mod:`backupfs.index.complete`. Everything built here lives in the
user's cache folder (:mod:`backupfs.index.cache`); the source is only read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import stat
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backupfs.apart import run_apart
from backupfs.index.bulk import (
    copied_names,
    match_payloads,
    place_plain_rows,
    plain_domains,
)
from backupfs.index.cache import catalog_stamp, index_file, memory_index_file, signature
from backupfs.index.complete import complete_index
from backupfs.index.notices import ENCRYPTED_NO_INDEX_TEXT, notice_node
from backupfs.index.paths import OTHER_DATA, folder_node, named_nodes, safe_component
from backupfs.index.readable import remove_copies
from backupfs.index.schema import FORMAT_VERSION, Node
from backupfs.index.sorting import CHUNK
from backupfs.index.stats import BackupStats, PhaseClock
from backupfs.index.store import Index
from backupfs.index.tree import TreeWriter
from backupfs.index.writing import create_tables, new_index, set_meta, write_errors
from backupfs.naming.catalog import DEFAULT_PATH as DEFAULT_CATALOG
from backupfs.naming.catalog import Catalog
from backupfs.naming.prove import (
    Name,
    OpenDatabase,
    Origin,
    harvest_names,
    name_generated,
    name_payloads,
)
from backupfs.progress import Progress
from backupfs.readable.base import READABLE_FOLDER
from backupfs.source.crypto import (
    ClassKeys,
    DamagedKeyError,
    decrypt_whole,
)
from backupfs.source.discover import Backup, find_backups, sibling_backups
from backupfs.source.manifest.db import read_manifest_db, read_manifest_names
from backupfs.source.manifest.mbdb import read_manifest_mbdb
from backupfs.source.manifest.records import Kind, ManifestReadResult, ManifestRecord
from backupfs.source.manifest.salvage import salvage_files_rows
from backupfs.source.payloads import Payload
from backupfs.source.safe_open import SourceFile
from backupfs.source.sqlite import (
    connect_readonly,
    copy_database,
    database_exists,
    in_memory,
    private_folder,
    readonly_uri,
    remove_database,
    snapshot_database,
)
from backupfs.source.sqlite_view import BytesReader, SizedReader

log = logging.getLogger(__name__)

LOCKED = "Manifest.db is encrypted: give the backup's password to read it."
Decrypt = Callable[[str, SourceFile], "SizedReader | None"]  # (file id, its payload) -> its plaintext, when it has a key

@dataclass(frozen=True)
class ManifestState:
    """How much of a backup's own index survived."""

    state: str  # "intact", "damaged" or "missing"
    problem: str | None


def _snapshot_index(index_path: Path, workdir: Path) -> Path:
    """A private copy of a Manifest.db (its -wal merged) for SQLite to open."""
    copy = workdir / f"index-{hashlib.sha1(str(index_path).encode()).hexdigest()}.db"
    wal = index_path.with_name(index_path.name + "-wal")
    snapshot_database(index_path, copy, wal if os.path.lexists(wal) else None)
    return copy


def read_manifest(
    backup: Backup, workdir: Path, show_progress: bool | None = None, keys: ClassKeys | None = None,
    decrypted_copy: Path | None = None,
) -> tuple[ManifestReadResult, ManifestState]:
    """Read whatever the backup's index still holds; SQLite only ever sees a private copy.

    An encrypted Manifest.db (iOS 10.2+) is read with the backup's class ``keys``, into
    ``decrypted_copy``, a private copy in memory; without them it stays "locked".
    """
    if backup.index_path is None:
        return ManifestReadResult([], complete=False), ManifestState("missing", None)
    if backup.index_format == "db" and backup.info.manifest_key is not None:
        if keys is None or decrypted_copy is None:
            return ManifestReadResult([], complete=False), ManifestState("locked", LOCKED)
        result = _read_encrypted_manifest(backup.index_path, backup.info.manifest_key, keys, decrypted_copy, show_progress)
    elif backup.index_format == "db":
        try:
            copy = _snapshot_index(backup.index_path, workdir)
        except OSError as exc:
            return ManifestReadResult([], complete=False), ManifestState("damaged", f"Manifest.db cannot be read ({exc.strerror}).")
        with Progress("Reading Manifest.db", None, unit="rows", show=show_progress) as bar:
            result = read_manifest_db(copy, bar.update, name=backup.index_path.name)
        if not result.complete:
            result = _with_salvaged_rows(result, copy.read_bytes())
    else:
        result = read_manifest_mbdb(backup.index_path)
    if result.complete and result.records:
        return result, ManifestState("intact", None)
    problem = result.problem or f"{backup.index_path.name} holds no file records."
    return result, ManifestState("damaged", problem)


def _read_encrypted_manifest(
    index_path: Path, wrapped_key: bytes, keys: ClassKeys, copy: Path, show_progress: bool | None
) -> ManifestReadResult:
    """Decrypt an encrypted Manifest.db into ``copy`` (in memory) and read it like any other.

    CBC decrypts as far as the bytes go, so a truncated or partly overwritten file gives
    every page it still holds, which the salvage reads when SQLite cannot.
    """
    try:
        manifest_key = keys.unwrap(wrapped_key)
    except DamagedKeyError as exc:
        return ManifestReadResult([], complete=False, problem=f"Manifest.db cannot be decrypted: {exc}.")
    try:
        ciphertext = SourceFile(index_path)
        plaintext = decrypt_whole(ciphertext.read(ciphertext.size, 0), manifest_key)
    except OSError as exc:
        return ManifestReadResult([], complete=False, problem=f"Manifest.db cannot be read ({exc.strerror or exc}).")
    try:
        copy_database(BytesReader(plaintext), None, copy)
    except sqlite3.DatabaseError as exc:  # not even a database header: only its pages can be read
        log.info("decrypted Manifest.db does not open as a database: %s", exc)
        result = ManifestReadResult([], complete=False, problem="Manifest.db is damaged: it is not a readable database.")
    else:
        with Progress("Reading Manifest.db", None, unit="rows", show=show_progress) as bar:
            result = read_manifest_db(copy, bar.update, name=index_path.name)
    return result if result.complete else _with_salvaged_rows(result, plaintext)


def _with_salvaged_rows(result: ManifestReadResult, data: bytes) -> ManifestReadResult:
    """Add the rows SQLite could not reach, read from the damaged file's pages (``data``) directly."""
    known = {record.file_id for record in result.records}
    extra = [record for record in salvage_files_rows(data) if record.file_id not in known]
    if not extra:
        return result
    rows = "1 more row was" if len(extra) == 1 else f"{len(extra):,} more rows were"
    problem = f"{result.problem or 'Manifest.db is damaged.'} {rows} salvaged from its pages."
    return ManifestReadResult(result.records + extra, complete=False, problem=problem)


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


def _database_opener(
    backup: Backup, payloads: list[Payload], workdir: Path, decrypt: Decrypt | None
) -> OpenDatabase:
    """Open payload databases for harvesting, through a private copy in ``workdir`` (in memory when
    ``decrypt`` decrypts them: a payload it has no key for is not opened)."""
    relpaths = {p.file_id: p.relpath for p in payloads if stat.S_ISREG(p.st_mode)}

    def payload(fid: str) -> SizedReader | None:
        if decrypt is None and backup.info.encrypted:
            return None  # its ciphertext names nothing
        file = SourceFile(backup.root / relpaths[fid])
        return file if decrypt is None else decrypt(fid, file)

    def open_database(fid: str, wal_fid: str | None) -> sqlite3.Connection | None:
        if fid not in relpaths:
            return None
        copy = workdir / f"harvest-{fid}.sqlite"
        try:
            database = payload(fid)
            wal = payload(wal_fid) if wal_fid in relpaths else None  # type: ignore[arg-type]
            if database is None:
                return None
            copy_database(database, wal, copy)
            conn = connect_readonly(copy)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except (OSError, sqlite3.Error) as exc:
            log.info("cannot read %s for names: %s", relpaths[fid], exc)
            return None
        return conn

    return open_database


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
    keys: Sequence[ClassKeys | None] | None = None,
) -> Index:
    """Return the index for these backups, building it when absent or stale.

    With ``complete_later`` the index may come back with unnamed payloads still pending
    (:attr:`Index.pending_dirs`) and metadata still to be read from the manifest or the
    payloads, which :mod:`backupfs.index.complete` completes.

    ``names_from`` are other backups (folders) or index files whose names may name files
    of these backups; sibling backups in the same MobileSync folder are always used.

    ``keys`` are the class keys of each encrypted backup whose password was given (None
    for the others). With any, the index is built in memory and lives only as long as
    this process (and a child forked from it): it holds names and keys that were
    decrypted, which must never reach a disk. It is built anew each time.
    """
    catalog_path = catalog_path or DEFAULT_CATALOG
    catalog = Catalog.load(catalog_path)
    other_indexes = [_other_indexes(backup, names_from or []) for backup in backups]
    expected = signature(backups, catalog_stamp(catalog_path, catalog), [p for group in other_indexes for p in group])
    keys = list(keys or [None] * len(backups))
    path = memory_index_file(backups) if any(keys) else index_file(backups, index_dir)
    if database_exists(path):
        try:
            index = Index(path)
            if index.meta.get("signature") == expected:
                log.info("reusing index %s", path)
                if not all(m is None or database_exists(m) for m in index.manifests):
                    raise ValueError("a copy of Manifest.db it points into is gone")
                if not complete_later:
                    index.close()
                    complete_index(path, show_progress)
                    index = Index(path)
                return index
            index.close()
        except Exception as exc:  # a damaged cache file is rebuilt, never trusted
            log.info("index %s unusable (%s); rebuilding", path, exc)

    copies = [path.with_name(path.name.replace(".index.sqlite", f".manifest-{number}.sqlite")) for number in range(len(backups))]
    prefixes = _prefixes(backups)
    remove_copies(path)  # copies of the databases a previous index read, perhaps changed since
    try:
        with write_errors(path), new_index(path) as conn:
            create_tables(conn, [b.root for b in backups], prefixes, [None] * len(backups))
            tree = TreeWriter(conn)
            stats, pending_dirs = [], []
            for number, (backup, prefix) in enumerate(zip(backups, prefixes)):
                backup_stats, unnamed = _place_backup(
                    conn, tree, number, backup, prefix, copies[number], other_indexes[number], catalog, show_progress,
                    keys[number],
                )
                stats.append(backup_stats.as_meta())
                # Filled later (index.complete): the readable folder from the named databases,
                # other-data by typing the unnamed payloads, which it lists again.
                pending_dirs.append("/".join((*prefix, READABLE_FOLDER)))
                if unnamed:
                    pending_dirs.append("/".join((*prefix, OTHER_DATA)))
            tree.finish()
            set_meta(conn, {"signature": expected, "backups": stats, "format_version": FORMAT_VERSION,
                            "pending_dirs": pending_dirs})
    except BaseException:
        for copy in copies:
            remove_database(copy)
        raise
    if not complete_later:
        complete_index(path, show_progress)
    return Index(path)


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
    keys: ClassKeys | None,
) -> tuple[BackupStats, int]:
    """Name and place one backup's payloads; returns its statistics and how many stay unnamed.

    With ``keys`` (an encrypted backup whose password was given, in an index kept in
    memory), each payload its manifest gives a key for is recorded to be shown decrypted.
    """
    clock = PhaseClock()
    payloads = _listed(backup, show_progress)
    clock.lap("list")
    # Copies of databases, of this backup and of other backups' indexes: beside the index, on a disk or in memory.
    with private_folder(manifest_copy.parent) as workdir:
        # Rows of an encrypted backup hold keys, which the copy by SQL would leave behind, and
        # its files are decrypted or marked as encrypted one by one: they are read the careful way.
        copied = None if backup.info.encrypted else _copy_manifest_rows(
            conn, number, backup, prefix, manifest_copy, show_progress
        )
        if copied is not None:
            result, state, copied_rows = copied
            conn.execute("UPDATE backups SET manifest=? WHERE no=?", (str(manifest_copy), number))
            named_by_copy, snapshot_copies, missing = match_payloads(conn, number, payloads, backup.layout)
        else:
            remove_database(manifest_copy)
            result, state = read_manifest(backup, workdir, show_progress, keys, manifest_copy)
            named_by_copy, snapshot_copies, missing, copied_rows = set(), [], 0, 0
        file_keys = _file_keys(result.records) if keys else {}
        clock.lap("read_manifest")
        payload_ids = {p.file_id for p in payloads}
        to_name = payload_ids - named_by_copy
        # Steps of the bar: the index, other backups, catalog and app containers; databases
        # that name files; then two for the generated camera-roll and Photos names.
        with Progress("Naming files", 4, unit=None, show=show_progress) as bar:
            bar.describe("from the index, the catalog and app containers")
            others = _names_from_other_backups(other_indexes, workdir)
            index_origin = Origin.MANIFEST if state.state == "intact" else Origin.SALVAGED_INDEX
            names = name_payloads(to_name, result.records, catalog, backup.info.bundle_ids, others, index_origin)
            if len(names) < len(to_name):  # harvesting reads databases named by the manifest too
                known = copied_names(conn, number) if named_by_copy else {}
                everything = {**known, **names}
                bar.update(1)
                bar.describe("from databases that name files")
                decrypt = _decryption(keys, file_keys) if keys else None
                harvest_names(everything, payload_ids, _database_opener(backup, payloads, workdir, decrypt))

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
    placed = named_nodes(number, prefix, payloads, names, result.records, bool(backup.info.encrypted), file_keys)
    placed += snapshot_copies
    with Progress("Writing the index", len(placed), unit="entries", show=show_progress) as bar:
        tree.add(_counted(placed, bar))
    if keys:
        if not in_memory(manifest_copy):  # beside the index: both in memory, or both on a disk
            raise AssertionError("the keys of an encrypted backup must never be written into an index on a disk")
        _write_keys(conn, number, keys, payloads, file_keys)
    unnamed = len(payload_ids) - named
    tree.add([folder_node(prefix)] if prefix else [])
    tree.add([folder_node(prefix + (OTHER_DATA,))] if unnamed else [])
    tree.add([folder_node(prefix + (READABLE_FOLDER,))])
    if backup.info.encrypted and state.state not in ("intact", "locked"):
        tree.add([notice_node(prefix, ENCRYPTED_NO_INDEX_TEXT)])
    clock.lap("place")
    missing += len({r.file_id for r in result.records if r.kind is Kind.FILE} - payload_ids)
    stats = _backup_stats(backup, payloads, names, state, len(result.records) + copied_rows, missing)
    stats.seconds = clock.laps
    stats.unnamed_to_type = unnamed
    stats.decrypted = bool(keys)
    if named_by_copy:
        stats.named[Origin.MANIFEST] = stats.named.get(Origin.MANIFEST, 0) + len(named_by_copy)
    log.info("%s: %s", backup.root, ", ".join(f"{phase} {secs:.2f} s" for phase, secs in clock.laps.items()))
    return stats, unnamed


def _copy_manifest_rows(
    conn: sqlite3.Connection,
    number: int,
    backup: Backup,
    prefix: tuple[str, ...],
    copy: Path,
    show_progress: bool | None,
) -> tuple[ManifestReadResult, ManifestState, int] | None:
    """Place an intact Manifest.db's plain rows by SQLite alone (see :mod:`backupfs.index.bulk`).

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
        with closing(connect_readonly(copy)) as manifest:
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
    return result, ManifestState("intact", None), copied


def _file_keys(records: list[ManifestRecord]) -> dict[str, tuple[bytes, int | None]]:
    """Per file id, the wrapped key and recorded size its manifest row gives (files with a key only)."""
    return {r.file_id: (r.encryption_key, r.size) for r in records if r.kind is Kind.FILE and r.encryption_key}


def _decryption(keys: ClassKeys, file_keys: dict[str, tuple[bytes, int | None]]) -> Decrypt:
    """Opens a payload decrypted, by its file id; None for one without a key, or a damaged one."""

    def decrypt(fid: str, payload: SourceFile) -> SizedReader | None:
        if fid not in file_keys:
            return None
        try:
            return keys.decrypted(payload, *file_keys[fid])
        except DamagedKeyError as exc:
            log.info("cannot decrypt %s: %s", fid, exc)
            return None

    return decrypt


def _write_keys(
    conn: sqlite3.Connection,
    number: int,
    keys: ClassKeys,
    payloads: list[Payload],
    file_keys: dict[str, tuple[bytes, int | None]],
) -> None:
    """What decrypts this backup's payloads, into an index kept in memory (never one on a disk)."""
    conn.executemany("INSERT INTO class_keys VALUES (?, ?, ?)", [(number, clas, key) for clas, key in keys.items()])
    conn.executemany(
        "INSERT OR IGNORE INTO file_keys VALUES (?, ?, ?, ?)",
        [(number, p.relpath, *file_keys[p.file_id]) for p in payloads if p.file_id in file_keys],
    )


def _counted(nodes: list[Node], bar: Progress) -> Iterator[Node]:
    """``nodes``, counted on ``bar`` a chunk at a time (a count per node would cost more than the node)."""
    for start in range(0, len(nodes), CHUNK):
        yield from nodes[start : start + CHUNK]
        bar.advance(min(CHUNK, len(nodes) - start))




def build_index_apart(*args: Any, **kwargs: Any) -> Index:
    """:func:`build_index` in a child process (see :mod:`backupfs.apart`); the caller only opens the finished file."""
    return Index(Path(run_apart(lambda: str(build_index(*args, **kwargs).path))))


def _backup_stats(
    backup: Backup, payloads: list[Payload], names: dict[str, Name], state: ManifestState, index_records: int, missing: int
) -> BackupStats:
    info = backup.info
    return BackupStats(
        root=str(backup.root),
        display_name=backup.display_name(),
        device_name=info.device_name,
        product_type=info.product_type,
        ios_version=info.ios_version,
        last_backup_date=info.last_backup_date.isoformat() if info.last_backup_date else None,
        udid=info.udid,
        encrypted=info.encrypted,
        layout=backup.layout.value,
        index_file=backup.index_path.name if backup.index_path else None,
        index_state=state.state,
        index_problem=state.problem,
        index_records=index_records,
        notes=list(info.notes),
        payloads=len(payloads),
        named=dict(Counter(n.origin for n in names.values())),
        missing_payloads=missing,
    )

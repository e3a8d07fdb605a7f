"""Give payloads their real names, each one proven by its SHA1.

A payload is named ``SHA1(domain-relativePath)``. Any source of candidate names (the
surviving index, the catalog of paths seen on real devices, app containers built from the
backup's bundle ids) is only trusted through that hash: a candidate names a payload only
when its hash *is* the payload's file name, so a wrong name can never be shown.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from backupfs.naming.catalog import Catalog, app_domain_candidates
from backupfs.naming.generated import match_generated, match_photo_trees
from backupfs.naming.harvest import HARVESTERS, harvester_for
from backupfs.source.manifest.records import Kind, ManifestRecord, file_id


class Origin:
    """Where a name came from; shown in ``user.backupfs.origin`` and ``backupfs info``."""

    MANIFEST = "manifest"
    SALVAGED_INDEX = "salvaged-index"  # rows read from a damaged Manifest.db / Manifest.mbdb
    CATALOG = "catalog"
    APP_DOMAIN = "app-domain"
    OTHER_BACKUP = "other-backup"
    WELL_KNOWN = "well-known"  # the databases the harvesters read, at the paths iOS gives them
    HARVESTED = "harvested"  # shown as "harvested:<harvester>", e.g. "harvested:sms"
    GENERATED = "generated"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Name:
    """A proven name for one payload."""

    domain: str
    relative_path: str
    origin: str
    record: ManifestRecord | None = None


def name_payloads(
    payload_ids: set[str],
    records: Iterable[ManifestRecord],
    catalog: Catalog,
    bundle_ids: Iterable[str],
    other_backup_names: Iterable[tuple[str, str]] = (),
    index_origin: str = Origin.MANIFEST,
) -> dict[str, Name]:
    """Name every payload in ``payload_ids`` that some source can prove.

    Sources are tried from the most to the least informative: the index (which also
    carries metadata), the indexes of other backups (only their names are used), then
    the catalog, then app containers. The index is checked by
    hash too, because a damaged index can hold rows whose fileID does not match.
    """
    names: dict[str, Name] = {}
    for record in records:
        if record.kind is not Kind.FILE or record.file_id not in payload_ids:
            continue
        if file_id(record.domain, record.relative_path) != record.file_id:
            continue
        names.setdefault(record.file_id, Name(record.domain, record.relative_path, index_origin, record))
    _name_from_candidates(names, payload_ids, iter(other_backup_names), Origin.OTHER_BACKUP)

    for fid, (domain, path) in catalog.match(payload_ids - names.keys()).items():
        names[fid] = Name(domain, path, Origin.CATALOG)

    _name_from_candidates(names, payload_ids, app_domain_candidates(bundle_ids, catalog), Origin.APP_DOMAIN)
    return names


OpenDatabase = Callable[[str, str | None], sqlite3.Connection | None]


def harvest_names(names: dict[str, Name], payload_ids: set[str], open_database: OpenDatabase) -> None:
    """Read every named database that names other files, until nothing new is named.

    A harvested database can name another harvestable database (a cycle is harmless:
    each database is read once). ``open_database(file_id, wal_file_id)`` returns a
    read-only connection to a private copy, or None when the payload cannot be read.
    """
    # Those databases by their own paths: the catalog misses some (Voice Memos' app group).
    sources = (source for harvester in HARVESTERS for source in harvester.sources)
    _name_from_candidates(names, payload_ids, sources, Origin.WELL_KNOWN)
    done: set[str] = set()
    while len(names) < len(payload_ids):  # with every payload named, nothing is left to learn
        todo = [
            (fid, name, harvester)
            for fid, name in list(names.items())
            if fid not in done and (harvester := harvester_for(name.domain, name.relative_path)) is not None
        ]
        if not todo:
            return
        for fid, name, harvester in todo:
            done.add(fid)
            wal_id = file_id(name.domain, name.relative_path + "-wal")
            conn = open_database(fid, wal_id if wal_id in payload_ids else None)
            if conn is None:
                continue
            try:
                candidates = list(harvester.harvest(conn))
            finally:
                conn.close()
            _name_from_candidates(names, payload_ids, iter(candidates), f"{Origin.HARVESTED}:{harvester.name}")


def name_generated(
    names: dict[str, Name], payload_ids: set[str], progress: Callable[[float, str], None] | None = None
) -> None:
    """Name camera-roll originals by enumeration, then the Photos files derived from any original.

    ``progress(share_done, what)`` is told how far it is, from 0 to 1.
    """
    if len(names) == len(payload_ids):  # an intact index: millions of hashes for nothing
        return

    def tell(share: float, what: str) -> None:
        if progress is not None:
            progress(share, what)

    def folders_tried(done: int, total: int) -> None:  # camera roll: the first half
        tell(0.5 * done / total, "camera roll names")

    for fid, candidate in match_generated(payload_ids, set(names), progress=folders_tried).items():
        names[fid] = Name(*candidate, Origin.GENERATED)
    tell(0.5, "names of Photos thumbnails and edits")
    originals = [(name.domain, name.relative_path) for name in names.values()]
    for fid, candidate in match_photo_trees(originals, payload_ids - names.keys()).items():
        names[fid] = Name(*candidate, Origin.GENERATED)


def _name_from_candidates(
    names: dict[str, Name],
    payload_ids: set[str],
    candidates: Iterator[tuple[str, str]],
    origin: str,
) -> None:
    for domain, path in candidates:
        fid = file_id(domain, path)
        if fid in payload_ids and fid not in names:
            names[fid] = Name(domain, path, origin)

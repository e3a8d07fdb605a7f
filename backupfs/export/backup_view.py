"""The repaired backup as a mount (``mount --as backup``): the same folder ``extract --as backup`` writes, zero-copy.

Tools that read backups (mvt, iLEAPP, iOSbackup) refuse a backup without its index; this
view shows them one that has it. It is an index of its own, written beside the backup's
index in the cache: each payload at its fileID (``xx/<fileID>``, or ``<fileID>`` in a flat
iOS 5-9 backup), served straight from the source as any payload of the mount, and the
files a finished backup holds beside them (Manifest.db or Manifest.mbdb, Info.plist,
Manifest.plist, Status.plist), synthesised by :mod:`backupfs.export.repaired` into a
folder of the cache, which the view shows as one more "backup" folder. The mount serves
it like any index; it holds no format knowledge.
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

from backupfs.errors import BackupfsError
from backupfs.export.repaired import repaired_layout, write_manifest, write_plists
from backupfs.index.schema import FORMAT_VERSION, Node
from backupfs.index.store import PAYLOADS_AS_THEY_ARE, Index
from backupfs.index.tree import TreeWriter
from backupfs.index.writing import create_tables, new_index, set_meta, write_errors
from backupfs.naming.prove import Origin
from backupfs.source.manifest.records import Kind
from backupfs.source.payloads import UNSTATED
from backupfs.source.plists import read_backup_info

METADATA = ("Manifest.db", "Manifest.mbdb", "Info.plist", "Manifest.plist", "Status.plist")
_FILE_MODE = stat.S_IFREG | 0o444


def backup_view(index: Index) -> Index:
    """An index that shows each backup of ``index`` as its repaired backup folder.

    Written anew each time (it takes seconds), beside ``index``. Raises
    :class:`BackupfsError` for an encrypted backup, whose payloads a repaired backup would
    have to re-encrypt.
    """
    path = index.path.with_name(index.path.name.replace(".index.sqlite", ".as-backup.index.sqlite"))
    count = len(index.roots)
    folders = [index.path.with_name(f"{index.path.name}.as-backup-{number}") for number in range(count)]
    nodes: list[Node] = []
    for number, (root, prefix, stats) in enumerate(zip(index.roots, index.prefixes, index.backup_stats)):
        if stats.encrypted:
            raise BackupfsError(
                f"{root} is an encrypted backup: showing it as a repaired backup is not supported yet (its files "
                "would need re-encrypting); mount it without --as backup, or use 'backupfs extract' for its files."
            )
        layout = repaired_layout(index, number)
        shutil.rmtree(folders[number], ignore_errors=True)
        folders[number].mkdir(parents=True)
        write_manifest(folders[number], layout.layout, layout.records)
        write_plists(root, folders[number], layout.layout, read_backup_info(root))
        nodes += _metadata_nodes(folders[number], prefix, count + number)
        sizes = {r.file_id: r.size or 0 for r in layout.records if r.kind is Kind.FILE}
        nodes += [
            _payload_node(prefix, layout.layout, number, fid, source, sizes[fid], Origin.MANIFEST)
            for fid, source in layout.sources.items()
        ]
        nodes += [
            _payload_node(prefix, layout.layout, number, p.file_id, p.relpath, p.size, Origin.UNKNOWN) for p in layout.unnamed
        ]
    with write_errors(path), new_index(path) as conn:
        create_tables(conn, [*index.roots, *folders], [*index.prefixes, *index.prefixes], [None] * 2 * count)
        tree = TreeWriter(conn)
        tree.add(nodes)
        tree.finish()
        stats = index.meta["backups"]
        set_meta(conn, {"backups": [*stats, *stats], "format_version": FORMAT_VERSION, "pending_dirs": [],
                        PAYLOADS_AS_THEY_ARE: True})
    return Index(path)


def _payload_node(prefix: tuple[str, ...], layout: str, number: int, fid: str, source: str, size: int, origin: str) -> Node:
    """A payload at its fileID; its mtime is the payload's own, read on first use (``UNSTATED``)."""
    place = (fid[:2], fid) if layout == "hashed" else (fid,)
    return Node(
        "/".join((*prefix, *place)), Kind.FILE, _FILE_MODE, size, UNSTATED, number, source=source, file_id=fid, origin=origin
    )


def _metadata_nodes(folder: Path, prefix: tuple[str, ...], number: int) -> list[Node]:
    """The synthesised files of one repaired backup, read from the cache folder they were written to."""
    nodes = []
    for name in METADATA:
        try:
            st = (folder / name).stat()
        except FileNotFoundError:
            continue
        nodes.append(Node("/".join((*prefix, name)), Kind.FILE, _FILE_MODE, st.st_size, st.st_mtime_ns, number, source=name))
    return nodes

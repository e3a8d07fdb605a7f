"""A repaired backup: a valid iOS backup folder synthesised from backupfs's index of a broken one.

Tools that read backups (mvt, iLEAPP, iOSbackup) and a restore all start from
``Manifest.db`` (``Manifest.mbdb`` before iOS 10) and the three root plists, which a
backup that stopped half way never wrote. What backupfs proved about the payloads is
enough to write them: every named file gets its row (fileID = SHA1 of
``domain-relativePath``, the payload's name, so it is found where it lies), every folder
above a named file or link its directory row, down to the domain's own row (an empty
relativePath), and the plists say a finished, unencrypted snapshot of the same device.

The metadata of a row comes from the index where it holds it, and otherwise from the
defaults below. The index keeps no write bits (the mount is read-only), so the owner's
write bit is given back, as iOS files have it:

* Size: the payload's own size, as it is written into the repaired backup;
* Mode: the index's permissions with the owner's write bit; without any, files
  ``0o100644``, folders ``0o040755``, links ``0o120755``;
* LastModified: the index's mtime (the backup's own index, else the payload's); a folder
  without one gets the backup's date (or the epoch when that is unknown); LastStatusChange
  and Birth are the same time, which the index does not keep apart;
* UserID and GroupID: 501 (``mobile``); ProtectionClass: 3 for files
  (NSFileProtectionCompleteUntilFirstUserAuthentication), 0 for folders and links; the
  index holds neither;
* a link's target: the one the mount shows, which is the backup's own unless it led out
  of the backup.

Payloads no name was proven for stay in the folder at their fileID, outside the manifest:
nothing of the backup is lost, and a restore ignores them. Folders and links of the index
are kept only when their shown path, hashed, gives their fileID back (a path the mount had
to change is no proof of the name).
"""

from __future__ import annotations

import errno
import logging
import os
import plistlib
import re
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from backupfs.errors import BackupfsError
from backupfs.index.complete import unnamed_payloads
from backupfs.index.manifest_rows import ManifestMetadata
from backupfs.index.paths import EMPTY_DOMAIN, OTHER_DATA, OWN_FOLDERS
from backupfs.index.schema import Node
from backupfs.index.store import Index
from backupfs.readable.base import READABLE_FOLDER
from backupfs.source.manifest.records import Kind, ManifestRecord, file_id
from backupfs.source.manifest.write import MOBILE_UID, encode_mbdb, write_manifest_db
from backupfs.source.payloads import UNSTATED, Payload
from backupfs.source.plists import MAX_PLIST_BYTES, BackupInfo, read_backup_info
from backupfs.source.safe_open import SourceFolders, open_source, pread, read_head

log = logging.getLogger(__name__)

FILE_MODE = stat.S_IFREG | 0o644
FOLDER_MODE = stat.S_IFDIR | 0o755
LINK_MODE = stat.S_IFLNK | 0o755
OWNER_WRITE = 0o200
MANIFEST_PLIST_VERSION = {"hashed": "10.0", "flat": "9.1"}
STATUS_VERSION = "3.3"
_CHUNK = 1 << 20
_LINK_REFUSED = {errno.EPERM, errno.EACCES, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}
_ESCAPE = re.compile(r"%([0-9A-F]{2})")
_SHOWN_DOMAINS = {shown: domain for domain, shown in OWN_FOLDERS.items()} | {EMPTY_DOMAIN: ""}

ProgressCallback = Callable[[int, int], None]
"""``progress(bytes_done, bytes_in_all)``, told after each payload written (a linked one counts whole)."""


@dataclass(frozen=True)
class RepairedBackup:
    """What a repaired backup of one backup holds, worked out from the index before anything is written.

    ``records`` is its manifest, sorted by domain and relativePath (a folder before what it
    holds); ``sources`` gives, by fileID, each named file's payload (relative to the source
    folder); ``unnamed`` are the payloads no name was proven for, one per fileID, with a
    known size; ``layout`` is "hashed" (``xx/<fileID>``, Manifest.db) or "flat"
    (``<fileID>``, Manifest.mbdb).
    """

    layout: str
    records: list[ManifestRecord]
    sources: dict[str, str]
    unnamed: list[Payload]

    @property
    def payload_bytes(self) -> int:
        """The bytes of every payload the repaired backup holds, named or not."""
        return sum(r.size or 0 for r in self.records if r.kind is Kind.FILE) + sum(p.size for p in self.unnamed)


@dataclass
class RepairedStats:
    """What :func:`write_repaired_backup` wrote."""

    files: int = 0  # named files, each a row of the manifest
    folders: int = 0
    symlinks: int = 0
    unnamed: int = 0  # payloads kept at their fileID without a row
    linked: int = 0  # payloads written as hard links to the source's
    copied: int = 0
    bytes: int = 0  # of every payload written, linked or copied
    bytes_copied: int = 0
    manifest: str = ""  # "Manifest.db" or "Manifest.mbdb"
    info_plist: str = ""  # "carried over" (the source's, byte for byte) or "rebuilt"
    skipped: dict[str, str] = field(default_factory=dict)  # fileID -> why its payload could not be written
    seconds: float = 0.0


def repaired_layout(index: Index, number: int) -> RepairedBackup:
    """The repaired backup of backup ``number`` of ``index``, from its nodes; see the module docstring.

    Works on an index still being completed too: metadata still in the manifest copy is
    read from there, sizes and times not stated yet from the payloads (``lstat``: the
    source keeps its access times), and unnamed payloads not yet typed are listed anew.
    """
    stats = index.backup_stats[number]
    root = index.roots[number]
    folder_time = _folder_time(stats.last_backup_date)
    found = _Found.of(index, number)
    metadata = ManifestMetadata(index.manifests)
    records: dict[str, ManifestRecord] = {}
    sources: dict[str, str] = {}
    for fid, node in found.files.items():
        name = _split_name(node.real_name or "", fid)
        if name is None:
            log.info("%s kept without a name: its fileID is not the hash of that name", node.real_name)
            continue
        try:
            records[fid] = _file_record(node, *name, root, number, metadata)
        except OSError as exc:
            log.info("%s left out of the repaired backup: %s", node.real_name, exc.strerror or exc)
            continue
        sources[fid] = node.source or ""
    folders: dict[str, Node] = {}
    for node in found.others:
        name = _proven_name(node.path.split("/")[len(index.prefixes[number]):], node.file_id or "")
        if name is None:
            log.info("%s left out of the repaired backup: its name cannot be proven", node.path)
        elif node.kind is Kind.SYMLINK and node.file_id not in records:
            records[node.file_id or ""] = _link_record(node, *name)
        elif node.kind is Kind.DIR:
            folders[node.file_id or ""] = node
            records.setdefault(node.file_id or "", _folder_record(node, *name, number, metadata, folder_time))
    for domain, relative_path in _parents(records.values()):
        fid = file_id(domain, relative_path)
        if fid not in records:
            records[fid] = _folder_record(folders.get(fid), domain, relative_path, number, metadata, folder_time)
    ordered = sorted(records.values(), key=lambda r: (_raw(r.domain), _raw(r.relative_path)))
    unproven = [Payload(fid, n.source or "", n.size, n.mtime_ns, n.mode) for fid, n in found.files.items() if fid not in records]
    unnamed = [_stated(root, p) for p in (*found.unnamed(index, number, set(records)), *unproven)]
    return RepairedBackup(stats.layout, ordered, sources, [p for p in unnamed if p is not None])


@dataclass
class _Found:
    """The nodes of one backup that a repaired backup is made from."""

    files: dict[str, Node]  # fileID -> the named file shown for it (its payload at its own place, if listed twice)
    others: list[Node]  # folders and links the backup's own index listed
    typed: dict[str, Node]  # fileID -> an unnamed payload placed in other-data
    pending: bool  # other-data is still to be filled: the unnamed payloads are listed anew

    @classmethod
    def of(cls, index: Index, number: int) -> _Found:
        prefix = index.prefixes[number]
        readable, other = ("/".join((*prefix, folder)) + "/" for folder in (READABLE_FOLDER, OTHER_DATA))
        layout = index.backup_stats[number].layout
        found = cls({}, [], {}, "/".join((*prefix, OTHER_DATA)) in index.pending_dirs)
        for node in index.walk():
            if node.backup != number or node.file_id is None or node.view is not None or node.path.startswith(readable):
                continue
            if node.kind is not Kind.FILE:
                if not node.path.startswith(other):
                    found.others.append(node)
            elif node.source is None:
                continue
            elif node.path.startswith(other):
                _keep(found.typed, node, layout)
            elif node.real_name is not None:
                _keep(found.files, node, layout)
        return found

    def unnamed(self, index: Index, number: int, named: set[str]) -> Iterator[Payload]:
        """The payloads of no entry of the manifest, one per fileID."""
        if self.pending:
            seen: set[str] = set()
            for listed_number, payloads in unnamed_payloads(index):
                for payload in payloads if listed_number == number else ():
                    if payload.file_id not in seen and payload.file_id not in named:
                        seen.add(payload.file_id)
                        yield payload
            return
        for fid, node in self.typed.items():
            if fid not in named:
                yield Payload(fid, node.source or "", node.size, node.mtime_ns, node.mode)


def _keep(chosen: dict[str, Node], node: Node, layout: str) -> None:
    """Keep one node per fileID: the first, unless a later one's payload lies at the fileID's own place."""
    fid = node.file_id or ""
    home = f"{fid[:2]}/{fid}" if layout == "hashed" else fid
    if fid not in chosen or (node.source == home and chosen[fid].source != home):
        chosen[fid] = node


def _file_record(
    node: Node, domain: str, relative_path: str, root: Path, number: int, metadata: ManifestMetadata
) -> ManifestRecord:
    mode, mtime_ns, size = node.mode, node.mtime_ns, node.size
    if node.manifest_row is not None:
        mode, mtime_ns, _ = metadata.attributes(number, node.manifest_row, Kind.FILE)
    if size == UNSTATED or mtime_ns == UNSTATED:
        st = os.lstat(root / (node.source or ""))
        size = st.st_size if size == UNSTATED else size
        mtime_ns = st.st_mtime_ns if mtime_ns == UNSTATED else mtime_ns
    return _record(node.file_id or "", domain, relative_path, Kind.FILE, stat.S_IFREG | stat.S_IMODE(mode) | OWNER_WRITE,
                   mtime_ns // 1_000_000_000, size=size)


def _folder_record(
    node: Node | None, domain: str, relative_path: str, number: int, metadata: ManifestMetadata, default_time: int
) -> ManifestRecord:
    mode, mtime_ns = FOLDER_MODE, UNSTATED
    if node is not None:
        mode, mtime_ns = node.mode | OWNER_WRITE, node.mtime_ns
        if node.manifest_row is not None:
            mode, mtime_ns, _ = metadata.attributes(number, node.manifest_row, Kind.DIR)
            mode |= OWNER_WRITE
    mtime = mtime_ns // 1_000_000_000 if mtime_ns > 0 else default_time
    return _record(file_id(domain, relative_path), domain, relative_path, Kind.DIR, stat.S_IFDIR | stat.S_IMODE(mode), mtime)


def _link_record(node: Node, domain: str, relative_path: str) -> ManifestRecord:
    return _record(node.file_id or "", domain, relative_path, Kind.SYMLINK, LINK_MODE, max(node.mtime_ns, 0) // 1_000_000_000,
                   target=node.target or "")


def _record(
    fid: str, domain: str, relative_path: str, kind: Kind, mode: int, mtime: int, size: int = 0, target: str | None = None
) -> ManifestRecord:
    return ManifestRecord(
        file_id=fid, domain=domain, relative_path=relative_path, kind=kind, size=size, mode=mode,
        mtime=mtime, ctime=mtime, birth=mtime, uid=MOBILE_UID, gid=MOBILE_UID, target=target,
    )


def _split_name(real_name: str, fid: str) -> tuple[str, str] | None:
    """The (domain, relativePath) of a named file's ``real_name`` ("domain/relativePath"): the split its fileID proves."""
    cut = real_name.find("/")
    while cut >= 0:
        if file_id(real_name[:cut], real_name[cut + 1:]) == fid:
            return real_name[:cut], real_name[cut + 1:]
        cut = real_name.find("/", cut + 1)
    return None


def _proven_name(parts: list[str], fid: str) -> tuple[str, str] | None:
    """The (domain, relativePath) a folder or link of the index was shown as ``parts`` for, if its hash proves it.

    Shown paths are the names themselves but for the escapes of ``index.paths``: a domain
    shown as ``%6Fther-data`` or ``(empty)``, and ``%XX`` for the characters a path cannot show.
    """
    if not parts:
        return None
    head, rest = parts[0], parts[1:]
    for domain in dict.fromkeys((head, _SHOWN_DOMAINS.get(head, head), _unescape(head))):
        for relative_path in dict.fromkeys(("/".join(rest), "/".join(map(_unescape, rest)))):
            if file_id(domain, relative_path) == fid:
                return domain, relative_path
    return None


def _unescape(shown: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), shown)


def _parents(records: Iterable[ManifestRecord]) -> set[tuple[str, str]]:
    """Every folder above a file or link, the domain's own (relativePath "") included."""
    parents: set[tuple[str, str]] = set()
    for record in records:
        if record.kind is Kind.DIR:
            continue
        relative_path = record.relative_path
        while relative_path:
            relative_path = relative_path.rpartition("/")[0]
            if (record.domain, relative_path) in parents:
                break
            parents.add((record.domain, relative_path))
    return parents


def _stated(root: Path, payload: Payload) -> Payload | None:
    """``payload`` with its size known (``lstat``: no access time changes); None when it is gone."""
    if payload.size != UNSTATED:
        return payload
    try:
        st = os.lstat(root / payload.relpath)
    except OSError as exc:
        log.info("%s left out of the repaired backup: %s", payload.relpath, exc.strerror or exc)
        return None
    return payload._replace(size=st.st_size, mtime_ns=st.st_mtime_ns)


def _folder_time(last_backup_date: str | None) -> int:
    if not last_backup_date:
        return 0
    try:
        return int(datetime.fromisoformat(last_backup_date).timestamp())
    except ValueError:
        return 0


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def write_repaired_backup(
    index: Index,
    number: int,
    source_root: Path,
    dest: Path,
    *,
    link: bool | None = None,
    progress: ProgressCallback | None = None,
) -> RepairedStats:
    """Write the repaired backup of backup ``number`` of ``index`` (whose folder is ``source_root``) into ``dest``.

    ``dest`` gets the payloads at their fileIDs, as hard links to the source's when it is
    on the same file system and ``link`` is not False, else as copies (``link=True``
    insists on links); a payload the kernel will not link (not the user's own, under
    ``fs.protected_hardlinks``) is copied. The source is never moved nor written: copies
    read it without following links or changing access times; making a link changes the
    payload's link count and ctime, nothing else, but a link *is* the payload: a tool
    reading it later updates the source's access time, and one writing into it in place
    would change the source (copies, ``link=False``, for evidence). Then comes Manifest.db (or
    Manifest.mbdb, for a flat backup of iOS 5-9), Info.plist (the source's, byte for byte,
    when it reads as a plist; else rebuilt), Manifest.plist and, last, Status.plist, so a
    folder whose writing was cut short does not look finished. A payload that cannot be
    read is left out with its row, and said in :attr:`RepairedStats.skipped`.

    Raises :class:`BackupfsError` for an encrypted backup, a ``dest`` inside the source, a
    ``dest`` that exists and is not an empty folder, and a ``dest`` that cannot be written.
    """
    started = time.monotonic()
    source_root, dest = Path(source_root), Path(dest)
    info = read_backup_info(source_root)
    _refuse(index, number, info, source_root, dest)
    layout = repaired_layout(index, number)
    linking = _links(source_root, dest, link)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        writer = _PayloadWriter(source_root, dest, layout.layout, linking, progress, layout.payload_bytes)
        written = {fid: writer.put(fid, source) for fid, source in layout.sources.items()}
        for payload in layout.unnamed:
            writer.put(payload.file_id, payload.relpath)
        stats = writer.stats
        records = [_written(r, written) for r in layout.records]
        records = [r for r in records if r is not None]
        stats.manifest = write_manifest(dest, layout.layout, records)
        stats.info_plist = write_plists(source_root, dest, layout.layout, info)
    except OSError as exc:
        raise BackupfsError(f"Cannot write the repaired backup into {dest}: {exc.strerror or exc}.") from None
    stats.files = sum(r.kind is Kind.FILE for r in records)
    stats.folders = sum(r.kind is Kind.DIR for r in records)
    stats.symlinks = sum(r.kind is Kind.SYMLINK for r in records)
    stats.unnamed = len(layout.unnamed) - sum(p.file_id in stats.skipped for p in layout.unnamed)
    stats.seconds = round(time.monotonic() - started, 3)
    return stats


def _refuse(index: Index, number: int, info: BackupInfo, source_root: Path, dest: Path) -> None:
    """Raise, in one line, on what a repaired backup cannot be made of or written into."""
    if not 0 <= number < len(index.roots):
        raise BackupfsError(f"The index holds {len(index.roots)} backups; there is no backup number {number}.")
    if index.backup_stats[number].encrypted or info.encrypted:
        raise BackupfsError(
            f"{source_root} is an encrypted backup: a repaired backup of an encrypted one is not supported yet "
            "(its payloads would need re-encrypting); use backupfs extract for its files instead."
        )
    source, target = source_root.resolve(), dest.resolve()
    if target == source or source in target.parents:
        raise BackupfsError(f"{dest} is inside the backup {source_root}: choose a folder outside it, so the source stays as it is.")
    if os.path.lexists(dest):
        if not dest.is_dir():
            raise BackupfsError(f"{dest} exists and is not a folder: give a new or empty folder for the repaired backup.")
        with os.scandir(dest) as entries:
            if next(entries, None) is not None:
                raise BackupfsError(f"{dest} is not empty: give a new or empty folder for the repaired backup.")


def _links(source_root: Path, dest: Path, link: bool | None) -> bool:
    """Whether payloads are hard-linked: when asked, or by default when both folders share a file system."""
    existing = next(folder for folder in (dest, *dest.absolute().parents) if os.path.exists(folder))
    same = os.stat(source_root).st_dev == os.stat(existing).st_dev
    if link and not same:
        raise BackupfsError(
            f"{dest} is on another file system than {source_root}, and hard links cannot cross file systems: "
            "let the payloads be copied instead."
        )
    return same if link is None else link


class _PayloadWriter:
    """Puts payloads at their fileIDs in the repaired backup, linked or copied, and counts them."""

    def __init__(self, source_root: Path, dest: Path, layout: str, linking: bool, progress: ProgressCallback | None, total: int) -> None:
        self.source_root, self.dest, self.layout, self.linking = source_root, dest, layout, linking
        self.progress, self.total = progress, total
        self.stats = RepairedStats()
        self._buckets: set[str] = set()
        self._folders = SourceFolders(source_root)

    def put(self, fid: str, source: str) -> int | None:
        """Write one payload; its size, or None when it could not be read (then in ``stats.skipped``)."""
        target = self._place(fid)
        try:
            fd = open_source(source, self._folders)
        except OSError as exc:
            self.stats.skipped[fid] = f"{source} cannot be opened: {exc.strerror or exc}"
            return None
        try:
            st = os.fstat(fd)
            if self.linking and self._link(source, target, st):
                size = st.st_size
            else:
                size = self._copy(fd, target, st, source)
        except _Unreadable as exc:
            self.stats.skipped[fid] = str(exc)
            return None
        finally:
            os.close(fd)
        self.stats.bytes += size
        if self.progress is not None:
            self.progress(self.stats.bytes, self.total)
        return size

    def _place(self, fid: str) -> str:
        if self.layout != "hashed":
            return os.path.join(self.dest, fid)
        bucket = os.path.join(self.dest, fid[:2])
        if bucket not in self._buckets:
            os.makedirs(bucket, exist_ok=True)
            self._buckets.add(bucket)
        return os.path.join(bucket, fid)

    def _link(self, source: str, target: str, st: os.stat_result) -> bool:
        """Hard-link the payload opened as ``st``; False when the kernel refuses (it is then copied).

        The link is made by path, so it is checked to be the very file that was opened
        safely: a payload swapped for a link to elsewhere in between is never kept.
        """
        try:
            if os.link in os.supports_follow_symlinks:
                os.link(os.path.join(self.source_root, source), target, follow_symlinks=False)
            else:
                os.link(os.path.join(self.source_root, source), target)
        except OSError as exc:
            if exc.errno in _LINK_REFUSED:
                return False
            raise
        made = os.lstat(target)
        if (made.st_dev, made.st_ino) != (st.st_dev, st.st_ino):
            os.unlink(target)
            return False
        self.stats.linked += 1
        return True

    def _copy(self, fd: int, target: str, st: os.stat_result, source: str) -> int:
        """Copy the open payload into a new file with ordinary permissions and the payload's mtime; its size.

        A copy that fails half way is removed: nothing half written stays in the repaired backup.
        """
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0), 0o644)
        size = 0
        try:
            while chunk := _read(fd, size, source):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view):]
                size += len(chunk)
        except BaseException:
            os.close(out)
            os.unlink(target)
            raise
        os.close(out)
        os.utime(target, ns=(st.st_mtime_ns, st.st_mtime_ns))
        self.stats.copied += 1
        self.stats.bytes_copied += size
        return size


def _read(fd: int, offset: int, source: str) -> bytes:
    try:
        return pread(fd, _CHUNK, offset)
    except OSError as exc:
        raise _Unreadable(f"{source} cannot be read at byte {offset:,}: {exc.strerror or exc}") from None


class _Unreadable(Exception):
    """A payload of the source that cannot be read whole; it is left out of the repaired backup."""


def _written(record: ManifestRecord, sizes: dict[str, int | None]) -> ManifestRecord | None:
    """A file's record with the size of the payload written; None when it could not be written."""
    if record.kind is not Kind.FILE:
        return record
    size = sizes.get(record.file_id)
    if size is None:
        return None
    return record if size == record.size else replace(record, size=size)


def write_manifest(dest: Path, layout: str, records: list[ManifestRecord]) -> str:
    """Manifest.db (hashed layout) or Manifest.mbdb (flat) holding ``records``, in ``dest``; says which."""
    if layout == "hashed":
        write_manifest_db(dest / "Manifest.db", records, wal=False)
        return "Manifest.db"
    (dest / "Manifest.mbdb").write_bytes(encode_mbdb(records))
    return "Manifest.mbdb"


def write_plists(source_root: Path, dest: Path, layout: str, info: BackupInfo) -> str:
    """Info.plist, Manifest.plist, then Status.plist; says whether Info.plist was carried over or rebuilt."""
    date = _plist_date(info.last_backup_date)
    carried = _source_plist(source_root, "Info.plist")
    if carried is not None:
        (dest / "Info.plist").write_bytes(carried[0])
    else:
        (dest / "Info.plist").write_bytes(plistlib.dumps(_rebuilt_info(info, date), fmt=plistlib.FMT_XML))
    manifest = _source_plist(source_root, "Manifest.plist")
    status = _source_plist(source_root, "Status.plist")
    (dest / "Manifest.plist").write_bytes(
        plistlib.dumps(_manifest_plist(manifest and manifest[1], info, layout, date), fmt=plistlib.FMT_BINARY)
    )
    (dest / "Status.plist").write_bytes(plistlib.dumps(_status_plist(status and status[1], date), fmt=plistlib.FMT_BINARY))
    return "carried over" if carried is not None else "rebuilt"


def _source_plist(root: Path, name: str) -> tuple[bytes, dict[str, Any]] | None:
    """A root plist of the source as bytes and as its dictionary; None when it does not read as one."""
    try:
        data, _ = read_head(root / name, MAX_PLIST_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_PLIST_BYTES:
        return None
    try:
        value = plistlib.loads(data)
    except Exception:  # noqa: BLE001 - hostile bytes raise anything; all mean "not a plist"
        return None
    return (data, value) if isinstance(value, dict) else None


def _plist_date(date: datetime | None) -> datetime:
    """A naive UTC datetime, as plists hold dates: the backup's, else now."""
    return (date or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)


def _rebuilt_info(info: BackupInfo, date: datetime) -> dict[str, Any]:
    """Info.plist from what the backup still says of its device (only what it knows)."""
    values = {
        "Device Name": info.device_name,
        "Display Name": info.device_name,
        "Product Type": info.product_type,
        "Product Version": info.ios_version,
        "Build Version": info.build_version,
        "Serial Number": info.serial_number,
        "Unique Identifier": info.udid,
        "Target Identifier": info.udid,
        "Target Type": "Device",
        "Last Backup Date": date,
        "Installed Applications": list(info.bundle_ids),
    }
    return {key: value for key, value in values.items() if value is not None}


def _manifest_plist(source: dict[str, Any] | None, info: BackupInfo, layout: str, date: datetime) -> dict[str, Any]:
    """The source's Manifest.plist (when it reads) with what a finished, unencrypted backup's must hold."""
    manifest = dict(source or {})
    manifest.pop("ManifestKey", None)  # the key of an encrypted Manifest.db; this one is not
    manifest["IsEncrypted"] = False
    manifest.setdefault("Version", MANIFEST_PLIST_VERSION[layout])
    manifest.setdefault("Date", date)
    lockdown = dict(manifest["Lockdown"]) if isinstance(manifest.get("Lockdown"), dict) else {}
    for key, value in (
        ("ProductVersion", info.ios_version), ("ProductType", info.product_type), ("BuildVersion", info.build_version),
        ("DeviceName", info.device_name), ("SerialNumber", info.serial_number), ("UniqueDeviceID", info.udid),
    ):
        if value is not None:
            lockdown.setdefault(key, value)
    manifest["Lockdown"] = lockdown
    if not isinstance(manifest.get("Applications"), dict):
        manifest["Applications"] = {bid: {"CFBundleIdentifier": bid} for bid in info.bundle_ids}
    return manifest


def _status_plist(source: dict[str, Any] | None, date: datetime) -> dict[str, Any]:
    """A finished snapshot; the source's UUID and IsFullBackup kept when it has them."""
    source = source or {}
    full = source.get("IsFullBackup")
    backup_uuid = source.get("UUID")
    return {
        "BackupState": "new",
        "Date": date,
        "IsFullBackup": full if isinstance(full, bool) else False,
        "SnapshotState": "finished",
        "UUID": backup_uuid if isinstance(backup_uuid, str) else str(uuid.uuid4()).upper(),
        "Version": STATUS_VERSION,
    }

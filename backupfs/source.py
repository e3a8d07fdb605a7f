"""Find the backup(s) under the path a user gives, and list their payload files.

Users point at the backup folder itself, at a folder they copied it into, or at the
MobileSync ``Backup`` folder (or its parent) holding several devices; all three must
work, and anything else must fail with a sentence that says what was expected.

Listing is the hot path of every mount (hundreds of thousands of payloads), so it uses
``os.scandir`` and one ``lstat`` per entry, never an ``open`` of a payload: a FIFO or a
symlink planted in a backup is listed with its ``st_mode`` and left for the caller to
refuse. Folders are opened with O_NOFOLLOW (a symlinked bucket is never entered) and
O_NOATIME where allowed, so listing does not even touch the folders' access times.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import stat
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import NamedTuple

from backupfs.errors import NotABackupError
from backupfs.mounttable import XATTR_BACKUP, backupfs_mount_holding
from backupfs.plists import BackupInfo, read_backup_info

log = logging.getLogger(__name__)

ROOT_FILES = ("Info.plist", "Manifest.plist", "Status.plist", "Manifest.db", "Manifest.mbdb")
SNAPSHOT = "Snapshot"
WHAT_TO_GIVE = (
    "give the folder of one backup (named by the device id, it holds Manifest.plist and folders 00 to ff) "
    "or the MobileSync Backup folder that holds several"
)
WHERE_BACKUPS_ARE = (
    "Finder and iTunes keep them in ~/Library/Application Support/MobileSync/Backup on a Mac, and in "
    "%APPDATA%\\Apple Computer\\MobileSync\\Backup on Windows (%USERPROFILE%\\Apple\\MobileSync\\Backup with "
    "iTunes from the Microsoft Store); on Linux, look in those folders on the Mac's or PC's disk, or where "
    "idevicebackup2 was told to write."
)

_FILE_ID = re.compile(r"[0-9a-f]{40}")
_BUCKET = re.compile(r"[0-9a-f]{2}")
# Detection peeks at this many entries of a folder, and into this many buckets, so that
# deciding "is this a backup?" stays cheap on a folder of a million files.
_PEEK_ENTRIES = 300
_PEEK_BUCKETS = 4
_PEEK_BUCKET_ENTRIES = 32
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NOATIME = getattr(os, "O_NOATIME", 0)
_DISPLAY_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
_MAX_DISPLAY_BYTES = 200


class Layout(str, Enum):
    """Where payloads sit in a backup folder."""

    HASHED = "hashed"  # iOS 10+: xx/<sha1>
    FLAT = "flat"  # iOS 5-9: <sha1> in the root


UNKNOWN = -1
"""Size or mtime of a payload not stat'ed yet: the mount asks the source when shown."""
_REGULAR = stat.S_IFREG | 0o444
_LINK = stat.S_IFLNK | 0o444
_LISTING_THREADS = 8


class Payload(NamedTuple):
    """One payload file as the directory listing shows it (never opened).

    The listing's file type is enough to name and place a payload, so regular files and
    links are not stat'ed while listing (on a 300,000-file backup a cold ``lstat`` of each
    costs seconds); ``size`` and ``mtime_ns`` are then :data:`UNKNOWN`. A tuple, because a
    backup has hundreds of thousands of them and a frozen dataclass costs three times as
    much to make.
    """

    file_id: str
    relpath: str
    size: int
    mtime_ns: int
    st_mode: int


@dataclass
class Backup:
    """One device backup folder."""

    root: Path
    layout: Layout
    index_path: Path | None
    index_format: str | None
    info: BackupInfo

    def payloads(self, progress: Callable[[int, int], None] | None = None) -> list[Payload]:
        """Every payload of the backup (see :func:`list_payloads`)."""
        return list_payloads(self.root, progress)

    def display_name(self) -> str:
        """A name a person recognises, usable as one path component."""
        info = self.info
        parts = [info.device_name or info.product_type]
        if info.last_backup_date is not None:
            parts.append(info.last_backup_date.strftime("%Y-%m-%d"))
        if info.udid:
            parts.append(info.udid.split("-", 1)[0][:8])
        name = " ".join(p for p in parts if p)
        return _safe_name(name) or _safe_name(self.root.resolve().name) or "backup"

    def identity(self) -> str:
        """Stable across runs for the same folder and device, different for copies elsewhere."""
        key = f"{self.root.resolve()}\0{self.info.udid or ''}"
        return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def find_backups(path: str | Path) -> list[Backup]:
    """Every backup at ``path``, one level below it, or two levels below it, by display name."""
    given = Path(path).expanduser()
    _refuse_a_backupfs_mount(given)
    try:
        st = os.stat(given)
    except (FileNotFoundError, NotADirectoryError):
        raise NotABackupError(f"{given} does not exist: {WHAT_TO_GIVE}. {WHERE_BACKUPS_ARE}") from None
    except OSError as exc:
        raise _unreadable(given, exc) from None
    if not stat.S_ISDIR(st.st_mode):
        raise NotABackupError(_file_given(given))
    try:
        os.close(_open_dir(given, follow=True))
        if _is_bucket(given):
            raise NotABackupError(
                f"{given} is one of the folders 00 to ff inside a backup, not the backup itself: "
                f"give the backup folder that holds it, {given.absolute().parent}"
            )
        if _looks_like_backup(given):
            return [_open_backup(given)]
        top = list_dir(given)
    except OSError as exc:
        raise _unreadable(given, exc) from None
    if not top:
        raise NotABackupError(f"{given} is empty: {WHAT_TO_GIVE}. {WHERE_BACKUPS_ARE}")

    roots: list[Path] = []
    denied: list[Path] = []
    for child in _subfolders(given, top):
        if _looks_like_backup(child):
            roots.append(child)
            continue
        try:
            grandchildren = _subfolders(child, list_dir(child))
        except OSError as exc:
            log.warning("skipping %s: %s", child, exc.strerror or exc)
            if isinstance(exc, PermissionError):
                denied.append(child)
            continue
        roots.extend(g for g in grandchildren if _looks_like_backup(g))
    if not roots and denied:
        raise _unreadable(denied[0], PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
    if not roots:
        raise NotABackupError(f"No iOS backup found in {given}: {WHAT_TO_GIVE}. {WHERE_BACKUPS_ARE}")
    backups = [_open_backup(root) for root in roots]
    backups.sort(key=lambda b: (b.display_name(), str(b.root)))
    return backups


def _refuse_a_backupfs_mount(given: Path) -> None:
    """A backupfs mount (or a folder in one) shows a backup; it is not one, and reading it as one misleads."""
    mounted = backupfs_mount_holding(given)
    if mounted is None:
        return
    what = "a backupfs mount" if os.path.abspath(given) == mounted.mountpoint else f"inside the backupfs mount {mounted.mountpoint}"
    try:
        os.stat(mounted.mountpoint)
    except OSError:  # "Transport endpoint is not connected": its filesystem process has gone
        raise NotABackupError(
            f"{given} is {what}, whose filesystem has stopped: run 'backupfs unmount {mounted.mountpoint}', "
            "then give the backup folder itself."
        ) from None
    raise NotABackupError(
        f"{given} is {what}, which shows a backup but is not one: give the backup folder itself, "
        f"{_folders_shown(mounted.mountpoint)}"
    )


def _folders_shown(mountpoint: str) -> str:
    """The backup folder(s) a live backupfs mount shows, as its root's attribute says."""
    getxattr = getattr(os, "getxattr", None)  # Linux only
    try:
        shown = getxattr(mountpoint, XATTR_BACKUP).decode("utf-8", "surrogateescape") if getxattr else ""
    except OSError:
        shown = ""
    return " or ".join(shown.splitlines()) or "not the mount"


def _file_given(given: Path) -> str:
    """What to say of a file given where a backup folder is expected; a file of a backup names its folder."""
    folder = given.absolute().parent
    if _FILE_ID.fullmatch(given.name) and folder.name == given.name[:2]:
        folder = folder.parent  # xx/<fileid>: the payload sits in one of the backup's folders 00 to ff
    elif not (_FILE_ID.fullmatch(given.name) or given.name.split("-", 1)[0] in ROOT_FILES):
        return f"{given} is a file, not a folder: {WHAT_TO_GIVE}. {WHERE_BACKUPS_ARE}"
    return f"{given} is a file of a backup, not the backup itself: give the backup folder, {folder}"


def _is_bucket(folder: Path) -> bool:
    """One of the folders 00 to ff of an iOS 10+ backup: named by two hex digits, its payloads' first two.

    A flat (iOS 5-9) backup folder holds payloads too, but is named by its device id.
    """
    folder = folder.absolute()
    if not _BUCKET.fullmatch(folder.name) or any(_entry_kind(folder / n) for n in ROOT_FILES):
        return False
    try:
        parent_fd = _open_dir(folder.parent, follow=True)
    except OSError:
        return False
    try:
        return _bucket_has_payload(parent_fd, folder.name)
    finally:
        os.close(parent_fd)


def _unreadable(path: Path, exc: OSError) -> NotABackupError:
    if isinstance(exc, PermissionError):
        if sys.platform == "darwin":  # macOS guards MobileSync even from its owner
            return NotABackupError(
                f"Permission denied reading {path}: allow your terminal Full Disk Access (System Settings > "
                "Privacy & Security > Full Disk Access), then try again."
            )
        return NotABackupError(
            f"Permission denied reading {path}: run as a user who can read it, or copy the backup somewhere readable."
        )
    return NotABackupError(f"{path} cannot be read ({exc.strerror or exc}): check the disk or give another folder.")


def _open_backup(root: Path) -> Backup:
    info = read_backup_info(root)
    notes = list(info.notes)
    index_path: Path | None = None
    index_format: str | None = None
    for name, fmt in (("Manifest.db", "db"), ("Manifest.mbdb", "mbdb")):
        kind = _entry_kind(root / name)
        if kind == "file":
            index_path, index_format = root / name, fmt
            break
        if kind == "link":
            notes.append(f"{name} is a symbolic link; it was ignored.")
        elif kind == "other":
            notes.append(f"{name} is not a regular file; it was ignored.")
    if len(notes) != len(info.notes):
        info = replace(info, notes=tuple(notes))
    return Backup(root, _layout(root, index_format, info), index_path, index_format, info)


def _layout(root: Path, index_format: str | None, info: BackupInfo) -> Layout:
    """Decide from what is on disk first, then from the index and the iOS version."""
    hashed, flat = _peek_payloads(root, follow=True)
    if hashed or flat:
        return Layout.HASHED if hashed else Layout.FLAT
    if index_format is not None:
        return Layout.HASHED if index_format == "db" else Layout.FLAT
    major = (info.ios_version or "").split(".", 1)[0]
    if major.isdigit() and int(major) < 10:
        return Layout.FLAT
    return Layout.HASHED


def _looks_like_backup(folder: Path) -> bool:
    if _is_bucket(folder):
        return False
    for name in ROOT_FILES:
        if _entry_kind(folder / name) not in (None, "dir"):
            return True
    hashed, flat = _peek_payloads(folder, follow=True)
    if hashed or flat:
        return True
    hashed, flat = _peek_payloads(folder / SNAPSHOT, follow=False)
    return hashed or flat


def _peek_payloads(folder: Path, follow: bool) -> tuple[bool, bool]:
    """(hashed payloads seen, flat payloads seen), from a bounded look at the folder."""
    hashed = flat = False
    buckets_tried = 0
    try:
        fd = _open_dir(folder, follow=follow)
    except OSError:
        return False, False
    try:
        with os.scandir(fd) as entries:
            for count, entry in enumerate(entries):
                if count >= _PEEK_ENTRIES or (hashed and flat):
                    break
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if not is_dir and _FILE_ID.fullmatch(entry.name):
                    flat = True
                elif is_dir and not hashed and buckets_tried < _PEEK_BUCKETS and _BUCKET.fullmatch(entry.name):
                    buckets_tried += 1
                    hashed = _bucket_has_payload(fd, entry.name)
    except OSError as exc:
        log.debug("cannot peek into %s: %s", folder, exc)
    finally:
        os.close(fd)
    return hashed, flat


def _bucket_has_payload(parent_fd: int, name: str) -> bool:
    try:
        fd = _open_dir(name, parent_fd)
    except OSError:
        return False
    try:
        with os.scandir(fd) as entries:
            for count, entry in enumerate(entries):
                if count >= _PEEK_BUCKET_ENTRIES:
                    break
                if entry.name.startswith(name) and _FILE_ID.fullmatch(entry.name):
                    return True
    except OSError:
        pass
    finally:
        os.close(fd)
    return False


def list_payloads(root: Path, progress: Callable[[int, int], None] | None = None) -> list[Payload]:
    """Every payload of the backup at ``root``, flat, hashed and under Snapshot/, in no particular order.

    ``progress(folders_listed, folders_in_all)`` is told how far the listing is.
    """
    try:
        root_fd = _open_dir(root, follow=True)
    except OSError as exc:
        log.warning("cannot list %s: %s", root, exc.strerror or exc)
        return []
    try:
        folders = [(root_fd, root, "")]
        try:
            folders.append((_open_dir(SNAPSHOT, dir_fd=root_fd), root / SNAPSHOT, SNAPSHOT + "/"))
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                log.warning("cannot list %s: %s", root / SNAPSHOT, exc.strerror or exc)
        try:
            return _scan_backup_folders(folders, progress)
        finally:
            for fd, _, _ in folders[1:]:
                os.close(fd)
    finally:
        os.close(root_fd)


def _scan_backup_folders(
    folders: list[tuple[int, Path, str]], progress: Callable[[int, int], None] | None
) -> list[Payload]:
    """Payloads in each open folder itself (flat) and in its 2-hex buckets (hashed).

    Threads read the bucket folders ahead (a cold folder waits on the disk, and each
    thread waits on its own) while this thread turns the entries into payloads: that part
    is interpreter work, which more threads would only fight over.
    """
    # In order (the backup's own payloads before Snapshot/'s), as the first copy of a
    # payload is the one shown under its name.
    jobs: list[list[Payload] | tuple[int, Path, str]] = []
    for fd, folder, prefix in folders:
        found: list[str] = []
        jobs.append(_payloads_in(fd, folder, prefix, found))
        jobs += [(fd, folder / bucket, prefix + bucket) for bucket in found]

    def read_ahead(job: list[Payload] | tuple[int, Path, str]) -> tuple[int, list[os.DirEntry[str]]] | OSError | None:
        """The folder's entries, and its descriptor: kept open, as a FIFO's entry stats through it."""
        if isinstance(job, list):
            return None
        parent_fd, where, _ = job
        try:
            bucket_fd = _open_dir(where.name, parent_fd)
        except OSError as exc:
            return exc
        try:
            with os.scandir(bucket_fd) as entries:
                return bucket_fd, list(entries)
        except OSError as exc:
            os.close(bucket_fd)
            return exc

    payloads: list[Payload] = []
    with ThreadPoolExecutor(_LISTING_THREADS) as pool:
        for done, (job, listed) in enumerate(zip(jobs, pool.map(read_ahead, jobs)), 1):
            if isinstance(job, list):
                payloads += job
            elif isinstance(listed, OSError):
                log.warning("cannot list %s: %s", job[1], listed.strerror or listed)
            elif listed is not None:
                bucket_fd, entries = listed
                try:
                    payloads += _payloads_among(entries, job[2] + "/", None)
                finally:
                    os.close(bucket_fd)
            if progress is not None:
                progress(done, len(jobs))
    return payloads


def _payloads_in(fd: int, where: Path, prefix: str, buckets: list[str] | None) -> list[Payload]:
    """Payloads named in one open folder; 2-hex subfolders are appended to ``buckets`` if given."""
    try:
        with os.scandir(fd) as entries:
            return _payloads_among(list(entries), prefix, buckets)
    except OSError as exc:
        log.warning("listing %s stopped early: %s", where, exc.strerror or exc)
        return []


def _payloads_among(entries: list[os.DirEntry[str]], prefix: str, buckets: list[str] | None) -> list[Payload]:
    """The payloads among a folder's entries; 2-hex subfolders are appended to ``buckets`` if given.

    Kept as one tight loop: it runs once per payload, hundreds of thousands of times.
    A real directory named like a payload is skipped; a link, FIFO or socket is listed.
    """
    is_file_id = _FILE_ID.fullmatch
    payloads: list[Payload] = []
    for entry in entries:
        name = entry.name
        if is_file_id(name) is None:
            if buckets is not None and _BUCKET.fullmatch(name) and _is_real_dir(entry):
                buckets.append(name)
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                payloads.append(Payload(name, prefix + name, UNKNOWN, UNKNOWN, _REGULAR))
                continue
            if entry.is_symlink():
                payloads.append(Payload(name, prefix + name, UNKNOWN, UNKNOWN, _LINK))
                continue
            st = entry.stat(follow_symlinks=False)  # a folder, FIFO, socket or device
        except OSError as exc:
            log.debug("cannot lstat %s%s: %s", prefix, name, exc)
            continue
        if stat.S_ISDIR(st.st_mode):
            log.debug("skipping folder %s%s named like a payload", prefix, name)
            continue
        payloads.append(Payload(name, prefix + name, shown_size(st), st.st_mtime_ns, st.st_mode))
    return payloads


def shown_size(st: os.stat_result) -> int:
    """The size the mount shows for a payload: one that is not a regular file cannot be read, so 0.

    A symlink's own size is the length of its target text, which would be shown for a
    file that reads nothing but EIO.
    """
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


def _is_real_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _open_dir(path: Path | str, dir_fd: int | None = None, follow: bool = False) -> int:
    """A folder descriptor that keeps atime where allowed and, unless ``follow``, refuses links.

    Only a folder the user pointed at (or one above any backup root) is opened with
    ``follow``: a link there is the user's choice, a link inside a backup is not.
    """
    flags = _DIR_FLAGS | (0 if follow else _NOFOLLOW)
    try:
        return os.open(path, flags | _NOATIME, dir_fd=dir_fd)
    except OSError as exc:
        if not _NOATIME or exc.errno not in (errno.EPERM, errno.EINVAL):
            raise
        return os.open(path, flags, dir_fd=dir_fd)


def list_dir(folder: Path) -> list[str]:
    """Names in ``folder`` (opened with O_NOATIME where allowed); for folders above backup roots."""
    fd = _open_dir(folder, follow=True)
    try:
        return os.listdir(fd)
    finally:
        os.close(fd)


def _subfolders(folder: Path, names: list[str]) -> list[Path]:
    """Child folders worth checking; links are followed here because they sit above any backup."""
    found = []
    for name in sorted(names):
        child = folder / name
        try:
            if stat.S_ISDIR(os.stat(child).st_mode):
                found.append(child)
        except OSError:
            continue
    return found


def _entry_kind(path: Path) -> str | None:
    """'file', 'link', 'dir', 'other', or None when absent or unreadable."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    return "other"


def _safe_name(name: str) -> str:
    """One path component: no separators, no control characters, not '.'/'..', bounded length."""
    name = _DISPLAY_UNSAFE.sub("_", name).strip()
    if name in ("", ".", ".."):
        return ""
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) > _MAX_DISPLAY_BYTES:
        name = encoded[:_MAX_DISPLAY_BYTES].decode("utf-8", "ignore").strip()
    return name


_DEVICE_FOLDER = re.compile(r"([0-9a-fA-F]{40}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{16})(-\d{8}-\d{6})?")


def sibling_backups(backup: Backup) -> list[Backup]:
    """Other device backups beside this one in a MobileSync ``Backup`` folder.

    Only folders named like device ids are considered, so a backup copied into, say, a
    Downloads folder does not make backupfs look through everything else there.
    """
    parent = backup.root.parent
    try:
        names = list_dir(parent)
    except OSError:
        return []
    siblings = []
    for name in sorted(names):
        candidate = parent / name
        if name == backup.root.name or not _DEVICE_FOLDER.fullmatch(name) or not _looks_like_backup(candidate):
            continue
        try:
            siblings.append(_open_backup(candidate))
        except OSError:
            continue
    return siblings

"""Find the backup(s) under the path a user gives.

Users point at the backup folder itself, at a folder they copied it into, or at the
MobileSync ``Backup`` folder (or its parent) holding several devices; all three must
work, and anything else (a file or a bucket folder of a backup, a backupfs mount,
unrelated files) must fail with a sentence that says what to give instead. Deciding "is
this a backup?" peeks at a bounded number of entries, so it stays cheap on a folder of a
million files.
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
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

from backupfs.errors import NotABackupError
from backupfs.source.mounttable import XATTR_BACKUP, backupfs_mount_holding
from backupfs.source.payloads import (
    BUCKET,
    FILE_ID,
    SNAPSHOT,
    Layout,
    Payload,
    list_payloads,
)
from backupfs.source.plists import BackupInfo, read_backup_info
from backupfs.source.safe_open import Folder

log = logging.getLogger(__name__)

ROOT_FILES = ("Info.plist", "Manifest.plist", "Status.plist", "Manifest.db", "Manifest.mbdb")
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

# Detection peeks at this many entries of a folder, and into this many buckets, so that
# deciding "is this a backup?" stays cheap on a folder of a million files.
_PEEK_ENTRIES = 300
_PEEKBUCKETS = 4
_PEEKBUCKET_ENTRIES = 32
_DISPLAY_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
_MAX_DISPLAY_BYTES = 200


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
        Folder.open(given, follow=True).close()
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
    if FILE_ID.fullmatch(given.name) and folder.name == given.name[:2]:
        folder = folder.parent  # xx/<fileid>: the payload sits in one of the backup's folders 00 to ff
    elif not (FILE_ID.fullmatch(given.name) or given.name.split("-", 1)[0] in ROOT_FILES):
        return f"{given} is a file, not a folder: {WHAT_TO_GIVE}. {WHERE_BACKUPS_ARE}"
    return f"{given} is a file of a backup, not the backup itself: give the backup folder, {folder}"


def _is_bucket(folder: Path) -> bool:
    """One of the folders 00 to ff of an iOS 10+ backup: named by two hex digits, its payloads' first two.

    A flat (iOS 5-9) backup folder holds payloads too, but is named by its device id.
    """
    folder = folder.absolute()
    if not BUCKET.fullmatch(folder.name) or any(_entry_kind(folder / n) for n in ROOT_FILES):
        return False
    try:
        parent = Folder.open(folder.parent, follow=True)
    except OSError:
        return False
    with closing(parent):
        return _bucket_has_payload(parent, folder.name)


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
        opened = Folder.open(folder, follow=follow)
    except OSError:
        return False, False
    try:
        with opened.scandir() as entries:
            for count, entry in enumerate(entries):
                if count >= _PEEK_ENTRIES or (hashed and flat):
                    break
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if not is_dir and FILE_ID.fullmatch(entry.name):
                    flat = True
                elif is_dir and not hashed and buckets_tried < _PEEKBUCKETS and BUCKET.fullmatch(entry.name):
                    buckets_tried += 1
                    hashed = _bucket_has_payload(opened, entry.name)
    except OSError as exc:
        log.debug("cannot peek into %s: %s", folder, exc)
    finally:
        opened.close()
    return hashed, flat


def _bucket_has_payload(parent: Folder, name: str) -> bool:
    try:
        bucket = parent.child(name)
    except OSError:
        return False
    try:
        with bucket.scandir() as entries:
            for count, entry in enumerate(entries):
                if count >= _PEEKBUCKET_ENTRIES:
                    break
                if entry.name.startswith(name) and FILE_ID.fullmatch(entry.name):
                    return True
    except OSError:
        pass
    finally:
        bucket.close()
    return False


def list_dir(folder: Path) -> list[str]:
    """Names in ``folder`` (opened with O_NOATIME where allowed); for folders above backup roots."""
    with closing(Folder.open(folder, follow=True)) as opened:
        return opened.listdir()


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

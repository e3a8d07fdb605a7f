"""List the payload files of a backup, never opening one.

Listing is the hot path of every mount (hundreds of thousands of payloads), so it uses
``os.scandir`` and the listing's file type, never an ``open`` or a ``stat`` of a regular
payload: a FIFO or a symlink planted in a backup is listed with its ``st_mode`` and left
for the caller to refuse. Folders are entered as :class:`~backupfs.source.safe_open.Folder`
enters them (a symlinked bucket never is), with O_NOATIME where allowed, so listing does
not even touch their access times.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from enum import Enum
from pathlib import Path
from typing import NamedTuple

from backupfs.source.safe_open import Folder

log = logging.getLogger(__name__)

SNAPSHOT = "Snapshot"
FILE_ID = re.compile(r"[0-9a-f]{40}")
BUCKET = re.compile(r"[0-9a-f]{2}")
_LISTING_THREADS = 8


class Layout(str, Enum):
    """Where payloads sit in a backup folder."""

    HASHED = "hashed"  # iOS 10+: xx/<sha1>
    FLAT = "flat"  # iOS 5-9: <sha1> in the root


UNSTATED = -1
"""Size or mtime of a payload not stat'ed yet: the mount asks the source when shown."""
_REGULAR = stat.S_IFREG | 0o444
_LINK = stat.S_IFLNK | 0o444


class Payload(NamedTuple):
    """One payload file as the directory listing shows it (never opened).

    The listing's file type is enough to name and place a payload, so regular files and
    links are not stat'ed while listing (on a 300,000-file backup a cold ``lstat`` of each
    costs seconds); ``size`` and ``mtime_ns`` are then :data:`UNSTATED`. A tuple, because a
    backup has hundreds of thousands of them and a frozen dataclass costs three times as
    much to make.
    """

    file_id: str
    relpath: str
    size: int
    mtime_ns: int
    st_mode: int


def list_payloads(root: Path, progress: Callable[[int, int], None] | None = None) -> list[Payload]:
    """Every payload of the backup at ``root``, flat, hashed and under Snapshot/, in no particular order.

    ``progress(folders_listed, folders_in_all)`` is told how far the listing is.
    """
    try:
        top = Folder.open(root, follow=True)
    except OSError as exc:
        log.warning("cannot list %s: %s", root, exc.strerror or exc)
        return []
    with closing(top):
        folders = [(top, root, "")]
        try:
            folders.append((top.child(SNAPSHOT), root / SNAPSHOT, SNAPSHOT + "/"))
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                log.warning("cannot list %s: %s", root / SNAPSHOT, exc.strerror or exc)
        try:
            return _scan_backup_folders(folders, progress)
        finally:
            for folder, _, _ in folders[1:]:
                folder.close()


def _scan_backup_folders(
    folders: list[tuple[Folder, Path, str]], progress: Callable[[int, int], None] | None
) -> list[Payload]:
    """Payloads in each open folder itself (flat) and in its 2-hex buckets (hashed).

    Threads read the bucket folders ahead (a cold folder waits on the disk, and each
    thread waits on its own) while this thread turns the entries into payloads: that part
    is interpreter work, which more threads would only fight over.
    """
    # In order (the backup's own payloads before Snapshot/'s), as the first copy of a
    # payload is the one shown under its name.
    jobs: list[list[Payload] | tuple[Folder, Path, str]] = []
    for opened, folder, prefix in folders:
        found: list[str] = []
        jobs.append(_payloads_in(opened, folder, prefix, found))
        jobs += [(opened, folder / bucket, prefix + bucket) for bucket in found]

    def read_ahead(job: list[Payload] | tuple[Folder, Path, str]) -> tuple[Folder, list[os.DirEntry[str]]] | OSError | None:
        """The folder's entries, and the folder: kept open, as a FIFO's entry stats through it."""
        if isinstance(job, list):
            return None
        parent, where, _ = job
        try:
            bucket = parent.child(where.name)
        except OSError as exc:
            return exc
        try:
            with bucket.scandir() as entries:
                return bucket, list(entries)
        except OSError as exc:
            bucket.close()
            return exc

    payloads: list[Payload] = []
    with ThreadPoolExecutor(_LISTING_THREADS) as pool:
        for done, (job, listed) in enumerate(zip(jobs, pool.map(read_ahead, jobs)), 1):
            if isinstance(job, list):
                payloads += job
            elif isinstance(listed, OSError):
                log.warning("cannot list %s: %s", job[1], listed.strerror or listed)
            elif listed is not None:
                bucket, entries = listed
                try:
                    payloads += _payloads_among(entries, job[2] + "/", None)
                finally:
                    bucket.close()
            if progress is not None:
                progress(done, len(jobs))
    return payloads


def _payloads_in(folder: Folder, where: Path, prefix: str, buckets: list[str] | None) -> list[Payload]:
    """Payloads named in one open folder; 2-hex subfolders are appended to ``buckets`` if given."""
    try:
        with folder.scandir() as entries:
            return _payloads_among(list(entries), prefix, buckets)
    except OSError as exc:
        log.warning("listing %s stopped early: %s", where, exc.strerror or exc)
        return []


def _payloads_among(entries: list[os.DirEntry[str]], prefix: str, buckets: list[str] | None) -> list[Payload]:
    """The payloads among a folder's entries; 2-hex subfolders are appended to ``buckets`` if given.

    Kept as one tight loop: it runs once per payload, hundreds of thousands of times.
    A real directory named like a payload is skipped; a link, FIFO or socket is listed.
    """
    is_file_id = FILE_ID.fullmatch
    payloads: list[Payload] = []
    for entry in entries:
        name = entry.name
        if is_file_id(name) is None:
            if buckets is not None and BUCKET.fullmatch(name) and _is_real_dir(entry):
                buckets.append(name)
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                payloads.append(Payload(name, prefix + name, UNSTATED, UNSTATED, _REGULAR))
                continue
            if entry.is_symlink():
                payloads.append(Payload(name, prefix + name, UNSTATED, UNSTATED, _LINK))
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

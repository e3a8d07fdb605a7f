"""Where an index lives, and when it is still good: the user's cache folder, and a cheap signature.

The index is keyed by the backups' identity and validated against stat data of the
source (the root, the payload folders, the index and plist files), so a second mount of
an unchanged backup reads nothing but that stat data.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
from pathlib import Path

from backupfs import __version__
from backupfs.errors import BackupfsError
from backupfs.index.schema import FORMAT_VERSION
from backupfs.naming.catalog import Catalog
from backupfs.source.discover import ROOT_FILES, Backup
from backupfs.source.payloads import SNAPSHOT
from backupfs.source.sqlite import IN_MEMORY


def default_index_dir() -> Path:
    """The platform's cache folder for backupfs, never inside a backup."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "backupfs"


def index_file(backups: list[Backup], index_dir: Path | None) -> Path:
    """The index of these backups (created folder included); one line to act on when it cannot be."""
    key = hashlib.sha1("\n".join(b.identity() for b in backups).encode()).hexdigest()
    path = (index_dir or default_index_dir()) / f"{key}.index.sqlite"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupfsError(
            f"cannot create the index folder {path.parent} ({exc.strerror}): give a writable one with --index-dir."
        ) from None
    return path


def memory_index_file(backups: list[Backup]) -> Path:
    """Where the index of these backups lives when it must not reach a disk (see :mod:`backupfs.source.sqlite`): a new place each time."""
    key = hashlib.sha1("\n".join(b.identity() for b in backups).encode()).hexdigest()
    return IN_MEMORY / secrets.token_hex(8) / f"{key}.index.sqlite"


def catalog_stamp(catalog_path: Path, catalog: Catalog) -> str:
    """What tells one catalog from another, for :func:`signature`."""
    st = catalog_path.stat()
    return f"{catalog_path.resolve()}:{len(catalog)}:{st.st_size}:{st.st_mtime_ns}"


def signature(backups: list[Backup], catalog_stamp: str, other_indexes: list[Path]) -> str:
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

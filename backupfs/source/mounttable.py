"""The system's table of mounts: which folders are mount points, and which are backupfs's.

``backupfs unmount`` must act on its own mounts only (a mistyped ``/media/usb`` must not
unmount a disk), and a backupfs mount given where a backup is expected must be named as
such rather than read as a strange backup. Both questions are answered from the mount
table, never by looking inside the folder: a stale FUSE mount ("Transport endpoint is not
connected") fails every look inside it, yet the table still says whose it is.

A backupfs mount carries ``fsname=backupfs`` (the table's source column) and, on Linux,
``subtype=backupfs`` (type ``fuse.backupfs``); both are set by backupfs alone.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

FSNAME = "backupfs"
XATTR_BACKUP = "user.backupfs.backup"
"""An attribute of a backupfs mount's root: the backup folder(s) it shows, one per line."""
_ESCAPED = re.compile(r"\\([0-7]{3})")
# macOS and the BSDs: "backupfs on /Users/me/iphone (macfuse, nodev, nosuid, read-only)"
_MOUNT_LINE = re.compile(r"^(?P<source>.*?) on (?P<mountpoint>.*) \((?P<fstype>[^,)]*)[^)]*\)$")


@dataclass(frozen=True)
class Mount:
    """One line of the mount table."""

    source: str
    mountpoint: str
    fstype: str

    @property
    def is_backupfs(self) -> bool:
        return self.fstype == f"fuse.{FSNAME}" or self.source.partition("@")[0] == FSNAME


def mounts() -> list[Mount]:
    """Every mount of this system, in the table's order (a later one hides an earlier one at the same place)."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="surrogateescape") as table:
            lines = table.read().splitlines()
    except FileNotFoundError:  # not Linux: the mount command prints the table
        return _mount_command_table()
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 3:
            found.append(Mount(_unescape(fields[0]), _unescape(fields[1]), fields[2]))
    return found


def _unescape(field: str) -> str:
    """The kernel writes space, tab, newline and backslash in the table as octal escapes."""
    return _ESCAPED.sub(lambda match: chr(int(match.group(1), 8)), field)


def _mount_command_table() -> list[Mount]:
    try:
        output = subprocess.run(["mount"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    found = []
    for line in output.splitlines():
        match = _MOUNT_LINE.match(line)
        if match:
            found.append(Mount(match["source"], match["mountpoint"], match["fstype"].strip()))
    return found


def _spellings(path: Path) -> set[str]:
    """``path`` as given (made absolute) and with the folders above it resolved, as the table lists it.

    ``path`` itself is not resolved: resolving it would reach into a stale mount.
    """
    given = os.path.abspath(path)
    return {given, os.path.join(os.path.realpath(os.path.dirname(given)), os.path.basename(given))}


def mount_at(path: Path) -> Mount | None:
    """The mount whose mount point is ``path`` (live or stale), or None."""
    targets = _spellings(path)
    found = [entry for entry in mounts() if entry.mountpoint in targets]
    return found[-1] if found else None


def backupfs_mount_holding(path: Path) -> Mount | None:
    """The backupfs mount that ``path`` is, or lies inside, or None."""
    targets = _spellings(path)
    for entry in reversed(mounts()):
        if not entry.is_backupfs:
            continue
        inside = entry.mountpoint.rstrip("/") + "/"
        if any(target == entry.mountpoint or target.startswith(inside) for target in targets):
            return entry
    return None


def is_mounted(mountpoint: Path) -> bool:
    """True for a live or stale mount at ``mountpoint``, whoever's it is."""
    return mount_at(mountpoint) is not None

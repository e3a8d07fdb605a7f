"""What the three root plists of a backup say about the device, read without trusting them.

Info.plist, Manifest.plist and Status.plist are the only places that name the device,
date the backup and say whether it is encrypted, and in a failed or badly copied backup
any of them can be missing, empty, truncated, garbage, or of an unexpected shape. So
every read here is tolerant: a problem becomes one sentence in ``BackupInfo.notes`` and
the field falls back to the next plist that knows it, or to None. Nothing here raises.

Files are opened through ``sourceio.open_source`` (read-only, no atime update where
allowed, never through a symlink, never blocking on a FIFO), and a plist is only opened
after ``lstat`` shows a regular file, so a planted link or FIFO is reported, not read.
"""

from __future__ import annotations

import logging
import os
import plistlib
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from backupfs.source.safe_open import open_source

log = logging.getLogger(__name__)

# Real root plists are kilobytes to a few MiB (Info.plist can embed app icons and
# iTunes metadata); anything above this is not worth the memory it would take.
MAX_PLIST_BYTES = 64 * 1024 * 1024

_BUNDLE_ID = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+")
_MAX_BUNDLE_ID = 255


@dataclass(frozen=True)
class BackupInfo:
    """Device and backup facts gathered from Info.plist, Manifest.plist and Status.plist.

    ``keybag`` (Manifest.plist ``BackupKeyBag``) and ``manifest_key`` (``ManifestKey``:
    4-byte little-endian class + wrapped key, iOS 10.2+, present exactly when Manifest.db
    is encrypted) are what decrypting an encrypted backup starts from; secrets, so never
    in the repr.
    """

    device_name: str | None
    product_type: str | None
    ios_version: str | None
    build_version: str | None
    udid: str | None
    serial_number: str | None
    last_backup_date: datetime | None
    encrypted: bool | None
    bundle_ids: tuple[str, ...]
    snapshot_state: str | None
    notes: tuple[str, ...]
    keybag: bytes | None = field(default=None, repr=False)
    manifest_key: bytes | None = field(default=None, repr=False)


def read_backup_info(root: Path) -> BackupInfo:
    """Gather what the root plists of the backup at ``root`` still say; never raises."""
    notes: list[str] = []
    info = _load_dict(root, "Info.plist", notes)
    manifest = _load_dict(root, "Manifest.plist", notes)
    status = _load_dict(root, "Status.plist", notes)
    lockdown = _sub_dict(manifest, "Manifest.plist", "Lockdown", notes)

    def text(*sources: tuple[dict[str, Any] | None, str, str]) -> str | None:
        for plist, plist_name, key in sources:
            value = _text(plist, plist_name, key, notes)
            if value is not None:
                return value
        return None

    return BackupInfo(
        device_name=text(
            (info, "Info.plist", "Device Name"),
            (info, "Info.plist", "Display Name"),
            (lockdown, "Manifest.plist", "DeviceName"),
        ),
        product_type=text((info, "Info.plist", "Product Type"), (lockdown, "Manifest.plist", "ProductType")),
        ios_version=text((info, "Info.plist", "Product Version"), (lockdown, "Manifest.plist", "ProductVersion")),
        build_version=text((info, "Info.plist", "Build Version"), (lockdown, "Manifest.plist", "BuildVersion")),
        udid=text(
            (info, "Info.plist", "Unique Identifier"),
            (info, "Info.plist", "Target Identifier"),
            (lockdown, "Manifest.plist", "UniqueDeviceID"),
        ),
        serial_number=text((info, "Info.plist", "Serial Number"), (lockdown, "Manifest.plist", "SerialNumber")),
        last_backup_date=(
            _date(info, "Info.plist", "Last Backup Date", notes)
            or _date(status, "Status.plist", "Date", notes)
            or _date(manifest, "Manifest.plist", "Date", notes)
        ),
        encrypted=_encrypted(manifest, notes),
        bundle_ids=_bundle_ids(info, manifest, notes),
        snapshot_state=_text(status, "Status.plist", "SnapshotState", notes),
        keybag=_data(manifest, "Manifest.plist", "BackupKeyBag", notes),
        manifest_key=_data(manifest, "Manifest.plist", "ManifestKey", notes),
        notes=tuple(notes),
    )


def _load_dict(root: Path, name: str, notes: list[str]) -> dict[str, Any] | None:
    """The top-level dictionary of ``root/name``, or None with a note saying why not."""
    path = root / name
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        notes.append(f"{name} is missing.")
        return None
    except OSError as exc:
        notes.append(f"{name} cannot be read ({exc.strerror or exc}).")
        return None
    if stat.S_ISLNK(st.st_mode):
        notes.append(f"{name} is a symbolic link; it was ignored.")
        return None
    if not stat.S_ISREG(st.st_mode):
        notes.append(f"{name} is not a regular file; it was ignored.")
        return None
    if st.st_size == 0:
        notes.append(f"{name} is empty (0 bytes).")
        return None
    if st.st_size > MAX_PLIST_BYTES:
        notes.append(f"{name} is too large to be a backup plist ({st.st_size:,} bytes); it was ignored.")
        return None
    try:
        data = _read_capped(path)
    except OSError as exc:
        notes.append(f"{name} cannot be read ({exc.strerror or exc}).")
        return None
    if not data:
        notes.append(f"{name} is empty (0 bytes).")
        return None
    if len(data) > MAX_PLIST_BYTES:
        notes.append(f"{name} is too large to be a backup plist; it was ignored.")
        return None
    try:
        value = plistlib.loads(data)
    except Exception as exc:  # hostile bytes can raise anything from expat, struct, datetime, recursion
        log.debug("cannot parse %s: %r", path, exc)
        notes.append(f"{name} {_damage(data)}; it was ignored.")
        return None
    if not isinstance(value, dict):
        notes.append(f"{name} holds {_kind(value)} instead of a dictionary; it was ignored.")
        return None
    return value


def _read_capped(path: Path) -> bytes:
    """At most MAX_PLIST_BYTES + 1 bytes, so a file that grew since lstat is still caught."""
    fd = open_source(path)
    try:
        chunks: list[bytes] = []
        remaining = MAX_PLIST_BYTES + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _damage(data: bytes) -> str:
    """Words for why the bytes did not parse, guessed from how they start."""
    if data.startswith(b"bplist"):
        return "is a damaged binary plist (truncated or corrupt)"
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"<?xml", b"<plist", b"<!DOCTYPE")):
        return "is a damaged XML plist (truncated or corrupt)"
    if not data.strip(b"\0"):
        return f"holds only zero bytes ({len(data):,} bytes)"
    return "is not a plist (unrecognised content)"


def _kind(value: object) -> str:
    names = {
        dict: "a dictionary",
        list: "a list",
        str: "text",
        bytes: "binary data",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        datetime: "a date",
    }
    return names.get(type(value), f"a {type(value).__name__}")


def _sub_dict(plist: dict[str, Any] | None, plist_name: str, key: str, notes: list[str]) -> dict[str, Any] | None:
    if plist is None or key not in plist:
        return None
    value = plist[key]
    if not isinstance(value, dict):
        notes.append(f"{plist_name} key '{key}' holds {_kind(value)} instead of a dictionary; it was ignored.")
        return None
    return value


def _text(plist: dict[str, Any] | None, plist_name: str, key: str, notes: list[str]) -> str | None:
    if plist is None or key not in plist:
        return None
    value = plist[key]
    if not isinstance(value, str):
        notes.append(f"{plist_name} key '{key}' holds {_kind(value)} instead of text; it was ignored.")
        return None
    value = value.strip()
    return value or None


def _data(plist: dict[str, Any] | None, plist_name: str, key: str, notes: list[str]) -> bytes | None:
    """Binary data, such as the keys of an encrypted backup; empty data is no data."""
    if plist is None or key not in plist:
        return None
    value = plist[key]
    if not isinstance(value, bytes):
        notes.append(f"{plist_name} key '{key}' holds {_kind(value)} instead of binary data; it was ignored.")
        return None
    return value or None


def _date(plist: dict[str, Any] | None, plist_name: str, key: str, notes: list[str]) -> datetime | None:
    """An aware UTC datetime; plistlib gives naive datetimes that are UTC."""
    if plist is None or key not in plist:
        return None
    value = plist[key]
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
    if not isinstance(value, datetime):
        notes.append(f"{plist_name} key '{key}' holds {_kind(value)} instead of a date; it was ignored.")
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _encrypted(manifest: dict[str, Any] | None, notes: list[str]) -> bool | None:
    if manifest is None:
        return None
    if "IsEncrypted" not in manifest:
        notes.append("Manifest.plist does not say whether the backup is encrypted (no 'IsEncrypted' key).")
        return None
    value = manifest["IsEncrypted"]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    notes.append(f"Manifest.plist key 'IsEncrypted' holds {_kind(value)} instead of a boolean; it was ignored.")
    return None


def _bundle_ids(info: dict[str, Any] | None, manifest: dict[str, Any] | None, notes: list[str]) -> tuple[str, ...]:
    """Every bundle-id-like string the plists mention: each one is a domain worth trying."""
    found: set[str] = set()
    sources: list[tuple[str, str, Any, type]] = []
    if info is not None:
        if "Installed Applications" in info:
            sources.append(("Info.plist", "Installed Applications", info["Installed Applications"], list))
        if "Applications" in info:
            sources.append(("Info.plist", "Applications", info["Applications"], dict))
    if manifest is not None and "Applications" in manifest:
        sources.append(("Manifest.plist", "Applications", manifest["Applications"], dict))
    for plist_name, key, value, expected in sources:
        if not isinstance(value, expected):
            wanted = "a list" if expected is list else "a dictionary"
            notes.append(f"{plist_name} key '{key}' holds {_kind(value)} instead of {wanted}; it was ignored.")
            continue
        for item in value:
            if isinstance(item, str) and len(item) <= _MAX_BUNDLE_ID and _BUNDLE_ID.fullmatch(item):
                found.add(item)
    return tuple(sorted(found))

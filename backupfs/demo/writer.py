"""Write whole synthetic backups: the demo, the tests and the benchmarks all start here.

The output is meant to be indistinguishable, for backupfs, from what iTunes/Finder
writes: real SQLite with Apple's schema, NSKeyedArchiver blobs, payloads named by SHA1
in the right layout. Damage is applied by the caller afterwards (truncating, deleting,
overwriting), so this module only ever writes healthy backups.
"""

from __future__ import annotations

import os
import plistlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from backupfs.source.manifest.records import Kind, ManifestRecord, file_id
from backupfs.source.manifest.write import MOBILE_UID, encode_mbdb, write_manifest_db

_TYPE_BITS = {Kind.FILE: 0o100000, Kind.DIR: 0o040000, Kind.SYMLINK: 0o120000}
_DEFAULT_PERMS = {Kind.FILE: 0o644, Kind.DIR: 0o755, Kind.SYMLINK: 0o755}


@dataclass
class PayloadSpec:
    """One entry of a synthetic backup."""

    domain: str
    relative_path: str
    content: bytes | None = None  # file bytes; None for DIR / SYMLINK
    kind: Kind = Kind.FILE
    mode: int | None = None  # permission bits only; default 0o644 files, 0o755 dirs, 0o755 links
    mtime: int = 1_700_000_000
    target: str | None = None  # symlink target (text)
    manifest_size: int | None = None  # Size to record in the index when it must differ from len(content)


def write_backup(
    root: Path,
    specs: Iterable[PayloadSpec],
    *,
    layout: str = "hashed",
    index: str = "db",
    index_wal: bool = False,
    info: dict | None = None,
    manifest_plist: dict | None = None,
    status: dict | None = None,
    plist_format: str = "binary",
) -> None:
    """Write a backup into ``root`` (created if needed).

    ``layout`` is "hashed" (iOS 10+, ``xx/<sha1>``) or "flat" (iOS 5-9, all in the root);
    ``index`` is "db" (Manifest.db), "mbdb" (Manifest.mbdb) or "none". Plists are written
    only when given, as binary or XML per ``plist_format``.
    """
    if layout not in ("hashed", "flat"):
        raise ValueError(f"unknown layout {layout!r}")
    if index not in ("db", "mbdb", "none"):
        raise ValueError(f"unknown index {index!r}")
    if plist_format not in ("binary", "xml"):
        raise ValueError(f"unknown plist format {plist_format!r}")
    root.mkdir(parents=True, exist_ok=True)
    specs = list(specs)
    records = [manifest_record(spec) for spec in specs]
    _write_payloads(root, specs, records, layout)
    if index == "db":
        write_manifest_db(root / "Manifest.db", records, wal=index_wal)
    elif index == "mbdb":
        (root / "Manifest.mbdb").write_bytes(encode_mbdb(records))
    fmt = plistlib.FMT_BINARY if plist_format == "binary" else plistlib.FMT_XML
    for name, content in (("Info.plist", info), ("Manifest.plist", manifest_plist), ("Status.plist", status)):
        if content is not None:
            (root / name).write_bytes(plistlib.dumps(content, fmt=fmt))


def manifest_record(spec: PayloadSpec) -> ManifestRecord:
    perms = _DEFAULT_PERMS[spec.kind] if spec.mode is None else spec.mode & 0o7777
    if spec.manifest_size is not None:
        size = spec.manifest_size
    elif spec.kind is Kind.FILE:
        size = len(spec.content or b"")
    else:
        size = 0
    return ManifestRecord(
        file_id=file_id(spec.domain, spec.relative_path),
        domain=spec.domain,
        relative_path=spec.relative_path,
        kind=spec.kind,
        size=size,
        mode=_TYPE_BITS[spec.kind] | perms,
        mtime=spec.mtime,
        ctime=spec.mtime,
        birth=spec.mtime,
        uid=MOBILE_UID,
        gid=MOBILE_UID,
        target=spec.target if spec.kind is Kind.SYMLINK else None,
    )


def _write_payloads(root: Path, specs: list[PayloadSpec], records: list[ManifestRecord], layout: str) -> None:
    made: set[str] = set()
    for spec, record in zip(specs, records):
        if spec.kind is not Kind.FILE:
            continue
        if layout == "hashed":
            folder = os.path.join(root, record.file_id[:2])
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
        else:
            folder = os.fspath(root)
        target = os.path.join(folder, record.file_id)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o644)
        try:
            content = memoryview(spec.content or b"")
            while content:
                content = content[os.write(fd, content) :]
        finally:
            os.close(fd)
        os.utime(target, (spec.mtime, spec.mtime))


def default_plists(
    device_name: str = "Test iPhone",
    ios: str = "17.1",
    udid: str = "00008030-001A2B3C4D5E6F70",
    bundle_ids: Sequence[str] = (),
    encrypted: bool = False,
    date: datetime | None = None,
) -> tuple[dict, dict, dict]:
    """(Info.plist, Manifest.plist, Status.plist) contents shaped like a real device's."""
    date = date or datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    naive_date = date.astimezone(timezone.utc).replace(tzinfo=None) if date.tzinfo else date
    product_type, build = "iPhone14,2", "21B80"
    serial = "F2LXK0ABCDEF"
    apps = {bid: {"CFBundleIdentifier": bid, "ApplicationSIFN": b"", "PlaceholderIcon": b""} for bid in bundle_ids}
    info = {
        "Build Version": build,
        "Device Name": device_name,
        "Display Name": device_name,
        "GUID": uuid.uuid5(uuid.NAMESPACE_OID, udid).hex.upper(),
        "ICCID": "89014103211118510720",
        "IMEI": "356938035643809",
        "MEID": "35693803564380",
        "Phone Number": "+1 (555) 010-0199",
        "Product Name": "iPhone 13 Pro",
        "Product Type": product_type,
        "Product Version": ios,
        "Serial Number": serial,
        "Target Identifier": udid,
        "Target Type": "Device",
        "Unique Identifier": udid,
        "Last Backup Date": naive_date,
        "iTunes Version": "12.13.0.9",
        "Installed Applications": list(bundle_ids),
        "Applications": apps,
    }
    manifest = {
        "IsEncrypted": encrypted,
        "WasPasscodeSet": True,
        "Version": "10.0",
        "Date": naive_date,
        "SystemDomainsVersion": "24.0",
        "Lockdown": {
            "ProductVersion": ios,
            "ProductType": product_type,
            "BuildVersion": build,
            "DeviceName": device_name,
            "SerialNumber": serial,
            "UniqueDeviceID": udid,
        },
        "Applications": {
            bid: {"CFBundleIdentifier": bid, "CFBundleVersion": "1", "ContainerContentClass": "Data/Application"}
            for bid in bundle_ids
        },
    }
    if encrypted:
        manifest["BackupKeyBag"] = b"VERS\x00\x00\x00\x04\x00\x00\x00\x05TYPE\x00\x00\x00\x04\x00\x00\x00\x01"
        manifest["ManifestKey"] = b"\x04\x00\x00\x00" + bytes(40)
    status = {
        "BackupState": "new",
        "Date": naive_date,
        "IsFullBackup": False,
        "Version": "3.3",
        "SnapshotState": "finished",
        "UUID": str(uuid.uuid5(uuid.NAMESPACE_URL, udid + naive_date.isoformat())).upper(),
    }
    return info, manifest, status

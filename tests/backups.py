"""Test backups, written with real SQLite, plist and media bytes.

``standard_specs()`` is a small phone: databases in WAL mode with a ``-wal`` sibling,
plists in both encodings, camera-roll media, an app container named only through its
bundle id, files no source can name, directories and a symlink.
"""

from __future__ import annotations

import hashlib
import os
import random
import stat
from dataclasses import dataclass
from pathlib import Path

from backupfs.demo import samples
from backupfs.demo.writer import PayloadSpec, default_plists, write_backup
from backupfs.source.manifest.records import Kind, file_id

WHATSAPP = "net.whatsapp.WhatsApp"
DIARY = "org.backupfs.testdiary"  # in no device listing: only Info.plist can name it
UNNAMEABLE_APP = "AppDomain-com.example.private"


BAD_NAME = b"Media/caf\xe9-\xff.jpg".decode("utf-8", "surrogateescape")  # not UTF-8 on the device


def roundtrip_specs() -> list[PayloadSpec]:
    """One entry of each kind and oddity an index must carry: bad UTF-8, dirs, links, short payloads."""
    return [
        PayloadSpec("HomeDomain", "Library/SMS/sms.db", b"SQLite format 3\x00" + bytes(100), mtime=1_600_000_000),
        PayloadSpec("CameraRollDomain", BAD_NAME, b"\xff\xd8\xff\xe0jpeg", mode=0o600),
        PayloadSpec("HomeDomain", "Library/SMS", kind=Kind.DIR),
        PayloadSpec("HomeDomain", "Library/link", kind=Kind.SYMLINK, target="../SMS/sms.db"),
        PayloadSpec("AppDomain-com.example", "Documents/short.bin", b"abc", manifest_size=10),
    ]


def standard_specs() -> list[PayloadSpec]:
    sms_main, sms_wal = samples.wal_database()
    rng = random.Random(7)
    specs = [
        PayloadSpec("HomeDomain", "", kind=Kind.DIR),
        PayloadSpec("HomeDomain", "Library", kind=Kind.DIR),
        PayloadSpec("HomeDomain", "Library/SMS", kind=Kind.DIR),
        PayloadSpec("HomeDomain", "Library/SMS/sms.db", sms_main),
        PayloadSpec("HomeDomain", "Library/SMS/sms.db-wal", sms_wal),
        PayloadSpec("HomeDomain", "Library/SMS/sms.db-shm", bytes(32768)),
        PayloadSpec("HomeDomain", "Library/AddressBook/AddressBook.sqlitedb", samples.address_book()),
        PayloadSpec("HomeDomain", "Library/Preferences/com.apple.springboard.plist",
                    samples.binary_plist({"SBIconState": ["a", "b"], "version": 3})),
        PayloadSpec("HomeDomain", "Library/Preferences/com.apple.Maps.plist",
                    samples.xml_plist({"LastViewed": "Paris"})),
        PayloadSpec("HomeDomain", "Library/Preferences/link-to-maps.plist", kind=Kind.SYMLINK,
                    target="com.apple.Maps.plist"),
        PayloadSpec("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.HEIC", samples.heic()),
        PayloadSpec("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0002.JPG", samples.jpeg(64, 48)),
        PayloadSpec("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0003.MOV", samples.mov()),
        PayloadSpec("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0004.PNG", samples.png()),
        PayloadSpec(f"AppDomain-{WHATSAPP}", f"Library/Preferences/{WHATSAPP}.plist",
                    samples.binary_plist({"lastSeen": 1700000000})),
        PayloadSpec(f"AppDomain-{DIARY}", f"Library/Preferences/{DIARY}.plist", samples.binary_plist({"entries": 3})),
        PayloadSpec(UNNAMEABLE_APP, "Documents/cache/7f3e.bin", samples.jpeg(16, 16)),
        PayloadSpec(UNNAMEABLE_APP, "Documents/store/ab12.db", samples.sqlite_db()),
        PayloadSpec(UNNAMEABLE_APP, "Documents/settings/zz.cfg", samples.xml_plist({"k": [1, 2]})),
        PayloadSpec(UNNAMEABLE_APP, "Documents/dump/q9.dat", rng.randbytes(5000)),
        PayloadSpec(UNNAMEABLE_APP, "Documents/notes/readme-1b2c", b"plain text notes\n" * 20),
        PayloadSpec(UNNAMEABLE_APP, "Documents/state/s1", samples.json_bytes()),
        PayloadSpec(UNNAMEABLE_APP, "Documents/empty/e0", b""),
        PayloadSpec(UNNAMEABLE_APP, "Documents/media/m7", samples.mov()),
    ]
    return specs


@dataclass
class BuiltBackup:
    root: Path
    specs: list[PayloadSpec]

    def payload_path(self, spec: PayloadSpec) -> Path:
        fid = file_id(spec.domain, spec.relative_path)
        hashed = self.root / fid[:2] / fid
        return hashed if hashed.exists() else self.root / fid

    @property
    def files(self) -> list[PayloadSpec]:
        return [s for s in self.specs if s.kind is Kind.FILE]


def build(
    root: Path,
    specs: list[PayloadSpec] | None = None,
    *,
    layout: str = "hashed",
    index: str = "db",
    bundle_ids: tuple[str, ...] = (WHATSAPP, DIARY, "com.burbn.instagram"),
    encrypted: bool = False,
) -> BuiltBackup:
    specs = standard_specs() if specs is None else specs
    info, manifest, status = default_plists(device_name="Test iPhone", bundle_ids=bundle_ids, encrypted=encrypted)
    write_backup(root, specs, layout=layout, index=index, info=info, manifest_plist=manifest, status=status)
    age_atimes(root)
    return BuiltBackup(root, specs)


def age_atimes(root: Path) -> None:
    """Put every atime (``root``'s own included) a day before its mtime, so any read without O_NOATIME shows."""
    for path in [str(root), *(os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files)]:
        st = os.lstat(path)
        os.utime(path, ns=(st.st_mtime_ns - 86400 * 10**9, st.st_mtime_ns), follow_symlinks=False)


def fingerprint(top: Path) -> dict[str, tuple]:
    """Everything about ``top`` and all below it that backupfs must never change.

    Taken without changing a single atime: files and folders are opened with O_NOATIME,
    links are never followed nor read (``readlink`` updates a link's atime). ``top`` itself,
    ctimes, inodes and extended attributes are recorded, so a folder listed without
    O_NOATIME, a chmod, a replaced file or link, or a sidecar attribute all show.
    """
    prints: dict[str, tuple] = {}

    def record(path: str, rel: str) -> None:
        st = os.lstat(path)
        content: object = None
        if stat.S_ISREG(st.st_mode):
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NOATIME)
            try:
                content = hashlib.sha256(os.read(fd, st.st_size + 1)).hexdigest()
            finally:
                os.close(fd)
        xattrs = sorted(os.listxattr(path, follow_symlinks=False)) if not stat.S_ISLNK(st.st_mode) else []
        prints[rel] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_atime_ns, st.st_ctime_ns, st.st_ino,
                       st.st_nlink, st.st_uid, st.st_gid, content, xattrs)
        if stat.S_ISDIR(st.st_mode):
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NOATIME)
            try:
                names = sorted(os.listdir(fd))
            finally:
                os.close(fd)
            for name in names:
                record(os.path.join(path, name), f"{rel}/{name}")

    record(str(top), ".")
    return prints

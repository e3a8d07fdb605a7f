"""The repaired backup: a broken backup made whole again, as backupfs's own readers and real tools from PyPI see it.

The broken backup is the one people ask about: it stopped half way, with no Manifest.db
and no Manifest.plist, and Status.plist still saying it was being written. Its repaired
backup is read back by backupfs's readers, by pyiosbackup and iOSbackup (in the ``test``
extra) and by mvt, which pins exact versions of packages this project's tests need newer,
so it is installed from PyPI into a virtual environment of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import plistlib
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from iOSbackup import iOSbackup
from pyiosbackup import Backup as PyiosBackup

from backupfs.demo.writer import PayloadSpec, default_plists, write_backup
from backupfs.errors import BackupfsError
from backupfs.export.repaired import (
    RepairedStats,
    repaired_layout,
    write_repaired_backup,
)
from backupfs.index.build import build_index
from backupfs.index.paths import OTHER_DATA
from backupfs.index.store import Index
from backupfs.readable.base import READABLE_FOLDER
from backupfs.source.discover import find_backups
from backupfs.source.manifest.db import read_manifest_db
from backupfs.source.manifest.mbdb import read_manifest_mbdb
from backupfs.source.manifest.records import Kind, file_id
from backupfs.source.payloads import list_payloads
from tests.backups import (
    DIARY,
    WHATSAPP,
    age_atimes,
    fingerprint,
    roundtrip_specs,
    standard_specs,
)

SMS = ("HomeDomain", "Library/SMS/sms.db")
# An unencrypted backup's Manifest.plist holds a keybag too (iOSbackup reads it); a minimal one.
KEYBAG = b"VERS\x00\x00\x00\x04\x00\x00\x00\x04TYPE\x00\x00\x00\x04\x00\x00\x00\x01"
_CTIME, _NLINK = 4, 6  # places in a fingerprint entry that a hard link to a payload changes


@dataclass
class Broken:
    """A broken backup, backupfs's index of it, and what the index names."""

    root: Path
    index: Index
    named: dict[str, tuple[str, str]]  # fileID -> (domain, relativePath) of every named file

    def payload(self, fid: str) -> Path:
        hashed = self.root / fid[:2] / fid
        return hashed if hashed.exists() else self.root / fid


def broken_backup(
    root: Path,
    index_dir: Path,
    *,
    specs: list[PayloadSpec] | None = None,
    layout: str = "hashed",
    index: str = "none",
    ios: str = "17.1",
    manifest_plist: bool = False,
) -> Broken:
    """A backup that stopped half way: no index (unless ``index``), no Manifest.plist (unless asked), unfinished."""
    info, manifest, status = default_plists(ios=ios, bundle_ids=(WHATSAPP, DIARY))
    manifest["BackupKeyBag"] = KEYBAG
    status["SnapshotState"] = "uploading"
    write_backup(root, standard_specs() if specs is None else specs, layout=layout, index=index, info=info,
                 manifest_plist=manifest if manifest_plist else None, status=status)
    age_atimes(root)
    built = build_index(find_backups(root), index_dir)
    return Broken(root, built, named_files(built))


def named_files(index: Index) -> dict[str, tuple[str, str]]:
    named = {}
    for node in index.walk():
        if node.kind is Kind.FILE and node.real_name and not node.path.startswith((f"{READABLE_FOLDER}/", f"{OTHER_DATA}/")):
            domain, _, relative_path = node.real_name.partition("/")
            named[node.file_id] = (domain, relative_path)
    return named


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def placed(dest: Path, fid: str, layout: str = "hashed") -> Path:
    return dest / fid[:2] / fid if layout == "hashed" else dest / fid


def unchanged_but_links(before: dict[str, tuple], after: dict[str, tuple], linked: set[str]) -> None:
    """The source as it was; a payload hard-linked from DEST only counts one link more, with its ctime."""
    assert before.keys() == after.keys()
    for rel, was in before.items():
        now = after[rel]
        if rel in linked:
            assert now[_NLINK] == was[_NLINK] + 1, rel
            was, now = [v for i, v in enumerate(was) if i not in (_CTIME, _NLINK)], [
                v for i, v in enumerate(now) if i not in (_CTIME, _NLINK)]
        assert now == was, rel


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broken]:
    """The broken backup, with a second (older) copy of sms.db under Snapshot/."""
    work = tmp_path_factory.mktemp("stopped")
    root = work / "backup"
    info, _, status = default_plists(bundle_ids=(WHATSAPP, DIARY))
    status["SnapshotState"] = "uploading"
    write_backup(root, standard_specs(), index="none", info=info, status=status)
    sms = file_id(*SMS)
    (root / "Snapshot" / sms[:2]).mkdir(parents=True)
    (root / "Snapshot" / sms[:2] / sms).write_bytes(b"an older sms.db")
    age_atimes(root)
    index = build_index(find_backups(root), work / "index")
    yield Broken(root, index, named_files(index))
    index.close()


@dataclass
class Repaired:
    dest: Path
    stats: RepairedStats
    before: dict[str, tuple]  # the source's fingerprint just before the repaired backup was written
    after: dict[str, tuple]  # and just after
    progress: list[tuple[int, int]]  # what the progress callback was told


def repair(broken: Broken, dest: Path, link: bool | None) -> Repaired:
    before = fingerprint(broken.root)
    told: list[tuple[int, int]] = []
    stats = write_repaired_backup(broken.index, 0, broken.root, dest, link=link,
                                  progress=lambda done, total: told.append((done, total)))
    return Repaired(dest, stats, before, fingerprint(broken.root), told)


@pytest.fixture(scope="module")
def linked(stopped: Broken, tmp_path_factory: pytest.TempPathFactory) -> Repaired:
    return repair(stopped, tmp_path_factory.mktemp("linked") / "repaired", link=None)


@pytest.fixture(scope="module")
def copied(stopped: Broken, tmp_path_factory: pytest.TempPathFactory) -> Repaired:
    return repair(stopped, tmp_path_factory.mktemp("copied") / "repaired", link=False)


def test_every_named_file_has_its_row_and_its_payload(stopped, linked) -> None:
    broken, dest, stats = stopped, linked.dest, linked.stats
    result = read_manifest_db(dest / "Manifest.db")
    assert result.complete, result.problem
    rows = {r.file_id: r for r in result.records}
    assert len(rows) == len(result.records)
    files = {fid: r for fid, r in rows.items() if r.kind is Kind.FILE}
    assert files.keys() == broken.named.keys()
    assert {SMS, ("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.HEIC"),
            (f"AppDomain-{DIARY}", f"Library/Preferences/{DIARY}.plist")} <= set(broken.named.values())
    for fid, record in files.items():
        assert (record.domain, record.relative_path) == broken.named[fid]
        assert fid == file_id(record.domain, record.relative_path)
        assert record.size == placed(dest, fid).stat().st_size == broken.payload(fid).stat().st_size
        assert sha(placed(dest, fid)) == sha(broken.payload(fid))
        assert record.mode == 0o100644 and record.uid == record.gid == 501
        assert record.mtime == 1_700_000_000  # the payload's, as the index holds it
    assert sha(placed(dest, file_id(*SMS))) != hashlib.sha256(b"an older sms.db").hexdigest()  # not the Snapshot copy
    assert (stats.files, stats.symlinks, stats.manifest, stats.info_plist) == (len(files), 0, "Manifest.db", "carried over")


def test_every_parent_folder_has_a_directory_row(stopped, linked) -> None:
    broken, dest, stats = stopped, linked.dest, linked.stats
    rows = {r.file_id: r for r in read_manifest_db(dest / "Manifest.db").records}
    parents = set()
    for domain, relative_path in broken.named.values():
        parts = relative_path.split("/")
        parents |= {(domain, "/".join(parts[:depth])) for depth in range(len(parts))}
    assert ("HomeDomain", "") in parents and ("HomeDomain", "Library/SMS") in parents
    folders = {fid: r for fid, r in rows.items() if r.kind is Kind.DIR}
    assert {(r.domain, r.relative_path) for r in folders.values()} == parents
    for fid, record in folders.items():
        assert fid == file_id(record.domain, record.relative_path)
        assert record.mode == 0o040755 and record.size == 0
    assert stats.folders == len(parents)


def test_unnamed_payloads_are_kept_outside_the_manifest(stopped, linked) -> None:
    broken, dest, stats = stopped, linked.dest, linked.stats
    source = {p.file_id for p in list_payloads(broken.root)}  # the Snapshot copy shares its fileID
    written = {p.file_id for p in list_payloads(dest)}
    assert written == source
    assert len(list_payloads(dest)) == len(source)  # each payload exactly once
    unnamed = source - broken.named.keys()
    assert len(unnamed) == stats.unnamed == 9
    for fid in unnamed:
        assert sha(placed(dest, fid)) == sha(broken.payload(fid))
    assert not unnamed & {r.file_id for r in read_manifest_db(dest / "Manifest.db").records}


def test_payloads_are_hard_links_on_the_same_file_system_and_the_source_stays_as_it_was(stopped, linked) -> None:
    broken, dest, stats = stopped, linked.dest, linked.stats
    for payload in list_payloads(dest):
        assert os.stat(dest / payload.relpath).st_ino == broken.payload(payload.file_id).stat().st_ino
    assert (stats.linked, stats.copied, stats.bytes_copied, stats.skipped) == (len(list_payloads(dest)), 0, 0, {})
    assert len(linked.progress) == stats.linked and linked.progress[-1] == (stats.bytes, stats.bytes)
    assert [done for done, _ in linked.progress] == sorted(done for done, _ in linked.progress)
    links = {f"./{p.relpath}" for p in list_payloads(dest)}
    unchanged_but_links(linked.before, linked.after, links)


def test_copies_when_asked_have_the_same_bytes_and_mtimes_and_leave_the_source_untouched(stopped, copied) -> None:
    broken, dest, stats = stopped, copied.dest, copied.stats
    assert stats.linked == 0 and stats.copied == len(list_payloads(dest)) and stats.bytes_copied == stats.bytes
    for payload in list_payloads(dest):
        mine, theirs = os.stat(dest / payload.relpath), broken.payload(payload.file_id).stat()
        assert mine.st_ino != theirs.st_ino and mine.st_nlink == 1
        assert mine.st_mtime_ns == theirs.st_mtime_ns and stat.S_IMODE(mine.st_mode) == 0o644
        assert sha(dest / payload.relpath) == sha(broken.payload(payload.file_id))
    assert copied.after == copied.before


def test_the_plists_say_a_finished_unencrypted_backup_of_the_same_device(stopped, copied) -> None:
    broken, dest = stopped, copied.dest
    assert (dest / "Info.plist").read_bytes() == (broken.root / "Info.plist").read_bytes()
    info = plistlib.loads((dest / "Info.plist").read_bytes())
    manifest = plistlib.loads((dest / "Manifest.plist").read_bytes())
    status = plistlib.loads((dest / "Status.plist").read_bytes())
    assert manifest["IsEncrypted"] is False and manifest["Version"] == "10.0"
    assert manifest["Date"] == info["Last Backup Date"] == status["Date"]
    assert manifest["Lockdown"] == {
        "ProductVersion": "17.1", "ProductType": info["Product Type"], "BuildVersion": info["Build Version"],
        "DeviceName": "Test iPhone", "SerialNumber": info["Serial Number"], "UniqueDeviceID": info["Unique Identifier"],
    }
    assert set(manifest["Applications"]) == {WHATSAPP, DIARY}
    assert status["SnapshotState"] == "finished" and status["BackupState"] == "new" and status["Version"] == "3.3"
    assert status["IsFullBackup"] is False and len(status["UUID"]) == 36


def test_pyiosbackup_lists_the_files_and_reads_sms_db(stopped, copied) -> None:
    broken, dest = stopped, copied.dest
    backup = PyiosBackup.from_path(dest)
    assert {e.file_id: (e.domain, e.relative_path) for e in backup.iter_files()} == broken.named
    entry = backup.get_entry_by_domain_and_path(*SMS)
    assert entry.read_bytes() == broken.payload(file_id(*SMS)).read_bytes()


def test_iosbackup_lists_the_files_and_reads_sms_db(tmp_path: Path) -> None:
    """iOSbackup needs Manifest.plist's keybag: here the backup lost its index but kept Manifest.plist."""
    broken = broken_backup(tmp_path / "backup", tmp_path / "index", manifest_plist=True)
    write_repaired_backup(broken.index, 0, broken.root, tmp_path / "backups" / "repaired")
    reader = iOSbackup(udid="repaired", backuproot=str(tmp_path / "backups"))
    listed = {(f["domain"], f["name"]) for f in reader.getBackupFilesList() if f["flags"] == 1}
    assert listed == set(broken.named.values())
    copy = reader.getFileDecryptedCopy(relativePath=SMS[1], targetFolder=str(tmp_path), targetName="sms.db")
    assert Path(copy["decryptedFilePath"]).read_bytes() == broken.payload(file_id(*SMS)).read_bytes()
    assert plistlib.loads((tmp_path / "backups" / "repaired" / "Manifest.plist").read_bytes())["BackupKeyBag"] == KEYBAG


def test_mvt_checks_the_repaired_backup_and_its_manifest_module_lists_every_named_file(stopped, copied, mvt_ios, tmp_path) -> None:
    broken, dest = stopped, copied.dest
    before = fingerprint(broken.root)
    out = tmp_path / "mvt"
    ran = subprocess.run([mvt_ios, "check-backup", "--output", out, dest], check=False, capture_output=True, text=True,
                         timeout=600)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    rows = json.loads((out / "manifest.json").read_text())
    assert {r["file_id"]: (r["domain"], r["relative_path"]) for r in rows if r["flags"] == 1} == broken.named
    assert not [r for r in rows if r.get("missing")]
    assert all(r["file_id"] == file_id(r["domain"], r["relative_path"]) for r in rows)
    assert json.loads((out / "sms.json").read_text())  # it found sms.db where the manifest says, and read it
    assert fingerprint(broken.root) == before


def test_an_intact_index_gives_its_metadata_folders_and_links(tmp_path: Path) -> None:
    """Where the backup's own index survived, its rows come back as they were (the Size as the payload's)."""
    odd = roundtrip_specs() + [  # names the mount shows escaped: the repaired backup has them as they were
        PayloadSpec("Odd/Domain", "x", kind=Kind.DIR), PayloadSpec("Odd/Domain", "x/y.txt", b"a domain with a slash"),
        PayloadSpec("other-data", "images", kind=Kind.DIR), PayloadSpec("other-data", "images/x.jpg", b"like the folder"),
        PayloadSpec("HomeDomain", "Library/tab\there", kind=Kind.DIR),
        PayloadSpec("HomeDomain", "Library/tab\there/f", b"a control character in a folder's name"),
    ]
    taken = {(spec.domain, spec.relative_path) for spec in odd}
    specs = odd + [spec for spec in standard_specs() if (spec.domain, spec.relative_path) not in taken]
    broken = broken_backup(tmp_path / "backup", tmp_path / "index", specs=specs, index="db")
    original = {r.file_id: r for r in read_manifest_db(broken.root / "Manifest.db").records}
    stats = write_repaired_backup(broken.index, 0, broken.root, tmp_path / "repaired")
    rows = {r.file_id: r for r in read_manifest_db(tmp_path / "repaired" / "Manifest.db").records}
    assert original.keys() <= rows.keys()
    for fid, was in original.items():
        now = rows[fid]
        assert (now.domain, now.relative_path, now.kind, now.mode, now.mtime, now.target) == (
            was.domain, was.relative_path, was.kind, was.mode, was.mtime, was.target), was.relative_path
        if was.kind is Kind.FILE:
            assert now.size == broken.payload(fid).stat().st_size
    short = rows[file_id("AppDomain-com.example", "Documents/short.bin")]
    assert (short.size, original[short.file_id].size) == (3, 10)  # the payload is cut short: its own size counts
    assert rows[file_id("CameraRollDomain", next(s.relative_path for s in roundtrip_specs() if s.mode))].mode == 0o100600
    assert stats.symlinks == 2 and stats.unnamed == 0


def test_a_flat_backup_of_ios_9_gets_a_manifest_mbdb(tmp_path: Path) -> None:
    broken = broken_backup(tmp_path / "backup", tmp_path / "index", layout="flat", ios="9.3")
    dest = tmp_path / "repaired"
    stats = write_repaired_backup(broken.index, 0, broken.root, dest, link=False)
    assert stats.manifest == "Manifest.mbdb" and not (dest / "Manifest.db").exists()
    result = read_manifest_mbdb(dest / "Manifest.mbdb")
    assert result.complete
    files = {r.file_id: r for r in result.records if r.kind is Kind.FILE}
    assert {fid: (r.domain, r.relative_path) for fid, r in files.items()} == broken.named
    assert all(r.size == (dest / fid).stat().st_size for fid, r in files.items())
    assert ("HomeDomain", "") in {(r.domain, r.relative_path) for r in result.records if r.kind is Kind.DIR}
    assert not [p for p in dest.iterdir() if p.is_dir()]  # flat: every payload in the folder itself
    assert plistlib.loads((dest / "Manifest.plist").read_bytes())["Lockdown"]["ProductVersion"] == "9.3"
    backup = PyiosBackup.from_path(dest)  # reads Manifest.mbdb for iOS 10.2 and older
    assert {e.file_id for e in backup.iter_files()} == broken.named.keys()
    assert backup.get_entry_by_domain_and_path(*SMS).read_bytes() == broken.payload(file_id(*SMS)).read_bytes()


def test_info_plist_is_rebuilt_when_the_sources_is_damaged(tmp_path: Path) -> None:
    broken = broken_backup(tmp_path / "backup", tmp_path / "index", manifest_plist=True)
    (broken.root / "Info.plist").write_bytes(b"bplist00\x00\x01garbage")
    stats = write_repaired_backup(broken.index, 0, broken.root, tmp_path / "repaired")
    info = plistlib.loads((tmp_path / "repaired" / "Info.plist").read_bytes())
    assert stats.info_plist == "rebuilt"
    assert info["Device Name"] == "Test iPhone" and info["Product Version"] == "17.1"  # from Manifest.plist's Lockdown
    assert info["Unique Identifier"] == info["Target Identifier"] == "00008030-001A2B3C4D5E6F70"
    assert set(info["Installed Applications"]) == {WHATSAPP, DIARY}


def test_a_payload_planted_as_a_link_is_left_out(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"not the backup's")
    root = tmp_path / "backup"
    broken = broken_backup(root, tmp_path / "index")
    sms = file_id(*SMS)
    (root / sms[:2] / sms).unlink()
    (root / sms[:2] / sms).symlink_to(secret)
    index = build_index(find_backups(root), tmp_path / "index2")
    dest = tmp_path / "repaired"
    stats = write_repaired_backup(index, 0, root, dest)
    assert sms in stats.skipped and not os.path.lexists(dest / sms[:2] / sms)
    assert sms not in {r.file_id for r in read_manifest_db(dest / "Manifest.db").records}
    assert secret.stat().st_nlink == 1
    assert broken.named.keys() - {sms} <= {r.file_id for r in read_manifest_db(dest / "Manifest.db").records}


def test_across_file_systems_payloads_are_copied(stopped, tmp_path: Path) -> None:
    broken = stopped
    before = fingerprint(broken.root)
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == broken.root.stat().st_dev:
        pytest.skip("no second file system at /dev/shm")
    dest = shm / f"backupfs-repaired-{os.getpid()}"
    try:
        with pytest.raises(BackupfsError, match="another file system"):
            write_repaired_backup(broken.index, 0, broken.root, dest, link=True)
        assert not dest.exists()
        stats = write_repaired_backup(broken.index, 0, broken.root, dest)
        assert stats.linked == 0 and stats.copied == len(list_payloads(dest)) > 0
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    assert fingerprint(broken.root) == before


def test_refuses_a_dest_inside_the_source_or_not_empty(stopped, tmp_path: Path) -> None:
    broken = stopped
    before = fingerprint(broken.root)
    for inside in (broken.root, broken.root / "repaired", broken.root / "Snapshot" / "x"):
        with pytest.raises(BackupfsError, match="inside the backup"):
            write_repaired_backup(broken.index, 0, broken.root, inside)
    full = tmp_path / "full"
    full.mkdir()
    (full / "something").write_text("mine")
    with pytest.raises(BackupfsError, match="is not empty"):
        write_repaired_backup(broken.index, 0, broken.root, full)
    with pytest.raises(BackupfsError, match="not a folder"):
        write_repaired_backup(broken.index, 0, broken.root, full / "something")
    assert (full / "something").read_text() == "mine"
    assert fingerprint(broken.root) == before


def test_refuses_an_encrypted_backup(tmp_path: Path) -> None:
    info, manifest, status = default_plists(encrypted=True)
    root = tmp_path / "backup"
    write_backup(root, standard_specs(), index="none", info=info, manifest_plist=manifest, status=status)
    index = build_index(find_backups(root), tmp_path / "index")
    with pytest.raises(BackupfsError, match="encrypted backup: a repaired backup of an encrypted one is not supported yet"):
        write_repaired_backup(index, 0, root, tmp_path / "repaired")
    assert not (tmp_path / "repaired").exists()


@pytest.mark.parametrize("own_index", ["none", "db"])
def test_the_layout_is_the_same_before_the_index_is_complete(tmp_path: Path, own_index: str) -> None:
    """A mount's index still filling in (metadata in the manifest copy, other-data untyped) gives the same backup."""
    broken = broken_backup(tmp_path / "backup", tmp_path / "index", index=own_index)
    later = build_index(find_backups(broken.root), tmp_path / "later", complete_later=True)
    assert later.pending_dirs and later.unread_count()
    early, done = repaired_layout(later, 0), repaired_layout(broken.index, 0)
    assert early.records == done.records and early.sources == done.sources
    assert sorted(early.unnamed) == sorted(done.unnamed)
    assert len(early.records) > len(broken.named)

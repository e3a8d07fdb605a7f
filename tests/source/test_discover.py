"""Finding backups under what a user gives, and listing their payloads, on hand-built trees."""

from __future__ import annotations

import hashlib
import json
import os
import plistlib
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from test_plists import INFO, MANIFEST, STATUS, deadline, write_plist

from backupfs.errors import NotABackupError
from backupfs.source.discover import Backup, find_backups
from backupfs.source.payloads import UNSTATED, Layout, Payload
from tests.backups import fingerprint

REPO = Path(__file__).resolve().parents[2]
SMS = "3d0d7e5fb2ce288813306e4d4636395e047a3d28"  # SHA1("HomeDomain-Library/SMS/sms.db")


def fid(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def make_backup(
    root: Path,
    *,
    layout: Layout = Layout.HASHED,
    device: str | None = "Anna's iPhone",
    udid: str = "00008030-001A2B3C4D5E6F70",
    date: datetime | None = datetime(2024, 3, 1, 9, 30),
    payloads: dict[str, bytes] | None = None,
    index: bool = True,
    plists: bool = True,
) -> Path:
    """A backup folder as iTunes/Finder leaves it: plists, an index, payloads in ``layout``."""
    root.mkdir(parents=True, exist_ok=True)
    if plists:
        info = {**INFO, "Unique Identifier": udid, "Target Identifier": udid}
        info.pop("Device Name")
        info.pop("Display Name")
        info.pop("Last Backup Date")
        if device is not None:
            info["Device Name"] = device
        if date is not None:
            info["Last Backup Date"] = date
        info["Product Version"] = "17.3" if layout is Layout.HASHED else "9.3"
        manifest = {**MANIFEST, "Lockdown": {"ProductVersion": info["Product Version"]}}
        manifest.pop("Date")
        status = {k: v for k, v in STATUS.items() if k != "Date"}
        write_plist(root / "Info.plist", info, plistlib.FMT_XML)
        write_plist(root / "Manifest.plist", manifest, plistlib.FMT_BINARY)
        write_plist(root / "Status.plist", status, plistlib.FMT_BINARY)
    if index:
        if layout is Layout.HASHED:
            with sqlite3.connect(root / "Manifest.db") as db:
                db.execute(
                    "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB)"
                )
                db.execute("INSERT INTO Files VALUES (?, 'HomeDomain', 'Library/SMS/sms.db', 1, NULL)", (SMS,))
            db.close()
        else:
            (root / "Manifest.mbdb").write_bytes(b"mbdb\x05\x00")
    for name, data in (payloads if payloads is not None else {SMS: b"SQLite format 3\0" + bytes(100)}).items():
        path = root / name[:2] / name if layout is Layout.HASHED else root / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    return root


def listed(backup: Backup) -> dict[str, Payload]:
    return {p.relpath: p for p in backup.payloads()}


# ---------------------------------------------------------------- payload listing


def test_hashed_payloads_are_listed_without_a_stat(tmp_path: Path) -> None:
    ids = [fid(f"HomeDomain-file{i}") for i in range(20)]
    root = make_backup(tmp_path / "b", payloads={i: i.encode() * (n + 1) for n, i in enumerate(ids)})
    [backup] = find_backups(root)
    assert backup.layout is Layout.HASHED
    assert backup.index_path == root / "Manifest.db" and backup.index_format == "db"
    payloads = listed(backup)
    assert set(payloads) == {f"{i[:2]}/{i}" for i in ids}
    for n, i in enumerate(ids):
        p = payloads[f"{i[:2]}/{i}"]
        # The listing's file type is enough to name a payload; size and time are read when shown.
        assert (p.file_id, p.size, p.mtime_ns, stat.S_IFMT(p.st_mode)) == (i, UNSTATED, UNSTATED, stat.S_IFREG)


def test_flat_layout_with_mbdb(tmp_path: Path) -> None:
    ids = [fid(f"MediaDomain-m{i}") for i in range(5)]
    root = make_backup(tmp_path / "b", layout=Layout.FLAT, payloads={i: b"x" for i in ids})
    [backup] = find_backups(root)
    assert backup.layout is Layout.FLAT
    assert backup.index_path == root / "Manifest.mbdb" and backup.index_format == "mbdb"
    assert set(listed(backup)) == set(ids)


def test_names_that_are_not_payloads_are_ignored(tmp_path: Path) -> None:
    root = make_backup(tmp_path / "b")
    junk = [
        SMS.upper(),  # iOS writes lowercase only
        SMS[:39],
        SMS + "0",
        SMS + ".mddata",
        "g" + SMS[1:],
        ".DS_Store",
        "Manifest.db-wal",
    ]
    for name in junk:
        (root / name).write_bytes(b"j")
        (root / "3d" / name).write_bytes(b"j")
    (root / "zz").mkdir()
    (root / "zz" / fid("x")).write_bytes(b"j")  # not a 2-hex bucket
    (root / "3D").mkdir()
    (root / "3D" / SMS).write_bytes(b"j")  # uppercase bucket
    (root / "3d" / fid("HomeDomain-a-folder")).mkdir()  # a folder named like a payload
    [backup] = find_backups(root)
    assert set(listed(backup)) == {f"3d/{SMS}"}


def test_payload_in_the_wrong_bucket_is_still_listed(tmp_path: Path) -> None:
    stray = "ff" + SMS[2:]
    root = make_backup(tmp_path / "b", payloads={SMS: b"a"})
    (root / "3d" / stray).write_bytes(b"b")
    [backup] = find_backups(root)
    assert set(listed(backup)) == {f"3d/{SMS}", f"3d/{stray}"}
    assert listed(backup)[f"3d/{stray}"].file_id == stray


def test_both_layouts_in_one_backup_are_listed(tmp_path: Path) -> None:
    flat = fid("HomeDomain-flat")
    root = make_backup(tmp_path / "b")
    (root / flat).write_bytes(b"flat")
    [backup] = find_backups(root)
    assert set(listed(backup)) == {f"3d/{SMS}", flat}


def test_snapshot_payloads_are_listed_in_both_layouts(tmp_path: Path) -> None:
    root = make_backup(tmp_path / "b")
    hashed, flat = fid("HomeDomain-snap1"), fid("HomeDomain-snap2")
    (root / "Snapshot" / hashed[:2]).mkdir(parents=True)
    (root / "Snapshot" / hashed[:2] / hashed).write_bytes(b"s1")
    (root / "Snapshot" / flat).write_bytes(b"s2")
    (root / "Snapshot" / "Manifest.db").write_bytes(b"")
    [backup] = find_backups(root)
    assert set(listed(backup)) == {f"3d/{SMS}", f"Snapshot/{hashed[:2]}/{hashed}", f"Snapshot/{flat}"}


def test_failed_backup_with_only_a_snapshot_is_found(tmp_path: Path) -> None:
    root = tmp_path / "b"
    hashed = fid("HomeDomain-snap")
    (root / "Snapshot" / hashed[:2]).mkdir(parents=True)
    (root / "Snapshot" / hashed[:2] / hashed).write_bytes(b"s")
    [backup] = find_backups(root)
    assert backup.root == root
    assert set(listed(backup)) == {f"Snapshot/{hashed[:2]}/{hashed}"}


def test_special_files_are_listed_but_never_opened(tmp_path: Path) -> None:
    root = make_backup(tmp_path / "b")
    fifo, link, flat_fifo = fid("fifo"), fid("link"), fid("flat-fifo")
    os.makedirs(root / fifo[:2], exist_ok=True)
    os.mkfifo(root / fifo[:2] / fifo)
    os.makedirs(root / link[:2], exist_ok=True)
    os.symlink("/etc/passwd", root / link[:2] / link)
    os.mkfifo(root / flat_fifo)
    with deadline(10):
        [backup] = find_backups(root)
        payloads = listed(backup)
    assert stat.S_ISFIFO(payloads[f"{fifo[:2]}/{fifo}"].st_mode)
    assert stat.S_ISFIFO(payloads[flat_fifo].st_mode)
    assert stat.S_ISLNK(payloads[f"{link[:2]}/{link}"].st_mode)
    assert payloads[f"{fifo[:2]}/{fifo}"].size == 0  # stat'ed: the listing cannot tell a FIFO's type


def test_symlinked_folders_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside_id = fid("outside")
    (outside / outside_id[:2]).mkdir(parents=True)
    (outside / outside_id[:2] / outside_id).write_bytes(b"o")
    (outside / outside_id).write_bytes(b"o")
    root = make_backup(tmp_path / "b")
    os.symlink(outside / outside_id[:2], root / outside_id[:2])  # a bucket that is a link
    os.symlink(outside, root / "Snapshot")
    [backup] = find_backups(root)
    assert set(listed(backup)) == {f"3d/{SMS}"}


def test_layout_and_index_choice_without_payloads(tmp_path: Path) -> None:
    old = make_backup(tmp_path / "old", layout=Layout.FLAT, payloads={}, index=False)
    new = make_backup(tmp_path / "new", payloads={}, index=False)
    assert find_backups(old)[0].layout is Layout.FLAT  # from ProductVersion 9.3
    assert find_backups(new)[0].layout is Layout.HASHED
    assert find_backups(new)[0].index_path is None and find_backups(new)[0].index_format is None


def test_manifest_db_is_preferred_and_a_symlinked_index_is_ignored(tmp_path: Path) -> None:
    root = make_backup(tmp_path / "b")
    (root / "Manifest.mbdb").write_bytes(b"mbdb\x05\x00")
    assert find_backups(root)[0].index_format == "db"
    (root / "Manifest.db").unlink()
    (root / "Manifest.db").symlink_to(tmp_path / "elsewhere.db")
    [backup] = find_backups(root)
    assert (backup.index_path, backup.index_format) == (root / "Manifest.mbdb", "mbdb")
    assert "Manifest.db is a symbolic link; it was ignored." in backup.info.notes


# ---------------------------------------------------------------- finding backups


def test_backup_with_only_payloads_is_found_in_either_layout(tmp_path: Path) -> None:
    hashed = make_backup(tmp_path / "h", plists=False, index=False)
    flat = make_backup(tmp_path / "f", layout=Layout.FLAT, plists=False, index=False)
    assert find_backups(hashed)[0].root == hashed
    assert find_backups(flat)[0].root == flat
    assert find_backups(flat)[0].layout is Layout.FLAT


@pytest.mark.parametrize("marker", ["Info.plist", "Manifest.plist", "Status.plist", "Manifest.db", "Manifest.mbdb"])
def test_any_root_file_marks_a_backup_even_empty(tmp_path: Path, marker: str) -> None:
    (tmp_path / marker).write_bytes(b"")
    [backup] = find_backups(tmp_path)
    assert backup.root == tmp_path
    assert list(backup.payloads()) == []


def test_backup_nested_one_level_down(tmp_path: Path) -> None:
    root = make_backup(tmp_path / "copy" / "00008030-001A2B3C4D5E6F70")
    (tmp_path / "copy" / "readme.txt").write_text("my phone")
    [backup] = find_backups(tmp_path / "copy")
    assert backup.root == root


def test_backup_folder_with_several_devices_sorted_by_display_name(tmp_path: Path) -> None:
    backup_dir = tmp_path / "MobileSync" / "Backup"
    make_backup(backup_dir / ("b" * 40), device="Zoe's iPad", udid="b" * 40)
    make_backup(backup_dir / "00008030-001A2B3C4D5E6F70", device="Anna's iPhone")
    make_backup(backup_dir / "00008030-001A2B3C4D5E6F70-20230101-120000", device="Anna's iPhone",
                date=datetime(2023, 1, 1, 12))
    (backup_dir / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    names = ["Anna's iPhone 2023-01-01 00008030", "Anna's iPhone 2024-03-01 00008030", "Zoe's iPad 2024-03-01 bbbbbbbb"]
    assert [b.display_name() for b in find_backups(backup_dir)] == names
    # the MobileSync folder holds them two levels down
    assert [b.display_name() for b in find_backups(tmp_path / "MobileSync")] == names
    assert [b.display_name() for b in find_backups(str(tmp_path / "MobileSync"))] == names


def test_symlinked_device_folder_in_a_backup_folder_is_found(tmp_path: Path) -> None:
    real = make_backup(tmp_path / "external" / "dev")
    (tmp_path / "Backup").mkdir()
    (tmp_path / "Backup" / "dev").symlink_to(real)
    [backup] = find_backups(tmp_path / "Backup")
    assert set(listed(backup)) == {f"3d/{SMS}"}


def _message(path: Path | str) -> str:
    with pytest.raises(NotABackupError) as caught:
        find_backups(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_missing_path(tmp_path: Path) -> None:
    message = _message(tmp_path / "nope")
    assert str(tmp_path / "nope") in message and "does not exist" in message


def test_a_file_of_a_backup_names_the_backup_folder(tmp_path: Path) -> None:
    root = make_backup(tmp_path / "b")
    for path in (root / "Manifest.db", root / "Info.plist", root / "3d" / SMS):
        message = _message(path)
        assert message == f"{path} is a file of a backup, not the backup itself: give the backup folder, {root}"


def test_a_bucket_folder_is_not_taken_for_a_flat_backup(tmp_path: Path) -> None:
    """Its payloads look like an iOS 5-9 backup's; mounting it would show one folder's worth of files."""
    root = make_backup(tmp_path / "b")
    assert _message(root / "3d") == (
        f"{root / '3d'} is one of the folders 00 to ff inside a backup, not the backup itself: "
        f"give the backup folder that holds it, {root}"
    )


def test_an_unrelated_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    message = _message(tmp_path / "notes.txt")
    assert "is a file, not a folder" in message


def test_an_empty_folder(tmp_path: Path) -> None:
    message = _message(tmp_path)
    assert f"{tmp_path} is empty" in message


def test_a_folder_of_unrelated_files(tmp_path: Path) -> None:
    (tmp_path / "photos" / "2024").mkdir(parents=True)
    (tmp_path / "photos" / "2024" / "IMG_0001.JPG").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "ab").mkdir()  # a 2-hex folder holding no payload
    (tmp_path / "ab" / "readme").write_text("x")
    (tmp_path / ("c" * 40)).mkdir()  # a device-id-like folder holding nothing of a backup
    message = _message(tmp_path)
    assert message == (
        f"No iOS backup found in {tmp_path}: give the folder of one backup (named by the device id, it holds "
        "Manifest.plist and folders 00 to ff) or the MobileSync Backup folder that holds several. Finder and iTunes "
        "keep them in ~/Library/Application Support/MobileSync/Backup on a Mac, and in "
        "%APPDATA%\\Apple Computer\\MobileSync\\Backup on Windows (%USERPROFILE%\\Apple\\MobileSync\\Backup with "
        "iTunes from the Microsoft Store); on Linux, look in those folders on the Mac's or PC's disk, or where "
        "idevicebackup2 was told to write."
    )


def _run_without_read_permission(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` where file permissions apply (root here ignores them without this)."""
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv to drop root's permission override")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, cwd=REPO)


@pytest.fixture
def locked_tree() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="backupfs-perm-"))
    try:
        yield base
    finally:
        for folder, _, _ in os.walk(base):
            os.chmod(folder, 0o755)
        shutil.rmtree(base)


def test_permission_denied_on_the_given_folder(locked_tree: Path) -> None:
    make_backup(locked_tree / "b")
    os.chmod(locked_tree / "b", 0)
    result = _run_without_read_permission(
        "from backupfs.source.discover import find_backups\nfrom backupfs.errors import NotABackupError\n"
        f"try:\n    find_backups({str(locked_tree / 'b')!r})\nexcept NotABackupError as e:\n    print(e)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Permission denied reading {locked_tree / 'b'}:")


def test_permission_denied_on_the_only_device_folder(locked_tree: Path) -> None:
    make_backup(locked_tree / "Backup" / "dev")
    os.chmod(locked_tree / "Backup" / "dev", 0)
    result = _run_without_read_permission(
        "from backupfs.source.discover import find_backups\nfrom backupfs.errors import NotABackupError\n"
        f"try:\n    find_backups({str(locked_tree / 'Backup')!r})\nexcept NotABackupError as e:\n    print(e)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Permission denied reading {locked_tree / 'Backup' / 'dev'}:")


def test_unreadable_bucket_is_skipped(locked_tree: Path) -> None:
    other = fid("HomeDomain-other")
    root = make_backup(locked_tree / "b", payloads={SMS: b"a", other: b"b"})
    os.chmod(root / other[:2], 0)
    result = _run_without_read_permission(
        "import json\nfrom backupfs.source.discover import find_backups\n"
        f"[b] = find_backups({str(root)!r})\nprint(json.dumps(sorted(p.relpath for p in b.payloads())))\n"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [f"3d/{SMS}"]
    assert "cannot list" in result.stderr


# ---------------------------------------------------------------- naming and identity


def test_display_name_is_safe_and_falls_back(tmp_path: Path) -> None:
    weird = make_backup(tmp_path / "w")
    info = plistlib.loads((weird / "Info.plist").read_bytes())
    write_plist(weird / "Info.plist", {**info, "Device Name": "../Bob/\0phone\n"}, plistlib.FMT_BINARY)
    assert find_backups(weird)[0].display_name() == ".._Bob__phone 2024-03-01 00008030"
    bare = make_backup(tmp_path / "device-folder", plists=False)
    assert find_backups(bare)[0].display_name() == "device-folder"
    long = make_backup(tmp_path / "l", device="é" * 300)
    assert len(find_backups(long)[0].display_name().encode()) <= 200
    no_name = make_backup(tmp_path / "n", device=None, date=None, udid="e" * 40)
    assert find_backups(no_name)[0].display_name() == "iPhone14,2 eeeeeeee"  # Product Type stands in
    (tmp_path / "dot").mkdir()
    write_plist(tmp_path / "dot" / "Info.plist", {"Device Name": ".."})
    assert find_backups(tmp_path / "dot")[0].display_name() == "dot"


def test_identity_is_stable_and_distinguishes_copies(tmp_path: Path) -> None:
    a = make_backup(tmp_path / "a")
    b = make_backup(tmp_path / "b")
    first = find_backups(a)[0].identity()
    assert first == find_backups(a)[0].identity()
    (tmp_path / "x").mkdir()
    assert first == find_backups(tmp_path / "x" / ".." / "a")[0].identity()  # same folder, other spelling
    assert first != find_backups(b)[0].identity()
    write_plist(a / "Info.plist", {"Unique Identifier": "f" * 40})
    assert first != find_backups(a)[0].identity()


def test_dates_are_shown_in_utc(tmp_path: Path) -> None:
    root = make_backup(tmp_path / "b", date=datetime(2024, 3, 1, 23, 59))
    [backup] = find_backups(root)
    assert backup.info.last_backup_date == datetime(2024, 3, 1, 23, 59, tzinfo=timezone.utc)
    assert "2024-03-01" in backup.display_name()


# ---------------------------------------------------------------- the source is never touched


def test_source_tree_is_unchanged_after_everything(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("O_NOATIME (needed to fingerprint without touching atimes) requires owning every file")
    top = tmp_path / "MobileSync"
    outside = tmp_path / "outside.plist"
    write_plist(outside, {"Device Name": "EVIL"})
    hashed = make_backup(top / "Backup" / "00008030-001A2B3C4D5E6F70")
    flat = make_backup(top / "Backup" / ("a" * 40), layout=Layout.FLAT, udid="a" * 40, device="Old iPhone")
    (hashed / "Status.plist").unlink()
    (hashed / "Status.plist").symlink_to(outside)
    (hashed / "Info.plist").write_bytes(plistlib.dumps(INFO, fmt=plistlib.FMT_BINARY)[:50])
    fifo = fid("fifo")
    os.makedirs(hashed / fifo[:2], exist_ok=True)
    os.mkfifo(hashed / fifo[:2] / fifo)
    os.mkfifo(flat / fid("flat-fifo"))
    (hashed / "Snapshot" / "3d").mkdir(parents=True)
    (hashed / "Snapshot" / "3d" / SMS).write_bytes(b"snap")
    (flat / "Manifest.plist").write_bytes(b"")
    old = 1_000_000_000_000_000_000
    for path in [top, outside, *top.rglob("*")]:
        st = os.lstat(path)
        os.utime(path, ns=(old, st.st_mtime_ns), follow_symlinks=False)

    before = fingerprint(tmp_path)
    with deadline(30):
        for given in (top, top / "Backup", hashed, flat, hashed / "Manifest.db", tmp_path / "missing"):
            try:
                backups = find_backups(given)
            except NotABackupError:
                continue
            for backup in backups:
                list(backup.payloads())
                backup.display_name()
                backup.identity()
    after = fingerprint(tmp_path)
    assert after == before
    assert before["./MobileSync"][3] == old  # the check really covers atimes

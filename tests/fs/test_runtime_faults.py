"""Real mounts meeting the faults of real life (issue 5, items 5 to 7).

Input that is no backup, an encrypted backup without its index, a source that goes away
while mounted (an unplugged disk), a filesystem process killed under its mount, Ctrl-C and
SIGTERM to a foreground mount, unusable mount points, and many readers at once: each goes
through the real command line and a real FUSE mount.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from backupfs.demo.writer import PayloadSpec
from backupfs.index.store import Index
from backupfs.source.manifest.records import file_id
from backupfs.source.mounttable import is_mounted
from tests.backups import BuiltBackup, build, fingerprint, standard_specs
from tests.conftest import alive, completion_processes, run_cli, walk_outside_readable, within

SQLITE_MAGIC = b"SQLite format 3\x00"
XATTR_FILEID = "user.backupfs.fileid"
NOTES_QUERY = "SELECT count(*), sum(length(body)), max(body) FROM note"
# Generous: a healthy mount answers in milliseconds; only a hang gets anywhere near this.
DEADLINE = 15.0


# -- helpers ---------------------------------------------------------------------------


@pytest.fixture
def unmount_later() -> Iterator[list[Path]]:
    """Mount points (FUSE or a test's own tmpfs) to take down at teardown, newest first."""
    mounted: list[Path] = []
    yield mounted
    for mountpoint in reversed(mounted):
        if is_mounted(mountpoint):
            run_cli("unmount", mountpoint, check=False)
        if is_mounted(mountpoint):
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)
    assert not [m for m in mounted if is_mounted(m)]


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``backupfs: error:`` line a failed command must print, and nothing else."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("backupfs: error: "), result.stderr
    return lines[0]


def mount_cli(source: Path, mountpoint: Path, index_dir: Path, unmount_later: list[Path]) -> Path:
    mountpoint.mkdir(exist_ok=True)
    unmount_later.append(mountpoint)
    run_cli("mount", source, mountpoint, "--index-dir", index_dir)
    assert is_mounted(mountpoint)
    return mountpoint


def read_all(path: Path) -> bytes:
    with open(path, "rb", buffering=0) as handle:
        return handle.read()


def read_outcome(path: Path) -> bytes | int:
    """The file's bytes, or the errno reading it failed with; never a hang."""

    def attempt() -> bytes | int:
        try:
            return read_all(path)
        except OSError as exc:
            return exc.errno or -1

    return within(DEADLINE, attempt)  # type: ignore[return-value]


def tree(mnt: Path) -> dict[str, tuple[int, int, int, str | None]]:
    """Every entry under ``mnt``: file type, size, mtime, and the fileid xattr of files."""
    entries: dict[str, tuple[int, int, int, str | None]] = {}
    for folder, dirs, files in walk_outside_readable(mnt):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            fid = None
            if stat.S_ISREG(st.st_mode) and XATTR_FILEID in os.listxattr(path):  # a notice has no payload
                fid = os.getxattr(path, XATTR_FILEID).decode()
            entries[os.path.relpath(path, mnt)] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, fid)
    return entries


def file_ids(entries: dict[str, tuple[int, int, int, str | None]]) -> dict[str, str]:
    """Path -> fileid of the files of a :func:`tree`."""
    return {path: fid for path, (*_, fid) in entries.items() if fid}


def expected_bytes(backup: BuiltBackup) -> dict[str, bytes]:
    """What the test wrote, by fileid."""
    return {file_id(s.domain, s.relative_path): s.content or b"" for s in backup.files}


def filesystem_pids(mnt: Path) -> list[int]:
    """The processes serving ``mnt``: found by their command line, which names the mount point."""
    wanted = os.fsencode(mnt)
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            args = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
            if wanted in args and b"mount" in args:
                pids.append(int(name))
    return pids


def wait_until_gone(pid: int) -> None:
    """Until ``pid`` has exited (gone, or a zombie nobody has reaped yet)."""
    for _ in range(200):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} did not exit")


def stale_errno(mnt: Path) -> int:
    """How the mount fails once its process is dead: ENOTCONN, "Transport endpoint is not connected".

    ``statvfs`` always asks the filesystem (a ``stat`` may be answered from the kernel's
    cache). Until the last thread of the killed process is gone, a request may still be
    aborted with ECONNABORTED instead.
    """
    for _ in range(100):
        try:
            os.statvfs(mnt)
        except OSError as exc:
            if exc.errno != errno.ECONNABORTED:
                return exc.errno or -1
        else:
            raise AssertionError(f"{mnt} still answers")
        time.sleep(0.05)
    return errno.ECONNABORTED


def wait_until_settled(index_dir: Path) -> None:
    """Until the mount's background completion of the index is done, so a fault hits a finished index."""
    for _ in range(150):
        files = list(index_dir.glob("*.index.sqlite"))
        if len(files) == 1:
            index = Index(files[0])
            done = not index.pending_dirs and index.unread_count() == 0
            index.close()
            if done:
                return
        time.sleep(0.1)
    raise AssertionError(f"the index in {index_dir} was never completed")


def wal_database(folder: Path, rows: int) -> tuple[bytes, bytes, list[tuple]]:
    """A WAL-mode database of several hundred KB whose later half lives only in its ``-wal``.

    Returns the main file, the ``-wal``, and SQLite's own answer to :data:`NOTES_QUERY` on both.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "notes.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)")
    rng = random.Random(11)
    for half in (range(rows // 2), range(rows // 2, rows)):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO note VALUES (?, ?)", ((n, rng.randbytes(700).hex()) for n in half))
        conn.execute("COMMIT")
        if half.start == 0:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    main, wal = path.read_bytes(), Path(f"{path}-wal").read_bytes()
    expected = conn.execute(NOTES_QUERY).fetchall()
    conn.close()
    return main, wal, expected


# -- item 5: not a backup, encrypted without index ----------------------------------------


WHAT_TO_GIVE = "give the folder of one backup (named by the device id, it holds Manifest.plist and folders 00 to ff)"
NOT_BACKUPS = {  # what is given to `mount`, and what the one line must say about it ({backup}: the backup folder)
    "empty": f"is empty: {WHAT_TO_GIVE}",
    "unrelated": "No iOS backup found in",
    "single-file": "is a file, not a folder",
    "file-of-a-backup": "is a file of a backup, not the backup itself: give the backup folder, {backup}",
    "payload-in-a-bucket": "is a file of a backup, not the backup itself: give the backup folder, {backup}",
    "bucket-folder": "is one of the folders 00 to ff inside a backup, not the backup itself: give the backup "
    "folder that holds it, {backup}",
    "missing": f"does not exist: {WHAT_TO_GIVE}",
    "backupfs-mount": "is a backupfs mount, which shows a backup but is not one: give the backup folder itself, "
    "{backup}",
    "inside-a-backupfs-mount": "is inside the backupfs mount {mounted}, which shows a backup but is not one: give "
    "the backup folder itself, {backup}",
}
WHERE_BACKUPS_ARE = (  # every "not a backup" line but those naming the backup folder ends with the usual places
    "~/Library/Application Support/MobileSync/Backup on a Mac",
    "%APPDATA%\\Apple Computer\\MobileSync\\Backup on Windows",
    "%USERPROFILE%\\Apple\\MobileSync\\Backup with iTunes from the Microsoft Store",
)


@pytest.mark.parametrize("case", NOT_BACKUPS)
def test_mount_refuses_what_is_not_a_backup_in_one_line(tmp_path, index_dir, mount, case):
    documents = tmp_path / "Documents"
    (documents / "taxes").mkdir(parents=True)
    (documents / "notes.txt").write_text("shopping list\n")
    (documents / "taxes" / "2023.pdf").write_bytes(b"%PDF-1.7\n" + bytes(300))
    (tmp_path / "empty").mkdir()
    backup = build(tmp_path / "backup", index="none")
    payload = backup.payload_path(backup.files[0])
    mounted = mount(backup.root) if "backupfs-mount" in case else None
    source = {
        "empty": tmp_path / "empty",
        "unrelated": documents,
        "single-file": documents / "notes.txt",
        "file-of-a-backup": backup.root / "Info.plist",
        "payload-in-a-bucket": payload,
        "bucket-folder": payload.parent,
        "missing": tmp_path / "missing",
        "backupfs-mount": mounted,
        "inside-a-backupfs-mount": mounted and mounted / "other-data",
    }[case]
    expected = NOT_BACKUPS[case].format(backup=backup.root, mounted=mounted)
    before = fingerprint(tmp_path / "Documents"), fingerprint(tmp_path / "empty"), fingerprint(backup.root)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    for foreground in ([], ["-f"]):
        line = one_error_line(run_cli("mount", *foreground, source, mnt, "--index-dir", index_dir, check=False))
        assert expected in line and str(source) in line, line
        assert not is_mounted(mnt) and not any(mnt.iterdir())
        if "{backup}" not in NOT_BACKUPS[case]:
            assert all(place in line for place in WHERE_BACKUPS_ARE), line
    # `info` says the same thing, word for word.
    assert one_error_line(run_cli("info", source, "--index-dir", index_dir, check=False)) == line
    assert (fingerprint(tmp_path / "Documents"), fingerprint(tmp_path / "empty"), fingerprint(backup.root)) == before


def test_a_stopped_backupfs_mount_given_as_a_backup_says_to_unmount_it(tmp_path, index_dir, mount):
    backup = build(tmp_path / "backup")
    mounted = mount(backup.root)
    [pid] = filesystem_pids(mounted)
    os.kill(pid, signal.SIGKILL)  # "Transport endpoint is not connected" from now on
    wait_until_gone(pid)
    line = one_error_line(run_cli("info", mounted, "--index-dir", index_dir, check=False))
    assert line == (
        f"backupfs: error: {mounted} is a backupfs mount, whose filesystem has stopped: run 'backupfs unmount "
        f"{mounted}', then give the backup folder itself."
    )


def test_mount_explains_an_encrypted_backup_without_index_and_still_mounts(tmp_path, index_dir, unmount_later):
    backup = build(tmp_path / "src", index="none", encrypted=True)
    before = fingerprint(backup.root)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    unmount_later.append(mnt)
    result = run_cli("mount", backup.root, mnt, "--index-dir", index_dir)
    assert "Traceback" not in result.stderr
    explanation = [line for line in result.stderr.splitlines() if "encrypted" in line]
    assert len(explanation) == 1, result.stderr
    assert explanation[0].startswith("backupfs: note: ")
    assert "Manifest.db" in explanation[0] and "cannot be recovered" in explanation[0]
    assert is_mounted(mnt)
    shown = set(file_ids(tree(mnt)).values())
    assert shown == set(expected_bytes(backup))  # every payload is there, as encrypted bytes
    run_cli("unmount", mnt)
    assert not is_mounted(mnt)
    assert fingerprint(backup.root) == before


# -- item 6a: the source goes away while mounted -----------------------------------------

VANISHINGS = [
    ("tmpfs-unplugged", "none"),  # the disk holding the backup is gone (a lazy unmount of its filesystem)
    ("tmpfs-unplugged", "db"),
    ("folder-renamed", "db"),
    ("folder-removed", "none"),
    ("payloads-removed", "db"),  # some payloads deleted, the rest still there
]


@pytest.mark.parametrize(("fault", "index"), VANISHINGS)
def test_source_vanishing_while_mounted(tmp_path, index_dir, unmount_later, fault, index):
    disk = tmp_path / "disk"
    disk.mkdir()
    if fault == "tmpfs-unplugged":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "backupfs-test-disk", str(disk)], check=True)
        unmount_later.append(disk)
    backup = build(disk / "backup", index=index)
    mnt = mount_cli(backup.root, tmp_path / "mnt", index_dir, unmount_later)
    wait_until_settled(index_dir)
    want = expected_bytes(backup)
    by_fid = {file_id(s.domain, s.relative_path): s for s in backup.files}
    before_tree = tree(mnt)
    files = sorted(file_ids(before_tree).items())
    assert {fid for _, fid in files} == set(want)
    # A database is shown through a view (its header patched, its -wal merged in): its
    # reference is what the mount showed before the fault.
    databases = {path for path, fid in files if want[fid].startswith(SQLITE_MAGIC)}
    reference = {path: read_all(mnt / path) if path in databases else want[fid] for path, fid in files}
    plain = [(path, fid) for path, fid in files if path not in databases]
    read_first, to_remove = plain[0::3], plain[1::3]
    for path, _ in read_first:
        assert read_all(mnt / path) == reference[path], path
    read = {path for path, _ in read_first} | databases
    source_before = fingerprint(backup.root)

    if fault == "tmpfs-unplugged":
        subprocess.run(["umount", "-l", str(disk)], check=True)
    elif fault == "folder-renamed":
        moved = backup.root.rename(disk / "moved-away")
    elif fault == "folder-removed":
        shutil.rmtree(backup.root)
    else:
        assert any(path.endswith("-wal.raw") for path, _ in to_remove)  # a database's -wal goes too
        unlinked = [backup.payload_path(by_fid[fid]) for _, fid in to_remove]
        for payload in unlinked:
            os.unlink(payload)
    gone = {path for path, _ in to_remove} if fault == "payloads-removed" else set(reference)

    for path, _ in files:
        outcome = read_outcome(mnt / path)
        if path not in gone:
            assert outcome == reference[path], f"{path}: {outcome!r}"
        elif path not in read:
            assert outcome == errno.EIO, f"{path}: {outcome!r}"
        else:  # read before: the kernel or an open view may still have it, but never wrong bytes
            assert outcome in (reference[path], errno.EIO), f"{path}: {outcome!r}"

    assert within(DEADLINE, lambda: tree(mnt)) == before_tree  # listings and attributes come from the index
    assert is_mounted(mnt) and os.listdir(mnt)
    started = time.monotonic()
    result = run_cli("unmount", mnt)
    assert result.returncode == 0 and not result.stderr and time.monotonic() - started < DEADLINE
    assert not is_mounted(mnt) and os.listdir(mnt) == []
    if fault == "folder-renamed":  # the rename changed the folder's own ctime, nothing else
        assert {k: v for k, v in fingerprint(moved).items() if k != "."} == {
            k: v for k, v in source_before.items() if k != "."
        }
    elif fault == "payloads-removed":  # the other files are untouched (folders changed by the unlinks)
        after = fingerprint(backup.root)
        keys = {"./" + payload.relative_to(backup.root).as_posix() for payload in unlinked}
        assert keys and keys <= set(source_before) and not keys & set(after)
        files_before = {k: v for k, v in source_before.items() if stat.S_ISREG(v[0]) and k not in keys}
        assert files_before == {k: v for k, v in after.items() if stat.S_ISREG(v[0])}


# -- item 6b: a stale mount --------------------------------------------------------------


def test_killed_filesystem_leaves_a_stale_mount_that_unmount_cleans_up(tmp_path, index_dir, unmount_later):
    backup = build(tmp_path / "src")
    before = fingerprint(backup.root)
    mnt = mount_cli(backup.root, tmp_path / "mnt", index_dir, unmount_later)
    photo = mnt / "CameraRollDomain/Media/DCIM/100APPLE/IMG_0002.JPG"
    held = open(photo, "rb")  # a program still holding a file of the mount
    held.read(10)
    pids = filesystem_pids(mnt)
    assert len(pids) == 1, pids
    os.kill(pids[0], signal.SIGKILL)
    wait_until_gone(pids[0])
    assert stale_errno(mnt) == errno.ENOTCONN
    assert is_mounted(mnt)

    line = one_error_line(run_cli("mount", backup.root, mnt, "--index-dir", index_dir, check=False))
    assert "already a mount point" in line and f"backupfs unmount {mnt}" in line
    line = one_error_line(run_cli("mount", backup.root, mnt / "inside", "--index-dir", index_dir, check=False))
    assert "Transport endpoint is not connected" in line

    result = run_cli("unmount", mnt)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert not is_mounted(mnt) and os.listdir(mnt) == []
    with contextlib.suppress(OSError):
        held.close()
    line = one_error_line(run_cli("unmount", mnt, check=False))
    assert "is not mounted" in line

    run_cli("mount", backup.root, mnt, "--index-dir", index_dir)  # the folder is usable again
    assert photo.read_bytes() == expected_bytes(backup)[file_id("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0002.JPG")]
    run_cli("unmount", mnt)
    assert fingerprint(backup.root) == before


def test_unmount_leaves_every_mount_but_backupfs_alone(tmp_path, index_dir, mount):
    """A mistyped 'backupfs unmount /media/usb' must not unmount a disk, even as root."""
    usb = tmp_path / "usb"
    usb.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", usb], check=True)
    try:
        (usb / "photo.jpg").write_bytes(b"\xff\xd8\xff")
        result = run_cli("unmount", usb, check=False)
        assert result.returncode == 1 and is_mounted(usb) and (usb / "photo.jpg").exists()
        assert one_error_line(result) == (
            f"backupfs: error: {usb} is not a backupfs mount (it is a tmpfs mount of tmpfs), so backupfs leaves it "
            f"alone: unmount it with 'umount {usb}' if that is what you mean."
        )
    finally:
        subprocess.run(["umount", usb], check=True)
    result = run_cli("unmount", usb, check=False)
    assert result.returncode == 1
    assert one_error_line(result) == f"backupfs: error: {usb} is not mounted: there is nothing to unmount."
    # Its own mounts it unmounts, and the marks that tell them apart cannot be overridden.
    backup = build(tmp_path / "src")
    mnt = mount(backup.root)
    result = run_cli("mount", backup.root, tmp_path / "usb", "--index-dir", index_dir, "-o", "fsname=tmpfs",
                     check=False)
    assert "-o fsname is set by backupfs itself" in one_error_line(result) and not is_mounted(usb)
    assert run_cli("unmount", mnt).returncode == 0 and not is_mounted(mnt)


# -- item 6c: signals to a foreground mount -----------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_signal_to_a_foreground_mount_unmounts_cleanly(tmp_path, index_dir, unmount_later, sig):
    # Enough unnamed payloads that the index is often still being completed when the signal comes.
    rng = random.Random(3)
    extra = [PayloadSpec("AppDomain-com.example.private", f"Documents/c/{n}", rng.randbytes(200)) for n in range(1500)]
    backup = build(tmp_path / "src", standard_specs() + extra, index="none")
    before = fingerprint(backup.root)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    unmount_later.append(mnt)
    command = [sys.executable, "-m", "backupfs", "mount", "-f", backup.root, mnt, "--index-dir", index_dir]
    # A session of its own: Ctrl-C reaches the whole foreground process group, so the signal does too.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    held = None
    try:
        sms = mnt / "HomeDomain/Library/SMS/sms.db"
        for _ in range(300):
            if is_mounted(mnt) and sms.exists():
                break
            time.sleep(0.05)
        held = open(sms, "rb")  # a program still reading the mount
        assert held.read(16) == SQLITE_MAGIC
        os.killpg(proc.pid, sig)
        _, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with contextlib.suppress(OSError):
        if held is not None:
            held.close()
    assert proc.returncode in (0, 128 + sig), (proc.returncode, err)
    assert "Traceback" not in err
    assert all(line.startswith("backupfs: note: ") for line in err.splitlines()), err
    assert not is_mounted(mnt) and os.listdir(mnt) == []
    assert not filesystem_pids(mnt)
    # Mounted again, from the index the interrupted run left, everything is there.
    again = mount_cli(backup.root, mnt, index_dir, unmount_later)
    assert set(file_ids(tree(again)).values()) == set(expected_bytes(backup))
    run_cli("unmount", again)
    assert fingerprint(backup.root) == before


# -- item 6d: unusable mount points --------------------------------------------------------


def test_unusable_mount_points_give_one_clear_line(tmp_path, index_dir, unmount_later):
    backup = build(tmp_path / "src")
    before = fingerprint(backup.root)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    live = mount_cli(backup.root, tmp_path / "live", index_dir, unmount_later)
    cases = {
        busy: "is not empty: give an empty folder to mount on",
        tmp_path / "missing": "does not exist: create it with 'mkdir -p",
        tmp_path / "missing" / "deeper": "does not exist",
        a_file: "is not a folder: give an empty folder to mount on",
        live: f"is already a mount point: run 'backupfs unmount {live}' first",
    }
    for mountpoint, hint in cases.items():
        for foreground in ([], ["-f"]):
            result = run_cli("mount", *foreground, backup.root, mountpoint, "--index-dir", index_dir, check=False)
            line = one_error_line(result)
            assert hint in line and str(mountpoint) in line, line
    assert [p.name for p in busy.iterdir()] == ["keep.txt"] and a_file.read_text() == "not a folder"
    assert not any(is_mounted(p) for p in cases if p != live)
    assert (live / "HomeDomain/Library/SMS/sms.db").is_file()  # the mount that was there is untouched

    # A mount libfuse itself refuses: its reason, in one line.
    refused = tmp_path / "refused"
    refused.mkdir()
    line = one_error_line(run_cli("mount", backup.root, refused, "--index-dir", index_dir, "-o", "nosuch_option",
                                  check=False))
    assert "could not mount on" in line and "nosuch_option" in line
    result = run_cli("mount", "-f", backup.root, refused, "--index-dir", index_dir, "-o", "nosuch_option", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr  # libfuse's own line, then ours
    assert result.stderr.splitlines()[-1].startswith(f"backupfs: error: could not mount on {refused}")
    assert not is_mounted(refused)
    run_cli("unmount", live)
    assert fingerprint(backup.root) == before


# -- item 7: many readers at once ------------------------------------------------------------


def test_many_concurrent_readers_get_exactly_the_source_bytes(tmp_path, index_dir, unmount_later):
    rng = random.Random(2024)
    notes_main, notes_wal, notes_expected = wal_database(tmp_path / "work", rows=600)
    big = rng.randbytes(3 * 1024 * 1024 + 123)
    specs = standard_specs() + [
        PayloadSpec("HomeDomain", "Library/Notes/notes.sqlite", notes_main),
        PayloadSpec("HomeDomain", "Library/Notes/notes.sqlite-wal", notes_wal),
        PayloadSpec("HomeDomain", "Media/Recordings/big.bin", big),
    ] + [PayloadSpec("AppDomain-com.example.private", f"Documents/small/{n}", rng.randbytes(n * 37)) for n in range(40)]
    backup = build(tmp_path / "src", specs, index="none")  # sizes and types completed while the readers run
    before = fingerprint(backup.root)
    mnt = mount_cli(backup.root, tmp_path / "mnt", index_dir, unmount_later)
    want = expected_bytes(backup)
    initial = tree(mnt)
    files = file_ids(initial)
    assert set(files.values()) == set(want)

    reference: dict[str, bytes] = {}
    for path, fid in files.items():
        if want[fid].startswith(SQLITE_MAGIC):  # a view: its reference is one full read taken now
            reference[path] = read_all(mnt / path)
            assert len(reference[path]) == os.stat(mnt / path).st_size
        else:
            reference[path] = want[fid]
    notes = "HomeDomain/Library/Notes/notes.sqlite"
    assert len(reference[notes]) > len(notes_main)  # the -wal's pages are merged in
    assert reference["HomeDomain/Library/Notes/notes.sqlite-wal.raw"] == notes_wal
    with sqlite3.connect(f"file:{quote(str(mnt / notes))}?mode=ro", uri=True) as conn:
        assert conn.execute(NOTES_QUERY).fetchall() == notes_expected

    paths = sorted(files)
    weights = [8 if reference[p].startswith(SQLITE_MAGIC) or len(reference[p]) > 1 << 20 else 1 for p in paths]
    stop = threading.Event()
    errors: list[str] = []
    counts = {"bytes": 0, "reads": 0, "walks": 0, "processes": 0}
    lock = threading.Lock()

    def fail(message: str) -> None:
        with lock:
            errors.append(message)
        stop.set()

    def random_reader(seed: int) -> None:
        local = random.Random(seed)
        while not stop.is_set():
            path = local.choices(paths, weights)[0]
            data = reference[path]
            try:
                fd = os.open(mnt / path, os.O_RDONLY)
                try:
                    for _ in range(local.randint(1, 6)):
                        if local.random() < 0.3:  # make the next reads reach the filesystem, not the page cache
                            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                        offset = local.randint(0, len(data) + 100)
                        size = local.choice((1, 100, 4096, 65536, 131072 + 7, local.randint(1, 400_000)))
                        got = os.pread(fd, size, offset)
                        if got != data[offset:offset + size]:
                            fail(f"{path}: {size} bytes at {offset}: got {len(got)} bytes that differ")
                            return
                        with lock:
                            counts["bytes"] += len(got)
                            counts["reads"] += 1
                finally:
                    os.close(fd)
            except OSError as exc:
                fail(f"{path}: {exc}")
                return

    links = [path for path, (kind, *_) in initial.items() if kind == stat.S_IFLNK]

    def walker() -> None:
        while not stop.is_set():
            try:
                now = tree(mnt)
                if now != initial:
                    fail(f"the tree changed: {sorted(set(now.items()) ^ set(initial.items()))[:5]}")
                    return
                for path in links:
                    os.readlink(mnt / path)
            except OSError as exc:
                fail(f"walking: {exc}")
                return
            with lock:
                counts["walks"] += 1

    def process_runner(seed: int) -> None:
        """Other programs at once: ``cat`` of whole files, and the sqlite3 shell on a merged database."""
        local = random.Random(seed)
        while not stop.is_set():
            if local.random() < 0.5:
                path = local.choices(paths, weights)[0]
                result = subprocess.run(["cat", str(mnt / path)], capture_output=True, timeout=DEADLINE)
                if result.returncode != 0 or result.stdout != reference[path]:
                    fail(f"cat {path}: status {result.returncode}, {result.stderr!r}, {len(result.stdout)} bytes")
                    return
            else:
                result = subprocess.run(["sqlite3", "-readonly", "-separator", "|", str(mnt / notes), NOTES_QUERY],
                                        capture_output=True, text=True, timeout=DEADLINE)
                expected = "|".join(map(str, notes_expected[0]))
                if result.returncode != 0 or result.stdout.strip() != expected:
                    fail(f"sqlite3 {notes}: status {result.returncode}, {result.stderr!r}")
                    return
            with lock:
                counts["processes"] += 1

    workers = [threading.Thread(target=random_reader, args=(n,)) for n in range(8)]
    workers += [threading.Thread(target=walker), *(threading.Thread(target=process_runner, args=(n,)) for n in (1, 2))]
    for worker in workers:
        worker.start()
    stop.wait(6.0)
    stop.set()
    for worker in workers:
        worker.join(timeout=DEADLINE)
    assert not any(worker.is_alive() for worker in workers), "a reader hangs"
    assert not errors, errors[:5]
    assert counts["reads"] > 200 and counts["walks"] >= 2 and counts["processes"] >= 4, counts
    run_cli("unmount", mnt)
    assert fingerprint(backup.root) == before


def test_unmount_ends_a_completion_still_running(many_unnamed, index_dir, mount):
    """A completion left running would keep reading the backup, and keep its disk busy."""
    mnt = mount(many_unnamed)  # typing 50,000 files in the background takes several seconds
    deadline = time.monotonic() + DEADLINE
    while len(running := completion_processes(index_dir)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # until typing has started its worker processes
    assert len(running) > 1, f"no completion with workers is running ({running}): the test would prove nothing"
    run_cli("unmount", mnt)
    deadline = time.monotonic() + 1.5  # the filesystem stops it as it is unmounted
    while alive(running) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(running), "the completion outlived the mount"
    assert not list(index_dir.glob("*.tmp")), "the index it was writing is left behind"

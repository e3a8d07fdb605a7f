"""Encrypted backups in real mounts: decrypted with the password, refused without it, and never on a disk.

The fixtures are real encrypted backups (keybag, wrapped keys, encrypted Manifest.db and
payloads; tests/demo/test_encrypted.py proves them with an independent reader), with tiny
iteration counts. Every command runs as a user runs it, with stdin from /dev/null so that
no terminal can be asked for a password unless a test gives one.
"""

from __future__ import annotations

import errno
import html
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from backupfs.demo import readable_messages
from backupfs.demo.encrypted import EncryptionKeys, write_encrypted_backup
from backupfs.demo.writer import PayloadSpec
from backupfs.readable.base import READABLE_FOLDER
from backupfs.source.crypto.cbc import decrypt_whole
from backupfs.source.manifest.records import Kind, file_id
from backupfs.source.mounttable import is_mounted
from tests.conftest import REPO, run_on_terminal, walk_outside_readable
from tests.encrypted_backups import (
    SMS,
    EncryptedPhone,
    changed_files,
    cli,
    encrypted_phone,
    every_file,
    secrets_in,
    token,
)

ENV = "BACKUPFS_PASSWORD"
NO_PASSWORD = {ENV: None}
TYPE, FILEID = "user.backupfs.type", "user.backupfs.fileid"
WRONG = "the password does not open this backup"
_TABLE_LEAF = 0x0D  # the page type of a table b-tree leaf, where a row of Files lives


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory) -> EncryptedPhone:
    return encrypted_phone(tmp_path_factory.mktemp("phone"), seed=1)


class Mounts:
    """``mounts(source, mountpoint, *options, env=...)`` mounts with the real CLI; all are unmounted at teardown."""

    def __init__(self) -> None:
        self.points: list[Path] = []

    def __call__(self, source: Path, mountpoint: Path, *options: str | os.PathLike[str],
                 env: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
        mountpoint.mkdir(exist_ok=True)
        result = cli("mount", source, mountpoint, *options, env=env)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        assert is_mounted(mountpoint)
        self.points.append(mountpoint)
        return result

    def unmount_all(self) -> None:
        for mountpoint in self.points:
            if is_mounted(mountpoint):
                cli("unmount", mountpoint)
            assert not is_mounted(mountpoint), f"{mountpoint} could not be unmounted"


@pytest.fixture
def mounts() -> Iterator[Mounts]:
    mounter = Mounts()
    yield mounter
    mounter.unmount_all()


def _wait_for_processes_serving(mountpoint: Path, seconds: float = 20) -> None:
    """Until no process has ``mountpoint`` on its command line: the mount's own processes have ended."""
    needle = os.fsencode(mountpoint)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        serving = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    if needle in Path(f"/proc/{entry}/cmdline").read_bytes():
                        serving.append(entry)
                except OSError:
                    continue
        if not serving:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes {serving} of the mount at {mountpoint} still run after it was unmounted")


def shown(mnt: Path, spec: PayloadSpec) -> Path:
    """Where a payload appears: its real path (a ``-wal`` as ``-wal.raw``: its pages show inside the database)."""
    path = mnt / spec.domain / spec.relative_path
    return path.with_name(path.name + ".raw") if path.name.endswith("-wal") else path


def xattr(path: Path, name: str) -> str | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False).decode()
    except OSError:
        return None


def open_ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True)


def tree(top: Path) -> dict[str, bytes | tuple[str, str]]:
    """Every file (bytes) and link (its target) under ``top``, by relative path."""
    out: dict[str, bytes | tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = Path(dirpath) / name
            key = path.relative_to(top).as_posix()
            out[key] = ("link", os.readlink(path)) if path.is_symlink() else path.read_bytes()
    return out


def password_options(how: str, password: str, folder: Path) -> tuple[list[str], dict[str, str | None]]:
    """(command-line options, environment) giving ``password`` ``how``: "env" or a file (its first line)."""
    if how == "env":
        return [], {ENV: password}
    file = folder / "password.txt"
    file.write_text(password + "\n")
    return ["--password-file", str(file)], NO_PASSWORD


@pytest.mark.parametrize("how", ["env", "file"])
def test_every_file_is_decrypted_at_its_real_path(phone, tmp_path, mounts, index_dir, how) -> None:
    options, env = password_options(how, phone.password, tmp_path)
    mnt = tmp_path / "mnt"
    mounts(phone.root, mnt, "--index-dir", index_dir, *options, env=env)
    for spec in phone.specs:
        path = shown(mnt, spec)
        if spec.kind is Kind.DIR:
            assert path.is_dir() and not path.is_symlink(), path
        elif spec.kind is Kind.SYMLINK:
            assert os.readlink(path) == spec.target, path
        else:
            data = path.read_bytes()
            assert os.stat(path).st_size == len(data), path
            assert xattr(path, FILEID) == file_id(spec.domain, spec.relative_path)
            assert xattr(path, TYPE) != "encrypted", path
            if (spec.domain, spec.relative_path) != SMS:  # the database shows with its -wal merged
                assert data == spec.content, path
    # Random access: reads that start and end inside AES blocks, anywhere in the file.
    big = next(s for s in phone.files if s.relative_path == "Media/len-1000003.bin")
    with open(shown(mnt, big), "rb") as handle:
        for offset, size in ((4095, 19), (500_007, 33), (999_990, 100), (16, 16), (1_000_003, 5)):
            assert os.pread(handle.fileno(), size, offset) == big.content[offset:offset + size], offset


@pytest.mark.parametrize("how", ["env", "file"])
def test_sqlite_opens_through_the_mount_with_the_wal_merged_and_rsync_copies_plaintext(
        phone, tmp_path, mounts, index_dir, how) -> None:
    options, env = password_options(how, phone.password, tmp_path)
    mnt = tmp_path / "mnt"
    mounts(phone.root, mnt, "--index-dir", index_dir, *options, env=env)
    conn = open_ro(mnt / SMS[0] / SMS[1])
    try:
        assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        journal_only = [row[0] for row in conn.execute(
            "SELECT text FROM message WHERE text LIKE 'Only in the journal %' ORDER BY ROWID")]
        count = conn.execute("SELECT count(*) FROM message").fetchone()[0]
    finally:
        conn.close()
    assert journal_only == phone.wal_only_texts
    assert count == len(readable_messages.ios17_sms().messages) + 3

    copy = tmp_path / "copy"
    done = subprocess.run(["rsync", "-a", f"{mnt}/", f"{copy}/"], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    copied, seen = tree(copy), tree(mnt)
    assert copied == seen
    for spec in phone.files:
        if (spec.domain, spec.relative_path) != SMS:
            assert copied[shown(mnt, spec).relative_to(mnt).as_posix()] == spec.content


@pytest.mark.parametrize("how", ["env", "file"])
def test_a_wrong_password_is_one_line_and_no_mount(phone, tmp_path, how) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    options, env = password_options(how, "not-" + phone.password, tmp_path)
    result = cli("mount", phone.root, mnt, *options, env=env)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and WRONG in lines[0], result.stderr
    assert "Traceback" not in result.stderr and not is_mounted(mnt) and not os.listdir(mnt)


def test_no_password_and_no_terminal_is_one_line_saying_how_to_give_it(phone, tmp_path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    result = cli("mount", phone.root, mnt, env=NO_PASSWORD)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert ENV in lines[0] and "--password-file" in lines[0], lines[0]
    assert "Traceback" not in result.stderr and not is_mounted(mnt) and not os.listdir(mnt)


def _field(said: str, name: str) -> str:
    """The value of ``name:`` in what ``info`` printed (the first backup's; indented sub-lines too)."""
    return next(line.split(":", 1)[1].strip() for line in said.splitlines() if line.lstrip().startswith(f"{name}:"))


def test_info_says_a_password_is_needed_and_counts_everything_with_it(phone, tmp_path, index_dir) -> None:
    locked = cli("info", phone.root, "--index-dir", index_dir, env=NO_PASSWORD)
    assert locked.returncode == 0, locked.stderr
    assert _field(locked.stdout, "Encrypted") == "yes, password needed to decrypt it"
    assert _field(locked.stdout, "Index") == "Manifest.db locked"
    assert _field(locked.stdout, "Payloads") == str(len(phone.files))

    files = len(phone.files)
    for how in ("env", "file"):
        options, env = password_options(how, phone.password, tmp_path)
        unlocked = cli("info", phone.root, "--index-dir", index_dir, *options, env=env)
        assert unlocked.returncode == 0, unlocked.stderr
        assert _field(unlocked.stdout, "Encrypted") == "yes, decrypted with its password"
        assert _field(unlocked.stdout, "Index") == f"Manifest.db intact, {len(phone.specs)} records"
        assert _field(unlocked.stdout, "Payloads") == str(files)
        assert _field(unlocked.stdout, "named") == f"{files} (manifest {files})"
        assert _field(unlocked.stdout, "unnamed") == "0"

    # On a terminal too, info never asks: it says a password is needed and ends.
    said, status = run_on_terminal("info", phone.root, "--index-dir", index_dir, seconds=60)
    assert status == 0, said
    assert "password needed to decrypt it" in said and "Password of" not in said


def test_the_readable_folder_renders_the_encrypted_sms_db(phone, tmp_path, mounts, index_dir) -> None:
    mnt = tmp_path / "mnt"
    mounts(phone.root, mnt, "--index-dir", index_dir, env={ENV: phone.password})
    pages = sorted((mnt / READABLE_FOLDER / "Messages").glob("*.html"))
    assert pages
    first = readable_messages.ios17_sms().messages[0].text  # in attributedBody only, as iOS 16+ keeps it
    texts = [html.unescape(page.read_text()) for page in pages]
    conversation = next((text for text in texts if first in text), None)
    assert conversation is not None, f"{first!r} is in no conversation"
    for late in phone.wal_only_texts:  # the same conversation holds the messages only in sms.db-wal
        assert late in conversation


def _read_everything(mnt: Path) -> int:
    """Read every file of the mount whole and every extended attribute of every entry; the files read."""
    read = 0
    for dirpath, dirnames, filenames in os.walk(mnt):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            link = os.path.islink(path)
            for attribute in os.listxattr(path, follow_symlinks=False):
                try:
                    os.getxattr(path, attribute, follow_symlinks=False)
                except OSError as error:  # Linux serves user.* attributes of files and folders only
                    if not (link and error.errno == errno.ENODATA):
                        raise
            if name in filenames and not link:
                with open(path, "rb") as handle:
                    while handle.read(1 << 20):
                        pass
                read += 1
    listing = subprocess.run(["ls", "-lR", str(mnt)], check=False, capture_output=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    return read


def test_no_plaintext_key_or_password_is_written_anywhere(tmp_path) -> None:
    """Done-when of issue 14: mounting, reading everything and unmounting leaves no secret in any file."""
    phone = encrypted_phone(tmp_path / "fixture", seed=5)
    private = {name: tmp_path / name for name in ("home", "cache", "tmp")}
    for folder in private.values():
        folder.mkdir()
    env = {"HOME": str(private["home"]), "XDG_CACHE_HOME": str(private["cache"]), "TMPDIR": str(private["tmp"]),
           ENV: phone.password}
    time.sleep(0.05)  # the fixture's files are a clock tick older than the start
    start = tmp_path / "start"
    start.touch()
    stamp = start.stat().st_mtime_ns - 1  # "-newer" is strict: a file written in the same tick is newer still
    os.utime(start, ns=(stamp, stamp))

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounted = cli("mount", phone.root, mnt, env=env)
    assert mounted.returncode == 0 and is_mounted(mnt), mounted.stderr
    try:
        read = _read_everything(mnt)
        assert read >= len(phone.files) + 2 and (mnt / READABLE_FOLDER / "Messages").is_dir()
        conn = open_ro(mnt / SMS[0] / SMS[1])
        try:
            assert conn.execute("SELECT count(*) FROM message WHERE text LIKE 'Only in%'").fetchone() == (2,)
        finally:
            conn.close()
        info = cli("info", phone.root, env=env)
        assert "decrypted with its password" in info.stdout, info.stderr
    finally:
        unmounted = cli("unmount", mnt, env=env)
    assert unmounted.returncode == 0 and not is_mounted(mnt), unmounted.stderr
    _wait_for_processes_serving(mnt)

    # Probes prove the scan reads the private folders whole and the shared ones by time.
    probes = {private["cache"] / "probe.bin": f"probe-{token()}".encode(),
              tmp_path / "probe.bin": f"probe-{token()}".encode()}
    for path, probe in probes.items():
        path.write_bytes(b"before " + probe + b" after")
    patterns = [*phone.forbidden(), *probes.values()]
    candidates = {*changed_files([Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path.cwd(), tmp_path], start)}
    for folder in private.values():
        candidates.update(every_file(folder))
    found = {path: hits for path in sorted(candidates) if (hits := secrets_in(path, patterns))}
    assert found == {path: [probe] for path, probe in probes.items()}


# ---- damaged Manifest.db ----

SALVAGE_DOMAIN = "AppDomain-org.example.salvage"


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[PayloadSpec], EncryptionKeys, str]:
    """300 files with names no catalog knows: Manifest.db spans dozens of pages."""
    mark = token()
    specs = [PayloadSpec(SALVAGE_DOMAIN, f"Documents/{n // 30:02d}/item-{n:03d}-{mark}.txt",
                         f"item {n} of {mark}\n".encode() * (1 + n % 9)) for n in range(300)]
    password = f"pw-{token()}"
    root = tmp_path_factory.mktemp("many") / "backup" / "00008030-001A2B3C4D5E6F71"
    keys = write_encrypted_backup(root, specs, password, iterations=2, dpic=2, seed=9)
    return root, specs, keys, password


def _row_pages(plain: bytes, fids: list[str]) -> tuple[int, dict[str, int]]:
    """(page size, fileID -> number of the table leaf page holding its row) of a decrypted Manifest.db."""
    raw = int.from_bytes(plain[16:18], "big")
    size = 65536 if raw == 1 else raw
    pages: dict[str, int] = {}
    for number in range(len(plain) // size):
        page = plain[number * size:(number + 1) * size]
        if page[100 if number == 0 else 0] != _TABLE_LEAF:
            continue
        for fid in fids:
            if fid.encode() in page:
                assert fid not in pages, f"{fid} is on two table leaves"
                pages[fid] = number
    assert sorted(pages) == sorted(fids)
    return size, pages


@pytest.mark.parametrize("damage", ["cut at 60%", "garbage in the middle 10%"])
def test_a_damaged_manifest_db_still_decrypts_every_row_it_holds(many, tmp_path, mounts, index_dir, damage) -> None:
    root, specs, keys, password = many
    full = (root / "Manifest.db").read_bytes()
    fids = [file_id(s.domain, s.relative_path) for s in specs]
    size, pages = _row_pages(decrypt_whole(full, keys.manifest_key), fids)
    assert len(set(pages.values())) >= 10  # several pages, so that a damage spares some and hits others
    if damage.startswith("cut"):
        cut = len(full) * 6 // 10
        damaged = full[:cut]
        spared = {p for p in pages.values() if (p + 1) * size <= cut}
    else:
        start, end = len(full) * 45 // 100, len(full) * 55 // 100
        damaged = full[:start] + random.Random(4).randbytes(end - start) + full[end:]
        # CBC: a garbage block spoils its own plaintext and the next block's, no more.
        lost_from, lost_to = start // 16 * 16, ((end - 1) // 16 + 2) * 16
        spared = {p for p in pages.values() if (p + 1) * size <= lost_from or p * size >= lost_to}
    intact = {fid for fid, page in pages.items() if page in spared}
    assert 0 < len(intact) < len(fids)

    copy = tmp_path / "copy" / root.name
    shutil.copytree(root, copy)
    (copy / "Manifest.db").write_bytes(damaged)
    mnt = tmp_path / "mnt"
    mounts(copy, mnt, "--index-dir", index_dir, env={ENV: password})

    where: dict[str, Path] = {}
    for dirpath, _, filenames in walk_outside_readable(mnt):
        for name in filenames:
            path = Path(dirpath) / name
            fid = xattr(path, FILEID)
            if fid is not None:
                assert fid not in where, f"{fid} shown twice: {where.get(fid)} and {path}"
                where[fid] = path
    assert set(fids) <= set(where), f"{len(set(fids) - set(where))} payloads are lost from view"
    for spec, fid in zip(specs, fids):
        path = where[fid]
        if fid in intact:
            assert path == mnt / spec.domain / spec.relative_path, path
            assert path.read_bytes() == spec.content, path
        elif xattr(path, TYPE) == "encrypted":  # no key left for it: marked, never passed off as the file
            relative = path.relative_to(mnt).as_posix()
            assert relative.endswith(".encrypted") or relative.startswith("other-data/encrypted/"), relative
        else:  # a row of a spoilt page that still decrypted: then it is the file itself
            assert path.read_bytes() == spec.content, path


def test_without_manifest_db_files_are_marked_encrypted_and_no_password_is_asked(phone, tmp_path, mounts,
                                                                                 index_dir) -> None:
    root = tmp_path / "gone" / phone.root.name
    write_encrypted_backup(root, phone.specs, phone.password, iterations=2, dpic=2, seed=1, manifest_db=False)
    mnt = tmp_path / "mnt"
    mounts(root, mnt, "--index-dir", index_dir, env=NO_PASSWORD)  # stdin is /dev/null: nothing could be typed
    sms = mnt / SMS[0] / (SMS[1] + ".encrypted")
    fid = file_id(*SMS)
    assert sms.is_file() and not (mnt / SMS[0] / SMS[1]).exists()
    assert xattr(sms, TYPE) == "encrypted" and xattr(sms, FILEID) == fid
    assert sms.read_bytes() == (root / fid[:2] / fid).read_bytes()  # the ciphertext, as the backup holds it
    notice = mnt / "README-backupfs.txt"
    assert notice.is_file() and "Manifest.db" in notice.read_text()
    shown_ids = set()
    for dirpath, _, filenames in walk_outside_readable(mnt):
        for name in filenames:
            path = Path(dirpath) / name
            if (fid := xattr(path, FILEID)) is not None:
                shown_ids.add(fid)
                assert xattr(path, TYPE) == "encrypted", path
                relative = path.relative_to(mnt).as_posix()
                assert relative.endswith(".encrypted") or relative.startswith("other-data/encrypted/"), relative
    assert shown_ids == set(phone.plaintext())


_WRITES = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")
_CHANGES = ("mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink", "unlinkat", "rmdir", "link", "linkat",
            "symlink", "symlinkat", "truncate", "creat")
# What a mount must open for writing, and no more: the FUSE device and the standard streams' targets.
_ALLOWED = {"/dev/fuse", "/dev/null", "/dev/tty"}


def test_no_file_is_even_opened_for_writing(tmp_path) -> None:
    """The system calls themselves, traced: mounting with the password, reading everything and unmounting
    opens no file for writing, creates, renames or removes none (a file written and deleted at once,
    such as SQLite's temporary files, leaves nothing a scan could find: this sees it)."""
    phone = encrypted_phone(tmp_path / "fixture", seed=9)
    mnt, log = tmp_path / "mnt", tmp_path / "strace.log"
    mnt.mkdir()
    environment = {**os.environ, "PYTHONPATH": str(REPO), ENV: phone.password, "PYTHONDONTWRITEBYTECODE": "1",
                   "XDG_CACHE_HOME": str(tmp_path / "cache")}
    tracer = subprocess.Popen(
        ["strace", "-f", "-qq", "-o", str(log), "-e", f"trace=open,openat,{','.join(_CHANGES)}",
         sys.executable, "-m", "backupfs", "mount", str(phone.root), str(mnt)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
    )
    try:
        deadline = time.monotonic() + 60
        while not is_mounted(mnt):
            assert tracer.poll() is None or time.monotonic() < deadline, tracer.communicate()
            assert time.monotonic() < deadline, "not mounted within 60 s"
            time.sleep(0.05)
        assert _read_everything(mnt) >= len(phone.files)
    finally:
        cli("unmount", mnt)
    tracer.communicate(timeout=60)  # strace ends with the last process it follows: the filesystem's
    calls = log.read_text().splitlines()
    assert any("openat(" in call and str(phone.root) in call for call in calls)  # it did see the backup read
    written = sorted({
        call.split('"')[1] for call in calls
        if call.split(" ", 1)[-1].startswith(("open(", "openat(")) and any(flag in call for flag in _WRITES)
        and '"' in call and "= -1" not in call
    } - _ALLOWED)
    changed = [call for call in calls if call.split(" ", 1)[-1].startswith(tuple(f"{name}(" for name in _CHANGES))
               and "= -1" not in call]
    assert written == [] and changed == [], (written, changed)

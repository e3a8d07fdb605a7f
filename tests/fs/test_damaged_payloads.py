"""Real mounts of damaged and hostile payloads, the immutability proof, and permissions.

Every case mounts through the real command line. Any step that touches the mount runs
under a timeout, so a mount that hangs fails the test instead of hanging the suite.

The machine (and CI) runs as root, which bypasses permission checks: "permission denied"
cases drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH for the mount process with setpriv,
and a mount "by another user" runs the mount process as uid/gid 65534. /dev/fuse may be
root-only (it is in our container), in which case neither that process nor fusermount3
can open it; the process therefore keeps CAP_SYS_ADMIN and CAP_DAC_OVERRIDE as ambient
capabilities, which changes nothing of what FUSE records as the mounting user.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from backupfs.demo.writer import PayloadSpec, default_plists, write_backup
from backupfs.readable.base import READABLE_FOLDER
from backupfs.source.manifest.records import Kind, file_id
from backupfs.source.mounttable import is_mounted
from tests.backups import age_atimes, build, fingerprint, standard_specs
from tests.conftest import run_cli, walk_outside_readable, within

STEP_TIMEOUT = 30.0  # any single step on the mount; a healthy one takes well under a second
PROMPT_MOUNT = 20.0  # a mount whose source holds FIFOs and sockets must be up this fast
NOBODY = 65534
DAMAGED = "AppDomain-org.backupfs.damaged"
HOSTILE = "AppDomain-org.backupfs.hostile"
SQLITE_MAGIC = b"SQLite format 3\x00"


# -- helpers -----------------------------------------------------------------------------


def setpriv(*args: str) -> list[str]:
    """A setpriv command line; fails (never skips) where util-linux's setpriv is missing."""
    tool = shutil.which("setpriv")
    assert tool, "setpriv (util-linux) is required: these tests must run the mount without root's privileges"
    return [tool, *args]


def without_dac_override() -> list[str]:
    """Run as root but subject to file permissions, as any user is."""
    caps = "-dac_override,-dac_read_search"
    return setpriv(f"--bounding-set={caps}", f"--inh-caps={caps}")


def as_user(uid: int, gid: int, *ambient: str) -> list[str]:
    """Run as ``uid``/``gid`` with no supplementary groups, keeping only the ``ambient`` capabilities."""
    args = [f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    if ambient:
        caps = ",".join(f"+{cap}" for cap in ambient)
        args += [f"--inh-caps={caps}", f"--ambient-caps={caps}"]
    return setpriv(*args)


def read_outcome(path: Path) -> bytes | int:
    """The bytes of a file of the mount, or the errno reading it gives; never waits forever."""

    def read() -> bytes | int:
        try:
            return path.read_bytes()
        except OSError as exc:
            return exc.errno or -1

    return within(STEP_TIMEOUT, what=f"reading {path}", action=read)


def by_file_id(mnt: Path) -> dict[str, Path]:
    """Every regular file of the mount, by the payload it shows (its fileid xattr)."""

    def walk() -> dict[str, Path]:
        shown: dict[str, Path] = {}
        for dirpath, _, filenames in walk_outside_readable(mnt):
            for name in filenames:
                path = Path(dirpath) / name
                if path.is_symlink():
                    continue
                try:
                    fid = os.getxattr(path, "user.backupfs.fileid", follow_symlinks=False).decode()
                except OSError:
                    continue  # a notice has no payload
                assert fid not in shown, f"{fid} shown twice: {shown.get(fid)} and {path}"
                shown[fid] = path
        return shown

    return within(STEP_TIMEOUT, what=f"walking {mnt}", action=walk)


def manifest_size(path: Path) -> str | None:
    try:
        return os.getxattr(path, "user.backupfs.manifest_size", follow_symlinks=False).decode()
    except OSError as exc:
        assert exc.errno == errno.ENODATA, exc
        return None


def mount_options(mnt: Path) -> list[str]:
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            fields = line.split()
            if fields[1] == str(mnt):
                return fields[3].split(",")
    raise AssertionError(f"{mnt} is not in /proc/self/mounts")


def payload_of(root: Path, domain: str, relative_path: str) -> Path:
    fid = file_id(domain, relative_path)
    hashed = root / fid[:2] / fid
    return hashed if os.path.lexists(hashed) else root / fid


# -- 1. damaged payloads -------------------------------------------------------------------

SHORT = random.Random(5).randbytes(1000)
LOCKED = b"a payload its owner cannot read\n" * 8
DANGLING_TARGET = "/nonexistent/backupfs-test/gone.bin"


def damaged_specs() -> list[PayloadSpec]:
    return standard_specs() + [
        PayloadSpec(DAMAGED, "Documents/zero.bin", b""),
        PayloadSpec(DAMAGED, "Documents/short.bin", SHORT, manifest_size=4096),
        PayloadSpec(DAMAGED, "Documents/locked.bin", LOCKED),
        PayloadSpec(DAMAGED, "Documents/fifo.bin", b"was a file"),
        PayloadSpec(DAMAGED, "Documents/socket.bin", b"was a file too"),
        PayloadSpec(DAMAGED, "Documents/dangling.bin", b"was a file as well"),
    ]


def make_socket(path: Path) -> None:
    """A UNIX socket file at ``path``: bound in a short folder (sun_path is 108 bytes), then moved."""
    short = Path(tempfile.mkdtemp(prefix="bfs-sock-", dir="/tmp"))
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.bind(str(short / "s"))
        os.rename(short / "s", path)
    finally:
        shutil.rmtree(short)


def damage(root: Path) -> None:
    """Turn the payloads of :func:`damaged_specs` into what a broken or odd disk holds."""
    os.chmod(payload_of(root, DAMAGED, "Documents/locked.bin"), 0)
    fifo = payload_of(root, DAMAGED, "Documents/fifo.bin")
    fifo.unlink()
    os.mkfifo(fifo)
    sock = payload_of(root, DAMAGED, "Documents/socket.bin")
    sock.unlink()
    make_socket(sock)
    dangling = payload_of(root, DAMAGED, "Documents/dangling.bin")
    dangling.unlink()
    os.symlink(DANGLING_TARGET, dangling)
    age_atimes(root)


def test_dropping_dac_capabilities_makes_root_obey_permissions(tmp_path):
    locked = tmp_path / "locked"
    locked.write_bytes(b"secret")
    locked.chmod(0)
    probe = [sys.executable, "-c", f"open({str(locked)!r}, 'rb').read()"]
    assert subprocess.run(probe, capture_output=True, timeout=STEP_TIMEOUT).returncode == 0  # root reads anything
    dropped = subprocess.run([*without_dac_override(), *probe], capture_output=True, text=True, timeout=STEP_TIMEOUT)
    assert dropped.returncode != 0 and "PermissionError" in dropped.stderr, dropped.stderr


@pytest.mark.parametrize("index", ["db", "none"])
def test_damaged_payloads_are_shown_and_never_hang_or_break_the_mount(tmp_path, mount, index):
    backup = build(tmp_path / "src", damaged_specs(), index=index)
    damage(backup.root)
    before = fingerprint(backup.root)
    mnt = tmp_path / "mnt"
    mount(backup.root, at=mnt, index_dir=tmp_path / "idx", prefix=without_dac_override())
    assert mount.seconds < PROMPT_MOUNT, f"mounting took {mount.seconds:.1f} s"
    shown = by_file_id(mnt)
    assert set(shown) == {file_id(s.domain, s.relative_path) for s in backup.files}, "a damaged payload is missing"

    def case(relative_path: str) -> Path:
        return shown[file_id(DAMAGED, relative_path)]

    zero = case("Documents/zero.bin")
    assert zero.stat().st_size == 0 and read_outcome(zero) == b"" and manifest_size(zero) is None

    short = case("Documents/short.bin")
    assert short.stat().st_size == len(SHORT), "the real size, never the recorded one"
    assert read_outcome(short) == SHORT
    assert manifest_size(short) == ("4096" if index == "db" else None)

    locked = case("Documents/locked.bin")
    assert locked.stat().st_size == len(LOCKED) and os.listdir(locked.parent)
    assert read_outcome(locked) in (errno.EACCES, errno.EIO)

    for name in ("fifo.bin", "socket.bin"):
        special = case(f"Documents/{name}")
        assert stat.S_ISREG(special.stat().st_mode) and special.stat().st_size == 0
        assert read_outcome(special) == errno.EIO, name
    assert manifest_size(case("Documents/fifo.bin")) == ("10" if index == "db" else None)

    dangling = case("Documents/dangling.bin")
    assert dangling.stat().st_size == 0, "a link payload reads nothing: its target's length is no size"
    assert read_outcome(dangling) == errno.EIO

    # The mount is still up and every other file reads byte-identical.
    for spec in backup.files:
        if spec.domain == DAMAGED:
            continue
        path = shown[file_id(spec.domain, spec.relative_path)]
        data = read_outcome(path)
        assert isinstance(data, bytes), f"{path}: errno {data}"
        if data.startswith(SQLITE_MAGIC):  # a database is shown through a view (see sqlite_view)
            with sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",), path
        else:
            assert data == spec.content, path
    assert is_mounted(mnt)

    info = run_cli("info", backup.root, "--index-dir", tmp_path / "info-idx").stdout
    if index == "db":  # short, FIFO, socket and link differ from their rows; zero and locked do not
        assert "truncated:  4 payloads are shorter than the size the index records" in info, info
    else:
        assert "truncated" not in info
    run_cli("unmount", mnt)
    assert fingerprint(backup.root) == before


# -- 4. symlinks planted among the payloads ----------------------------------------------

SECRET = b"bytes from OUTSIDE the backup, never to be served\n" * 20


def hostile_specs() -> tuple[list[PayloadSpec], str]:
    """The standard phone plus payloads to be replaced by links; and a path whose bucket is its own."""
    specs = standard_specs() + [
        PayloadSpec(HOSTILE, "Documents/passwd", b"to become a link to /etc/passwd"),
        PayloadSpec(HOSTILE, "Documents/secret-absolute", b"to become an absolute link"),
        PayloadSpec(HOSTILE, "Documents/secret-relative", b"to become a relative link"),
        PayloadSpec(HOSTILE, "Documents/inner", b"to become a link to another payload"),
    ]
    taken = {file_id(s.domain, s.relative_path)[:2] for s in specs if s.kind is Kind.FILE}
    alone = next(
        f"Documents/bucket-{n}" for n in range(1000)
        if file_id(HOSTILE, f"Documents/bucket-{n}")[:2] not in taken
    )
    return specs + [PayloadSpec(HOSTILE, alone, b"its bucket becomes a link")], alone


def plant_links(root: Path, outside: Path, alone: str) -> None:
    secret = outside / "secret.bin"
    links = {
        "Documents/passwd": "/etc/passwd",
        "Documents/secret-absolute": str(secret),
        "Documents/secret-relative": os.path.relpath(secret, payload_of(root, HOSTILE, "Documents/secret-relative").parent),
        "Documents/inner": os.path.relpath(
            payload_of(root, "HomeDomain", "Library/Preferences/com.apple.Maps.plist"),
            payload_of(root, HOSTILE, "Documents/inner").parent,
        ),
    }
    for relative_path, target in links.items():
        payload = payload_of(root, HOSTILE, relative_path)
        payload.unlink()
        os.symlink(target, payload)
    # A whole bucket folder replaced by a link to a folder outside holding a file of the right name.
    fid = file_id(HOSTILE, alone)
    shutil.rmtree(root / fid[:2])
    (outside / "bucket").mkdir()
    (outside / "bucket" / fid).write_bytes(SECRET)
    os.symlink(outside / "bucket", root / fid[:2])
    age_atimes(root)


@pytest.mark.parametrize("index", ["db", "none"])
def test_payload_links_are_never_followed_out_of_the_source(tmp_path, mount, index):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.bin").write_bytes(SECRET)
    specs, alone = hostile_specs()
    backup = build(tmp_path / "src", specs, index=index)
    plant_links(backup.root, outside, alone)
    passwd = Path("/etc/passwd").read_bytes()
    before = fingerprint(backup.root), fingerprint(outside)
    mnt = tmp_path / "mnt"
    mount(backup.root, at=mnt, index_dir=tmp_path / "idx")
    shown = by_file_id(mnt)
    for relative_path in ("Documents/passwd", "Documents/secret-absolute", "Documents/secret-relative", "Documents/inner"):
        path = shown[file_id(HOSTILE, relative_path)]
        assert not path.is_symlink() and path.is_file(), "a payload link is shown as a plain file"
        assert read_outcome(path) == errno.EIO, relative_path
    assert file_id(HOSTILE, alone) not in shown, "a payload behind a linked bucket folder is shown"

    # Nothing anywhere in the mount serves the outside bytes, and no link leads out of it.
    links = []
    for dirpath, dirnames, filenames in within(STEP_TIMEOUT, what="walking the mount", action=lambda: list(os.walk(mnt))):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                links.append((path.relative_to(mnt).as_posix(), os.readlink(path)))
            elif path.is_file():
                data = read_outcome(path)
                if isinstance(data, bytes):
                    assert data != passwd and SECRET[:40] not in data, path
    expected_links = (
        [("HomeDomain/Library/Preferences/link-to-maps.plist", "com.apple.Maps.plist")] if index == "db" else []
    )
    assert links == expected_links  # only an index's own symlink rows, whose targets are text
    run_cli("unmount", mnt)
    assert (fingerprint(backup.root), fingerprint(outside)) == before


@pytest.mark.parametrize("index", ["db", "none"])
def test_a_bucket_folder_swapped_for_a_link_while_mounted_is_not_followed(tmp_path, mount, index):
    """An unplugged-and-replaced disk, or another program, turns a bucket into a link after the listing."""
    backup = build(tmp_path / "src", index=index)
    mnt = tmp_path / "mnt"
    mount(backup.root, at=mnt, index_dir=tmp_path / "idx")
    shown = by_file_id(mnt)
    spec = next(s for s in backup.files if s.domain == "HomeDomain" and s.relative_path.endswith(".plist"))
    fid = file_id(spec.domain, spec.relative_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    for sibling in (backup.root / fid[:2]).iterdir():  # every payload of the bucket, as a decoy
        (outside / sibling.name).write_bytes(SECRET)
    (backup.root / fid[:2]).rename(tmp_path / "moved-bucket")
    os.symlink(outside, backup.root / fid[:2])
    assert (backup.root / fid[:2] / fid).read_bytes() == SECRET  # the path alone now leads outside
    assert read_outcome(shown[fid]) == errno.EIO  # never opened before: the open walks the folders
    assert is_mounted(mnt)


# -- 8. immutability proof -----------------------------------------------------------------


def add_live_wal(database: Path) -> None:
    """Leave ``database`` as a crash leaves it: committed rows still only in its -wal, -shm beside it."""
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA wal_autocheckpoint=0")
    main = database.read_bytes()
    with conn:
        conn.execute("INSERT INTO Properties VALUES ('backupfs-test', x'01')")
    sidecars = {suffix: database.with_name(database.name + suffix).read_bytes() for suffix in ("-wal", "-shm")}
    conn.close()  # checkpoints and deletes the sidecars: put back what was on disk before
    database.write_bytes(main)
    for suffix, data in sidecars.items():
        database.with_name(database.name + suffix).write_bytes(data)


def assert_atimes_are_observable(tmp_path: Path) -> None:
    """On a noatime filesystem the atime half of the proof would silently prove nothing."""
    control = tmp_path / "atime-control"
    control.write_bytes(b"x")
    os.utime(control, ns=(0, os.lstat(control).st_mtime_ns))
    atime = os.lstat(control).st_atime_ns
    control.read_bytes()
    assert os.lstat(control).st_atime_ns != atime, f"{tmp_path} does not record atimes: the immutability test cannot work"


@pytest.mark.parametrize(("layout", "index"), [("hashed", "db"), ("hashed", "none"), ("flat", "mbdb")])
def test_a_whole_session_changes_nothing_in_or_beside_the_source(tmp_path, mount, index_dir, layout, index):
    assert_atimes_are_observable(tmp_path)
    outer = tmp_path / "Backup"  # the source and its siblings' folder: nothing may appear here either
    root = outer / "00008030-001A2B3C4D5E6F70"
    info, manifest, status = default_plists(bundle_ids=("net.whatsapp.WhatsApp",))
    write_backup(root, standard_specs(), layout=layout, index=index, index_wal=index == "db",
                 info=info, manifest_plist=manifest, status=status)
    if index == "db":
        add_live_wal(root / "Manifest.db")
    age_atimes(outer)
    before = fingerprint(outer)

    run_cli("info", root, "--index-dir", index_dir)
    mnt = mount(root)
    listing = within(STEP_TIMEOUT, what="walking the mount", action=lambda: list(os.walk(mnt)))
    files = [Path(d) / f for d, _, names in listing for f in names]
    rendered = [path for path in files if READABLE_FOLDER in path.parts and path.suffix in (".html", ".vcf", ".csv")]
    assert rendered, "the session must render the readable folder's files too"
    databases = 0
    for path in files:
        within(STEP_TIMEOUT, what=f"stat {path}", action=lambda: (os.lstat(path), os.listxattr(path, follow_symlinks=False)))
        if path.is_symlink():
            continue
        data = read_outcome(path)
        assert isinstance(data, bytes), f"{path}: errno {data}"
        if data.startswith(SQLITE_MAGIC):
            def query() -> None:
                with sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True) as conn:
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
                conn.close()

            within(STEP_TIMEOUT, what=f"querying {path}", action=query)
            databases += 1
    assert databases >= 3, "the session must open the WAL sms.db, the address book and the app database"
    subprocess.run(["rsync", "-a", f"{mnt}/HomeDomain/", str(tmp_path / "rsynced")], check=True, timeout=STEP_TIMEOUT)
    run_cli("report", root, "--index-dir", index_dir)
    run_cli("unmount", mnt)

    after = fingerprint(outer)
    appeared = sorted(set(after) - set(before))
    assert not appeared, f"files appeared in or beside the source: {appeared}"
    changed = {name: (before[name], after.get(name)) for name in before if after.get(name) != before[name]}
    assert not changed, f"the session changed the source: {changed}"


# -- 10. permissions -----------------------------------------------------------------------

CHECKER = r'''
import errno, json, os, sys

mnt, sample_file, sample_dir = sys.argv[1:4]
entries, reads, writes = [], {}, {}
for dirpath, dirnames, filenames in os.walk(mnt):
    if dirpath == mnt:
        entries.append([".", *(lambda s: (s.st_uid, s.st_gid, s.st_mode))(os.lstat(mnt))])
    for name in dirnames + filenames:
        path = os.path.join(dirpath, name)
        st = os.lstat(path)
        rel = os.path.relpath(path, mnt)
        entries.append([rel, st.st_uid, st.st_gid, st.st_mode])
        if name in filenames and not os.path.islink(path):
            try:
                with open(path, "rb") as handle:
                    reads[rel] = len(handle.read())
            except OSError as exc:
                reads[rel] = errno.errorcode[exc.errno]
file, folder = os.path.join(mnt, sample_file), os.path.join(mnt, sample_dir)
attempts = {
    "open for writing": lambda: open(file, "r+b"),
    "append": lambda: open(file, "ab"),
    "create": lambda: open(os.path.join(folder, "new.txt"), "xb"),
    "mkdir": lambda: os.mkdir(os.path.join(folder, "newdir")),
    "chmod": lambda: os.chmod(file, 0o777),
    "chown": lambda: os.chown(file, os.getuid(), os.getgid()),
    "unlink": lambda: os.unlink(file),
    "rmdir": lambda: os.rmdir(folder),
    "rename": lambda: os.rename(file, os.path.join(folder, "moved")),
    "utime": lambda: os.utime(file, (0, 0)),
    "truncate": lambda: os.truncate(file, 0),
    "setxattr": lambda: os.setxattr(file, "user.test", b"1"),
    "symlink": lambda: os.symlink("x", os.path.join(folder, "link")),
    "link": lambda: os.link(file, os.path.join(folder, "hard")),
}
for what, attempt in attempts.items():
    try:
        attempt()
        writes[what] = "allowed"
    except OSError as exc:
        writes[what] = errno.errorcode[exc.errno]
print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "entries": entries, "reads": reads, "writes": writes}))
'''

SAMPLE_FILE = "HomeDomain/Library/Preferences/com.apple.Maps.plist"
SAMPLE_DIR = "HomeDomain/Library/Preferences"
ODD_MODES = {  # rows whose recorded permissions must not leak into the mount as they are
    "Documents/setuid.bin": 0o4755,
    "Documents/world-writable.bin": 0o666,
    "Documents/no-permissions.bin": 0o000,
    "Documents/private.bin": 0o600,
}


def permission_specs() -> list[PayloadSpec]:
    return standard_specs() + [
        PayloadSpec(HOSTILE, relative_path, f"mode {mode:o}\n".encode(), mode=mode)
        for relative_path, mode in ODD_MODES.items()
    ]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder every user can reach (the test's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="backupfs-perm-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    for mnt in folder.glob("mnt*"):
        if is_mounted(mnt):
            run_cli("unmount", mnt, check=False)
    shutil.rmtree(folder, ignore_errors=True)


def checker_python(shared: Path, uid: int, gid: int) -> str:
    """An interpreter that user can run (ours may live in root's private home)."""
    for candidate in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        probe = subprocess.run([*as_user(uid, gid), candidate, "-c", "pass"], capture_output=True, timeout=STEP_TIMEOUT, cwd=shared)
        if probe.returncode == 0:
            return candidate
    raise AssertionError(f"no Python interpreter can be run by uid {uid}: the permission checks cannot run")


def check_as(shared: Path, mnt: Path, uid: int, gid: int) -> dict[str, Any]:
    """What user ``uid``/``gid`` (no capabilities, no groups) sees and may do in the mount."""
    script = shared / "checker.py"
    script.write_text(CHECKER)
    script.chmod(0o644)
    command = [*as_user(uid, gid), checker_python(shared, uid, gid), str(script), str(mnt), SAMPLE_FILE, SAMPLE_DIR]
    result = subprocess.run(command, capture_output=True, text=True, timeout=STEP_TIMEOUT * 2, cwd=shared)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def refused_to(uid: int, gid: int, mnt: Path) -> bool:
    """True when that user cannot even stat the mount (FUSE without allow_other)."""
    probe = subprocess.run([*as_user(uid, gid), "stat", str(mnt / "HomeDomain")], capture_output=True, text=True,
                           timeout=STEP_TIMEOUT)
    return probe.returncode != 0 and "Permission denied" in probe.stderr


def assert_read_only_and_owned(seen: dict[str, Any], uid: int, gid: int) -> None:
    assert (seen["uid"], seen["gid"]) == (uid, gid)
    assert len(seen["entries"]) > 30
    for rel, st_uid, st_gid, mode in seen["entries"]:
        assert (st_uid, st_gid) == (uid, gid), f"{rel} owned by {st_uid}:{st_gid}"
        if stat.S_ISLNK(mode):
            continue  # a link's mode means nothing on Linux: always 0o777
        assert mode & 0o222 == 0, f"{rel} shown writable ({mode:o})"
        assert mode & 0o6000 == 0, f"{rel} shown setuid/setgid ({mode:o})"
        assert mode & 0o400, f"{rel} not readable by its owner ({mode:o})"
    for what, outcome in seen["writes"].items():
        assert outcome in ("EROFS", "EACCES"), f"{what}: {outcome}"


@pytest.mark.parametrize("mounted_by", ["root", "nobody"])
def test_mount_is_private_read_only_and_owned_by_the_mounting_user(shared_dir, mount, mounted_by):
    uid = gid = 0 if mounted_by == "root" else NOBODY
    other = NOBODY if mounted_by == "root" else 0
    backup = build(shared_dir / "src", permission_specs())
    index_dir, mnt = shared_dir / "idx", shared_dir / "mnt"
    prefix: list[str] = []
    if mounted_by == "nobody":
        index_dir.mkdir()
        mnt.mkdir()
        for path in [index_dir, mnt, backup.root, *backup.root.rglob("*")]:
            os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
        prefix = as_user(NOBODY, NOBODY, "sys_admin", "dac_override", "dac_read_search")
    before = fingerprint(backup.root)
    mount(backup.root, at=mnt, index_dir=index_dir, prefix=prefix)

    options = mount_options(mnt)
    assert "allow_other" not in options and "ro" in options
    assert {"nosuid", "nodev", f"user_id={uid}", f"group_id={gid}"} <= set(options), options
    seen = check_as(shared_dir, mnt, uid, gid)
    assert_read_only_and_owned(seen, uid, gid)
    for rel, outcome in seen["reads"].items():
        assert isinstance(outcome, int), f"the owner cannot read {rel}: {outcome}"
    assert refused_to(other, other, mnt), "another user reaches a mount made without allow_other"
    run_cli("unmount", mnt)
    assert fingerprint(backup.root) == before


def test_allow_other_shows_the_mount_to_every_user_read_only(shared_dir, mount):
    backup = build(shared_dir / "src", permission_specs())
    mnt = shared_dir / "mnt"
    mount(backup.root, "-o", "allow_other", at=mnt, index_dir=shared_dir / "idx")
    assert "allow_other" in mount_options(mnt)
    seen = check_as(shared_dir, mnt, NOBODY, NOBODY)
    for rel, st_uid, st_gid, mode in seen["entries"]:
        assert (st_uid, st_gid) == (0, 0) and (mode & 0o222 == 0 or stat.S_ISLNK(mode)), rel
    assert seen["writes"] and all(outcome in ("EROFS", "EACCES") for outcome in seen["writes"].values())
    # What allow_other exposes: everything the recorded permissions let "others" read.
    private = {f"{HOSTILE}/{rel}" for rel in ("Documents/private.bin", "Documents/no-permissions.bin")}
    for rel, outcome in seen["reads"].items():
        if rel in private:
            assert outcome == "EACCES", f"{rel}: {outcome}"
        else:
            assert isinstance(outcome, int), f"{rel}: {outcome}"
    assert private <= set(seen["reads"])

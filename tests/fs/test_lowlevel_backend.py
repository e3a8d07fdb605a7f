"""The low-level backend (libfuse3's inode API through ctypes), mounted for real beside the mfusepy one.

Each low-level mount is served by a child process running :func:`serve` on an index
built here, so a crash of the backend fails a test rather than pytest; the mfusepy mount
of the same backup comes from the real command line, reusing that index. The truth both
are held to is :class:`MountSource` over the same index, read in this process.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backupfs.content.mount_source import STAT_FIELDS, MountSource
from backupfs.demo.writer import PayloadSpec
from backupfs.errors import MountError
from backupfs.fs.lowlevel import ffi, server
from backupfs.fs.lowlevel.mount import serve, why_unusable
from backupfs.index.build import build_index
from backupfs.index.store import Index
from backupfs.source.discover import find_backups
from backupfs.source.manifest.records import Kind
from backupfs.source.mounttable import XATTR_BACKUP, mount_at
from tests.backups import BAD_NAME, build, standard_specs
from tests.conftest import REPO, Mounter, within

pytestmark = pytest.mark.skipif(why_unusable() is not None, reason=f"no low-level backend here: {why_unusable()}")

SERVER = """
import logging, sys
from pathlib import Path

from backupfs.content.mount_source import MountSource
from backupfs.fs.lowlevel.mount import serve
from backupfs.fs.mounting import fuse_options, parse_options
from backupfs.index.store import Index

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
index_path, mountpoint, faults, options = sys.argv[1:5]


class Failing:
    def read(self, size, offset):
        raise RuntimeError("a bug in read")


class Source(MountSource):
    '''The real source, but for the bugs planted in the folder "faults" when asked to.'''

    def attributes(self, node):
        if faults and node.path.endswith("faults/boom.txt"):
            raise RuntimeError("a bug in attributes")
        return super().attributes(node)

    def listing_attributes(self, folder, *args):
        if faults and folder.path.endswith("faults/broken"):
            raise RuntimeError("a bug in listing_attributes")
        return super().listing_attributes(folder, *args)

    def open(self, node):
        if faults and node.path.endswith("faults/crash.txt"):
            return Failing()
        return super().open(node)


try:
    serve(Source(Index(Path(index_path))), mountpoint, on_ready=lambda: print("ready", flush=True),
          **fuse_options("test", parse_options(options)))
except RuntimeError as exc:
    print(f"ended: {exc}", flush=True)
    sys.exit(3)
"""

BIG = 5000
FAULTS = "HomeDomain/Documents/faults"


def specs() -> list[PayloadSpec]:
    """The standard small phone, a name that is not UTF-8, a folder of :data:`BIG` entries, and planted bugs."""
    big = [PayloadSpec("HomeDomain", f"Documents/big/f{n:05d}.txt", b"%d" % n * (n % 7)) for n in range(BIG)]
    faults = [
        PayloadSpec("HomeDomain", f"Documents/faults/{name}", b"fault " + name.encode())
        for name in ("boom.txt", "crash.txt", "fine.txt", "broken/inside.txt")
    ]
    return [*standard_specs(), PayloadSpec("CameraRollDomain", BAD_NAME, b"\xff\xd8\xff\xe0jpeg"), *big, *faults]


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(backup, index folder, index file): the index complete, as a second mount finds it."""
    folder = tmp_path_factory.mktemp("lowlevel")
    root = build(folder / "backup", specs()).root
    index = build_index(find_backups(root), folder / "index", show_progress=False)
    index.close()
    return root, folder / "index", index.path


class LowLevelMount:
    """A child process serving an index through the low-level backend at a mount point."""

    def __init__(self, index_path: Path, mountpoint: Path, log: Path, faults: bool = False, options: str = "") -> None:
        mountpoint.mkdir(exist_ok=True)
        self.mountpoint, self.log = mountpoint, log
        self.started_ns = time.time_ns()
        with open(log, "wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SERVER, str(index_path), str(mountpoint), "1" if faults else "", options],
                stdout=subprocess.PIPE, stderr=stderr, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
            )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline() if ready else b""
        if line != b"ready\n" or mount_at(mountpoint) is None:
            self.close()
            raise AssertionError(f"no mount ({line!r}): {log.read_text()}")

    def unmount(self) -> int:
        """``fusermount3 -u``, as ``backupfs unmount`` does; the server's exit status."""
        subprocess.run(["fusermount3", "-u", str(self.mountpoint)], check=True, capture_output=True, timeout=60)
        return self.process.wait(timeout=60)

    def close(self) -> None:
        if mount_at(self.mountpoint) is not None:
            subprocess.run(["fusermount3", "-u", "-z", str(self.mountpoint)], check=False, capture_output=True)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=60)
        assert mount_at(self.mountpoint) is None, f"{self.mountpoint} is still mounted"


@pytest.fixture
def lowlevel(tmp_path: Path) -> Iterator[Callable[..., LowLevelMount]]:
    """``lowlevel(index_path, faults=False, options="")``: a low-level mount, undone at teardown."""
    started: list[LowLevelMount] = []

    def start(index_path: Path, faults: bool = False, options: str = "") -> LowLevelMount:
        number = len(started)
        log = tmp_path / f"server{number}.log"
        started.append(LowLevelMount(index_path, tmp_path / f"lowlevel{number}", log, faults, options))
        return started[-1]

    yield start
    for mounted in started:
        mounted.close()


def walk(top: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry under ``top`` (relative path, lstat), the folder of planted bugs aside."""
    for folder, folders, files in os.walk(top):
        for name in folders + files:
            path = os.path.join(folder, name)
            yield os.path.relpath(path, top), os.lstat(path)
        folders[:] = [name for name in folders if os.path.join(folder, name) != str(top / FAULTS)]


def test_every_entry_is_what_the_source_says_and_reads_as_through_mfusepy(backup, lowlevel, mount: Mounter) -> None:
    root, index_dir, index_path = backup
    served = lowlevel(index_path)
    mnt = served.mountpoint
    reference = mount(root, index_dir=index_dir)
    source = MountSource(Index(index_path))
    seen = within(300, lambda: dict(walk(mnt)), "the walk")
    expected = {node.path for node in source.index.walk() if node.path and not node.path.startswith(FAULTS + "/")}
    assert set(seen) == expected
    kinds = set()
    for path, st in seen.items():
        node = source.node(path)
        mode, nlink, uid, gid, size, _, blocks, _, mtime, _ = source.attributes(node)
        assert (st.st_mode, st.st_nlink, st.st_uid, st.st_gid, st.st_size, st.st_blocks) == (
            mode, nlink, uid, gid, size, blocks), path
        if node.kind is Kind.DIR and not node.mtime_ns:  # no recorded time: the time of the mount, shown
            assert served.started_ns <= st.st_mtime_ns <= time.time_ns(), path
        else:
            assert st.st_mtime_ns == mtime, path
        kinds.add(node.kind)
        if node.kind is Kind.SYMLINK:
            assert os.readlink(mnt / path) == os.readlink(reference / path) == node.target
        elif node.kind is Kind.FILE:
            assert (mnt / path).read_bytes() == (reference / path).read_bytes(), path
        if node.kind is Kind.DIR:
            assert os.listdir(mnt / path) == [name for name, _ in source.listing(node)], path
        names = os.listxattr(mnt / path, follow_symlinks=False)
        assert names == list(source.xattrs(node)) == os.listxattr(reference / path, follow_symlinks=False), path
        if node.kind is not Kind.SYMLINK:  # the kernel keeps user.* attributes of a link from being read
            shown = {name: os.getxattr(mnt / path, name, follow_symlinks=False) for name in names}
            assert shown == {name: value.encode() for name, value in source.xattrs(node).items()}, path
    assert kinds == {Kind.DIR, Kind.FILE, Kind.SYMLINK}
    assert "CameraRollDomain/" + BAD_NAME in seen
    assert os.getxattr(mnt, XATTR_BACKUP).decode() == str(root)
    for _ in range(2):  # the second time from the kernel's negative entry
        with pytest.raises(FileNotFoundError):
            os.lstat(mnt / "HomeDomain" / "no-such-file")
    with pytest.raises(OSError) as missing:
        os.getxattr(mnt / "HomeDomain", "user.no.such.attribute")
    assert missing.value.errno == errno.ENODATA


def test_extended_attributes_answer_a_size_probe_and_refuse_a_short_buffer(backup, lowlevel) -> None:
    _, _, index_path = backup
    mnt = lowlevel(index_path).mountpoint
    target = os.fsencode(mnt / "HomeDomain/Library/SMS/sms.db")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
    libc.listxattr.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
    value = os.getxattr(target, "user.backupfs.fileid")
    assert libc.getxattr(target, b"user.backupfs.fileid", None, 0) == len(value) == 40
    assert libc.getxattr(target, b"user.backupfs.fileid", ctypes.create_string_buffer(8), 8) == -1
    assert ctypes.get_errno() == errno.ERANGE
    names = b"".join(name.encode() + b"\0" for name in os.listxattr(target))
    assert libc.listxattr(target, None, 0) == len(names) > 0


@pytest.mark.parametrize("readdirplus", ["yes", "auto", "no"])
def test_a_folder_of_thousands_is_listed_whole_and_in_order_also_by_concurrent_readers(
    backup, lowlevel, readdirplus: str
) -> None:
    """READDIRPLUS always (the default), when the kernel guesses it useful, or never (plain READDIR)."""
    _, _, index_path = backup
    mnt = lowlevel(index_path, options=f"readdirplus={readdirplus}").mountpoint
    folder = mnt / "HomeDomain/Documents/big"
    source = MountSource(Index(index_path))
    expected = [(name, attrs[4]) for name, attrs in source.listing_attributes(source.folder("HomeDomain/Documents/big"),
                                                                              None, -1, 0)]
    assert len(expected) == BIG

    def listed() -> list[tuple[str, int]]:
        with os.scandir(folder) as entries:
            return [(entry.name, entry.stat(follow_symlinks=False).st_size) for entry in entries]

    assert within(120, listed, "the listing") == expected  # cold: READDIRPLUS replies of ~20 entries each
    assert within(120, listed, "the listing") == expected  # from the kernel's cache
    fresh = lowlevel(index_path, options=f"readdirplus={readdirplus}").mountpoint  # a cold folder, read by several threads at their own offsets
    folder = fresh / "HomeDomain/Documents/big"
    with ThreadPoolExecutor(6) as pool:
        for result in within(300, lambda: list(pool.map(lambda _: listed(), range(6))), "the listings"):
            assert result == expected


def test_a_listing_answers_any_offset_even_on_a_handle_opened_anew(backup) -> None:
    """The kernel may go on from its own cache of a listing with a new handle, at an offset that handle never gave."""
    _, _, index_path = backup
    source = MountSource(Index(index_path))
    path = "HomeDomain/Documents/big"
    names = [name.encode() for name, _ in source.listing(source.folder(path))]
    assert [name for name, _, _ in server.Listing(source, source.folder(path), path).dots(0)] == [b".", b".."]
    assert [name for name, _, _ in server.Listing(source, source.folder(path), path).dots(1)] == [b".."]
    fresh = server.Listing(source, source.folder(path), path)
    first, entries = fresh.following(3002, 1 << 30, ffi.DIRENTPLUS_SIZE)  # after the entry at position 3001
    assert first == 3003 and [name for name, _, _ in entries] == names[3000:]
    assert entries[0][1] == f"{path}/{names[3000].decode()}" and isinstance(entries[0][2], tuple)
    first, entries = fresh.following(0, 4096, ffi.DIRENTPLUS_SIZE)
    assert first == 3 and [name for name, _, _ in entries] == names[:len(entries)]
    assert sum(ffi.record_length(name, plus=True) for name, _, _ in entries) <= 4096 < sum(
        ffi.record_length(name, plus=True) for name in names[:len(entries) + 1])
    assert fresh.following(BIG + 2, 4096, ffi.DIRENT_SIZE) == (BIG + 3, [])


def test_every_write_is_refused(backup, lowlevel) -> None:
    _, _, index_path = backup
    mnt = lowlevel(index_path).mountpoint
    target = mnt / "HomeDomain/Library/Preferences/com.apple.springboard.plist"
    before = target.read_bytes()
    attempts = [
        lambda: os.open(target, os.O_WRONLY | os.O_APPEND),
        lambda: os.open(target, os.O_RDWR),
        lambda: os.open(mnt / "HomeDomain/new.txt", os.O_WRONLY | os.O_CREAT),
        lambda: os.mkdir(mnt / "HomeDomain/newdir"),
        lambda: os.unlink(target),
        lambda: os.rename(target, mnt / "HomeDomain/moved"),
        lambda: os.chmod(target, 0o777),
        lambda: os.utime(target, (0, 0)),
        lambda: os.truncate(target, 0),
        lambda: os.symlink("x", mnt / "HomeDomain/link"),
        lambda: os.link(target, mnt / "HomeDomain/hard"),
        lambda: os.setxattr(target, "user.test", b"1"),
        lambda: os.removexattr(target, "user.backupfs.fileid"),
    ]
    for attempt in attempts:
        with pytest.raises(OSError) as info:
            attempt()
        assert info.value.errno in (errno.EROFS, errno.EACCES, errno.EPERM), info.value
    assert target.read_bytes() == before
    assert "ro" in _mount_options(mnt)


def _mount_options(mountpoint: Path) -> list[str]:
    with open("/proc/self/mounts", encoding="utf-8") as table:
        for line in table:
            fields = line.split()
            if fields[1] == str(mountpoint):
                assert (fields[0], fields[2]) == ("backupfs", "fuse.backupfs")
                return fields[3].split(",")
    raise AssertionError(f"{mountpoint} is not mounted")


def test_a_callback_that_meets_the_unexpected_answers_eio_and_the_mount_stays_up(backup, lowlevel) -> None:
    _, _, index_path = backup
    served = lowlevel(index_path, faults=True)
    faults = served.mountpoint / FAULTS
    for attempt, what in [
        (lambda: os.lstat(faults / "boom.txt"), "lookup of /HomeDomain/Documents/faults/boom.txt failed"),
        (lambda: (faults / "crash.txt").read_bytes(), "read of /HomeDomain/Documents/faults/crash.txt failed"),
        (lambda: os.listdir(faults / "broken"), "readdirplus of /HomeDomain/Documents/faults/broken failed"),
    ]:
        with pytest.raises(OSError) as failure:
            within(60, attempt, what)
        assert failure.value.errno == errno.EIO, what
        assert (faults / "fine.txt").read_bytes() == b"fault fine.txt"  # still up
    assert sorted(os.listdir(faults)) == ["boom.txt", "broken", "crash.txt", "fine.txt"]
    assert served.unmount() == 0
    log = served.log.read_text()
    for what, bug in [("lookup", "attributes"), ("read", "read"), ("readdirplus", "listing_attributes")]:
        assert f"{what} of /HomeDomain/Documents/faults/" in log and f"RuntimeError: a bug in {bug}" in log


def test_unmount_and_signals_end_the_server_and_leave_nothing_mounted(backup, lowlevel) -> None:
    _, _, index_path = backup
    unmounted = lowlevel(index_path)
    assert os.listdir(unmounted.mountpoint)
    assert unmounted.unmount() == 0
    assert mount_at(unmounted.mountpoint) is None and os.listdir(unmounted.mountpoint) == []
    for number in (signal.SIGTERM, signal.SIGINT):
        stopped = lowlevel(index_path)
        assert os.listdir(stopped.mountpoint)
        stopped.process.send_signal(number)
        assert stopped.process.wait(timeout=60) == 3  # serve raised, as mfusepy does: the mount ended by a signal
        assert mount_at(stopped.mountpoint) is None


def test_an_unknown_option_is_refused_by_libfuse_and_a_bad_value_in_one_line(
    backup, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    _, _, index_path = backup
    (tmp_path / "mnt").mkdir()
    source = MountSource(Index(index_path))
    with pytest.raises(RuntimeError, match="refused the mount options"):
        serve(source, str(tmp_path / "mnt"), ro=True, no_such_option="1")
    assert "no_such_option" in capfd.readouterr().err
    for option, message in [({"attr_timeout": "soon"}, "-o attr_timeout: give a number (e.g. -o attr_timeout=86400)"),
                            ({"max_threads": True}, "-o max_threads: give a number"),
                            ({"readdirplus": "maybe"}, "-o readdirplus=maybe: give one of yes, auto, no")]:
        with pytest.raises(MountError) as refused:
            serve(source, str(tmp_path / "mnt"), ro=True, **option)
        assert message in str(refused.value)
    assert mount_at(tmp_path / "mnt") is None


def test_node_ids_count_lookups_and_survive_a_clash_of_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    inodes = server.Inodes()
    attrs = (stat.S_IFREG, 1, 0, 0, 0, 4096, 0, 0, 0, 0)

    def told(*paths: str) -> list[int]:
        return inodes.acquire([(b"", path, attrs) for path in paths])

    (first,) = told("a/b")
    assert told("a/b") == [first] and inodes.number("a/b") == first > ffi.ROOT_ID
    assert inodes.acquire([(b"", "a/b", stat.S_IFREG)]) == [first]  # numbered only: no attributes sent
    inodes.forget([(first, 1)])
    assert inodes.path(first) == "a/b"
    inodes.forget([(first, 1)])
    with pytest.raises(OSError) as gone:
        inodes.path(first)
    assert gone.value.errno == errno.ESTALE and len(inodes) == 0
    assert told("a/b") == [first]  # the same inode number after the kernel forgot it
    monkeypatch.setattr(server, "hash", lambda path: 1234, raising=False)
    held, clashing = told("x", "y")
    assert held == 1234 and clashing > 1 << 62 and inodes.path(clashing) == "y" and inodes.path(held) == "x"
    assert told("y") == [clashing] and inodes.number("y") == clashing
    inodes.forget([(clashing, 2), (held, 1)])
    assert told("y") == [1234]
    inodes.forget([(ffi.ROOT_ID, 5)])
    assert inodes.path(ffi.ROOT_ID) == ""


def test_file_info_flag_bits_follow_each_version() -> None:
    """keep_cache never moves; cache_readdir does in 3.15 and 3.16 (3.14's masks are read off its fill_open)."""
    for version in ((3, 10), (3, 14), (3, 17)):
        assert ffi.file_info_bits(version)["keep_cache"] == 0x4 and ffi.file_info_bits(version)["cache_readdir"] == 0x40
    for version in ((3, 15), (3, 16)):
        assert ffi.file_info_bits(version)["cache_readdir"] == 0x80
    assert "noflush" not in ffi.file_info_bits((3, 10)) and ffi.file_info_bits((3, 14))["noflush"] == 0x80
    assert ffi.file_info_bits((3, 17))["parallel_direct_writes"] == 0x100


@pytest.mark.parametrize("name", [b"a", b"f00001.txt", b"seven77", b"eight888", "café-\udcff.jpg".encode("utf-8", "surrogateescape"),
                                  b"x" * 255])
def test_listing_records_are_byte_for_byte_what_libfuse_writes(name: bytes) -> None:
    """The records packed in Python against libfuse's own ``fuse_add_direntry_plus`` and ``fuse_add_direntry``."""
    libfuse = ffi.load()
    attrs = (stat.S_IFREG | 0o444, 1, 1000, 1001, 3 << 40, 4096, 3 << 31, 999_999_999, 1_700_000_000_123_456_789, -1)
    for attr_timeout, entry_timeout in ((86400.0, 86400.0), (0.25, 1e30), (-1.0, 0.0)):
        entry = ffi.EntryParam(ino=77, attr_timeout=attr_timeout, entry_timeout=entry_timeout)
        ffi.fill_stat(entry.attr, 77, attrs)
        assert ffi.direntplus(name, 12, 77, attrs, ffi.timeout(entry_timeout), ffi.timeout(attr_timeout)) == (
            _libfuse_record(libfuse.fuse_add_direntry_plus, name, entry, 12))
    bare = ffi.EntryParam()
    bare.attr.st_ino, bare.attr.st_mode = 5, stat.S_IFLNK | 0o755
    assert ffi.direntplus_bare(name, 3, 5, stat.S_IFLNK | 0o755) == _libfuse_record(
        libfuse.fuse_add_direntry_plus, name, bare, 3)
    assert ffi.dirent(name, 3, 5, stat.S_IFLNK | 0o755) == _libfuse_record(libfuse.fuse_add_direntry, name, bare.attr, 3)
    assert len(ffi.direntplus_bare(name, 3, 5, 0)) == ffi.record_length(name, plus=True)
    assert len(ffi.dirent(name, 3, 5, 0)) == ffi.record_length(name, plus=False)


def _libfuse_record(add: object, name: bytes, structure: ctypes.Structure, offset: int) -> bytes:
    buffer = ctypes.create_string_buffer(b"\xee" * 1024, 1024)  # padding must come out as zeros
    length = add(None, ctypes.addressof(buffer), 1024, name, ctypes.addressof(structure), offset)  # type: ignore[operator]
    return buffer.raw[:length]


def test_stat_is_filled_as_mfusepy_fills_it() -> None:
    from backupfs.fs.libfuse import fuse as mfusepy

    if mfusepy.fuse_version_major != 3 or ctypes.sizeof(mfusepy.c_stat) != ctypes.sizeof(ffi.Stat):
        pytest.skip("mfusepy loaded another libfuse")
    values = {"st_mode": stat.S_IFREG | 0o444, "st_nlink": 1, "st_uid": 1000, "st_gid": 1001, "st_size": 3 << 40,
              "st_blksize": 131072, "st_blocks": 3 << 31, "st_atime": 999_999_999, "st_mtime": 1_700_000_000_123_456_789,
              "st_ctime": -1, "st_ino": 77}
    expected = mfusepy.c_stat()
    mfusepy.set_st_attrs(expected, values, use_ns=True)
    filled = ffi.Stat()
    ffi.fill_stat(filled, 77, tuple(values[name] for name in STAT_FIELDS))
    assert bytes(filled) == bytes(expected)


def test_cold_find_through_both_backends(tmp_path: Path, lowlevel, mount: Mounter, capsys) -> None:
    """A figure, not a check: ``find`` over 20,000 files on a fresh mount of each backend."""
    files = [PayloadSpec("HomeDomain", f"Documents/d{n // 1000:02d}/f{n:05d}.txt", b"%d" % n) for n in range(20_000)]
    root = build(tmp_path / "backup", files).root
    index = build_index(find_backups(root), tmp_path / "index", show_progress=False)
    index.close()

    def find(mountpoint: Path) -> tuple[float, int]:
        started = time.monotonic()
        listed = subprocess.run(["find", str(mountpoint)], check=True, capture_output=True, timeout=600).stdout
        return time.monotonic() - started, listed.count(b"\n")

    mfusepy_cold, mfusepy_count = find(mount(root, index_dir=tmp_path / "index"))
    lowlevel_mount = lowlevel(index.path).mountpoint
    lowlevel_cold, lowlevel_count = find(lowlevel_mount)
    lowlevel_warm, _ = find(lowlevel_mount)
    assert mfusepy_count == lowlevel_count > 20_000
    with capsys.disabled():
        print(f"\ncold find of {lowlevel_count:,} entries: mfusepy {mfusepy_cold:.2f} s, low-level {lowlevel_cold:.2f} s "
              f"(then {lowlevel_warm:.2f} s warm)")

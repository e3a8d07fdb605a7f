"""The kernel keeps listings and attributes: counted at the filesystem's own callbacks.

Each mount runs the real command line in a child process whose ``BackupFS`` callbacks
append their name and path to a log file, so a test sees exactly which requests reached
Python. A fresh mount is what "caches dropped" means for this filesystem: the kernel
knows nothing of it yet (dropping the machine's caches would disturb other work).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# libfuse3 chosen, as a mount chooses it
from backupfs.fs.libfuse import fuse as mfusepy
from backupfs.source.mounttable import is_mounted
from tests.backups import BuiltBackup, build
from tests.conftest import run_cli

needs_libfuse3 = pytest.mark.skipif(
    mfusepy.fuse_version_major != 3, reason="the kernel caching needs libfuse3 (FUSE_LIBRARY_PATH chose libfuse2)"
)

PROBE = """
import sys
from backupfs import cli
from backupfs.fs import operations as fs

def counted(name):
    original = getattr(fs.BackupFS, name)

    def call(self, path, *args, **kwargs):
        with open(sys.argv[1], "a", encoding="utf-8", errors="surrogateescape") as log:
            log.write(f"{name} {path}\\n")
        return original(self, path, *args, **kwargs)

    return call

for name in ("getattr", "readdir", "readdir_plus"):
    setattr(fs.BackupFS, name, counted(name))
sys.exit(cli.main(sys.argv[2:]))
"""


class Calls:
    """The callbacks a counted mount has received so far."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def all(self) -> list[tuple[str, str]]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
        return [tuple(line.split(" ", 1)) for line in lines]  # type: ignore[misc]

    def since(self, mark: int) -> Counter[str]:
        return Counter(name for name, _ in self.all()[mark:])

    def mark(self) -> int:
        return len(self.all())


@pytest.fixture
def counted_mount(tmp_path: Path, index_dir: Path) -> Iterator[Callable[[Path], tuple[Path, Calls]]]:
    mounted: list[Path] = []

    def do_mount(source: Path) -> tuple[Path, Calls]:
        mountpoint = tmp_path / f"counted{len(mounted)}"
        mountpoint.mkdir()
        log = tmp_path / f"calls{len(mounted)}.log"
        command = [sys.executable, "-c", PROBE, str(log), "mount", str(source), str(mountpoint), "--index-dir", str(index_dir)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2])
        assert result.returncode == 0, result.stderr
        mounted.append(mountpoint)
        return mountpoint, Calls(log)

    yield do_mount
    for mountpoint in mounted:
        if is_mounted(mountpoint):
            run_cli("unmount", mountpoint, check=False)
        assert not is_mounted(mountpoint), f"{mountpoint} could not be unmounted"


def merged_databases(backup: BuiltBackup) -> set[str]:
    """Databases shown merged with their -wal, whose size means reading the whole -wal."""
    paths = {(spec.domain, spec.relative_path) for spec in backup.files}
    return {f"/{domain}/{path}" for domain, path in paths if (domain, path + "-wal") in paths}


def stat_calls(calls: list[tuple[str, str]]) -> set[str]:
    """The paths stat'ed one by one, but the mount point (stat'ed once per mount)."""
    return {path for name, path in calls if name != "readdir_plus" and path != "/"}


def walk_lstat(top: Path) -> dict[str, os.stat_result]:
    """What ``find -ls`` does: list each folder, then lstat each entry listed."""
    stats: dict[str, os.stat_result] = {}
    folders = [str(top)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                stats[os.path.relpath(entry.path, top)] = os.lstat(entry.path)
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
    return stats


def test_libfuse3_is_chosen_unless_the_user_chose(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("libfuse3 is a Linux choice")
    from ctypes.util import find_library

    if not find_library("fuse3"):
        pytest.skip("libfuse3 is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUSE_LIBRARY_")}
    probe = "from backupfs.fs.libfuse import fuse; print(fuse.fuse_version_major)"
    chosen = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert chosen.stdout.strip() == "3"
    libfuse2 = find_library("fuse")
    if libfuse2:
        env["FUSE_LIBRARY_PATH"] = libfuse2
        kept = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
        assert kept.stdout.strip() == "2"


@needs_libfuse3
def test_a_second_listing_of_a_folder_reaches_no_callback(tmp_path: Path, counted_mount) -> None:
    backup = build(tmp_path / "src")
    mnt, calls = counted_mount(backup.root)
    folder = mnt / "CameraRollDomain" / "Media" / "DCIM" / "100APPLE"
    mark = calls.mark()
    first = sorted(os.listdir(folder))
    assert first == ["IMG_0001.HEIC", "IMG_0002.JPG", "IMG_0003.MOV", "IMG_0004.PNG"]
    assert calls.since(mark)["readdir_plus"] + calls.since(mark)["readdir"] == 1
    mark = calls.mark()
    assert sorted(os.listdir(folder)) == first
    assert sorted(os.listdir(folder)) == first
    assert calls.since(mark) == Counter()


def completed(backup: BuiltBackup, index_dir: Path) -> BuiltBackup:
    """``backup`` with its index already built and completed, as from an earlier mount.

    A first mount completes its index in the background (payload sizes, metadata left in
    Manifest.db); listings carry only the attributes known so far, so the steady state is
    tested from an index completed beforehand (``info`` completes it).
    """
    run_cli("info", backup.root, "--index-dir", index_dir)
    return backup


@needs_libfuse3
def test_a_cold_walk_with_lstat_costs_one_callback_per_folder(tmp_path: Path, index_dir: Path, counted_mount) -> None:
    backup = completed(build(tmp_path / "src"), index_dir)
    mnt, calls = counted_mount(backup.root)
    mark = calls.mark()
    stats = walk_lstat(mnt)
    folders = 1 + sum(stat.S_ISDIR(st.st_mode) for st in stats.values())
    assert len(stats) - (folders - 1) >= 20  # enough files for a per-file cost to show
    assert calls.since(mark)["readdir_plus"] == folders
    assert merged_databases(backup) == {"/HomeDomain/Library/SMS/sms.db"}  # its size, too, is in the index
    assert stat_calls(calls.all()[mark:]) == set()


@needs_libfuse3
def test_attributes_sent_with_listings_are_those_getattr_gives(tmp_path: Path, index_dir: Path, counted_mount) -> None:
    backup = completed(build(tmp_path / "src"), index_dir)
    listed_mnt, listed_calls = counted_mount(backup.root)
    listed = walk_lstat(listed_mnt)
    assert stat_calls(listed_calls.all()) == set()
    looked_up_mnt, looked_up_calls = counted_mount(backup.root)  # a second mount: no listing seen yet
    looked_up = {path: os.lstat(looked_up_mnt / path) for path in listed}
    counts = looked_up_calls.since(0)
    assert counts["getattr"] >= len(listed) and counts["readdir_plus"] + counts["readdir"] == 0

    def shown(st: os.stat_result, times: bool) -> tuple:
        fields = (st.st_mode, st.st_size, st.st_blocks, st.st_nlink, st.st_uid, st.st_gid)
        return fields + ((st.st_mtime_ns, st.st_ctime_ns, st.st_atime_ns) if times else ())

    for path, st in listed.items():
        # A folder with no recorded time shows its mount's time, which differs between the two mounts.
        times = not stat.S_ISDIR(st.st_mode)
        assert shown(st, times) == shown(looked_up[path], times), path
    assert any(st.st_size > 0 and not stat.S_ISDIR(st.st_mode) for st in listed.values())


def test_packed_stat_is_byte_for_byte_what_mfusepy_fills() -> None:
    from backupfs.content.mount_source import STAT_FIELDS
    from backupfs.fs.kernel_cache import _pack_stat

    for attrs in (
        {"st_mode": stat.S_IFREG | 0o444, "st_nlink": 1, "st_size": 3 << 40, "st_blocks": 3 << 31,
         "st_blksize": 131072, "st_uid": 1000, "st_gid": 1001, "st_mtime": 1_700_000_000_123_456_789,
         "st_ctime": 1_600_000_000_000_000_001, "st_atime": 999_999_999},
        {"st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2, "st_size": 0, "st_blocks": 0, "st_blksize": 4096,
         "st_uid": 0, "st_gid": 0, "st_mtime": 0, "st_ctime": 0, "st_atime": 0},
    ):
        expected = mfusepy.c_stat()
        mfusepy.set_st_attrs(expected, attrs, use_ns=True)
        packed = mfusepy.c_stat()
        _pack_stat(packed, tuple(attrs[field] for field in STAT_FIELDS))
        assert bytes(packed) == bytes(expected), attrs


@needs_libfuse3
def test_a_folder_longer_than_a_chunk_is_listed_whole_also_by_concurrent_readers(tmp_path: Path, counted_mount) -> None:
    """Folders are read from the index a chunk at a time; the kernel may resume at any offset."""
    from concurrent.futures import ThreadPoolExecutor

    from backupfs.demo.writer import PayloadSpec
    from backupfs.fs.kernel_cache import _CHUNK

    sizes = {f"f{n:05d}.txt": n % 97 for n in range(_CHUNK * 3 + 17)}
    specs = [
        PayloadSpec("HomeDomain", f"Documents/{folder}/{name}", b"x" * size)
        for folder in ("alone", "shared") for name, size in sizes.items()
    ]
    mnt, calls = counted_mount(build(tmp_path / "src", specs).root)

    def listed(folder: str) -> list[tuple[str, int]]:
        with os.scandir(mnt / "HomeDomain" / "Documents" / folder) as entries:
            return [(entry.name, entry.stat(follow_symlinks=False).st_size) for entry in entries]

    mark = calls.mark()
    alone = listed("alone")
    assert len(alone) == len(sizes) and dict(alone) == sizes
    assert calls.since(mark)["readdir_plus"] == 4  # three whole chunks and the rest; no query per request
    # A cold folder: the readers' requests interleave, each at its own offsets, so most
    # listings resume after a name or a count (32-38 queries in three runs, not 4).
    with ThreadPoolExecutor(6) as pool:
        for result in pool.map(listed, ["shared"] * 6):
            assert len(result) == len(sizes) and dict(result) == sizes

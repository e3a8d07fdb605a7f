"""``SourceFolders``: a backup's bucket folders opened once, and never a link, kept or not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backupfs.source.safe_open import FOLDERS_BY_DESCRIPTOR, SourceFile, SourceFolders


def bucket(root: Path, name: str, files: dict[str, bytes]) -> None:
    (root / name).mkdir(parents=True)
    for file_name, data in files.items():
        (root / name / file_name).write_bytes(data)


def open_count(pid: int = os.getpid()) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.skipif(not FOLDERS_BY_DESCRIPTOR, reason="folders are kept only where they open by descriptor")
def test_each_folder_is_opened_once_and_closed_with_the_object(tmp_path) -> None:
    bucket(tmp_path, "ab", {f"ab{n:02d}": bytes([n]) * n for n in range(1, 30)})
    bucket(tmp_path, "cd", {"cd01": b"x"})
    before = open_count()
    folders = SourceFolders(tmp_path)
    for n in range(1, 30):
        assert SourceFile(f"ab/ab{n:02d}", folders).read(100, 0) == bytes([n]) * n
    assert SourceFile("cd/cd01", folders).read(10, 0) == b"x"
    assert open_count() == before + 2  # the two folders, kept; every file closed
    del folders
    assert open_count() == before


def test_a_folder_kept_open_stays_the_one_first_opened_when_a_link_takes_its_name(tmp_path) -> None:
    root, outside = tmp_path / "backup", tmp_path / "outside"
    bucket(root, "ab", {"ab01": b"the payload"})
    bucket(outside, ".", {"ab01": b"a secret outside the backup"})
    folders = SourceFolders(root)
    assert SourceFile("ab/ab01", folders).read(100, 0) == b"the payload"
    (root / "ab").rename(tmp_path / "moved")
    (root / "ab").symlink_to(outside)
    try:
        assert SourceFile("ab/ab01", folders).read(100, 0) == b"the payload"  # the folder first opened
    except OSError:
        assert not FOLDERS_BY_DESCRIPTOR  # by path, the link is refused
    with pytest.raises(OSError):  # a fresh opener refuses the link, as before
        SourceFile("ab/ab01", SourceFolders(root))


def test_a_link_as_a_payload_or_a_fifo_is_refused(tmp_path) -> None:
    bucket(tmp_path, "ab", {"ab01": b"real"})
    (tmp_path / "secret").write_bytes(b"secret")
    (tmp_path / "ab" / "ab02").symlink_to(tmp_path / "secret")
    os.mkfifo(tmp_path / "ab" / "ab03")
    folders = SourceFolders(tmp_path)
    assert SourceFile("ab/ab01", folders).read(10, 0) == b"real"
    for name in ("ab02", "ab03"):
        with pytest.raises(OSError):
            SourceFile(f"ab/{name}", folders)


def test_a_mount_keeps_no_folder_open_and_stops_reading_a_folder_moved_away(tmp_path) -> None:
    """A mount must not keep the backup's disk busy, nor read on from a backup moved away."""
    bucket(tmp_path / "backup", "ab", {"ab01": b"the payload"})
    before = open_count()
    folders = SourceFolders(tmp_path / "backup", keep=False)
    assert SourceFile("ab/ab01", folders).read(100, 0) == b"the payload"
    assert open_count() == before
    (tmp_path / "backup").rename(tmp_path / "moved")
    with pytest.raises(FileNotFoundError):
        SourceFile("ab/ab01", folders)

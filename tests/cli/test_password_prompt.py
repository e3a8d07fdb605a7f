"""Mounting an encrypted backup from a terminal: the password is asked once, never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from backupfs.demo.encrypted import write_encrypted_backup
from backupfs.demo.writer import PayloadSpec
from backupfs.fs.mounting import unmount
from backupfs.source.mounttable import is_mounted
from tests.conftest import run_on_terminal

PASSWORD = "tr0ub4dor&3"
CONTENT = b"a note only the password opens\n"


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("prompt") / "00008030-001A2B3C4D5E6F70"
    write_encrypted_backup(root, [PayloadSpec("HomeDomain", "Library/Notes/note.txt", CONTENT)], PASSWORD, iterations=2, dpic=2)
    return root


def test_mount_asks_for_the_password_without_echo(encrypted: Path, tmp_path: Path, index_dir: Path) -> None:
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    try:
        said, status = run_on_terminal(
            "mount", encrypted, mountpoint, "--index-dir", index_dir, answer=("Password of the encrypted backup", f"{PASSWORD}\r".encode()),
        )
        assert status == 0, said
        assert "Password of the encrypted backup of Test iPhone" in said
        assert PASSWORD not in said  # typed, never shown
        assert (mountpoint / "HomeDomain/Library/Notes/note.txt").read_bytes() == CONTENT
    finally:
        if is_mounted(mountpoint):
            unmount(mountpoint)


def test_a_wrong_password_typed_is_one_line_and_nothing_is_mounted(encrypted: Path, tmp_path: Path, index_dir: Path) -> None:
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    said, status = run_on_terminal(
        "mount", encrypted, mountpoint, "--index-dir", index_dir, answer=("Password of the encrypted backup", b"not it\r"),
    )
    assert status == 1
    assert "backupfs: error: the password does not open this backup" in said
    assert "Traceback" not in said and "not it" not in said
    assert not is_mounted(mountpoint)
    assert not index_dir.exists()  # nothing was built, in the cache or anywhere

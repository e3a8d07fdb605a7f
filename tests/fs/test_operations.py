"""Every FUSE callback answers a failure it did not expect with EIO and a log line, never EINVAL."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest

from backupfs.content.mount_source import MountSource
from backupfs.fs.libfuse import fuse
from backupfs.fs.operations import BackupFS
from backupfs.index.build import build_index
from backupfs.source.discover import find_backups
from tests.backups import build

CALLS = {
    "getattr": ("/HomeDomain",),
    "readdir": ("/HomeDomain", 0),
    "readdir_plus": ("/HomeDomain", None, 10, 0),
    "readlink": ("/HomeDomain/Library/Preferences/link-to-maps.plist",),
    "open": ("/HomeDomain/Library/SMS/sms.db", 0),
    "access": ("/HomeDomain", 4),
    "listxattr": ("/HomeDomain/Library/SMS/sms.db",),
    "getxattr": ("/HomeDomain/Library/SMS/sms.db", "user.backupfs.fileid"),
}


@pytest.fixture
def operations(tmp_path: Path) -> BackupFS:
    backup = build(tmp_path / "backup")
    return BackupFS(MountSource(build_index(find_backups(backup.root), tmp_path / "cache", show_progress=False)))


@pytest.mark.parametrize("name", CALLS)
def test_a_callback_that_meets_the_unexpected_answers_eio(
    operations: BackupFS, name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    getattr(operations, name)(*CALLS[name])  # it works as it is

    def broken(path: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(operations.source.index, "lookup", broken)
    with caplog.at_level(logging.ERROR), pytest.raises(fuse.FuseOSError) as failure:
        getattr(operations, name)(*CALLS[name])
    assert failure.value.errno == errno.EIO
    assert f"{name} of {CALLS[name][0]} failed" in caplog.text and "a bug" in caplog.text


def test_a_read_the_source_fails_answers_eio_and_an_expected_errno_passes(
    operations: BackupFS, caplog: pytest.LogCaptureFixture
) -> None:
    handle = operations.open("/HomeDomain/Library/Preferences/com.apple.Maps.plist", 0)
    class Gone:  # the payload's disk fails after the open
        def read(self, size: int, offset: int) -> bytes:
            raise OSError(errno.ENXIO, "gone")

    operations._handles[handle] = Gone()
    with pytest.raises(fuse.FuseOSError) as failure:
        operations.read("/x", 10, 0, handle)
    assert failure.value.errno == errno.EIO
    with pytest.raises(OSError) as missing:
        operations.getattr("/no-such-thing")
    assert missing.value.errno == errno.ENOENT

"""Typing after the mount is up: named files are served at once, other-data waits, never lies.

These drive the filesystem's operations directly (no kernel in between) on a real
index, so the moment typing finishes can be held back and each side of it observed.
"""

from __future__ import annotations

import errno
import shutil
import threading
from pathlib import Path

import pytest
from backups import UNNAMEABLE_APP, build
from conftest import run_cli

import backupfs.index.sorting
from backupfs.content.mount_source import MountSource
from backupfs.errors import BackupfsError
from backupfs.fs.operations import BackupFS
from backupfs.index.build import build_index, build_index_apart
from backupfs.index.complete import type_unnamed, unnamed_payloads
from backupfs.index.store import Index
from backupfs.readable.base import READABLE_FOLDER
from backupfs.source.discover import find_backups
from backupfs.source.manifest.records import file_id


class Typing:
    """The filesystem's completion, run here: ``typing`` by ``type_now``, nothing else."""

    def __init__(self, type_now) -> None:
        self.type_now = type_now

    def run(self, step: str) -> None:
        if step == "typing":
            self.type_now()

    def stop(self) -> None:
        pass


@pytest.fixture
def pending_index(tmp_path: Path) -> tuple[Path, Index]:
    source = tmp_path / "backup"
    build(source, index="none")
    index = build_index(find_backups(source), tmp_path / "cache", show_progress=False, complete_later=True)
    return source, index


def test_a_new_index_leaves_unnamed_payloads_pending(pending_index: tuple[Path, Index]) -> None:
    _, index = pending_index
    assert index.pending_dirs == [READABLE_FOLDER, "other-data"]
    unnamed = {p.file_id for _, payloads in unnamed_payloads(index) for p in payloads}
    assert file_id(UNNAMEABLE_APP, "Documents/store/ab12.db") in unnamed
    assert file_id("HomeDomain", "Library/SMS/sms.db") not in unnamed  # named: placed already
    assert index.lookup("HomeDomain/Library/SMS/sms.db") is not None
    assert index.listing("other-data") == []


def test_named_files_are_served_while_other_data_waits_for_typing(pending_index: tuple[Path, Index]) -> None:
    _, index = pending_index
    gate = threading.Event()

    def finish() -> None:
        gate.wait(timeout=30)
        type_unnamed(index.path, show_progress=False)

    fs = BackupFS(MountSource(index, Typing(finish)))
    fs.init("/")
    assert fs.getattr("/HomeDomain/Library/SMS/sms.db")["st_size"] > 0
    assert fs.getattr("/other-data")["st_mode"] & 0o040000  # the folder itself answers at once

    listed: list[str] = []
    reader = threading.Thread(target=lambda: listed.extend(name for name, _, _ in fs.readdir("/other-data", 0)))
    reader.start()
    reader.join(timeout=0.5)
    assert reader.is_alive() and listed == []  # held, not answered with a short listing

    gate.set()
    reader.join(timeout=30)
    assert sorted(listed) == sorted([".", "..", *{entry.path.split("/")[1] for entry in index.walk()
                                                  if entry.path.startswith("other-data/")}])
    assert "databases" in listed
    db = f"/other-data/databases/{file_id(UNNAMEABLE_APP, 'Documents/store/ab12.db')}.sqlite"
    assert fs.getattr(db)["st_size"] > 0
    assert index.pending_dirs == [READABLE_FOLDER] and unnamed_payloads(index) == []  # typing alone


def test_a_failure_to_type_answers_eio_and_keeps_the_rest(pending_index: tuple[Path, Index]) -> None:
    _, index = pending_index

    def finish() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    fs = BackupFS(MountSource(index, Typing(finish)))
    fs.init("/")
    with pytest.raises(OSError) as failure:
        list(fs.readdir("/other-data", 0))
    assert failure.value.errno == errno.EIO
    assert fs.getattr("/HomeDomain/Library/SMS/sms.db")["st_size"] > 0


def test_typing_cut_short_is_finished_by_the_next_command(pending_index: tuple[Path, Index], tmp_path: Path) -> None:
    source, index = pending_index  # as if the mount had been stopped before typing ended
    info = run_cli("info", source, "--index-dir", tmp_path / "cache").stdout
    assert "unnamed:    9 (" in info and "databases 1" in info
    assert Index(index.path).pending_dirs == []


def test_typing_in_small_chunks_keeps_every_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "backup"
    backup = build(source, index="none")
    spec = next(s for s in backup.files if s.domain == UNNAMEABLE_APP and s.relative_path.endswith("ab12.db"))
    fid = file_id(spec.domain, spec.relative_path)
    (source / "Snapshot" / fid[:2]).mkdir(parents=True)
    shutil.copy(backup.payload_path(spec), source / "Snapshot" / fid[:2] / fid)
    monkeypatch.setattr(backupfs.index.sorting, "CHUNK", 1)  # a chunk boundary between every payload
    index = build_index(find_backups(source), tmp_path / "cache", show_progress=False)
    shown = sorted(e.path for e in index.walk() if e.file_id == fid)
    assert shown == [f"other-data/databases/{fid}.sqlite", f"other-data/databases/{fid}.sqlite~snapshot"]
    unnamed = [e for e in index.walk() if e.origin == "unknown"]
    assert len(unnamed) == 10 and len({e.path for e in unnamed}) == 10


def test_typing_in_worker_processes_gives_what_typing_here_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "backup"
    build(source, index="none")
    here = build_index(find_backups(source), tmp_path / "here", show_progress=False)
    monkeypatch.setattr(backupfs.index.sorting, "_TYPING_IN_PROCESSES", 1)  # large-backup path, on a small one
    monkeypatch.setattr(backupfs.index.sorting, "CHUNK", 3)  # several chunks, typed by several processes
    apart = build_index(find_backups(source), tmp_path / "apart", show_progress=False)
    shown = {(e.path, e.size, e.file_type) for e in here.walk()}
    assert shown == {(e.path, e.size, e.file_type) for e in apart.walk()}
    assert sum(e.origin == "unknown" for e in apart.walk()) == 9


def test_an_index_built_apart_comes_back_ready_or_as_one_clear_error(tmp_path: Path) -> None:
    source = tmp_path / "backup"
    build(source, index="none")
    index = build_index_apart(find_backups(source), tmp_path / "cache", show_progress=False, complete_later=True)
    assert index.pending_dirs == [READABLE_FOLDER, "other-data"] and index.lookup("HomeDomain/Library/SMS/sms.db") is not None
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    with pytest.raises(BackupfsError, match="cannot create the index folder .* --index-dir"):
        build_index_apart(find_backups(source), blocked / "cache", show_progress=False)

"""Encrypted iOS 5-9 backups (flat, Manifest.mbdb with per-file keys) mounted with the real CLI.

The fixture is a real encrypted backup of that generation (SHA1-only keybag, each file's
wrapped key in its mbdb record, no ManifestKey; tests/demo/test_encrypted.py proves its
keys), with tiny iteration counts. Commands run as a user runs them, with stdin from
/dev/null so that no terminal can be asked for a password unless a test gives one.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from backupfs.demo.encrypted import IOS9_UDID, write_encrypted_backup
from backupfs.demo.writer import PayloadSpec
from backupfs.source.manifest.records import Kind
from backupfs.source.mounttable import is_mounted
from tests.conftest import REPO, Mounter, walk_outside_readable

PASSWORD = "iOS9 backup pa55word"
ENV = "BACKUPFS_PASSWORD"
SIZES = (0, 1, 16, 17, 5000)  # empty, within a block, a whole block (PKCS7 adds one), past it, many blocks
DATABASE = ("HomeDomain", "Library/Demo/store.sqlite")
ROWS = [(n, f"row {n} of the encrypted iOS 9 store") for n in range(1, 301)]


def _database(folder: Path) -> bytes:
    path = folder / "store.sqlite"
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, text TEXT)")
            conn.executemany("INSERT INTO item VALUES (?, ?)", ROWS)
    finally:
        conn.close()
    return path.read_bytes()


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[PayloadSpec]]:
    base = tmp_path_factory.mktemp("encrypted-ios9")
    rng = random.Random(9)
    specs = [PayloadSpec("MediaDomain", f"Media/Recordings/size-{n}.bin", rng.randbytes(n)) for n in SIZES]
    specs += [
        PayloadSpec(*DATABASE, _database(base)),
        PayloadSpec("HomeDomain", "Library/Demo", kind=Kind.DIR),
        PayloadSpec("MediaDomain", "Media/Recordings", kind=Kind.DIR),
    ]
    root = base / IOS9_UDID
    write_encrypted_backup(root, specs, PASSWORD, generation="mbdb", iterations=2, seed=9)
    assert (root / "Manifest.mbdb").exists() and not (root / "Manifest.db").exists()
    return root, specs


def cli(*args: str | os.PathLike[str], password: str | None) -> subprocess.CompletedProcess[str]:
    """``python -m backupfs ARGS`` with stdin from /dev/null and BACKUPFS_PASSWORD set to ``password`` (or unset)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(ENV, None)
    if password is not None:
        env[ENV] = password
    return subprocess.run(
        [sys.executable, "-m", "backupfs", *map(str, args)], check=False, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120, env=env,
    )


@pytest.fixture
def mounted(backup, mount: Mounter, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENV, PASSWORD)
    return mount(backup[0])


def test_every_file_is_decrypted_at_its_real_path(backup, mounted: Path) -> None:
    _, specs = backup
    files = [spec for spec in specs if spec.kind is Kind.FILE]
    assert sorted(len(spec.content) for spec in files if spec.domain == "MediaDomain") == sorted(SIZES)
    for spec in files:
        path = mounted / spec.domain / spec.relative_path
        assert path.stat().st_size == len(spec.content), spec.relative_path
        assert path.read_bytes() == spec.content, spec.relative_path
    for spec in specs:
        if spec.kind is Kind.DIR:
            assert (mounted / spec.domain / spec.relative_path).is_dir()
    shown = {(Path(top) / name).relative_to(mounted).as_posix()
             for top, _, names in walk_outside_readable(mounted) for name in names}
    assert shown == {f"{spec.domain}/{spec.relative_path}" for spec in files}  # nothing locked, nothing left unnamed


def test_a_database_opens_through_the_mount(mounted: Path) -> None:
    path = mounted / DATABASE[0] / DATABASE[1]
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT id, text FROM item ORDER BY id").fetchall() == ROWS
    finally:
        conn.close()


def test_a_wrong_password_is_one_line_and_nothing_is_mounted(backup, tmp_path: Path, index_dir: Path) -> None:
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    result = cli("mount", backup[0], mountpoint, "--index-dir", index_dir, password="not the password")
    assert result.returncode == 1, result.stderr
    assert "the password does not open this backup" in result.stderr
    assert "Traceback" not in result.stderr and "not the password" not in result.stderr + result.stdout
    assert not is_mounted(mountpoint)


def test_info_without_the_password_says_it_is_needed(backup, index_dir: Path) -> None:
    result = cli("info", backup[0], "--index-dir", index_dir, password=None)
    assert result.returncode == 0, result.stderr
    assert "password needed" in result.stdout
    assert "iOS 5-9 (flat)" in result.stdout and "iOS 9.3.5" in result.stdout

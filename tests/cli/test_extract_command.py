"""``backupfs extract`` as a user runs it, where FUSE cannot be loaded: the tree, a rerun, a repaired backup."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from pyiosbackup import Backup as PyiosBackup

from backupfs.source.manifest.records import file_id
from tests.backups import age_atimes, build, fingerprint, standard_specs
from tests.conftest import REPO, run_cli

# The command line, with any import of mfusepy failing, as on a Windows or a Mac without FUSE.
WITHOUT_FUSE = "import sys; sys.modules['mfusepy'] = None; from backupfs.cli import main; raise SystemExit(main(sys.argv[1:]))"
SMS = ("HomeDomain", "Library/SMS/sms.db")


def without_fuse(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_FUSE, *map(str, args)], capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("broken") / "backup", standard_specs(), index="none").root


def source_bytes(root: Path, domain: str, relative_path: str) -> bytes:
    """A payload's bytes, read before a fingerprint is taken (reading changes its access time), aged again after."""
    fid = file_id(domain, relative_path)
    data = (root / fid[:2] / fid).read_bytes()
    age_atimes(root)
    return data


def test_extract_writes_the_tree_and_a_rerun_writes_nothing(broken: Path, tmp_path: Path, index_dir: Path) -> None:
    sms = source_bytes(broken, *SMS)
    before = fingerprint(broken)
    first = without_fuse("extract", broken, tmp_path / "out", "--index-dir", index_dir)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("Wrote ") and "files" in first.stdout
    # As the mount shows it: the database with its -wal merged, which any SQLite reader opens read-only.
    with closing(sqlite3.connect(f"file:{tmp_path / 'out' / SMS[0] / SMS[1]}?mode=ro&immutable=1", uri=True)) as conn:
        assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT count(*) FROM message").fetchone()[0] > 0
    assert sms.startswith(b"SQLite format 3")
    assert (tmp_path / "out" / "other-data").is_dir() and (tmp_path / "out" / "0 Your data").is_dir()
    again = without_fuse("extract", broken, tmp_path / "out", "--index-dir", index_dir)
    assert again.returncode == 0 and "Wrote 0 files" in again.stdout and "were there already" in again.stdout
    assert fingerprint(broken) == before


def test_extract_of_some_paths_only(broken: Path, tmp_path: Path, index_dir: Path) -> None:
    done = without_fuse("extract", broken, tmp_path / "out", "HomeDomain/Library/SMS", "--index-dir", index_dir)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["HomeDomain"]
    missing = without_fuse("extract", broken, tmp_path / "out2", "NoSuchDomain/x", "--index-dir", index_dir)
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1 and "Traceback" not in missing.stderr


def test_extract_as_backup_gives_a_backup_other_readers_accept(broken: Path, tmp_path: Path, index_dir: Path) -> None:
    sms = source_bytes(broken, *SMS)
    before = fingerprint(broken)
    done = without_fuse("extract", "--as", "backup", broken, tmp_path / "repaired", "--index-dir", index_dir)
    assert done.returncode == 0, done.stderr
    assert "Wrote the repaired backup" in done.stdout and "copies" in done.stdout
    reader = PyiosBackup.from_path(tmp_path / "repaired")
    assert reader.get_entry_by_domain_and_path(*SMS).read_bytes() == sms  # byte for byte
    assert fingerprint(broken) == before  # copies by default: not even a link count or a change time moved


def test_extract_into_the_backup_is_refused_in_one_line(broken: Path, index_dir: Path) -> None:
    refused = run_cli("extract", broken, broken / "out", "--index-dir", index_dir, check=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not (broken / "out").exists()

"""``mount --as backup``: the repaired backup of a broken one, as a mount that other tools accept."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pyiosbackup import Backup as PyiosBackup

from backupfs.demo.writer import default_plists, write_backup
from backupfs.source.manifest.db import read_manifest_db
from backupfs.source.manifest.records import Kind, file_id
from tests.backups import DIARY, WHATSAPP, age_atimes, fingerprint, standard_specs
from tests.conftest import run_cli

SMS = ("HomeDomain", "Library/SMS/sms.db")


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backup that stopped half way: no Manifest.db, no Manifest.plist, its snapshot unfinished."""
    root = tmp_path_factory.mktemp("stopped") / "00008030-001A2B3C4D5E6F70"
    info, _, status = default_plists(bundle_ids=(WHATSAPP, DIARY))
    status["SnapshotState"] = "uploading"
    write_backup(root, standard_specs(), index="none", info=info, status=status)
    return root


@pytest.fixture(scope="module")
def source_payloads(stopped: Path) -> dict[str, bytes]:
    """fileID -> bytes of every payload, read once before any test takes the source's fingerprint."""
    return {path.name: path.read_bytes() for path in stopped.glob("[0-9a-f][0-9a-f]/*") if path.is_file()}


def untouched(root: Path) -> dict[str, tuple]:
    """The source's fingerprint, its access times aged first: what a command must leave as it is."""
    age_atimes(root)
    return fingerprint(root)


def named(source: Path, index_dir: Path) -> dict[str, tuple[str, str]]:
    """fileID -> (domain, relativePath) of every file the tree mount names, from ``backupfs report``."""
    rows = run_cli("report", source, "--index-dir", index_dir).stdout.splitlines()[1:]
    return {fid: (domain, path) for fid, domain, path, origin, *_ in (row.split("\t") for row in rows) if origin != "unknown"}


def test_every_payload_is_at_its_file_id_and_the_manifest_names_every_named_file(
    stopped, source_payloads, mount, index_dir
) -> None:
    before = untouched(stopped)
    mnt = mount(stopped, "--as", "backup")
    shown = {path.name: path.read_bytes() for path in mnt.glob("[0-9a-f][0-9a-f]/*") if path.is_file()}
    assert shown == source_payloads  # nothing lost, nothing added, byte for byte (no header patched)
    assert sorted(p.name for p in mnt.iterdir() if p.is_file()) == ["Info.plist", "Manifest.db", "Manifest.plist", "Status.plist"]
    records = read_manifest_db(mnt / "Manifest.db")
    assert records.complete
    files = {r.file_id: (r.domain, r.relative_path) for r in records.records if r.kind is Kind.FILE}
    assert files == named(stopped, index_dir)
    assert all(r.size == len(source_payloads[r.file_id]) for r in records.records if r.kind is Kind.FILE)
    folders = {(r.domain, r.relative_path) for r in records.records if r.kind is Kind.DIR}
    for domain, path in files.values():
        parts = path.split("/")
        assert all((domain, "/".join(parts[:depth])) in folders for depth in range(len(parts)))
    assert fingerprint(stopped) == before


def test_pyiosbackup_reads_the_mount(stopped, source_payloads, mount, index_dir) -> None:
    mnt = mount(stopped, "--as", "backup")
    backup = PyiosBackup.from_path(mnt)
    assert {e.file_id: (e.domain, e.relative_path) for e in backup.iter_files()} == named(stopped, index_dir)
    assert backup.get_entry_by_domain_and_path(*SMS).read_bytes() == source_payloads[file_id(*SMS)]


def test_mvt_checks_the_mount(stopped, mount, index_dir, mvt_ios, tmp_path) -> None:
    before = untouched(stopped)
    mnt = mount(stopped, "--as", "backup")
    out = tmp_path / "mvt"
    ran = subprocess.run([mvt_ios, "check-backup", "--output", out, mnt], check=False, capture_output=True, text=True,
                         timeout=600)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    rows = json.loads((out / "manifest.json").read_text())
    assert {r["file_id"]: (r["domain"], r["relative_path"]) for r in rows if r["flags"] == 1} == named(stopped, index_dir)
    assert json.loads((out / "sms.json").read_text())
    assert fingerprint(stopped) == before


def test_an_encrypted_backup_is_refused_in_one_line(tmp_path: Path, index_dir: Path) -> None:
    from tests.backups import build

    encrypted = build(tmp_path / "encrypted", index="none", encrypted=True)
    (tmp_path / "mnt").mkdir()
    refused = run_cli("mount", "--as", "backup", encrypted.root, tmp_path / "mnt", "--index-dir", index_dir, check=False)
    assert refused.returncode == 1 and "not supported yet" in refused.stderr and "Traceback" not in refused.stderr

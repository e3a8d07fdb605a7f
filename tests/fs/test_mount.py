"""End-to-end: real backups mounted with the real CLI through FUSE."""

from __future__ import annotations

import errno
import filecmp
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from backupfs.index.store import Index
from backupfs.naming.catalog import Catalog
from backupfs.readable.base import READABLE_FOLDER
from backupfs.source.manifest.records import Kind, file_id
from tests.backups import (
    DIARY,
    UNNAMEABLE_APP,
    WHATSAPP,
    BuiltBackup,
    build,
    fingerprint,
    roundtrip_specs,
    standard_specs,
)
from tests.conftest import run_cli, walk_outside_readable


def mounted_path(mnt: Path, domain: str, relative_path: str) -> Path:
    path = mnt / domain / relative_path
    if path.name.endswith("-wal"):
        path = path.with_name(path.name + ".raw")
    return path


def xattr(path: Path, name: str) -> str:
    return os.getxattr(path, name, follow_symlinks=False).decode()


def all_files(mnt: Path) -> list[Path]:
    return [Path(d) / f for d, _, files in walk_outside_readable(mnt) for f in files]


def open_ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)


def reference_rows(backup: BuiltBackup, tmp_path: Path, relative_path: str, query: str) -> list[tuple]:
    """What SQLite itself sees in a database plus its -wal, on an ordinary writable copy."""
    copy = tmp_path / "reference"
    copy.mkdir(exist_ok=True)
    for spec in backup.files:
        if spec.domain == "HomeDomain" and spec.relative_path.startswith(relative_path):
            (copy / Path(spec.relative_path).name).write_bytes(spec.content or b"")
    with sqlite3.connect(copy / Path(relative_path).name) as conn:
        return conn.execute(query).fetchall()


@pytest.mark.parametrize(("layout", "index"), [("hashed", "db"), ("flat", "mbdb")])
def test_intact_index_puts_every_file_at_its_real_path(tmp_path, mount, layout, index):
    backup = build(tmp_path / "src", layout=layout, index=index)
    mnt = mount(backup.root)
    for spec in backup.specs:
        path = mounted_path(mnt, spec.domain, spec.relative_path)
        if spec.kind is Kind.DIR:
            assert path.is_dir(), path
        elif spec.kind is Kind.SYMLINK:
            assert os.readlink(path) == spec.target
        else:
            assert path.is_file(), path
            assert xattr(path, "user.backupfs.fileid") == file_id(spec.domain, spec.relative_path)
            assert xattr(path, "user.backupfs.origin") == "manifest"
            assert path.stat().st_mtime == spec.mtime
            if not spec.relative_path.endswith(".db"):
                assert path.read_bytes() == spec.content, path
    assert len(all_files(mnt)) == len(backup.files) + 1  # + the symlink


def test_non_utf8_names_from_mbdb(tmp_path, mount):
    from backupfs.demo.writer import PayloadSpec

    weird = b"Documents/caf\xe9.txt".decode("utf-8", "surrogateescape")
    backup = build(tmp_path / "src", [PayloadSpec("HomeDomain", weird, b"latin-1 named")], layout="flat", index="mbdb")
    mnt = mount(backup.root)
    path = os.path.join(os.fsencode(mnt), b"HomeDomain/Documents/caf\xe9.txt")
    with open(path, "rb") as handle:
        assert handle.read() == b"latin-1 named"


def test_without_index_every_payload_is_reachable_and_names_are_proven(tmp_path, mount):
    backup = build(tmp_path / "src", index="none")
    mnt = mount(backup.root)
    catalog = Catalog.load()
    seen: dict[str, Path] = {}
    for path in all_files(mnt):
        fid = xattr(path, "user.backupfs.fileid")
        assert fid not in seen, f"{fid} shown twice"
        seen[fid] = path
        origin = xattr(path, "user.backupfs.origin")
        rel = path.relative_to(mnt)
        if origin == "unknown":
            assert rel.parts[0] == "other-data" and rel.name.split(".")[0] == fid
        else:
            name = rel.as_posix().removesuffix(".raw")
            domain, _, relative_path = name.partition("/")
            assert file_id(domain, relative_path) == fid, f"{rel} is not proven"
    assert set(seen) == {file_id(s.domain, s.relative_path) for s in backup.files}
    for spec in backup.files:
        shown = seen[file_id(spec.domain, spec.relative_path)]
        if not spec.relative_path.endswith(".db"):
            assert shown.read_bytes() == spec.content, shown
            # Not stat'ed while listing: size and time come from the payload when shown.
            source = os.stat(backup.payload_path(spec))
            assert (shown.stat().st_size, shown.stat().st_mtime_ns) == (len(spec.content), source.st_mtime_ns)
        if spec.domain != UNNAMEABLE_APP and catalog.lookup(file_id(spec.domain, spec.relative_path)):
            assert mounted_path(mnt, spec.domain, spec.relative_path).is_file()
    assert (mnt / "HomeDomain/Library/SMS/sms.db").is_file()
    assert (mnt / "HomeDomain/Library/AddressBook/AddressBook.sqlitedb").is_file()
    assert xattr(mnt / f"AppDomain-{WHATSAPP}/Library/Preferences/{WHATSAPP}.plist", "user.backupfs.origin") == "catalog"
    prefs = mnt / f"AppDomain-{DIARY}/Library/Preferences/{DIARY}.plist"
    assert xattr(prefs, "user.backupfs.origin") == "app-domain"


def test_unnamed_files_are_grouped_by_sniffed_type(tmp_path, mount):
    backup = build(tmp_path / "src", index="none")
    mnt = mount(backup.root)
    expected = {
        "Documents/cache/7f3e.bin": "images/{}.jpg",
        "Documents/store/ab12.db": "databases/{}.sqlite",
        "Documents/settings/zz.cfg": "plists/{}.plist",
        "Documents/dump/q9.dat": "unknown/{}",
        "Documents/notes/readme-1b2c": "text/{}.txt",
        "Documents/state/s1": "text/{}.json",
        "Documents/empty/e0": "empty/{}",
        "Documents/media/m7": "videos/{}.mov",
    }
    for relative_path, pattern in expected.items():
        fid = file_id(UNNAMEABLE_APP, relative_path)
        path = mnt / "other-data" / pattern.format(fid)
        assert path.is_file(), f"{relative_path} expected at {path}"
        assert path.read_bytes() == next(s.content for s in backup.files if s.relative_path == relative_path)


def test_sqlite_databases_open_read_only_through_the_mount(tmp_path, mount):
    backup = build(tmp_path / "src", index="none")
    mnt = mount(backup.root)
    sms = mnt / "HomeDomain/Library/SMS/sms.db"
    query = "SELECT ROWID, text FROM message ORDER BY ROWID"
    expected = reference_rows(backup, tmp_path, "Library/SMS/sms.db", query)
    main_file = tmp_path / "main-only.db"
    main_file.write_bytes(next(s.content or b"" for s in backup.files if s.relative_path.endswith("sms.db")))
    with sqlite3.connect(f"file:{main_file}?immutable=1", uri=True) as main_only:
        assert len(main_only.execute(query).fetchall()) < len(expected), "fixture WAL must hold extra rows"
    with open_ro(sms) as conn:
        assert conn.execute(query).fetchall() == expected
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    cli = subprocess.run(["sqlite3", "-readonly", str(sms), "SELECT count(*) FROM message"], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert int(cli.stdout) == len(expected)
    assert (mnt / "HomeDomain/Library/SMS/sms.db-wal.raw").is_file()
    assert not (mnt / "HomeDomain/Library/SMS/sms.db-wal").exists()
    for database in (mnt / "other-data/databases").iterdir():
        with open_ro(database) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_rsync_and_cp_copy_identical_files(tmp_path, mount):
    backup = build(tmp_path / "src", index="none")
    mnt = mount(backup.root)
    subprocess.run(["rsync", "-a", f"{mnt}/", str(tmp_path / "rsynced")], check=True)
    subprocess.run(["cp", "-r", str(mnt), str(tmp_path / "copied")], check=True)
    for path in all_files(mnt):
        rel = path.relative_to(mnt)
        if path.is_symlink():
            continue
        assert filecmp.cmp(path, tmp_path / "rsynced" / rel, shallow=False), rel
        assert filecmp.cmp(path, tmp_path / "copied" / rel, shallow=False), rel
        assert (tmp_path / "rsynced" / rel).stat().st_mtime == path.stat().st_mtime


def test_every_write_is_refused(tmp_path, mount):
    backup = build(tmp_path / "src")
    mnt = mount(backup.root)
    target = mnt / "HomeDomain/Library/Preferences/com.apple.springboard.plist"
    attempts = [
        lambda: open(target, "ab"),
        lambda: open(target, "r+b"),
        lambda: open(mnt / "HomeDomain/new.txt", "wb"),
        lambda: os.mkdir(mnt / "HomeDomain/newdir"),
        lambda: os.unlink(target),
        lambda: os.rename(target, mnt / "HomeDomain/moved"),
        lambda: os.chmod(target, 0o777),
        lambda: os.utime(target, (0, 0)),
        lambda: os.truncate(target, 0),
        lambda: os.symlink("x", mnt / "HomeDomain/link"),
        lambda: os.setxattr(target, "user.test", b"1"),
    ]
    for attempt in attempts:
        with pytest.raises(OSError) as info:
            attempt()
        assert info.value.errno in (errno.EROFS, errno.EACCES, errno.EPERM), info.value


def test_source_is_unchanged_by_a_whole_session(tmp_path, mount):
    backup = build(tmp_path / "src", index="none")
    sms = build(tmp_path / "src2")
    before = fingerprint(backup.root), fingerprint(sms.root)
    for source in (backup.root, sms.root):
        run_cli("info", source)
        mnt = mount(source)
        everything = [Path(d) / f for d, _, files in os.walk(mnt) for f in files]  # the readable folder too
        assert any(READABLE_FOLDER in path.parts and path.suffix == ".html" for path in everything)
        for path in everything:
            if not path.is_symlink():
                path.read_bytes()
        for database in mnt.rglob("*.db"):
            with open_ro(database) as conn:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        subprocess.run(["rsync", "-a", f"{mnt}/", str(tmp_path / f"out-{source.name}")], check=True)
        run_cli("unmount", mnt)
    assert (fingerprint(backup.root), fingerprint(sms.root)) == before


def test_info_describes_the_backup(tmp_path, index_dir):
    backup = build(tmp_path / "src", index="none")
    out = run_cli("info", backup.root, "--index-dir", index_dir).stdout
    assert "Test iPhone" in out
    assert "missing" in out
    assert f"Payloads:     {len(backup.files)}" in out
    assert "catalog" in out and "app-domain" in out
    intact = build(tmp_path / "src2")
    out = run_cli("info", intact.root, "--index-dir", index_dir).stdout
    assert "Manifest.db intact" in out
    assert f"manifest {len(intact.files)}" in out
    assert "truncated" not in out
    short = build(tmp_path / "src3", roundtrip_specs())  # one payload shorter than its row says
    out = run_cli("info", short.root, "--index-dir", index_dir).stdout
    assert "truncated:  1 payloads are shorter than the size the index records" in out


def test_encrypted_backup_without_index_is_explained(tmp_path, index_dir, mount):
    backup = build(tmp_path / "src", index="none", encrypted=True)
    before = fingerprint(backup.root)
    out = run_cli("info", backup.root, "--index-dir", index_dir).stdout
    assert "cannot be recovered" in out
    assert "encrypted" in out.lower()
    mounted = run_cli("mount", backup.root, tmp_path / "mnt0", "--index-dir", index_dir, check=False)
    assert mounted.returncode == 1 and "does not exist" in mounted.stderr  # no folder yet: one clear line
    mnt = mount(backup.root)
    notice = mnt / "README-backupfs.txt"
    text = notice.read_text()
    assert "encrypted" in text and "Manifest.db" in text and "What you can do" in text
    assert notice.stat().st_size == len(text.encode()) and notice.stat().st_mode & 0o222 == 0
    payloads = [p for p in all_files(mnt) if p != notice]
    assert len(payloads) == len(backup.files)
    unnamed = [p for p in payloads if p.relative_to(mnt).parts[0] == "other-data"]
    assert unnamed and all(p.parent.name == "encrypted" for p in unnamed)
    report = run_cli("report", backup.root, "--index-dir", index_dir).stdout.splitlines()
    assert len(report) == 1 + len(backup.files)  # the notice is not a payload
    intact = build(tmp_path / "src2", encrypted=True)
    info = run_cli("info", intact.root, "--index-dir", index_dir).stdout
    assert "password needed" in info and "cannot be recovered" not in info  # its index holds the keys
    (tmp_path / "mnt-locked").mkdir()
    refused = run_cli("mount", intact.root, tmp_path / "mnt-locked", "--index-dir", index_dir, check=False)
    assert refused.returncode == 1 and "BACKUPFS_PASSWORD" in refused.stderr  # no terminal to ask on
    assert fingerprint(backup.root) == before


def test_backup_folder_with_several_devices(tmp_path, mount):
    from backupfs.demo.writer import PayloadSpec, default_plists, write_backup

    folder = tmp_path / "Backup"
    for name, udid in (("Anna's iPhone", "00008030-000000000000000A"), ("Ben's iPad", "00008030-000000000000000B")):
        info, manifest, status = default_plists(device_name=name, udid=udid)
        write_backup(folder / udid, [PayloadSpec("HomeDomain", "Library/SMS/sms.db", b"x")],
                     info=info, manifest_plist=manifest, status=status)
    mnt = mount(folder)
    shown = sorted(p.name for p in mnt.iterdir())
    assert len(shown) == 2
    assert shown[0].startswith("Anna's iPhone") and shown[1].startswith("Ben's iPad")
    assert (mnt / shown[0] / "HomeDomain/Library/SMS/sms.db").read_bytes() == b"x"


def test_bad_input_gives_one_clear_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    unrelated = tmp_path / "photos"
    unrelated.mkdir()
    (unrelated / "holiday.jpg").write_bytes(b"\xff\xd8\xff")
    for source in (empty, unrelated, tmp_path / "missing", unrelated / "holiday.jpg"):
        result = run_cli("info", source, check=False)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("backupfs: error: "), result.stderr
        assert "Traceback" not in result.stderr
    backup = build(tmp_path / "src")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    for mountpoint in (tmp_path / "nowhere", busy):
        result = run_cli("mount", backup.root, mountpoint, check=False)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    result = run_cli("unmount", busy, check=False)
    assert result.returncode == 1 and "not mounted" in result.stderr


def _settled_index(index_dir: Path) -> tuple[list[Path], int]:
    """The index files once the mount's background completion has finished with them."""
    for _ in range(100):
        files = sorted(index_dir.iterdir())
        if len(files) == 2:  # the index, and the copies of the databases its readable folder reads
            index = Index(files[0])
            done = not index.pending_dirs and index.unread_count() == 0
            index.close()
            if done:
                return files, files[0].stat().st_mtime_ns
        time.sleep(0.2)
    raise AssertionError(f"the index in {index_dir} was never completed")


def test_second_mount_reuses_the_index(tmp_path, mount, index_dir):
    backup = build(tmp_path / "src", index="none")
    mount(backup.root)
    first = _settled_index(index_dir)
    mount(backup.root)
    assert sorted(index_dir.iterdir()) == first[0] and first[0][0].stat().st_mtime_ns == first[1]
    assert not any(p.name.startswith(".") or p.suffix == ".tmp" for p in backup.root.rglob("*"))


def test_foreground_mount_stays_until_unmounted(tmp_path, index_dir):
    backup = build(tmp_path / "src")
    mnt = tmp_path / "fg"
    mnt.mkdir()
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "backupfs", "mount", "-f", str(backup.root), str(mnt), "--index-dir", str(index_dir)],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        import time

        from backupfs.source.mounttable import is_mounted

        for _ in range(100):
            if is_mounted(mnt) and (mnt / "HomeDomain").exists():
                break
            time.sleep(0.1)
        assert (mnt / "HomeDomain/Library/SMS/sms.db").is_file()
        run_cli("unmount", mnt)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            shutil.rmtree(mnt, ignore_errors=True)


@pytest.mark.parametrize("index", ["db", "mbdb"])
def test_damaged_index_is_used_as_far_as_it_goes(tmp_path, mount, index_dir, index):
    from backupfs.demo.writer import PayloadSpec

    extra = [PayloadSpec(UNNAMEABLE_APP, f"Documents/bulk/{n:04d}.txt", b"row %d" % n) for n in range(400)]
    backup = build(tmp_path / "src", standard_specs() + extra, index=index)
    index_file = backup.root / ("Manifest.db" if index == "db" else "Manifest.mbdb")
    data = index_file.read_bytes()
    index_file.write_bytes(data[: len(data) * 6 // 10])
    out = run_cli("info", backup.root, "--index-dir", index_dir).stdout
    assert f"{index_file.name} is damaged" in out or f"{index_file.name} damaged" in out, out
    assert "index-" not in out  # never the name of backupfs's private copy
    mnt = mount(backup.root)
    shown = {xattr(p, "user.backupfs.fileid"): p for p in all_files(mnt) if not p.is_symlink()}
    assert set(shown) == {file_id(s.domain, s.relative_path) for s in backup.files}
    origins = {xattr(p, "user.backupfs.origin") for p in shown.values()}
    assert "salvaged-index" in origins and "unknown" in origins
    for fid, path in shown.items():
        rel = path.relative_to(mnt).as_posix().removesuffix(".raw")
        if not rel.startswith("other-data/"):
            assert file_id(*rel.split("/", 1)) == fid


def test_demo_mounts_and_lists_a_broken_sample(tmp_path):
    folder = tmp_path / "demo"
    out = run_cli("demo", folder, "--index-dir", tmp_path / "idx").stdout
    try:
        assert "Manifest.db / Manifest.mbdb missing" in out
        assert "HomeDomain/Library/SMS/sms.db" in out and "message: " in out
        assert (folder / "mnt/HomeDomain/Library/SMS/sms.db").is_file()
        assert any((folder / "mnt/other-data/images").iterdir())
        assert not (folder / "backup/Manifest.db").exists()
        # Named only by a row that lives in sms.db-wal: the WAL was merged before harvesting.
        attachment = next((folder / "mnt/MediaDomain/Library/SMS/Attachments").rglob("IMG_4023.MOV"))
        assert os.getxattr(attachment, "user.backupfs.origin") == b"harvested:sms"
        # The demo shows the readable folder first and says which page to open.
        assert f"Mounted on {folder / 'mnt'}:\n\n{READABLE_FOLDER}/\n  Calendar/" in out
        page = re.search(r"^Read it:   open '(.+)' in a web browser$", out, re.M)
        assert page and f"<h1>{Path(page[1]).stem}</h1>" in Path(page[1]).read_text()
    finally:
        run_cli("unmount", folder / "mnt")
    again = run_cli("demo", folder, "--index-dir", tmp_path / "idx")  # re-running replaces the sample
    run_cli("unmount", folder / "mnt")
    assert again.returncode == 0


def test_report_lists_every_payload_once_with_its_origin(tmp_path, index_dir):
    import csv
    import io

    backup = build(tmp_path / "src", index="none")
    out = run_cli("report", backup.root, "--csv", "--index-dir", index_dir).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(r["fileid"] for r in rows) == sorted(file_id(s.domain, s.relative_path) for s in backup.files)
    by_id = {r["fileid"]: r for r in rows}
    sms = by_id[file_id("HomeDomain", "Library/SMS/sms.db")]
    assert (sms["domain"], sms["path"], sms["origin"]) == ("HomeDomain", "Library/SMS/sms.db", "catalog")
    blob = by_id[file_id(UNNAMEABLE_APP, "Documents/cache/7f3e.bin")]
    assert (blob["domain"], blob["origin"], blob["type"]) == ("", "unknown", "images/jpg")
    assert blob["shown_as"] == f"other-data/images/{blob['fileid']}.jpg"


def test_names_from_another_backup_and_from_siblings(tmp_path, mount, index_dir):
    folder = tmp_path / "Backup"
    older = build(folder / "00008030-000000000000000A")  # same phone, index intact
    broken = build(folder / "00008030-000000000000000B", index="none")
    private = file_id(UNNAMEABLE_APP, "Documents/cache/7f3e.bin")

    def origin_of(mnt: Path) -> str:
        path = mnt / UNNAMEABLE_APP / "Documents/cache/7f3e.bin"
        assert xattr(path, "user.backupfs.fileid") == private
        return xattr(path, "user.backupfs.origin")

    assert origin_of(mount(broken.root)) == "other-backup"  # the sibling in the same Backup folder
    alone = tmp_path / "elsewhere" / "copy"
    shutil.copytree(broken.root, alone)
    out = run_cli("info", alone, "--index-dir", index_dir).stdout
    assert "other-backup" not in out
    assert origin_of(mount(alone, "--names-from", str(older.root))) == "other-backup"
    assert origin_of(mount(alone, "--names-from", str(older.root / "Manifest.db"))) == "other-backup"


def test_rows_behind_a_destroyed_page_are_salvaged(tmp_path, mount):
    from backupfs.demo.writer import PayloadSpec

    extra = [PayloadSpec(UNNAMEABLE_APP, f"Documents/bulk/{n:04d}.txt", b"row %d" % n) for n in range(400)]
    backup = build(tmp_path / "src", standard_specs() + extra)
    index_file = backup.root / "Manifest.db"
    data = bytearray(index_file.read_bytes())
    data[100:4096] = bytes(range(256)) * 15 + bytes(range(156))  # page 1: header kept, schema destroyed
    index_file.write_bytes(bytes(data))
    mnt = mount(backup.root)
    for n in (0, 399):
        path = mnt / UNNAMEABLE_APP / f"Documents/bulk/{n:04d}.txt"
        assert xattr(path, "user.backupfs.origin") == "salvaged-index"
        assert path.read_bytes() == b"row %d" % n


def test_relative_paths_work_from_a_background_mount(tmp_path):
    """The mount goes to the background, leaving the folder the paths were given from."""
    build(tmp_path / "src", index="none")
    (tmp_path / "mnt").mkdir()
    relative = ["src", "mnt", "--index-dir", "cache"]
    subprocess.run(
        [sys.executable, "-m", "backupfs", "mount", *relative], cwd=tmp_path, check=True, capture_output=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    try:
        assert (tmp_path / "mnt/HomeDomain/Library/SMS/sms.db").is_file()
        assert any((tmp_path / "mnt/other-data").iterdir())
        assert [p.parent for p in (tmp_path / "cache").glob("*.index.sqlite")] == [tmp_path / "cache"]
    finally:
        subprocess.run([sys.executable, "-m", "backupfs", "unmount", "mnt"], cwd=tmp_path, check=True,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})

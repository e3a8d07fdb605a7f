"""Damaged and hostile backups, mounted through the real command line (issue 5, items 2-4).

Each test builds a backup with real bytes, damages it or plants hostile rows in its index,
mounts it with ``python -m backupfs mount`` and checks what the mount shows: every payload
served exactly once with its own bytes, nothing resolving outside the mount point, what
was wrong told on stderr (``backupfs: note: ...``), and the source unchanged.

Truncation in the middle of an index and a destroyed schema page are covered by
tests/test_mount.py; the plist readers' unit tests by tests/test_plists.py.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import stat
from pathlib import Path

import pytest

from backupfs.demo.encode import encode_mbfile
from backupfs.demo.writer import PayloadSpec
from backupfs.index.paths import MAX_PATH_BYTES, NAME_MAX, TOO_LONG
from backupfs.source.manifest.records import Kind, file_id
from tests.backups import age_atimes, build, fingerprint, standard_specs
from tests.conftest import run_cli, walk_outside_readable

HOME = "HomeDomain"
_CONTROL_BYTES = set(range(0x20)) | {0x7F}

def served(mnt: Path) -> dict[str, bytes]:
    """fileid -> the mount path (relative, bytes) that serves it, after checking every entry.

    Every name must be one valid component (no '/', not '.' or '..', no NUL or other
    control character, at most 255 bytes), every path must resolve inside the mount, and
    no payload may be shown twice.
    """
    root = os.fsencode(mnt)
    shown: dict[str, bytes] = {}

    def fail(exc: OSError) -> None:
        raise exc

    for dirpath, dirnames, filenames in walk_outside_readable(root, onerror=fail):
        for name in dirnames + filenames:
            assert name not in (b"", b".", b"..") and b"/" not in name, name
            assert not _CONTROL_BYTES & set(name) and len(name) <= NAME_MAX, name
            path = os.path.join(dirpath, name)
            real = os.path.realpath(path)
            assert real == root or real.startswith(root + b"/"), f"{path!r} resolves to {real!r}"
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            fid = os.getxattr(path, "user.backupfs.fileid", follow_symlinks=False).decode()
            assert fid not in shown, f"{fid} shown at {shown[fid]!r} and {path!r}"
            shown[fid] = os.path.relpath(path, root)
    return shown


def assert_every_payload_once(mnt: Path, payloads: dict[str, bytes]) -> dict[str, bytes]:
    """Each payload served exactly once, with its own bytes; returns fileid -> shown path."""
    shown = served(mnt)
    assert set(shown) == set(payloads)
    for fid, relative in shown.items():
        data = (mnt / os.fsdecode(relative)).read_bytes()
        expected = payloads[fid]
        if expected.startswith(b"SQLite format 3\x00"):  # shown through a view with a patched header
            data, expected = data[100:], expected[100:]
        assert data == expected, relative
    return shown


def contents(specs: list[PayloadSpec]) -> dict[str, bytes]:
    return {file_id(s.domain, s.relative_path): s.content or b"" for s in specs if s.kind is Kind.FILE}


def assert_named_paths_are_proven(shown: dict[str, bytes]) -> None:
    for fid, relative in shown.items():
        rel = os.fsdecode(relative).removesuffix(".raw")
        if not rel.startswith("other-data/"):
            assert file_id(*rel.split("/", 1)) == fid, f"{rel} is not proven"


# --- item 2: damaged indexes ------------------------------------------------------------


def _no_wal_specs() -> list[PayloadSpec]:
    """The standard phone without its -wal: every payload is then served as it is stored."""
    return [s for s in standard_specs() if not s.relative_path.endswith("-wal")]


def _garbage(size: int, seed: int) -> bytes:
    return b"\x93GARBAGE" + random.Random(seed).randbytes(size)


def _overwrite_pages(path: Path, first: int, last: int) -> None:
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    assert len(data) > last * page, "the index must have the pages to damage"
    data[first * page : last * page] = random.Random(5).randbytes((last - first) * page)
    path.write_bytes(bytes(data))


INDEX_DAMAGE = {
    # id: (index format, damage, words the note must hold)
    "db-empty": ("db", lambda p: p.write_bytes(b""), "Manifest.db is empty (0 bytes)."),
    "db-random-bytes": ("db", lambda p: p.write_bytes(_garbage(20_000, 1)), "Manifest.db is not a readable SQLite"),
    "db-cut-in-first-page": (
        "db", lambda p: p.write_bytes(p.read_bytes()[:1500]), "bytes missing at the end) and its list of files cannot"
    ),
    "db-garbage-pages": ("db", lambda p: _overwrite_pages(p, 3, 6), "Manifest.db is damaged"),
    "mbdb-empty": ("mbdb", lambda p: p.write_bytes(b""), "Manifest.mbdb is empty (0 bytes)."),
    "mbdb-bad-header": (
        "mbdb", lambda p: p.write_bytes(b"MBDB\x04\x00" + p.read_bytes()[6:]), "does not start with the mbdb header"
    ),
    "mbdb-cut-in-header": ("mbdb", lambda p: p.write_bytes(b"mbd"), "does not start with the mbdb header"),
}


@pytest.mark.parametrize("case", INDEX_DAMAGE)
def test_damaged_index_still_mounts_with_every_payload(tmp_path, mount, case):
    index, damage, words = INDEX_DAMAGE[case]
    specs = _no_wal_specs()
    if case == "db-garbage-pages":  # enough rows for pages in the middle to hold some
        specs += [PayloadSpec(HOME, f"Documents/bulk/{n:04d}.txt", b"row %d" % n) for n in range(300)]
    backup = build(tmp_path / "src", specs, layout="hashed" if index == "db" else "flat", index=index)
    damage(backup.root / ("Manifest.db" if index == "db" else "Manifest.mbdb"))
    age_atimes(backup.root)
    before = fingerprint(backup.root)

    mnt = mount(backup.root)
    notes = mount.notes
    index_notes = [n for n in notes if "Manifest." in n]
    assert len(index_notes) == 1 and words in index_notes[0], notes
    assert ("Manifest.db " if index == "db" else "Manifest.mbdb ") in index_notes[0]
    # "What it still holds was used" only when it held something.
    assert index_notes[0].endswith("What it still holds was used.") == (case == "db-garbage-pages"), index_notes
    shown = assert_every_payload_once(mnt, contents(specs))
    assert_named_paths_are_proven(shown)
    # Named where provable: the catalog knows these even when the index names nothing.
    assert (mnt / HOME / "Library/SMS/sms.db").is_file()
    assert (mnt / HOME / "Library/AddressBook/AddressBook.sqlitedb").is_file()
    if case == "db-garbage-pages":
        origins = {os.getxattr(mnt / os.fsdecode(p), "user.backupfs.origin") for p in shown.values()}
        assert b"salvaged-index" in origins
    run_cli("unmount", mnt)
    assert fingerprint(backup.root) == before


# --- item 2: damaged plists -------------------------------------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


PLIST_DAMAGE = {
    # damage: (how, the note it gives, with {} for the file name)
    "empty": (lambda p: p.write_bytes(b""), "{} is empty (0 bytes)."),
    "truncated": (_truncate, "{} is a damaged binary plist (truncated or corrupt); it was ignored."),
    "garbage": (lambda p: p.write_bytes(_garbage(3000, 2)), "{} is not a plist (unrecognised content); it was ignored."),
    "list": (
        lambda p: p.write_bytes(b'<?xml version="1.0"?><plist version="1.0"><array><string>x</string></array></plist>'),
        "{} holds a list instead of a dictionary; it was ignored.",
    ),
}
PLISTS = ("Info.plist", "Manifest.plist", "Status.plist")


@pytest.mark.parametrize("shift", range(len(PLIST_DAMAGE)))
def test_damaged_plists_still_mount_with_every_payload(tmp_path, mount, shift):
    """Each plist gets each damage once over the four runs (a Latin square: 4 mounts, 12 cases)."""
    specs = _no_wal_specs()
    backup = build(tmp_path / "src", specs)
    damages = list(PLIST_DAMAGE)
    expected_notes = []
    for number, name in enumerate(PLISTS):
        how, note = PLIST_DAMAGE[damages[(shift + number) % len(damages)]]
        how(backup.root / name)
        expected_notes.append(note.format(name))
    age_atimes(backup.root)
    before = fingerprint(backup.root)

    mnt = mount(backup.root)
    notes = mount.notes
    for note in expected_notes:
        assert any(line.endswith(note) for line in notes), (note, notes)
    shown = assert_every_payload_once(mnt, contents(specs))
    assert all(not p.startswith(b"other-data/") for p in shown.values())  # the index names them all
    assert_named_paths_are_proven(shown)
    run_cli("unmount", mnt)
    assert fingerprint(backup.root) == before


# --- item 3: hostile names in an index --------------------------------------------------

LONG_PATH = "/".join(["d" * 200] * 25) + "/deep.txt"  # 5,033 bytes
HOSTILE = {
    # id: (domain, relativePath, where the rule in backupfs.index.paths shows it; None: checked below)
    "dotdot": (HOME, "../../../../etc/passwd", "HomeDomain/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd"),
    "dotdot-inside": (HOME, "Library/../../x", "HomeDomain/Library/%2E%2E/%2E%2E/x"),
    "absolute": (HOME, "/etc/passwd", "HomeDomain/etc/passwd"),
    "empty-and-dot": (HOME, "a//b/./c", "HomeDomain/a/b/c"),
    "control": (HOME, "ctl/\x01bell\x07\nline\x1b[31m\x7f", "HomeDomain/ctl/%01bell%07%0Aline%1B[31m%7F"),
    "long-name": (HOME, "long/" + "n" * 300, None),
    "long-path": (HOME, LONG_PATH, None),
    "domain-parent-x": ("../x", "f", "..%2Fx/f"),
    "domain-slash": ("/", "f", "%2F/f"),
    "domain-parent": ("..", "f", "%2E%2E/f"),
    "domain-dot": (".", "f", "%2E/f"),
    "domain-empty": ("", "f", "(empty)/f"),
    "empty-path": (HOME, "", None),  # a file row naming the domain folder itself
    "file-at-folder": (HOME, "clash/a", None),
    "file-in-folder": (HOME, "clash/a/b", "HomeDomain/clash/a/b"),
    "same-path-1": (HOME, "dup/x", None),
    "same-path-2": (HOME, "dup//x", None),
    "plain": (HOME, "Library/Preferences/plain.plist", "HomeDomain/Library/Preferences/plain.plist"),
}
BOGUS_ID = "ab" * 20  # a Manifest.db row whose fileID is no hash of its name


def _hostile_specs() -> list[PayloadSpec]:
    return [PayloadSpec(domain, path, b"payload of %s" % case.encode()) for case, (domain, path, _) in HOSTILE.items()]


def _add_unproven_row(root: Path) -> bytes:
    """A second Manifest.db row claiming the `dotdot` path, and its payload."""
    content = b"claims a name it cannot prove"
    (root / BOGUS_ID[:2]).mkdir(exist_ok=True)
    (root / BOGUS_ID[:2] / BOGUS_ID).write_bytes(content)
    blob = encode_mbfile(relative_path=HOSTILE["dotdot"][1], mode=0o100644, size=len(content), mtime=1)
    with contextlib.closing(sqlite3.connect(root / "Manifest.db")) as conn, conn:
        conn.execute("INSERT INTO Files VALUES (?, ?, ?, 1, ?)", (BOGUS_ID, HOME, HOSTILE["dotdot"][1], blob))
    return content


@pytest.mark.parametrize("index", ["db", "db-careful", "mbdb"])
def test_hostile_names_stay_inside_and_every_payload_stays_reachable(tmp_path, mount, index):
    """``db`` takes the SQL bulk copy for plain rows, ``db-careful`` reads every row in Python."""
    specs = _hostile_specs()
    fmt = "mbdb" if index == "mbdb" else "db"
    backup = build(tmp_path / "src", specs, layout="flat" if fmt == "mbdb" else "hashed", index=fmt)
    payloads = contents(specs)
    if index != "mbdb":
        payloads[BOGUS_ID] = _add_unproven_row(backup.root)
    if index == "db-careful":
        (backup.root / "Manifest.db-wal").write_bytes(b"")  # changes nothing, but turns the bulk copy away
    age_atimes(backup.root)
    before = fingerprint(backup.root)

    mnt = mount(backup.root)
    notes = mount.notes
    assert not [n for n in notes if "Manifest" in n], notes  # the index itself is intact
    shown = {fid: os.fsdecode(path) for fid, path in assert_every_payload_once(mnt, payloads).items()}
    fid = {case: file_id(domain, path) for case, (domain, path, _) in HOSTILE.items()}
    for case, (_, _, expected) in HOSTILE.items():
        if expected is not None:
            assert shown[fid[case]] == expected, case

    long_name = Path(shown[fid["long-name"]])
    assert long_name.parent == Path(HOME, "long") and long_name.name.startswith("n" * 200)
    assert len(long_name.name.encode()) <= NAME_MAX
    deep = shown[fid["long-path"]].split("/")
    assert deep[0] == HOME and deep[-1] == "deep.txt" and deep[-2].startswith(TOO_LONG)
    assert all(part == "d" * 200 for part in deep[1:-2]) and len("/".join(deep).encode()) <= MAX_PATH_BYTES
    # A file row at a folder's path (the domain itself, or `a` beside `a/b`) moves aside.
    assert shown[fid["empty-path"]] == f"{HOME}~{fid['empty-path'][:8]}"
    assert shown[fid["file-at-folder"]] == f"{HOME}/clash/a~{fid['file-at-folder'][:8]}"
    assert (mnt / HOME / "clash/a").is_dir()
    # One path, two file ids: one keeps it, the other is tagged with its own file id.
    first, second = sorted((shown[fid["same-path-1"]], shown[fid["same-path-2"]]))
    assert first == f"{HOME}/dup/x" and second.startswith(f"{HOME}/dup/x~")
    moved = fid["same-path-1"] if shown[fid["same-path-1"]] == second else fid["same-path-2"]
    assert second == f"{HOME}/dup/x~{moved[:8]}"
    if index != "mbdb":  # the row that cannot prove its name: kept, but not under that name
        assert shown[BOGUS_ID].startswith(f"other-data/text/{BOGUS_ID}")
        assert os.getxattr(mnt / shown[BOGUS_ID], "user.backupfs.origin") == b"unknown"
    run_cli("unmount", mnt)
    assert fingerprint(backup.root) == before


# --- item 4: symlink rows ---------------------------------------------------------------

MAPS = b'<?xml version="1.0"?><plist version="1.0"><dict><key>LastViewed</key><string>Paris</string></dict></plist>'
LINKS = {
    # mount path: (target in the index, target shown)
    "HomeDomain/Library/Preferences/link-to-maps.plist": ("com.apple.Maps.plist", "com.apple.Maps.plist"),
    "HomeDomain/Library/Preferences/up-and-over": ("../SMS/sms.txt", "../SMS/sms.txt"),
    "HomeDomain/Library/absolute": ("/etc/passwd", "../../etc/passwd"),
    "HomeDomain/Library/climbing": ("../../../../etc/passwd", "../../etc/passwd"),
    "HomeDomain/climbing-after-a-name": ("a/../../..", ".."),
    "HomeDomain/Library/to-the-root": ("../..", "../.."),  # harmless: the mount root
    # Lexically inside, but the kernel follows `to-the-root` first and would climb from there.
    "HomeDomain/Library/through-a-link": ("to-the-root/../../..", "../.."),
    "%2E%2E/root-link": ("/", ".."),
}


@pytest.mark.parametrize("index", ["db", "mbdb"])
def test_symlink_rows_cannot_lead_outside_the_mount(tmp_path, mount, index):
    specs = [
        PayloadSpec(HOME, "Library/Preferences/com.apple.Maps.plist", MAPS),
        PayloadSpec(HOME, "Library/SMS/sms.txt", b"messages"),
    ]
    for shown_at, (target, _) in LINKS.items():
        domain, path = shown_at.split("/", 1)
        specs.append(PayloadSpec(".." if domain == "%2E%2E" else domain, path, kind=Kind.SYMLINK, target=target))
    backup = build(tmp_path / "src", specs, layout="flat" if index == "mbdb" else "hashed", index=index)
    before = fingerprint(backup.root)
    host_passwd = Path("/etc/passwd").read_bytes()

    mnt = mount(backup.root)
    root = os.stat(mnt)
    for shown_at, (_, shown_target) in LINKS.items():
        link = mnt / shown_at
        assert link.is_symlink(), shown_at
        assert os.readlink(link) == shown_target, shown_at
        real = os.path.realpath(link)
        assert real == str(mnt) or real.startswith(f"{mnt}/"), (shown_at, real)
        try:
            st = os.stat(link)  # resolved by the kernel, one component at a time
        except FileNotFoundError:
            continue  # dangling, inside the mount
        assert st.st_dev == root.st_dev, f"{shown_at} leads out of the mount"
        if stat.S_ISREG(st.st_mode):
            assert link.read_bytes() != host_passwd
    assert (mnt / "HomeDomain/Library/Preferences/link-to-maps.plist").read_bytes() == MAPS
    assert (mnt / "HomeDomain/Library/Preferences/up-and-over").read_bytes() == b"messages"
    assert os.path.samefile(mnt / "HomeDomain/Library/through-a-link", mnt)
    assert os.path.samefile(mnt / "HomeDomain/climbing-after-a-name", mnt)
    for dangling in ("HomeDomain/Library/absolute", "HomeDomain/Library/climbing"):
        with pytest.raises(FileNotFoundError):
            (mnt / dangling).read_bytes()
    served(mnt)  # and nothing else in the mount resolves outside it
    run_cli("unmount", mnt)
    assert fingerprint(backup.root) == before

"""The SQLite view against real SQLite: databases and WALs captured as a backup would be.

Two independent judges: a read-only client opening the view's bytes must see exactly the
committed data the writing connection saw, and the view's bytes must equal what SQLite
itself produces when it recovers and checkpoints a copy of the same files.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import struct
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupfs.source.sqlite_view import SqliteView, needs_view, open_view

Snapshot = dict[str, list[tuple]]


def snapshot(conn: sqlite3.Connection) -> Snapshot:
    """Every table's rows, as a client would query them."""
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    return {n: conn.execute(f'SELECT * FROM "{n}" ORDER BY rowid').fetchall() for n in names}


def reader(data: bytes):
    return lambda size, offset: data[offset : offset + size]


def view_of(db: bytes, wal: bytes | None = None) -> SqliteView:
    view = open_view(reader(db), len(db), reader(wal) if wal is not None else None, len(wal or b""))
    assert view is not None
    return view


def all_bytes(view: SqliteView) -> bytes:
    return view.read(view.size, 0)


@dataclass
class Captured:
    """A WAL-mode database as a backup captures it, with the truth at every commit."""

    db: bytes
    base: Snapshot  # what the main file alone holds (the state at the last checkpoint)
    commits: list[tuple[int, Snapshot]] = field(default_factory=list)  # (WAL length, state)
    wal: bytes = b""  # after the last commit
    wal_with_tail: bytes = b""  # plus frames of a transaction still open in another connection
    final: Snapshot = field(default_factory=dict)

    def expected_for(self, wal_length: int) -> Snapshot:
        """The state SQLite recovers from a WAL cut to ``wal_length`` bytes."""
        state = self.base
        for length, commit_state in self.commits:
            if length <= wal_length:
                state = commit_state
        return state


def _build(path: Path) -> Captured:
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, note TEXT)")
    conn.executemany("INSERT INTO people(name, note) VALUES (?, ?)", [(f"p{i}", "n" * i) for i in range(60)])
    # Bulk the main file up, interleaved with pages the WAL will rewrite, so a merged read
    # alternates between the two sources and a later VACUUM shrinks below the main file.
    conn.execute("CREATE TABLE bulk(id INTEGER PRIMARY KEY, blob TEXT)")
    conn.executemany("INSERT INTO bulk(blob) VALUES (?)", [("b" * (300 + 11 * i),) for i in range(150)])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal_path = Path(f"{path}-wal")
    assert wal_path.stat().st_size == 0
    captured = Captured(db=b"", base=snapshot(conn))

    transactions = [
        ["INSERT INTO people(name, note) VALUES ('late', 'inserted')"],
        ["UPDATE people SET note = 'changed' WHERE id % 3 = 0", "UPDATE people SET name = 'renamed' WHERE id = 7"],
        ["DELETE FROM people WHERE id BETWEEN 20 AND 40"],
        [
            "CREATE TABLE only_in_wal(k INTEGER PRIMARY KEY, v TEXT)",
            "INSERT INTO only_in_wal VALUES (1, 'one'), (2, 'two')",
        ],
        # Growth well past the main file's size: many new pages, some overflow chains.
        [f"INSERT INTO only_in_wal(v) VALUES ('{'g' * (500 + 37 * i)}')" for i in range(150)],
        ["UPDATE bulk SET blob = 'rewritten' WHERE id % 9 = 0"],
        ["DROP TABLE bulk", "DELETE FROM only_in_wal WHERE k > 20"],
        ["VACUUM"],
        ["UPDATE only_in_wal SET v = 'short' WHERE k % 2 = 0", "DELETE FROM people WHERE id < 5"],
    ]
    for statements in transactions:
        if statements == ["VACUUM"]:
            conn.execute("VACUUM")
        else:
            conn.execute("BEGIN")
            for sql in statements:
                conn.execute(sql)
            conn.execute("COMMIT")
        captured.commits.append((wal_path.stat().st_size, snapshot(conn)))
    captured.db = path.read_bytes()
    captured.wal = wal_path.read_bytes()
    captured.final = snapshot(conn)
    assert len(captured.db) < captured.commits[-1][0], "the WAL should hold more than the main file"
    page_size = int.from_bytes(captured.db[16:18], "big")
    assert int.from_bytes(captured.wal[-page_size - 20 : -page_size - 16], "big") * page_size < len(captured.db), (
        "the last commit should leave the database smaller than the main file"
    )

    # A second writer whose transaction spills pages into the WAL before committing.
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA cache_size=2")
    other.execute("BEGIN")
    other.executemany("INSERT INTO people(name, note) VALUES (?, ?)", [("uncommitted", "u" * 3000)] * 300)
    captured.wal_with_tail = wal_path.read_bytes()
    assert len(captured.wal_with_tail) > len(captured.wal), "the open transaction did not spill"
    other.execute("ROLLBACK")
    other.close()
    assert snapshot(conn) == captured.final
    conn.close()
    return captured


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Captured:
    return _build(tmp_path_factory.mktemp("source") / "sms.db")


def open_like_a_viewer(view_bytes: bytes, where: Path) -> tuple[Snapshot, Path]:
    """Open the bytes as a plain read-only client would, from a read-only folder."""
    where.mkdir(parents=True)
    path = where / "view.db"
    path.write_bytes(view_bytes)
    path.chmod(0o444)
    where.chmod(0o555)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            result = snapshot(conn)
        finally:
            conn.close()
        assert sorted(os.listdir(where)) == ["view.db"], "SQLite created files beside the view"
    finally:
        where.chmod(0o755)
    return result, path


def checkpointed_by_sqlite(db: bytes, wal: bytes | None, where: Path) -> bytes:
    """What SQLite makes of these files: recover the WAL, checkpoint it, return the main file."""
    where.mkdir(parents=True)
    path = where / "copy.db"
    path.write_bytes(db)
    if wal is not None:
        Path(f"{path}-wal").write_bytes(wal)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path.read_bytes()


def patched_header(data: bytes) -> bytes:
    return data[:18] + b"\x01\x01" + data[20:]


def check_view(db: bytes, wal: bytes | None, expected: Snapshot, where: Path) -> SqliteView:
    view = view_of(db, wal)
    data = all_bytes(view)
    assert len(data) == view.size
    assert data[18:20] == b"\x01\x01"
    assert data == patched_header(checkpointed_by_sqlite(db, wal, where / "oracle"))
    seen, _ = open_like_a_viewer(data, where / "ro")
    assert seen == expected
    return view


def test_committed_wal_is_merged(captured: Captured, tmp_path: Path) -> None:
    view = check_view(captured.db, captured.wal, captured.final, tmp_path)
    assert view.size < len(captured.db), "the VACUUM in the WAL shrank the database"
    growth_end = captured.commits[4][0]
    grown = check_view(captured.db, captured.wal[:growth_end], captured.commits[4][1], tmp_path / "grown")
    assert grown.size > len(captured.db), "pages beyond the main file come from the WAL"
    assert "only_in_wal" in captured.final and "only_in_wal" not in captured.base


def test_uncommitted_tail_is_ignored(captured: Captured, tmp_path: Path) -> None:
    check_view(captured.db, captured.wal_with_tail, captured.final, tmp_path)


def test_without_wal_sibling_shows_main_file(captured: Captured, tmp_path: Path) -> None:
    view = check_view(captured.db, None, captured.base, tmp_path)
    assert all_bytes(view) == patched_header(captured.db)


def test_truncated_wal_keeps_whole_transactions(captured: Captured, tmp_path: Path) -> None:
    frame = 24 + struct.unpack(">I", captured.wal[8:12])[0]
    lengths = {0, 31, 32, 33, 32 + frame - 1, len(captured.wal) // 2}
    for boundary, _ in captured.commits:
        lengths |= {boundary - 1, boundary, boundary + 1, boundary - 24, boundary - frame + 5, boundary + frame}
    for n, length in enumerate(sorted(x for x in lengths if 0 <= x <= len(captured.wal_with_tail))):
        wal = captured.wal_with_tail[:length]
        check_view(captured.db, wal, captured.expected_for(length), tmp_path / f"cut{n}")


def _frame_offsets(wal: bytes) -> list[int]:
    page_size = struct.unpack(">I", wal[8:12])[0]
    return list(range(32, len(wal), 24 + page_size))


def test_frame_with_foreign_salt_ends_the_wal(captured: Captured, tmp_path: Path) -> None:
    start_of_fourth = captured.commits[2][0]
    wal = bytearray(captured.wal)
    assert start_of_fourth in _frame_offsets(captured.wal)
    wal[start_of_fourth + 8] ^= 0x55  # salt-1 of the fourth transaction's first frame
    check_view(captured.db, bytes(wal), captured.commits[2][1], tmp_path)


def test_wal_header_with_wrong_salt_is_ignored(captured: Captured, tmp_path: Path) -> None:
    wal = bytearray(captured.wal)
    wal[16] ^= 0x01  # salt-1: the header checksum no longer matches, nor do the frames
    view = check_view(captured.db, bytes(wal), captured.base, tmp_path)
    assert all_bytes(view) == patched_header(captured.db)


def test_corrupt_page_data_breaks_the_checksum_chain(captured: Captured, tmp_path: Path) -> None:
    start_of_fifth = captured.commits[3][0]
    frames = _frame_offsets(captured.wal)
    target = frames[frames.index(start_of_fifth) + 2] + 24 + 100
    wal = bytearray(captured.wal)
    wal[target] ^= 0xFF
    check_view(captured.db, bytes(wal), captured.commits[3][1], tmp_path)


def _wal_checksum(data: bytes, fmt: str, s0: int, s1: int) -> tuple[int, int]:
    words = struct.unpack(f"{fmt}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) % 2**32
        s1 = (s1 + words[i + 1] + s0) % 2**32
    return s0, s1


def test_big_endian_checksums(captured: Captured, tmp_path: Path) -> None:
    """A WAL written on a big-endian machine (magic 0x377f0683), re-checksummed by hand."""
    src = captured.wal
    assert struct.unpack(">I", src[:4])[0] == 0x377F0682
    page_size = struct.unpack(">I", src[8:12])[0]
    header = struct.pack(">I", 0x377F0683) + src[4:24]
    s = _wal_checksum(header, ">", 0, 0)
    out = bytearray(header + struct.pack(">2I", *s))
    for offset in _frame_offsets(src):
        frame_head, page = src[offset : offset + 8], src[offset + 24 : offset + 24 + page_size]
        s = _wal_checksum(frame_head + page, ">", *s)
        out += frame_head + src[offset + 8 : offset + 16] + struct.pack(">2I", *s) + page
    check_view(captured.db, bytes(out), captured.final, tmp_path)


def test_in_header_size_follows_the_wal(captured: Captured, tmp_path: Path) -> None:
    """A header whose size field is trusted (24..28 == 92..96) must agree with the WAL's commit."""
    wal = captured.wal[: captured.commits[0][0]]  # this commit does not rewrite page 1
    pages = struct.unpack(">I", wal[-4096 - 20 : -4096 - 16])[0]
    assert captured.db[24:28] == captured.db[92:96]
    assert int.from_bytes(captured.db[28:32], "big") == pages
    stale = bytearray(captured.db)
    stale[28:32] = (pages - 3).to_bytes(4, "big")
    data = all_bytes(view_of(bytes(stale), wal))
    assert data == all_bytes(view_of(captured.db, wal))
    seen, _ = open_like_a_viewer(data, tmp_path / "ro")
    assert seen == captured.commits[0][1]
    # An untrusted size field is SQLite's to ignore, and ours to leave alone.
    stale[92] ^= 1
    assert all_bytes(view_of(bytes(stale), wal))[28:32] == (pages - 3).to_bytes(4, "big")


def test_wal_with_other_page_size_is_ignored(captured: Captured, tmp_path: Path) -> None:
    path = tmp_path / "small.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA page_size=1024")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE x(a)")
    conn.execute("INSERT INTO x VALUES (1)")
    foreign_wal = Path(f"{path}-wal").read_bytes()
    conn.close()
    assert struct.unpack(">I", foreign_wal[8:12])[0] == 1024
    view = view_of(captured.db, foreign_wal)
    assert all_bytes(view) == patched_header(captured.db)


def test_rollback_journal_database_passes_through(tmp_path: Path, captured: Captured) -> None:
    path = tmp_path / "plain.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t(a, b)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, "x" * i) for i in range(300)])
    conn.commit()
    conn.close()
    data = path.read_bytes()
    assert data[18:20] == b"\x01\x01"
    assert not needs_view(data[:100])
    assert needs_view(captured.db[:100])
    # A stale -wal beside a rollback-journal database is never read by SQLite, nor by us.
    for wal in (None, captured.wal):
        view = view_of(data, wal)
        assert view.size == len(data)
        assert all_bytes(view) == data


@pytest.mark.parametrize(
    "data",
    [b"", b"SQLite format 3\x00", b"not a database at all" * 10, b"SQLite format 3\x00\x03\x00" + bytes(200)],
    ids=["empty", "short", "other", "bad-page-size"],
)
def test_not_a_usable_database(data: bytes) -> None:
    assert open_view(reader(data), len(data)) is None


def test_needs_view_is_a_header_check() -> None:
    head = b"SQLite format 3\x00\x10\x00\x02\x02" + bytes(80)
    assert needs_view(head)
    assert not needs_view(head[:19])
    assert not needs_view(b"SQLite format 2\x00" + head[16:])
    assert not needs_view(head[:18] + b"\x01\x01" + head[20:])


@pytest.fixture(scope="module")
def merged(captured: Captured) -> tuple[SqliteView, bytes]:
    view = view_of(captured.db, captured.wal_with_tail)
    return view, all_bytes(view)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_reads_at_any_offset_match_the_whole(merged: tuple[SqliteView, bytes], data: st.DataObject) -> None:
    view, whole = merged
    offset = data.draw(st.integers(0, view.size + 5000))
    size = data.draw(st.integers(0, 3 * 4096 + 17))
    assert view.read(size, offset) == whole[offset : offset + size]


def test_read_past_end_is_empty(captured: Captured) -> None:
    view = view_of(captured.db, captured.wal)
    assert view.read(10, view.size) == b""
    assert view.read(10, view.size + 4096) == b""
    assert view.read(4096, view.size - 3) == all_bytes(view)[-3:]
    with pytest.raises(OSError):
        view.read(10, -1)


def test_concurrent_reads(captured: Captured) -> None:
    view = view_of(captured.db, captured.wal)
    whole = all_bytes(view)
    errors: list[int] = []

    def work(seed: int) -> None:
        for i in range(200):
            offset = (seed * 7919 + i * 104729) % view.size
            size = 1 + (i * 613) % 9000
            if view.read(size, offset) != whole[offset : offset + size]:
                errors.append(offset)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="sqlite3 command line tool not installed")
def test_sqlite3_cli_reads_the_view(captured: Captured, tmp_path: Path) -> None:
    view = view_of(captured.db, captured.wal)
    _, path = open_like_a_viewer(all_bytes(view), tmp_path / "ro")
    path.parent.chmod(0o555)
    try:
        for table, rows in [("_check", [("ok",)]), *captured.final.items()]:
            sql = "PRAGMA integrity_check" if table == "_check" else f'SELECT * FROM "{table}" ORDER BY rowid'
            out = subprocess.run(
                ["sqlite3", "-readonly", "-batch", str(path), sql], capture_output=True, text=True, timeout=60
            )
            assert out.returncode == 0, out.stderr
            assert out.stdout.splitlines() == ["|".join(map(str, row)) for row in rows]
        assert sorted(os.listdir(path.parent)) == ["view.db"]
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
    finally:
        path.parent.chmod(0o755)

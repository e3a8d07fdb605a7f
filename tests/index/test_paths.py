"""Mount paths: safe names, clashes resolved without dropping a payload, WAL siblings."""

from __future__ import annotations

import stat
from collections.abc import Iterable
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from backupfs.index.paths import named_nodes, safe_component, safe_path, unnamed_nodes
from backupfs.index.schema import Node
from backupfs.index.store import Index
from backupfs.index.tree import TreeWriter
from backupfs.index.writing import create_tables, new_index
from backupfs.naming.prove import Name, Origin
from backupfs.sniff import FileType
from backupfs.source.manifest.records import Kind, ManifestRecord
from backupfs.source.payloads import Payload


def payload(fid: str, relpath: str | None = None) -> Payload:
    return Payload(fid, relpath or f"{fid[:2]}/{fid}", 10, 0, stat.S_IFREG | 0o644)


def fid(n: int) -> str:
    return f"{n:040x}"


def placed(folder: Path, *batches: Iterable[Node]) -> dict[tuple[str, ...], Node]:
    """The tree a real index holds once these nodes went in, batch after batch."""
    path = folder / "layout.index"
    with new_index(path) as conn:
        create_tables(conn, [folder], [()], [None])
        tree = TreeWriter(conn)
        for nodes in batches:
            tree.add(nodes)
        tree.finish()
    index = Index(path)
    try:
        return {tuple(entry.path.split("/")): entry for entry in index.walk()}
    finally:
        index.close()


def test_components_cannot_escape_or_vanish():
    assert safe_component("..") == "%2E%2E"
    assert safe_component("a/b") == "a%2Fb"
    assert safe_component("a\0b") == "a%00b"
    assert safe_path("../x", "a//./b/../c") == ("..%2Fx", "a", "b", "%2E%2E", "c")
    long = safe_component("é" * 300)
    assert len(long.encode()) <= 255 and long != safe_component("é" * 301)


def test_file_and_directory_at_the_same_path_both_stay_visible(tmp_path: Path):
    names = {fid(1): Name("HomeDomain", "a", Origin.MANIFEST), fid(2): Name("HomeDomain", "a/b", Origin.MANIFEST)}
    paths = placed(tmp_path, named_nodes(0, (), [payload(fid(1)), payload(fid(2))], names, []))
    assert paths[("HomeDomain", "a")].kind is Kind.DIR
    assert paths[("HomeDomain", "a", "b")].file_id == fid(2)
    assert paths[("HomeDomain", f"a~{fid(1)[:8]}")].file_id == fid(1)


def test_same_path_under_two_file_ids_keeps_both(tmp_path: Path):
    names = {fid(1): Name("HomeDomain", "x", Origin.MANIFEST), fid(2): Name("HomeDomain", "x", Origin.MANIFEST)}
    paths = placed(tmp_path, named_nodes(0, (), [payload(fid(1)), payload(fid(2))], names, []))
    files = {path: e.file_id for path, e in paths.items() if e.kind is Kind.FILE}
    assert files == {("HomeDomain", "x"): fid(1), ("HomeDomain", f"x~{fid(2)[:8]}"): fid(2)}


def test_a_folder_arriving_after_a_file_takes_the_path_and_the_file_moves_aside(tmp_path: Path):
    file = Node("HomeDomain/a", Kind.FILE, stat.S_IFREG | 0o444, source="x", file_id=fid(1))
    inner = Node("HomeDomain/a/b", Kind.FILE, stat.S_IFREG | 0o444, source="y", file_id=fid(2))
    paths = placed(tmp_path, [file], [inner])
    assert paths[("HomeDomain", "a")].kind is Kind.DIR
    assert paths[("HomeDomain", f"a~{fid(1)[:8]}")].file_id == fid(1)
    assert paths[("HomeDomain", "a", "b")].file_id == fid(2)


def test_snapshot_copy_of_a_payload_is_kept():
    types = {fid(1): FileType("images", "jpg")}
    copies = [payload(fid(1)), payload(fid(1), f"Snapshot/{fid(1)}"), payload(fid(1), f"Snapshot/x/{fid(1)}")]
    files = sorted(n.path.rpartition("/")[2] for n in unnamed_nodes(0, (), copies, types) if n.kind is Kind.FILE)
    assert files == [f"{fid(1)}.jpg", f"{fid(1)}.jpg~snapshot", f"{fid(1)}.jpg~snapshot2"]


def test_a_domain_called_other_data_cannot_mix_with_unnamed_files():
    names = {fid(1): Name("other-data", "images/x.jpg", Origin.MANIFEST)}
    assert [n.path for n in named_nodes(0, (), [payload(fid(1))], names, [])] == ["%6Fther-data/images/x.jpg"]


def test_wal_sibling_is_renamed_and_linked_to_its_database(tmp_path: Path):
    names = {
        fid(1): Name("HomeDomain", "Library/SMS/sms.db", Origin.CATALOG),
        fid(2): Name("HomeDomain", "Library/SMS/sms.db-wal", Origin.CATALOG),
    }
    paths = placed(tmp_path, named_nodes(0, (), [payload(fid(1)), payload(fid(2))], names, []))
    database = paths[("HomeDomain", "Library", "SMS", "sms.db")]
    assert database.wal_source == f"{fid(2)[:2]}/{fid(2)}"
    assert ("HomeDomain", "Library", "SMS", "sms.db-wal.raw") in paths
    assert ("HomeDomain", "Library", "SMS", "sms.db-wal") not in paths


def test_unnamed_payloads_are_grouped_by_type_and_everything_is_read_only(tmp_path: Path):
    types = {fid(1): FileType("databases", "sqlite"), fid(2): FileType("unknown", None)}
    records = [ManifestRecord(fid(9), "HomeDomain", "Library", Kind.DIR, mode=0o40755)]
    nodes = placed(
        tmp_path,
        named_nodes(0, (), [payload(fid(1)), payload(fid(2))], {}, records),
        unnamed_nodes(0, (), [payload(fid(1)), payload(fid(2))], types),
    )
    assert ("other-data", "databases", f"{fid(1)}.sqlite") in nodes
    assert ("other-data", "unknown", fid(2)) in nodes
    assert all(n.mode & 0o222 == 0 for n in nodes.values())
    assert stat.S_ISDIR(nodes[("HomeDomain", "Library")].mode)


@given(st.lists(st.sampled_from(["a", "é", ".", "/", "\0", "x" * 40, "😀" * 20]), max_size=40).map("".join))
def test_safe_path_makes_every_component_safe(relative_path: str) -> None:
    # The quick path for ordinary names must agree with making each component safe.
    expected = tuple(safe_component(p) for p in relative_path.split("/") if p not in ("", "."))
    parts = safe_path("HomeDomain", relative_path)
    assert parts == ("HomeDomain", *expected)
    assert all(p not in ("", ".", "..") and "/" not in p and "\0" not in p for p in parts)
    assert all(len(p.encode("utf-8", "surrogateescape")) <= 255 for p in parts)

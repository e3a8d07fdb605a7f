"""The sample contents are what they claim to be, checked with the real readers."""

from __future__ import annotations

import hashlib
import io
import json
import plistlib
import random
import sqlite3
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import filetype
import pytest

from backupfs.demo import samples
from backupfs.demo.backup import BUNDLE_IDS, build_demo_backup, demo_specs
from backupfs.sniff import sniff
from backupfs.source.manifest.records import file_id


def open_immutable(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def tables(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}


# --- databases --------------------------------------------------------------------------------

ATTACHMENTS = [samples.sms_attachment_filename(f"GUID-{n}", f"IMG_000{n}.HEIC") for n in (1, 2, 3)]
ASSETS = [("DCIM/100APPLE", "IMG_0001.HEIC"), ("DCIM/100APPLE", "IMG_0002.JPG"),
          ("PhotoData/CPLAssets/group159", "5D2A.JPG")]

# (builder, table, column whose values the WAL must add to)
DATABASES = {
    "sms": (lambda wal: samples.sms_db(ATTACHMENTS, wal=wal), "message", "text"),
    "photos": (lambda wal: samples.photos_sqlite(ASSETS, wal=wal), "ZASSET", "ZFILENAME"),
    "address_book": (lambda wal: samples.address_book(wal=wal), "ABPerson", "Last"),
    "calendar": (lambda wal: samples.calendar_db(wal=wal), "CalendarItem", "summary"),
    "call_history": (lambda wal: samples.call_history(wal=wal), "ZCALLRECORD", "ZADDRESS"),
    "notes": (lambda wal: samples.notes_store(wal=wal), "ZICNOTEDATA", "ZNOTE"),
    "generic": (lambda wal: samples.sqlite_db({"t": [{"a": 1}, {"a": 2}, {"a": 3}]}, wal=wal), "t", "a"),
}


@pytest.mark.parametrize("name", DATABASES)
def test_rollback_database_opens_read_only_and_is_intact(tmp_path, name):
    build, table, column = DATABASES[name]
    data = build(False)
    assert data[:16] == b"SQLite format 3\x00" and data[18:20] == b"\x01\x01"
    conn = open_immutable(write(tmp_path, "db", data))
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute(f'SELECT count("{column}") FROM "{table}"').fetchone()[0] >= 3
    conn.close()


@pytest.mark.parametrize("name", DATABASES)
def test_wal_holds_committed_rows_the_main_file_lacks(tmp_path, name):
    build, table, column = DATABASES[name]
    main, wal = build(True)
    assert main[18:20] == b"\x02\x02"
    assert wal[:4] in (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
    query = f'SELECT "{column}" FROM "{table}" ORDER BY rowid'

    alone = open_immutable(write(tmp_path, "alone.db", main))
    without_wal = alone.execute(query).fetchall()
    alone.close()
    write(tmp_path, "pair.db", main)
    write(tmp_path, "pair.db-wal", wal)
    pair = sqlite3.connect(tmp_path / "pair.db")
    with_wal = pair.execute(query).fetchall()
    assert pair.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    pair.close()

    assert len(with_wal) > len(without_wal)
    assert with_wal[:len(without_wal)] == without_wal


def test_wal_database_is_an_sms_db_in_wal_mode(tmp_path):
    main, wal = samples.wal_database()
    write(tmp_path, "sms.db", main)
    write(tmp_path, "sms.db-wal", wal)
    conn = sqlite3.connect(tmp_path / "sms.db")
    assert {"message", "handle", "chat", "attachment", "chat_message_join", "message_attachment_join"} <= tables(conn)
    conn.close()


def test_sms_db_schema_and_attachment_names(tmp_path):
    conn = open_immutable(write(tmp_path, "sms.db", samples.sms_db(ATTACHMENTS)))
    assert {"ROWID", "guid", "text", "handle_id", "date", "is_from_me", "cache_has_attachments"} <= columns(conn, "message")
    assert {"filename", "mime_type", "transfer_name", "guid"} <= columns(conn, "attachment")
    names = [row[0] for row in conn.execute("SELECT filename FROM attachment ORDER BY ROWID")]
    assert names == ATTACHMENTS
    joined = conn.execute(
        "SELECT count(*) FROM message m JOIN message_attachment_join j ON j.message_id = m.ROWID "
        "JOIN chat_message_join c ON c.message_id = m.ROWID").fetchone()[0]
    assert joined == len(ATTACHMENTS)
    conn.close()
    assert ATTACHMENTS[0].startswith("~/Library/SMS/Attachments/")
    assert ATTACHMENTS[0].split("/")[-2:] == ["GUID-1", "IMG_0001.HEIC"]


def test_sms_wal_names_the_newest_attachment_only_in_the_wal(tmp_path):
    main, wal = samples.sms_db(ATTACHMENTS, wal=True)
    conn = open_immutable(write(tmp_path, "sms.db", main))
    assert [r[0] for r in conn.execute("SELECT filename FROM attachment")] == ATTACHMENTS[:-1]
    conn.close()


def test_photos_sqlite_names_its_assets(tmp_path):
    conn = open_immutable(write(tmp_path, "Photos.sqlite", samples.photos_sqlite(ASSETS)))
    assert {"ZDIRECTORY", "ZFILENAME", "ZUUID", "ZDATECREATED", "ZKIND", "ZTRASHEDSTATE"} <= columns(conn, "ZASSET")
    assert conn.execute("SELECT ZDIRECTORY, ZFILENAME FROM ZASSET ORDER BY Z_PK").fetchall() == ASSETS
    conn.close()


def test_notes_store_lists_media(tmp_path):
    media = [("MEDIA-1", "Scan.jpeg")]
    conn = open_immutable(write(tmp_path, "NoteStore.sqlite", samples.notes_store(media)))
    assert conn.execute("SELECT ZIDENTIFIER, ZFILENAME FROM ZICCLOUDSYNCINGOBJECT WHERE ZFILENAME IS NOT NULL"
                        ).fetchall() == media
    conn.close()
    assert samples.notes_media_path("MEDIA-1", "Scan.jpeg") == f"Accounts/{samples.NOTES_ACCOUNT_ID}/Media/MEDIA-1/Scan.jpeg"


def test_generic_database_has_the_given_tables(tmp_path):
    data = samples.sqlite_db({"people": [{"name": "Ann", "age": 3}], "empty": []})
    conn = open_immutable(write(tmp_path, "x.db", data))
    assert tables(conn) == {"people", "empty"}
    assert conn.execute("SELECT name, age FROM people").fetchall() == [("Ann", 3)]
    conn.close()


def test_wal_output_is_reproducible_across_processes():
    """SQLite salts its WAL at random; the samples must still be byte-identical every run."""
    script = ("import hashlib; from backupfs.demo import samples; m, w = samples.wal_database(); "
              "print(hashlib.sha256(m + w).hexdigest())")
    runs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
            for _ in range(2)}
    main, wal = samples.wal_database()
    assert runs == {hashlib.sha256(main + wal).hexdigest() + "\n"}


# --- plists, text, documents ------------------------------------------------------------------

def test_plists_load_in_both_encodings():
    obj = {"a": [1, 2, {"b": b"\x00\x01"}], "when": 17}
    assert samples.binary_plist(obj).startswith(b"bplist00")
    assert samples.xml_plist(obj).startswith(b"<?xml")
    assert plistlib.loads(samples.binary_plist(obj)) == obj
    assert plistlib.loads(samples.xml_plist(obj)) == obj


def test_text_formats():
    assert json.loads(samples.json_bytes())["version"] == 4
    assert json.loads(samples.json_bytes([1, 2])) == [1, 2]
    log = samples.text(random.Random(3)).decode("ascii")
    assert len(log.splitlines()) == 20 and all(line.split()[0].isdigit() for line in log.splitlines())
    card = samples.vcard("Ann", "Lee").decode()
    assert card.startswith("BEGIN:VCARD") and "FN:Ann Lee" in card and card.rstrip().endswith("END:VCARD")


def test_pdf_cross_references_point_at_objects():
    data = samples.pdf("hello")
    assert filetype.guess_mime(data) == "application/pdf"
    startxref = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert data[startxref:].startswith(b"xref\n")
    entries = data[startxref:].split(b"\n")[3:8]
    for number, entry in enumerate(entries, 1):
        offset = int(entry[:10])
        assert data[offset:].startswith(b"%d 0 obj" % number)


def test_zip_is_a_valid_archive():
    data = samples.zip_bytes({"a.txt": b"alpha"})
    assert filetype.guess_mime(data) == "application/zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert archive.read("a.txt") == b"alpha"


# --- images and media -------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "mime"), [
    (samples.jpeg(), "image/jpeg"), (samples.png(), "image/png"), (samples.heic(), "image/heic"),
    (samples.gif(), "image/gif"), (samples.mov(), "video/quicktime"), (samples.mp4(), "video/mp4"),
    (samples.m4a(), "audio/mp4"), (samples.pdf(), "application/pdf"), (samples.zip_bytes(), "application/zip"),
])
def test_filetype_recognises_media(data, mime):
    assert filetype.guess_mime(data) == mime


def jpeg_markers(data: bytes) -> list[int]:
    """Walk the marker segments up to the scan; fails on any malformed length."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    markers, pos = [], 2
    while True:
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        markers.append(marker)
        if marker == 0xDA:
            return markers
        pos += 2 + length


def test_jpeg_is_a_well_formed_baseline_file():
    data = samples.jpeg(30, 20, 2)
    assert jpeg_markers(data) == [0xE0, 0xDB, 0xC0, 0xC4, 0xC4, 0xDA]
    sof = data.index(b"\xff\xc0")
    assert struct.unpack(">HH", data[sof + 5:sof + 9]) == (20, 30)
    scan = data[data.index(b"\xff\xda") + 14:-2]
    assert all(scan[i + 1] == 0 for i in range(len(scan) - 1) if scan[i] == 0xFF)  # stuffed


def test_png_chunks_and_pixels_are_valid():
    data = samples.png(5, 4)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = body
        pos += 12 + length
    assert struct.unpack(">II", chunks[b"IHDR"][:8]) == (5, 4)
    assert len(zlib.decompress(chunks[b"IDAT"])) == 4 * (1 + 3 * 5)


def top_level_boxes(data: bytes) -> list[bytes]:
    boxes, pos = [], 0
    while pos < len(data):
        size = struct.unpack(">I", data[pos:pos + 4])[0]
        assert size >= 8
        boxes.append(data[pos + 4:pos + 8])
        pos += size
    assert pos == len(data)
    return boxes


def test_iso_media_box_structure():
    assert top_level_boxes(samples.heic()) == [b"ftyp", b"meta", b"mdat"]
    assert top_level_boxes(samples.mov()) == [b"ftyp", b"wide", b"mdat", b"moov"]
    assert top_level_boxes(samples.mp4()) == [b"ftyp", b"moov", b"mdat"]
    assert top_level_boxes(samples.m4a()) == [b"ftyp", b"moov", b"mdat"]


def test_heic_item_location_points_into_mdat():
    data = samples.heic(seed=3)
    iloc = data.index(b"iloc") + 4  # after the box type: version+flags, sizes, then one item
    sizes, item_count, item_id, data_reference, extent_count, offset, length = struct.unpack(
        ">4xBxHHHHII", data[iloc:iloc + 22])
    assert (sizes, item_count, item_id, data_reference, extent_count) == (0x44, 1, 1, 0, 1)
    mdat = data.index(b"mdat") - 4
    assert offset == mdat + 8 and offset + length == len(data)


def test_shm_looks_like_a_wal_index():
    data = samples.shm()
    assert len(data) == 32768 and data[:4] == data[48:52] == struct.pack("<I", 3_007_000)


# --- content by path --------------------------------------------------------------------------

PATHS = [
    "Library/SMS/sms.db", "Library/SMS/sms.db-wal", "Library/SMS/sms.db-shm", "Media/PhotoData/Photos.sqlite",
    "Library/AddressBook/AddressBook.sqlitedb", "Library/CallHistoryDB/CallHistory.storedata",
    "Documents/store.sqlite", "Documents/store.sqlite-wal", "Library/Preferences/com.example.app.plist",
    "Media/DCIM/100APPLE/IMG_0001.HEIC", "Media/DCIM/100APPLE/IMG_0002.JPG", "Media/DCIM/100APPLE/IMG_0003.jpeg",
    "Media/DCIM/100APPLE/IMG_0004.PNG", "Media/DCIM/100APPLE/IMG_0005.MOV", "Media/DCIM/100APPLE/IMG_0005.AAE",
    "a/b.mp4", "a/b.m4a", "a/b.gif", "a/b.json", "a/b.txt", "a/b.log", "a/b.vcf", "a/b.pdf", "a/b.zip",
    "Library/Voicemail/1.amr", "Library/Cookies/Cookies.binarycookies", "a/Audio Message.caf",
] + [f"Library/Caches/{n:04x}" for n in range(40)] + [f"Documents/blob-{n}.bin" for n in range(20)]


@pytest.mark.parametrize("size_hint", [None, 0, 100, 20_000, 10**9])
def test_content_for_path_sniffs_as_expected_type(size_hint):
    rng = random.Random(5)
    for path in PATHS:
        data = samples.content_for_path(path, rng, size_hint)
        assert data, path
        assert sniff(data[:4096], len(data)).ext == samples.expected_type(path), path
        assert len(data) < 200_000, path  # databases are the biggest; padding is capped


def test_expected_types_cover_both_text_and_random_for_unknown_names():
    found = {samples.expected_type(p) for p in PATHS if "." not in p.rsplit("/", 1)[-1] or p.endswith(".bin")}
    assert found == {"txt", None}


def test_expected_type_by_extension():
    assert samples.expected_type("x/IMG_1.JPG") == "jpg"
    assert samples.expected_type("x/Photos.sqlite") == "sqlite"
    assert samples.expected_type("x/Photos.sqlite-wal") == "sqlite-wal"
    assert samples.expected_type("x/a.plist") == "plist"
    assert samples.expected_type("x/a.HEIC") == "heic"


def test_content_for_path_is_deterministic_given_the_rng():
    first = [samples.content_for_path(p, random.Random(9), 5000) for p in PATHS]
    second = [samples.content_for_path(p, random.Random(9), 5000) for p in PATHS]
    assert first == second


def test_size_hint_is_followed_for_blobs_and_media():
    rng = random.Random(1)
    assert len(samples.content_for_path("Documents/blob-1.bin", rng, 12_345)) == 12_345
    assert len(samples.content_for_path("a/b.mov", rng, 12_345)) == 12_345
    assert len(samples.content_for_path("a/b.JPG", rng, 12_345)) == 12_345
    assert len(samples.content_for_path("a/b.log", rng, 12_345)) == 12_345
    assert len(samples.content_for_path("a/b.mov", rng, 10**9)) == samples.MAX_PADDED_SIZE


def test_database_and_wal_from_paths_belong_together(tmp_path):
    rng = random.Random(2)
    for path in ("Library/SMS/sms.db", "Documents/store.sqlite"):
        write(tmp_path, "d.db", samples.content_for_path(path, rng))
        write(tmp_path, "d.db-wal", samples.content_for_path(path + "-wal", rng))
        conn = sqlite3.connect(tmp_path / "d.db")
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.close()
        for leftover in tmp_path.iterdir():
            leftover.unlink()


# --- the demo backup --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return build_demo_backup(tmp_path_factory.mktemp("demo") / "backup")


def test_demo_writes_every_payload_under_its_sha1_name(demo):
    specs = demo_specs()
    assert 40 <= len(specs) <= 80
    for spec in specs:
        fid = file_id(spec.domain, spec.relative_path)
        assert (demo / fid[:2] / fid).read_bytes() == spec.content, spec.relative_path
    payloads = [p for p in demo.glob("*/*") if p.is_file()]
    assert len(payloads) == len(specs)


def test_demo_has_plists_but_no_index(demo):
    assert not (demo / "Manifest.db").exists() and not (demo / "Manifest.mbdb").exists()
    info = plistlib.loads((demo / "Info.plist").read_bytes())
    assert info["Device Name"] == "Demo iPhone" and info["Product Version"].startswith("17.")
    assert set(BUNDLE_IDS) <= set(info["Installed Applications"])
    assert {"net.whatsapp.WhatsApp", "com.burbn.instagram"} <= set(info["Installed Applications"])
    assert plistlib.loads((demo / "Manifest.plist").read_bytes())["IsEncrypted"] is False
    assert plistlib.loads((demo / "Status.plist").read_bytes())["SnapshotState"] == "finished"


def payload(demo: Path, domain: str, path: str) -> Path:
    fid = file_id(domain, path)
    return demo / fid[:2] / fid


def test_demo_sms_db_is_in_wal_mode_and_names_its_attachments(demo, tmp_path):
    main = payload(demo, "HomeDomain", "Library/SMS/sms.db").read_bytes()
    assert main[18:20] == b"\x02\x02"
    conn = open_immutable(write(tmp_path, "sms.db", main))
    assert conn.execute("SELECT count(*) FROM attachment").fetchone()[0] == 3  # the 4th is only in the WAL
    conn.close()
    write(tmp_path, "sms.db-wal", payload(demo, "HomeDomain", "Library/SMS/sms.db-wal").read_bytes())
    conn = sqlite3.connect(tmp_path / "sms.db")
    names = [row[0] for row in conn.execute("SELECT filename FROM attachment")]
    conn.close()
    assert len(names) == 4
    for name in names:
        assert payload(demo, "MediaDomain", name.removeprefix("~/")).is_file(), name


def test_demo_photos_sqlite_names_camera_roll_files(demo, tmp_path):
    path = write(tmp_path, "Photos.sqlite",
                 payload(demo, "CameraRollDomain", "Media/PhotoData/Photos.sqlite").read_bytes())
    conn = open_immutable(path)
    assets = conn.execute("SELECT ZDIRECTORY, ZFILENAME FROM ZASSET").fetchall()
    conn.close()
    assert ("DCIM/100APPLE", "IMG_0001.HEIC") in assets and len(assets) >= 5
    for directory, name in assets:
        assert payload(demo, "CameraRollDomain", f"Media/{directory}/{name}").is_file()
    kinds = {sniff(payload(demo, "CameraRollDomain", f"Media/DCIM/100APPLE/{n}").read_bytes(), 10**6).ext
             for n in ("IMG_0001.HEIC", "IMG_0003.JPG", "IMG_0004.MOV")}
    assert kinds == {"heic", "jpg", "mov"}


def test_demo_has_well_known_files_and_unnameable_ones(demo):
    for domain, path in [
        ("HomeDomain", "Library/AddressBook/AddressBook.sqlitedb"),
        ("HomeDomain", "Library/Calendar/Calendar.sqlitedb"),
        ("HomeDomain", "Library/CallHistoryDB/CallHistory.storedata"),
        ("HomeDomain", "Library/Preferences/com.apple.springboard.plist"),
        ("AppDomainGroup-group.com.apple.notes", "NoteStore.sqlite"),
        ("AppDomain-net.whatsapp.WhatsApp", "Library/Preferences/net.whatsapp.WhatsApp.plist"),
        ("KeychainDomain", "keychain-backup.plist"),
    ]:
        assert payload(demo, domain, path).is_file(), path
    private = [s for s in demo_specs() if s.relative_path.startswith(("Documents/", "tmp/", "Library/Caches/",
                                                                      "Library/Logs/", "Library/Application Support/"))]
    assert len(private) >= 15
    found = {sniff(s.content[:4096], len(s.content)).ext for s in private}
    assert {"jpg", "json", "txt", None} <= found


def test_demo_is_deterministic(tmp_path):
    def digest(root: Path) -> str:
        files = sorted(p for p in root.rglob("*") if p.is_file())
        return hashlib.sha256(b"".join(p.relative_to(root).as_posix().encode() + p.read_bytes() for p in files)
                              ).hexdigest()

    assert digest(build_demo_backup(tmp_path / "one")) == digest(build_demo_backup(tmp_path / "two"))

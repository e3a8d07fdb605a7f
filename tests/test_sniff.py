"""Content typing of unnamed payloads, on real bytes made by the real libraries."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import plistlib
import random
import sqlite3
import struct
import tarfile
import wave
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupfs.sniff import FOLDERS, HEAD_SIZE, FileType, sniff


def case_id(value: object) -> str:
    """Short test ids: the expected type, or the first bytes of the data."""
    if isinstance(value, FileType):
        return f"{value.folder}-{value.ext}"
    return repr(value[:12]) if isinstance(value, bytes) else str(value)


def typed(data: bytes) -> FileType:
    """What the caller does: read the head, pass the full size."""
    return sniff(data[:HEAD_SIZE], len(data))


def typed_file(path: Path) -> FileType:
    data = path.read_bytes()
    return typed(data)


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    box = struct.pack(">I", 8 + len(body)) + b"ftyp" + body
    return box + struct.pack(">I", 16) + b"mdat" + bytes(range(8))


def png_bytes() -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


JPEG_HEAD = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
             b"\xff\xdb\x00\x43\x00" + bytes(range(64)) + b"\xff\xd9")
EXIF_JPEG_HEAD = b"\xff\xd8\xff\xe1\x00\x22Exif\x00\x00MM\x00*\x00\x00\x00\x08" + bytes(24)
GIF_HEAD = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
            b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 417-byte frames.
MP3_FRAME = b"\xff\xfb\x90\x00" + bytes(413)


def adts_frame(length: int = 200) -> bytes:
    header = bytes([0xFF, 0xF1, 0x50, 0x80 | (length >> 11), (length >> 3) & 0xFF,
                    ((length & 7) << 5) | 0x1F, 0xFC])
    return header + bytes(length - 7)


# --- databases -----------------------------------------------------------------------------

def test_sqlite_rollback_journal_database(tmp_path):
    path = tmp_path / "plain.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t(x)")
        db.execute("INSERT INTO t VALUES ('hello')")
    db.close()
    assert typed_file(path) == FileType("databases", "sqlite")


def test_sqlite_wal_mode_database_wal_and_shm(tmp_path):
    path = tmp_path / "wal.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t(x)")
    db.execute("INSERT INTO t VALUES (randomblob(5000))")
    db.commit()
    # Read all three while the connection is open, so the -wal and -shm still exist.
    assert typed_file(path) == FileType("databases", "sqlite")
    assert typed_file(Path(f"{path}-wal")) == FileType("databases", "sqlite-wal")
    assert typed_file(Path(f"{path}-shm")) == FileType("databases", "sqlite-shm")
    db.close()


def test_shm_version_alone_is_not_enough():
    wal_index_version = b"\x18\xe2\x2d\x00"
    noise = random.Random(3).randbytes(32764)
    assert typed(wal_index_version + noise) == FileType("unknown", None)


def test_binarycookies():
    data = b"cook" + struct.pack(">I", 1) + struct.pack(">I", 32) + b"\x00\x00\x01\x00" + bytes(28)
    assert typed(data) == FileType("databases", "binarycookies")


def test_realm():
    data = struct.pack("<QQ", 4096, 0) + b"T-DB" + b"\x16\x16\x00\x00" + bytes(64)
    assert typed(data) == FileType("databases", "realm")


# --- plists --------------------------------------------------------------------------------

def test_binary_plist():
    data = plistlib.dumps({"Device Name": "iPhone", "Size": 12}, fmt=plistlib.FMT_BINARY)
    assert typed(data) == FileType("plists", "plist")


def test_nskeyedarchiver_plist():
    archive = {"$archiver": "NSKeyedArchiver", "$version": 100000,
               "$top": {"root": plistlib.UID(1)},
               "$objects": ["$null", {"Size": 3, "$class": plistlib.UID(2)},
                            {"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]}]}
    assert typed(plistlib.dumps(archive, fmt=plistlib.FMT_BINARY)) == FileType("plists", "plist")


def test_xml_plist():
    data = plistlib.dumps({"IsEncrypted": False, "Lockdown": {"DeviceName": "x"}},
                          fmt=plistlib.FMT_XML)
    assert typed(data) == FileType("plists", "plist")


def test_xml_plist_without_doctype():
    assert typed(b'<plist version="1.0"><dict/></plist>\n') == FileType("plists", "plist")


# --- images --------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "expected"), ids=case_id, argvalues=[
    (JPEG_HEAD, FileType("images", "jpg")),
    (EXIF_JPEG_HEAD, FileType("images", "jpg")),
    (png_bytes(), FileType("images", "png")),
    (GIF_HEAD, FileType("images", "gif")),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00" + bytes(24), FileType("images", "webp")),
    (b"II*\x00\x08\x00\x00\x00" + bytes(32), FileType("images", "tif")),
    (b"MM\x00*\x00\x00\x00\x08" + bytes(32), FileType("images", "tif")),
    (ftyp(b"heic", b"mif1", b"heic"), FileType("images", "heic")),
    (ftyp(b"mif1", b"mif1", b"heic", b"miaf"), FileType("images", "heic")),
    (ftyp(b"heix", b"mif1", b"heix"), FileType("images", "heic")),
    (ftyp(b"avif", b"avif", b"mif1", b"miaf"), FileType("images", "avif")),
    (ftyp(b"mif1", b"avif", b"mif1", b"miaf"), FileType("images", "avif")),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>\n',
     FileType("images", "svg")),
])
def test_images(data, expected):
    assert typed(data) == expected


def test_bmp_with_a_real_header():
    pixels = b"\x00\x00\xff\x00"
    dib = struct.pack("<IiiHHIIiiII", 40, 1, 1, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    data = b"BM" + struct.pack("<IHHI", 14 + 40 + len(pixels), 0, 0, 54) + dib + pixels
    assert typed(data) == FileType("images", "bmp")


# --- videos and audio ----------------------------------------------------------------------

@pytest.mark.parametrize(("data", "expected"), ids=case_id, argvalues=[
    (ftyp(b"qt  ", b"qt  "), FileType("videos", "mov")),
    (struct.pack(">I", 8) + b"wide" + struct.pack(">I", 16) + b"mdat" + bytes(8),
     FileType("videos", "mov")),
    (struct.pack(">I", 24) + b"moov" + bytes(16), FileType("videos", "mov")),
    (ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), FileType("videos", "mp4")),
    (ftyp(b"mp42", b"mp41", b"mp42"), FileType("videos", "mp4")),
    (ftyp(b"M4V ", b"M4V ", b"M4A ", b"mp42", b"isom"), FileType("videos", "m4v")),
    (ftyp(b"3gp4", b"isom", b"3gp4"), FileType("videos", "3gp")),
    (ftyp(b"zzzz", b"zzzz"), FileType("videos", "mp4")),
    (ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"), FileType("audio", "m4a")),
    (b"#!AMR\n" + bytes(32), FileType("audio", "amr")),
    (b"caff\x00\x01\x00\x00desc" + bytes(40), FileType("audio", "caf")),
    (b"fLaC\x00\x00\x00\x22" + bytes(34), FileType("audio", "flac")),
    (b"ID3\x04\x00\x00\x00\x00\x01\x00" + bytes(128) + MP3_FRAME, FileType("audio", "mp3")),
    (MP3_FRAME * 5, FileType("audio", "mp3")),
    (adts_frame() * 5, FileType("audio", "aac")),
    (b"OggS\x00\x02" + bytes(20) + b"\x01\x13OpusHead\x01\x02" + bytes(20),
     FileType("audio", "opus")),
    (b"OggS\x00\x02" + bytes(20) + b"\x01\x1e\x01vorbis" + bytes(20), FileType("audio", "ogg")),
])
def test_media(data, expected):
    assert typed(data) == expected


def test_wav_made_by_the_wave_module():
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(1600))
    assert typed(out.getvalue()) == FileType("audio", "wav")


def test_mp3_frame_chain_cut_by_end_of_file_still_counts():
    assert typed(MP3_FRAME * 2) == FileType("audio", "mp3")


def test_one_mp3_sync_word_followed_by_noise_is_not_mp3():
    noise = random.Random(7).randbytes(4000)
    assert typed(MP3_FRAME[:4] + noise) == FileType("unknown", None)


# --- documents and archives ----------------------------------------------------------------

def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return out.getvalue()


def test_truetype_font_needs_a_consistent_table_directory():
    font = struct.pack(">IHHHH", 0x00010000, 16, 256, 4, 0) + bytes(16 * 16)
    icon_cache_like = b"\x00\x01\x00\x00\x00\x00\x00\x0c\x00\x01\xdd\x64" + bytes(64)
    assert typed(font) == FileType("documents", "ttf")
    assert typed(icon_cache_like) == FileType("unknown", None)


def test_pdf():
    assert typed(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n") == \
        FileType("documents", "pdf")


def test_plain_zip():
    assert typed(zipped({"a.txt": b"hello"})) == FileType("archives", "zip")


def test_docx_from_its_zip_entries():
    data = zipped({"[Content_Types].xml": b"<Types/>", "_rels/.rels": b"<Relationships/>",
                   "word/document.xml": b"<w:document/>"})
    assert typed(data) == FileType("documents", "docx")


def test_epub():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", "<container/>")
    assert typed(out.getvalue()) == FileType("documents", "epub")


def test_compressed_archives():
    payload = b"backup " * 200
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w") as tar:
        info = tarfile.TarInfo("a.txt")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    assert typed(gzip.compress(payload)) == FileType("archives", "gz")
    assert typed(bz2.compress(payload)) == FileType("archives", "bz2")
    assert typed(lzma.compress(payload)) == FileType("archives", "xz")
    assert typed(tar_buffer.getvalue()) == FileType("archives", "tar")


# --- text ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "expected"), ids=case_id, argvalues=[
    (json.dumps({"name": "Ann", "items": [1, 2, 3]}).encode(), FileType("text", "json")),
    (b"  \n[1, 2, {\"a\": null}]\n", FileType("text", "json")),
    (b'{"a": 1}\n{"a": 2}\n', FileType("text", "json")),
    (b"[INFO] backup started\n", FileType("text", "txt")),
    (b"Just a note.\nSecond line.\n", FileType("text", "txt")),
    ("Grüße aus Köln 🎉👍 — ok\n".encode(), FileType("text", "txt")),
    (b"\xef\xbb\xbfBOM text\r\n", FileType("text", "txt")),
    ("UTF-16 text ✓\n".encode("utf-16"), FileType("text", "txt")),
    (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Example\r\nTEL:+1 555 0100\r\nEND:VCARD\r\n",
     FileType("text", "vcf")),
    (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VEVENT\r\n"
     b"END:VCALENDAR\r\n", FileType("text", "ics")),
    (b"<!DOCTYPE html>\n<html><head><title>x</title></head><body></body></html>\n",
     FileType("text", "html")),
    (b'<?xml version="1.0" encoding="UTF-8"?>\n<feed><entry/></feed>\n', FileType("text", "xml")),
    (b"<root><child a='1'/></root>", FileType("text", "xml")),
    (b"   \n\n", FileType("text", "txt")),
])
def test_text(data, expected):
    assert typed(data) == expected


def test_latin1_markup_and_vcard_are_still_typed_but_latin1_prose_is_not():
    html = "<html><head><title>Café</title></head><body>Grüße</body></html>".encode("latin-1")
    vcard = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=ISO-8859-1:Müller\r\nEND:VCARD\r\n"
    assert typed(html) == FileType("text", "html")
    assert typed(vcard.encode("latin-1")) == FileType("text", "vcf")
    assert typed("Grüße aus Köln".encode("latin-1")) == FileType("unknown", None)


def test_json_longer_than_the_head_is_judged_by_its_start():
    data = json.dumps([{"id": i, "text": "message " * 5} for i in range(500)]).encode()
    assert len(data) > HEAD_SIZE
    assert typed(data) == FileType("text", "json")


def test_utf8_text_cut_inside_a_multibyte_character_at_the_head_end():
    data = ("a" * (HEAD_SIZE - 1) + "🎉 and more").encode()
    assert typed(data) == FileType("text", "txt")


def test_utf16_text_cut_inside_a_surrogate_pair_at_the_head_end():
    data = ("x" * (HEAD_SIZE // 2 - 2) + "😀 more").encode("utf-16")
    assert typed(data) == FileType("text", "txt")


@pytest.mark.parametrize("control", [b"\x00", b"\x01", b"\x08", b"\x7f"])
def test_utf8_with_control_bytes_is_not_text(control):
    assert typed((b"abc" + control + b"def") * 10) == FileType("unknown", None)


# --- empty, random, robustness -------------------------------------------------------------

def test_empty():
    assert sniff(b"", 0) == FileType("empty", None)


def test_unreadable_head_of_nonempty_file_is_unknown():
    assert sniff(b"", 100) == FileType("unknown", None)


def test_negative_size_is_rejected():
    with pytest.raises(ValueError, match="negative"):
        sniff(b"x", -1)


def test_bytes_like_heads_are_accepted():
    assert sniff(bytearray(JPEG_HEAD), len(JPEG_HEAD)) == FileType("images", "jpg")
    assert sniff(memoryview(JPEG_HEAD), len(JPEG_HEAD)) == FileType("images", "jpg")


def test_a_non_bytes_head_is_rejected():
    with pytest.raises(TypeError):
        sniff(12, 12)


def random_blobs(count: int, prefix: bytes = b"") -> list[tuple[bytes, int]]:
    """Encrypted-payload look-alikes: sizes a multiple of 16, only the head is passed."""
    rng = random.Random(20240101 + len(prefix))
    blobs = []
    for _ in range(count):
        size = 16 * rng.randint(1, 2000)
        head = (prefix + rng.randbytes(min(size, HEAD_SIZE)))[:min(size, HEAD_SIZE)]
        blobs.append((head, size))
    return blobs


def test_random_bytes_are_unknown():
    results = [sniff(head, size) for head, size in random_blobs(2000)]
    unknown = sum(r == FileType("unknown", None) for r in results)
    assert unknown >= 0.99 * len(results), [r for r in results if r.folder != "unknown"][:10]


WEAK_MAGICS = [b"\xff\xfb", b"\xff\xf3", b"\xff\xf1", b"\xff\xf9", b"BM", b"MZ", b"%!",
               b"\x1f\x9d", b"\xfe\xff", b"\xff\xfe"]


@pytest.mark.parametrize("weak_magic", WEAK_MAGICS, ids=case_id)
def test_random_bytes_behind_a_weak_magic_are_unknown(weak_magic):
    results = [sniff(head, size) for head, size in random_blobs(500, weak_magic)]
    unknown = sum(r == FileType("unknown", None) for r in results)
    assert unknown >= 0.99 * len(results)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=HEAD_SIZE), st.integers(min_value=0, max_value=2**40))
def test_any_input_gives_a_valid_type(head, extra):
    size = len(head) + extra if head else extra
    found = sniff(head, size)
    assert found.folder in FOLDERS
    assert (found.folder in ("unknown", "empty")) == (found.ext is None)

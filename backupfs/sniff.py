"""Content typing of payloads whose name could not be recovered.

Unnamed payloads are shown as ``other-data/<folder>/<sha1>.<ext>`` so a person can browse
"all images" or "all databases". Only the head of each file is looked at: a backup can hold
500,000 payloads, so :func:`sniff` is pure (the caller does the I/O) and answers the common
cases from a single dict lookup on the first bytes. The ``filetype`` package covers the
long tail, but it is consulted only through a table indexed by first byte, and without its
2-byte magics (MP3/AAC frame sync, ``MZ``, ``BM``, ``%!``, ``\\x1f\\x9d``): encrypted
payloads are uniformly random bytes and must come out as ``unknown``, not as a ``.mp3``
that no player opens. Weak magics we do want (MP3, AAC ADTS, BMP) are accepted only with
structural proof (a chain of consistent frames, a plausible header).

Invariant: ``ext is None`` exactly for the ``empty`` and ``unknown`` folders; anything we
can name an extension for also gets a browseable folder.

Mapping (folder / ext: how it is recognised):

==========  =============  =====================================================================
folder      ext            recognised by
==========  =============  =====================================================================
images      jpg            FF D8 FF + a marker byte (C0..FE)
images      png gif webp   PNG signature (APNG too), GIF87a/89a, RIFF....WEBP
images      tif cr2        II*\\0 / MM\\0* (DNG included); "CR" at 8 -> cr2
images      heic           ftyp heic heix hevc hevx heim heis hevm hevs; mif1/msf1/miaf
images      avif           ftyp avif avis; mif1/msf1/miaf with an avif compatible brand
images      bmp            "BM" + zero reserved field + known DIB size + sane data offset
images      cr3 jp2 svg    ftyp "crx " / "jp2 "; XML whose root is <svg
images      ico psd ...    filetype long tail: ico psd jxr xcf jpx, DICOM (dcm)
videos      mov            ftyp "qt  ", or a bare moov/mdat/wide/free/skip/pnot atom
videos      mp4            ftyp isom iso2-6 mp41 mp42 avc1 dash ...; also unknown brands
videos      m4v 3gp 3g2    ftyp M4V/M4VH/M4VP, 3gp4-7/3ge*/3gg6/3gs7, 3g2a-c
videos      mkv webm ...   EBML + DocType; RIFF....AVI; Ogg Theora (ogv); flv wmv mpg
audio       m4a m4b m4p    ftyp "M4A " / "M4B " / "M4P "
audio       amr awb caf    "#!AMR\\n", "#!AMR-WB\\n", "caff" + version 1
audio       mp3            ID3v2 tag (valid version + syncsafe size), or >= 3 chained frames
audio       aac            >= 3 chained ADTS frames
audio       wav aiff ...   RIFF....WAVE, FORM....AIFF/AIFC, fLaC, Ogg Opus (opus), other Ogg
                           (ogg), MThd (mid)
databases   sqlite         "SQLite format 3\\0"
databases   sqlite-wal     377f0682/377f0683 + format version 3007000
databases   sqlite-shm     wal-index version 3007000 (LE) at 0 and 48, size a multiple of 32 KiB
databases   binarycookies  "cook" + page count: a record store read by a parser, like a
                           database, not a document a person reads
databases   realm          "T-DB" at offset 16
plists      plist          "bplist0x"/"bplist1x" (NSKeyedArchiver too); XML with <plist
documents   pdf rtf ps     %PDF, {\\rtf, %!PS
documents   docx xlsx ...  OOXML/ODF/EPUB zip entries (docx xlsx pptx odt ods odp epub), OLE
                           doc/xls/ppt, dwg, fonts (ttf otf woff woff2)
archives    zip gz ...     zip gz bz2 xz 7z rar tar zst lz4, LZFSE ("bvx*"), cab rpm deb ar lz
                           lzo br
text        html xml       <!doctype html/<html/<head/<body; other <?xml or leading tag
text        json           { or [ then a JSON token (parsed when the head is the whole file)
text        vcf ics        BEGIN:VCARD, BEGIN:VCALENDAR
text        txt            other UTF-8 (or BOM-marked UTF-16) without control bytes; markup
                           and vCard/iCalendar openers also admit legacy 8-bit encodings
empty       None           size 0
unknown     None           the rest: encrypted/random bytes, LevelDB, executables, ...
==========  =============  =====================================================================

Not typed on purpose: LevelDB ``.ldb``/``.log`` (no magic), executables (nothing to open
them with on a phone backup), TGA and other formats without a real signature, and plain text
in legacy 8-bit encodings (indistinguishable from binary without guessing).
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from typing import Callable, Optional

import filetype
from filetype.types.base import Type as Matcher

__all__ = ["FOLDERS", "HEAD_SIZE", "FileType", "sniff"]

# One page. It holds three MPEG audio frames at any bitrate (the longest is 1728 bytes),
# the tar magic at 257, the OLE stream names up to 2142, the first few zip entry names of
# OOXML/ODF files, and enough text to judge it; more would only cost I/O on 500k files.
HEAD_SIZE = 4096

FOLDERS = ("images", "videos", "audio", "databases", "plists", "documents", "archives",
           "text", "empty", "unknown")


@dataclass(frozen=True, slots=True)
class FileType:
    """Where an unnamed payload is shown: ``other-data/<folder>/<sha1>[.<ext>]``."""

    folder: str
    ext: Optional[str]


EMPTY = FileType("empty", None)
UNRECOGNISED = FileType("unknown", None)

_Check = Callable[[bytes, int], Optional[FileType]]


def _types(folder: str, *exts: str) -> tuple[FileType, ...]:
    return tuple(FileType(folder, ext) for ext in exts)


JPG, PNG, GIF, WEBP, TIF, CR2, BMP = _types("images", "jpg", "png", "gif", "webp", "tif", "cr2",
                                            "bmp")
HEIC, AVIF, CR3, JP2, SVG, DICOM = _types("images", "heic", "avif", "cr3", "jp2", "svg", "dcm")
MOV, MP4, M4V, GP3, G2_3 = _types("videos", "mov", "mp4", "m4v", "3gp", "3g2")
MKV, WEBM, AVI, OGV = _types("videos", "mkv", "webm", "avi", "ogv")
M4A, M4B, M4P, AMR, AWB, CAF = _types("audio", "m4a", "m4b", "m4p", "amr", "awb", "caf")
MP3, AAC, WAV, AIFF, FLAC, OPUS, OGG = _types("audio", "mp3", "aac", "wav", "aiff", "flac",
                                              "opus", "ogg")
SQLITE, SQLITE_WAL, SQLITE_SHM, BINARYCOOKIES, REALM = _types(
    "databases", "sqlite", "sqlite-wal", "sqlite-shm", "binarycookies", "realm")
PLIST = FileType("plists", "plist")
PDF, RTF, PS, TTF = _types("documents", "pdf", "rtf", "ps", "ttf")
ZIP, GZ, BZ2, XZ, SEVENZ, RAR, TAR, ZST, LZ4, LZFSE = _types(
    "archives", "zip", "gz", "bz2", "xz", "7z", "rar", "tar", "zst", "lz4", "lzfse")
HTML, XML, JSON, VCF, ICS, TXT = _types("text", "html", "xml", "json", "vcf", "ics", "txt")


# --- checks behind a 4-byte prefix ---------------------------------------------------------

def _sqlite(head: bytes, size: int) -> Optional[FileType]:
    return SQLITE if head.startswith(b"SQLite format 3\x00") else None


def _bplist(head: bytes, size: int) -> Optional[FileType]:
    # "bplist00" is the classic format; "bplist15"/"bplist16"/"bplist17" are newer variants.
    return PLIST if len(head) >= 8 and head[6:7] in (b"0", b"1") and head[7:8].isdigit() else None


def _sqlite_wal(head: bytes, size: int) -> Optional[FileType]:
    return SQLITE_WAL if head[4:8] == b"\x00\x2d\xe2\x18" else None


def _sqlite_shm(head: bytes, size: int) -> Optional[FileType]:
    # The wal-index header is written twice (offsets 0 and 48) in native (little-endian on
    # iOS) order and the file grows in 32 KiB blocks: together a 64-bit-strong signature.
    return SQLITE_SHM if head[48:52] == b"\x18\xe2\x2d\x00" and size % 32768 == 0 else None


def _binarycookies(head: bytes, size: int) -> Optional[FileType]:
    pages = int.from_bytes(head[4:8], "big")
    return BINARYCOOKIES if len(head) >= 8 and 8 + 4 * pages <= size else None


def _png(head: bytes, size: int) -> Optional[FileType]:
    return PNG if head.startswith(b"\x89PNG\r\n\x1a\n") else None


def _gif(head: bytes, size: int) -> Optional[FileType]:
    return GIF if head[:6] in (b"GIF87a", b"GIF89a") else None


_RIFF_FORMS = {b"WEBP": WEBP, b"WAVE": WAV, b"AVI ": AVI}


def _riff(head: bytes, size: int) -> Optional[FileType]:
    return _RIFF_FORMS.get(head[8:12])


def _tiff(head: bytes, size: int) -> Optional[FileType]:
    return CR2 if head[8:10] == b"CR" else TIF


def _zip(head: bytes, size: int) -> Optional[FileType]:
    for matcher, found in _ZIP_DOCUMENTS:
        if matcher.match(head):
            return found
    return ZIP


def _amr(head: bytes, size: int) -> Optional[FileType]:
    if head.startswith(b"#!AMR\n"):
        return AMR
    return AWB if head.startswith(b"#!AMR-WB\n") else None


def _caf(head: bytes, size: int) -> Optional[FileType]:
    return CAF if head[4:6] == b"\x00\x01" else None


def _ogg(head: bytes, size: int) -> Optional[FileType]:
    # The first page's payload (after a 27-byte header and the segment table) names the codec.
    codec = head[28:36]
    if codec.startswith(b"OpusHead"):
        return OPUS
    if codec.startswith(b"\x80theora"):
        return OGV
    return OGG


def _aiff(head: bytes, size: int) -> Optional[FileType]:
    return AIFF if head[8:12] in (b"AIFF", b"AIFC") else None


def _ebml(head: bytes, size: int) -> Optional[FileType]:
    return WEBM if b"\x42\x82\x84webm" in head[:64] else MKV


def _id3(head: bytes, size: int) -> Optional[FileType]:
    # ID3v2: major version 2-4, a revision, flags, then a "syncsafe" size (high bits clear).
    if len(head) >= 10 and head[3] in (2, 3, 4) and head[4] != 0xFF \
            and not any(b & 0x80 for b in head[6:10]):
        return MP3
    return None


def _rtf(head: bytes, size: int) -> Optional[FileType]:
    return RTF if head.startswith(b"{\\rtf") else None


def _const(found: FileType) -> _Check:
    return lambda head, size: found


_BY_PREFIX4: dict[bytes, _Check] = {
    b"SQLi": _sqlite,
    b"bpli": _bplist,
    b"\x37\x7f\x06\x82": _sqlite_wal,
    b"\x37\x7f\x06\x83": _sqlite_wal,
    b"\x18\xe2\x2d\x00": _sqlite_shm,
    b"cook": _binarycookies,
    b"\x89PNG": _png,
    b"GIF8": _gif,
    b"RIFF": _riff,
    b"RIFX": _riff,  # big-endian RIFF
    b"II*\x00": _tiff,
    b"MM\x00*": _tiff,
    b"%PDF": _const(PDF),
    b"%!PS": _const(PS),
    b"{\\rt": _rtf,
    b"PK\x03\x04": _zip,
    b"PK\x05\x06": _const(ZIP),
    b"PK\x07\x08": _const(ZIP),
    b"#!AM": _amr,
    b"caff": _caf,
    b"fLaC": _const(FLAC),
    b"OggS": _ogg,
    b"FORM": _aiff,
    b"\x1a\x45\xdf\xa3": _ebml,
    b"7z\xbc\xaf": _const(SEVENZ),
    b"\xfd7zX": _const(XZ),
    b"Rar!": _const(RAR),
    b"(\xb5/\xfd": _const(ZST),
    b"\x04\x22\x4d\x18": _const(LZ4),
    **{b"bvx" + c: _const(LZFSE) for c in (b"1", b"2", b"-", b"n")},
    **{b"BZh" + bytes([c]): _const(BZ2) for c in b"123456789"},
    **{b"ID3" + bytes([v]): _id3 for v in (2, 3, 4)},
    # JPEG: SOI then the first marker (APPn, DQT, SOF, DHT, COM, ...), all in C0..FE.
    **{b"\xff\xd8\xff" + bytes([m]): _const(JPG) for m in range(0xC0, 0xFF)},
    # gzip: magic, deflate, then flags whose top three bits are reserved (zero).
    **{b"\x1f\x8b\x08" + bytes([f]): _const(GZ) for f in range(0x20)},
}


# --- ISO base media (ftyp) and QuickTime ---------------------------------------------------

_HEIF_BRANDS = frozenset((b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"))
_AVIF_BRANDS = frozenset((b"avif", b"avis"))
_MP4_BRANDS = frozenset((b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42",
                         b"avc1", b"mmp4", b"dash", b"MSNV", b"NDAS", b"F4V ", b"f4v "))
_BRANDS: dict[bytes, FileType] = {
    **{b: HEIC for b in _HEIF_BRANDS}, **{b: AVIF for b in _AVIF_BRANDS},
    **{b: MP4 for b in _MP4_BRANDS},
    b"qt  ": MOV, b"M4A ": M4A, b"M4B ": M4B, b"M4P ": M4P,
    b"M4V ": M4V, b"M4VH": M4V, b"M4VP": M4V,
    b"3gp4": GP3, b"3gp5": GP3, b"3gp6": GP3, b"3gp7": GP3, b"3ge6": GP3, b"3ge7": GP3,
    b"3gg6": GP3, b"3gs7": GP3, b"3g2a": G2_3, b"3g2b": G2_3, b"3g2c": G2_3,
    b"crx ": CR3, b"jp2 ": JP2,
}
_HEIF_CONTAINERS = frozenset((b"mif1", b"msf1", b"miaf"))
_QT_ATOMS = frozenset((b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"))


def _ftyp(head: bytes) -> FileType:
    """Type an ISO-BMFF file from its ftyp box: the major brand, else the compatible ones."""
    major = head[8:12]
    found = _BRANDS.get(major)
    if found is not None:
        return found
    box_end = min(int.from_bytes(head[:4], "big"), len(head))
    compatible = [head[i:i + 4] for i in range(16, box_end - 3, 4)]
    if major in _HEIF_CONTAINERS:
        return AVIF if any(b in _AVIF_BRANDS for b in compatible) else HEIC
    for brand in compatible:
        found = _BRANDS.get(brand)
        if found is not None:
            return found
    # An ftyp box is proof of ISO-BMFF, and the brands nobody lists are video in practice.
    return MP4


def _quicktime(head: bytes, size: int) -> bool:
    """Old QuickTime files start with a bare atom; its size must fit the file."""
    atom_size = int.from_bytes(head[:4], "big")
    return atom_size in (0, 1) or 8 <= atom_size <= size


# --- text-like content ---------------------------------------------------------------------

# Control bytes that do not occur in text (TAB, LF, FF, CR and ESC do). Deleting them
# with bytes.translate is a C loop, ten times faster than a regex character class.
_CONTROL = bytes((*range(0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F))
_JSON_START = re.compile(rb'\s*(?:\{\s*(?:"|\})|\[\s*(?:[\[\]{"\-0-9]|true|false|null))')
_TAG_START = re.compile(rb"<[A-Za-z!?]")
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body")
_MARKUP_OPENERS = (b"<?xml", b"<!doctype", b"<html", b"<plist", b"<svg")
_BOMS_UTF16 = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _has_control(head: bytes) -> bool:
    start = head[:64]  # random bytes fail here, before the whole head is scanned
    return (len(start.translate(None, _CONTROL)) != len(start)
            or len(head.translate(None, _CONTROL)) != len(head))


def _decode(data: bytes, encoding: str, complete: bool) -> Optional[str]:
    """``data`` decoded, or None; a character cut by the end of the head is dropped."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        if complete or error.reason not in ("unexpected end of data", "truncated data"):
            return None
        return data[:error.start].decode(encoding)


def _utf16_text(head: bytes, complete: bool) -> bool:
    encoding = "utf-16-le" if head.startswith(codecs.BOM_UTF16_LE) else "utf-16-be"
    text = _decode(head[2:], encoding, complete)
    return bool(text) and text.replace("\n", "").replace("\r", "").replace("\t", "").isprintable()


def _markup(lower: bytes) -> FileType:
    start = lower[:1024]
    if b"<!doctype plist" in start or b"<plist" in start:
        return PLIST
    if any(marker in start for marker in _HTML_MARKERS):
        return HTML
    if b"<svg" in start:
        return SVG
    return XML if lower.startswith(b"<?xml") or _TAG_START.match(lower) else TXT


def _json(body: bytes, text: str, complete: bool) -> bool:
    if not complete:
        return _JSON_START.match(body) is not None
    try:
        json.loads(text)
        return True
    except ValueError:
        pass
    try:  # JSON Lines: one document per line.
        json.loads(text.lstrip().split("\n", 1)[0])
        return True
    except ValueError:
        return False


def _text(head: bytes, complete: bool) -> Optional[FileType]:
    body = head[3:] if head.startswith(codecs.BOM_UTF8) else head
    if _has_control(body):
        return TXT if head[:2] in _BOMS_UTF16 and _utf16_text(head, complete) else None
    text = _decode(body, "utf-8", complete)
    stripped = body.lstrip()
    first = stripped[:1]
    if first == b"<":
        lower = stripped.lower()
        # Markup names its own encoding, so a Latin-1 page that opens like markup is markup.
        return _markup(lower) if text is not None or lower.startswith(_MARKUP_OPENERS) else None
    if first in (b"B", b"b"):  # vCard 2.1 is often Latin-1: the opener is proof enough
        start = stripped[:16].upper()
        if start.startswith(b"BEGIN:VCARD"):
            return VCF
        if start.startswith(b"BEGIN:VCALENDAR"):
            return ICS
    if text is None:
        return None
    if first in (b"{", b"[") and _json(stripped, text, complete):
        return JSON
    return TXT


# --- weak magics that need structural proof ------------------------------------------------

_MP3_BITRATES = {  # (MPEG-1?, layer) -> kbit/s by index 1..14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_ADTS_RATES = 13  # sampling-frequency indexes 0..12 are defined


def _mp3_frame(head: bytes, pos: int) -> Optional[tuple[int, int]]:
    """(frame length, stream signature) of a valid MPEG audio frame header at ``pos``."""
    b1, b2, b3 = head[pos + 1], head[pos + 2], head[pos + 3]
    if head[pos] != 0xFF or b1 & 0xE0 != 0xE0:
        return None
    version, layer_bits = (b1 >> 3) & 3, (b1 >> 1) & 3
    rate_index, bitrate_index = (b2 >> 2) & 3, b2 >> 4
    if version == 1 or layer_bits == 0 or rate_index == 3 or bitrate_index in (0, 15) \
            or b3 & 3 == 2:
        return None
    layer, mpeg1 = 4 - layer_bits, version == 3
    bitrate = _MP3_BITRATES[mpeg1, layer][bitrate_index - 1] * 1000
    rate = _MP3_RATES[version][rate_index]
    padding = (b2 >> 1) & 1
    if layer == 1:
        length = (12 * bitrate // rate + padding) * 4
    else:
        length = (72 if layer == 3 and not mpeg1 else 144) * bitrate // rate + padding
    return length, (b1 & 0xFE) << 8 | (b2 & 0x0C)


def _adts_frame(head: bytes, pos: int) -> Optional[tuple[int, int]]:
    """(frame length, stream signature) of a valid AAC ADTS header at ``pos``."""
    b1, b2 = head[pos + 1], head[pos + 2]
    if head[pos] != 0xFF or b1 & 0xF6 != 0xF0 or (b2 >> 2) & 0xF >= _ADTS_RATES:
        return None
    length = (head[pos + 3] & 3) << 11 | head[pos + 4] << 3 | head[pos + 5] >> 5
    return (length, b1 << 8 | (b2 & 0xFC)) if length >= 7 else None


def _frames(head: bytes, size: int, parse: Callable[[bytes, int], Optional[tuple[int, int]]]
            ) -> bool:
    """A chain of consistent frames from offset 0: three, or as many as the data allows."""
    pos, count, signature = 0, 0, None
    while pos + 6 <= len(head):
        frame = parse(head, pos)
        if frame is None or (signature is not None and frame[1] != signature):
            return False
        signature = frame[1]
        count += 1
        pos += frame[0]
        if count >= 3:
            return True
    return pos == size or (count >= 2 and pos < size)


def _bmp(head: bytes, size: int) -> bool:
    data_offset = int.from_bytes(head[10:14], "little")
    dib_size = int.from_bytes(head[14:18], "little")
    return (head[6:10] == b"\x00\x00\x00\x00" and dib_size in (12, 40, 52, 56, 64, 108, 124)
            and 14 + dib_size <= data_offset <= size)


# --- the filetype long tail ----------------------------------------------------------------

_OUR_EXT = {"midi": "mid"}  # filetype's name -> the extension players expect


def _filetype_matchers(*wanted: tuple[str, str]) -> tuple[tuple[Matcher, FileType], ...]:
    by_ext: dict[str, Matcher] = {}
    for matcher in filetype.types:
        by_ext.setdefault(matcher.extension, matcher)
    return tuple((by_ext[ext], FileType(folder, _OUR_EXT.get(ext, ext)))
                 for ext, folder in wanted)


_ZIP_DOCUMENTS = _filetype_matchers(
    ("epub", "documents"), ("docx", "documents"), ("xlsx", "documents"), ("pptx", "documents"),
    ("odt", "documents"), ("ods", "documents"), ("odp", "documents"))

# filetype matchers indexed by the first byte they require, so random heads skip them all.
_TAIL_BY_FIRST: dict[int, tuple[tuple[Matcher, FileType], ...]] = {
    0x00: _filetype_matchers(("ico", "images"), ("jpx", "images"), ("mpg", "videos")),
    0x21: _filetype_matchers(("deb", "archives"), ("ar", "archives")),
    0x30: _filetype_matchers(("wmv", "videos")),
    0x38: _filetype_matchers(("psd", "images")),
    0x41: _filetype_matchers(("dwg", "documents")),
    0x46: _filetype_matchers(("flv", "videos")),
    0x49: _filetype_matchers(("jxr", "images"), ("cab", "archives")),
    0x4C: _filetype_matchers(("lz", "archives")),
    0x4D: _filetype_matchers(("midi", "audio"), ("cab", "archives")),
    0x4F: _filetype_matchers(("otf", "documents")),
    0x67: _filetype_matchers(("xcf", "images")),
    0x77: _filetype_matchers(("woff", "documents"), ("woff2", "documents")),
    0x89: _filetype_matchers(("lzo", "archives")),
    0xCE: _filetype_matchers(("br", "archives")),
    0xD0: _filetype_matchers(("doc", "documents"), ("xls", "documents"), ("ppt", "documents")),
    0xED: _filetype_matchers(("rpm", "archives")),
}


def _truetype(head: bytes) -> bool:
    """sfnt version 1.0 plus a consistent table directory (filetype's 5-byte check alone
    also matches e.g. GTK icon caches)."""
    tables = int.from_bytes(head[4:6], "big")
    search_range = int.from_bytes(head[6:8], "big")
    return (head.startswith(b"\x00\x01\x00\x00") and 0 < tables < 256
            and search_range == 16 << (tables.bit_length() - 1))


def _long_tail(head: bytes, size: int) -> Optional[FileType]:
    for matcher, found in _TAIL_BY_FIRST.get(head[0], ()):
        if matcher.match(head):
            return found
    if head[0] == 0 and _truetype(head):
        return TTF
    if head[257:262] == b"ustar":
        return TAR
    if head[128:132] == b"DICM":
        return DICOM
    if head[0] == 0xFF:
        if _frames(head, size, _mp3_frame):
            return MP3
        if _frames(head, size, _adts_frame):
            return AAC
    elif head[:2] == b"BM" and _bmp(head, size):
        return BMP
    return None


# --- entry point ---------------------------------------------------------------------------

def sniff(head: bytes, size: int) -> FileType:
    """Type a payload from its first ``min(size, HEAD_SIZE)`` bytes and its full size.

    Never raises for odd content: anything unrecognised is ``unknown``. A negative size or
    a non-bytes head is a caller bug and raises ``ValueError``/``TypeError``.
    """
    if size < 0:
        raise ValueError(f"file size must not be negative, got {size}")
    if size == 0:
        return EMPTY
    if not isinstance(head, bytes):
        head = memoryview(head).tobytes()  # TypeError for non-bytes-like, not zero bytes
    if not head:
        return UNRECOGNISED
    check = _BY_PREFIX4.get(head[:4])
    if check is not None:
        found = check(head, size)
        if found is not None:
            return found
    box = head[4:8]
    if box == b"ftyp":
        return _ftyp(head)
    if box in _QT_ATOMS and _quicktime(head, size):
        return MOV
    if head[16:20] == b"T-DB":
        return REALM
    found = _long_tail(head, size) or _text(head, complete=len(head) >= size)
    return found or UNRECOGNISED

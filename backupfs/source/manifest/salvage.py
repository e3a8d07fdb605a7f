"""Rows of a damaged Manifest.db, read straight from its pages.

SQLite reaches a leaf page only through its parent interior pages and stops at the first
bad page, so one damaged interior page hides every row below it. The leaf pages
themselves are usually intact: scanning every page of the file for table leaves and
decoding their cells recovers those rows. Only rows shaped like ``Files`` (five columns,
a 40-hex fileID, flags 1/2/4) are kept, which keeps other tables' rows and garbage out.

Work is linear in the file size: each page is read once per page-size guess, and an
overflow page is followed at most once per scan, so damaged or cyclic chains cannot loop.
"""

from __future__ import annotations

import logging
import re

from backupfs.source.manifest.db import _record
from backupfs.source.manifest.records import ManifestRecord

log = logging.getLogger(__name__)

_MAGIC = b"SQLite format 3\x00"
_TABLE_LEAF = 0x0D
_PAGE_SIZES = (4096, 512, 1024, 2048, 8192, 16384, 32768, 65536)
_MIN_USABLE = 480  # SQLite's own lower bound; below it the local-size formulas break down
_FILE_ID = re.compile(r"[0-9a-fA-F]{40}")
_FILE_ID_TYPE = 13 + 2 * 40  # serial type of a 40-byte TEXT
_INT_WIDTHS = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8}
_FIXED_SIZES = {**_INT_WIDTHS, 7: 8}


def salvage_files_rows(data: bytes) -> list[ManifestRecord]:
    """Every ``Files`` row found on an intact table leaf page, in page order.

    Rows whose overflow chain is lost keep their names with no metadata (when the names
    themselves were on the leaf page). A fileID seen twice keeps its first whole copy.
    When the header is unreadable every page size is tried and the one that yields most
    rows wins, since a wrong size still lines up with some real pages.
    """
    data = bytes(data)
    layouts = _header_layout(data)
    best: list[ManifestRecord] = []
    for page_size, usable in layouts or [(size, size) for size in _PAGE_SIZES]:
        records = _Scan(data, page_size, usable).records()
        if len(records) > len(best):
            best = records
    log.info("salvaged %d Files rows from %d bytes", len(best), len(data))
    return best


def _header_layout(data: bytes) -> list[tuple[int, int]]:
    """(page size, usable size) from an intact header; empty when the header cannot be trusted."""
    if not data.startswith(_MAGIC) or len(data) < 100:
        return []
    raw = int.from_bytes(data[16:18], "big")
    page_size = 65536 if raw == 1 else raw
    usable = page_size - data[20]
    if page_size not in _PAGE_SIZES or usable < _MIN_USABLE:
        return []
    return [(page_size, usable)]


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """(value, next position); next position is -1 when the varint runs past ``end``."""
    value = 0
    for _ in range(8):
        if pos >= end:
            return 0, -1
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos
    if pos >= end:
        return 0, -1
    return (value << 8) | data[pos], pos + 1  # the ninth byte contributes all 8 bits


def _content_size(serial_type: int) -> int:
    if serial_type >= 12:
        return (serial_type - 12) >> 1
    return _FIXED_SIZES.get(serial_type, 0)  # NULL, constants 0/1 and reserved types take no bytes


class _Scan:
    """One pass over the file under one page-size assumption."""

    def __init__(self, data: bytes, page_size: int, usable: int) -> None:
        self.data = data
        self.page_size = page_size
        self.usable = usable
        self.page_count = len(data) // page_size  # a cut-off last page is not trusted
        self.visited: set[int] = set()  # overflow pages already followed: no cycles, no rereads
        self.max_local = usable - 35  # SQLite's local-payload bounds for table leaf cells
        self.min_local = (usable - 12) * 32 // 255 - 23

    def records(self) -> list[ManifestRecord]:
        found: dict[str, tuple[ManifestRecord, bool]] = {}
        for page in range(1, self.page_count + 1):
            for record, whole in self._page_records(page):
                kept = found.get(record.file_id)
                if kept is None or (whole and not kept[1]):
                    found[record.file_id] = (record, whole)
        return [record for record, _ in found.values()]

    def _page_records(self, page: int) -> list[tuple[ManifestRecord, bool]]:
        data, start = self.data, (page - 1) * self.page_size
        header = start + (100 if page == 1 else 0)
        if data[header] != _TABLE_LEAF:
            return []
        end = start + self.usable
        cell_count = int.from_bytes(data[header + 3 : header + 5], "big")
        pointers = header + 8
        cells_from = pointers + 2 * cell_count - start  # cell content lies past the pointer array
        if cells_from > self.usable:
            return []
        out = []
        for i in range(cell_count):
            offset = int.from_bytes(data[pointers + 2 * i : pointers + 2 * i + 2], "big")
            if cells_from <= offset < self.usable:
                found = self._cell(start + offset, end)
                if found is not None:
                    out.append(found)
        return out

    def _cell(self, pos: int, end: int) -> tuple[ManifestRecord, bool] | None:
        data = self.data
        payload_size, pos = _varint(data, pos, end)
        if pos < 0:
            return None
        rowid, pos = _varint(data, pos, end)
        if pos < 0:
            return None
        local = self._local_size(payload_size)
        if pos + local + (4 if local < payload_size else 0) > end:
            return None
        payload = data[pos : pos + local]
        columns = _columns(payload)
        if columns is None or sum(size for _, size in columns) != payload_size:
            return None
        whole = True
        if local < payload_size:
            next_page = int.from_bytes(data[pos + local : pos + local + 4], "big")
            rest = self._overflow(next_page, payload_size - local)
            whole = rest is not None
            payload += rest or b""
        return _row(rowid, payload, columns, whole)

    def _local_size(self, payload_size: int) -> int:
        """Bytes of the payload stored on the leaf page itself (SQLite's file-format rule)."""
        if payload_size <= self.max_local:
            return payload_size
        spill = self.min_local + (payload_size - self.min_local) % (self.usable - 4)
        return spill if spill <= self.max_local else self.min_local

    def _overflow(self, page: int, needed: int) -> bytes | None:
        """The rest of a payload from its overflow chain; None when the chain is broken."""
        per_page = self.usable - 4
        if -(-needed // per_page) > self.page_count:
            return None
        chunks = []
        while needed > 0:
            if not 1 <= page <= self.page_count or page in self.visited:
                return None
            self.visited.add(page)
            start = (page - 1) * self.page_size
            chunk = self.data[start + 4 : start + 4 + min(needed, per_page)]
            chunks.append(chunk)
            needed -= len(chunk)
            page = int.from_bytes(self.data[start : start + 4], "big")
        return b"".join(chunks)


def _columns(payload: bytes) -> list[tuple[int, int]] | None:
    """(serial type, content size) of each column, the record header counted as a first
    pseudo-column of type -1; None unless the header is shaped like a ``Files`` row."""
    header_size, pos = _varint(payload, 0, len(payload))
    if pos < 0 or not pos <= header_size <= len(payload):
        return None
    columns = [(-1, header_size)]
    while pos < header_size and len(columns) <= 5:
        serial_type, pos = _varint(payload, pos, header_size)
        if pos < 0:
            return None
        columns.append((serial_type, _content_size(serial_type)))
    if pos != header_size or len(columns) != 6:
        return None
    fid, domain, path, flags, _ = (t for t, _ in columns[1:])
    if fid != _FILE_ID_TYPE or domain < 13 or domain % 2 == 0 or path < 13 or path % 2 == 0:
        return None
    if flags not in _INT_WIDTHS and flags not in (8, 9):
        return None
    return columns


def _row(rowid: int, payload: bytes, columns: list[tuple[int, int]], whole: bool) -> tuple[ManifestRecord, bool] | None:
    """Decode the values and build the record as manifest_db does; None when unusable.

    A row cut short (broken overflow chain) keeps its names if they are complete; its
    blob becomes None, which ``_record`` turns into a record without metadata or key.
    """
    values = []
    pos = 0
    for serial_type, size in columns:
        values.append(_value(serial_type, payload[pos : pos + size]) if pos + size <= len(payload) else None)
        pos += size
    _, fid, domain, path, flags, blob = values
    if fid is None or domain is None or path is None or not _FILE_ID.fullmatch(fid):
        return None
    record, blob_ok = _record((rowid, fid, domain, path, flags, blob if whole else None))
    return None if record is None else (record, whole and blob_ok)


def _value(serial_type: int, raw: bytes) -> int | float | str | bytes | None:
    if serial_type >= 13 and serial_type % 2:
        return raw.decode("utf-8", "surrogateescape")
    if serial_type >= 12:
        return raw
    if serial_type in _INT_WIDTHS:
        return int.from_bytes(raw, "big", signed=True)
    if serial_type in (8, 9):
        return serial_type - 8
    return None  # NULL, a float (never a Files value we use), reserved types, or the header

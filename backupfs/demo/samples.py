"""Real file contents for synthetic backups: databases, plists, media, documents.

A backup built from placeholder bytes would prove nothing: the content sniffer, the SQLite
view and the name recovery all read *inside* files. So every generator here returns bytes
that the real tools accept (sqlite3 opens the databases, plistlib loads the plists, image
decoders decode the JPEG/PNG/GIF, the ISO-BMFF boxes are well formed).

Everything is deterministic: same arguments (or same seed / rng state), same bytes. SQLite
builds cost milliseconds, so they are cached; ``content_for_path`` can be called for every
file of a real device listing (100,000+ paths) in seconds.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import plistlib
import random
import sqlite3
import struct
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

WalPair = tuple[bytes, bytes]
"""(main database file, ``-wal`` file) of a WAL-mode database."""

APPLE_EPOCH = 978_307_200  # 2001-01-01T00:00:00Z, origin of Core Data / iMessage dates
NOTES_ACCOUNT_ID = "9D5A1C3E-5B7E-4C1A-9F0E-2D8C7B6A5F41"
# Bigger generated payloads are never padded beyond this, whatever the size hint says:
# callers rebuild whole device listings and sizes there run into gigabytes.
MAX_PADDED_SIZE = 64 * 1024

_WAL_SALTS = (0x5A17C0DE, 0x1BADB002)


# --- SQLite ----------------------------------------------------------------------------------

Row = tuple[str, tuple]  # (INSERT statement, parameters)


@dataclass
class _Script:
    """A database as SQL: rows in ``early`` reach the main file, rows in ``late`` stay in the
    WAL when the database is built in WAL mode (and reach the main file otherwise)."""

    schema: str
    early: list[Row] = field(default_factory=list)
    late: list[Row] = field(default_factory=list)


def _build(script: _Script, wal: bool) -> bytes | WalPair:
    with tempfile.TemporaryDirectory(prefix="backupfs-sample-") as tmp:
        path = Path(tmp) / "db.sqlite"
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA page_size=4096")
            if wal:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.executescript(script.schema)
            _insert(conn, script.early if wal else script.early + script.late)
            if wal:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                _insert(conn, script.late)
                # Copied while the connection is open: closing would checkpoint the WAL away.
                return path.read_bytes(), _normalize_wal(Path(f"{path}-wal").read_bytes())
        finally:
            conn.close()
        return path.read_bytes()


def _insert(conn: sqlite3.Connection, rows: list[Row]) -> None:
    conn.execute("BEGIN")
    for sql, params in rows:
        conn.execute(sql, params)
    conn.execute("COMMIT")


def _wal_checksum(data: bytes, s0: int, s1: int, big_endian: bool) -> tuple[int, int]:
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def _normalize_wal(wal: bytes) -> bytes:
    """Replace SQLite's random WAL salts by fixed ones, so builds are reproducible.

    The salts seed the checksum chain, so every frame's checksum is recomputed; frames
    after the first one that does not belong to the current WAL generation are dropped.
    """
    if len(wal) < 32:  # nothing was committed after the checkpoint
        return wal
    magic, version, page_size, seq, salt1, salt2 = struct.unpack(">6I", wal[:24])
    big_endian = bool(magic & 1)
    header = struct.pack(">6I", magic, version, page_size, seq, *_WAL_SALTS)
    s0, s1 = _wal_checksum(header, 0, 0, big_endian)
    out = [header, struct.pack(">2I", s0, s1)]
    frame_size = 24 + page_size
    for offset in range(32, len(wal) - frame_size + 1, frame_size):
        frame_header = wal[offset:offset + 24]
        if struct.unpack(">2I", frame_header[8:16]) != (salt1, salt2):
            break
        page = wal[offset + 24:offset + frame_size]
        s0, s1 = _wal_checksum(frame_header[:8] + page, s0, s1, big_endian)
        out += [frame_header[:8], struct.pack(">4I", *_WAL_SALTS, s0, s1), page]
    return b"".join(out)


def _apple_time(unix: int) -> int:
    return unix - APPLE_EPOCH


def _sms_attachment_dir(guid: str) -> str:
    digest = hashlib.sha1(guid.encode()).hexdigest()
    return f"{digest[:2]}/{int(digest[2:4], 16) % 16:02d}/{guid}"


def sms_attachment_filename(guid: str, name: str) -> str:
    """The ``attachment.filename`` value iOS stores: ``~/Library/SMS/Attachments/xx/NN/GUID/name``.

    The backup file is MediaDomain ``Library/SMS/Attachments/...`` (the ``~/`` removed).
    """
    return f"~/Library/SMS/Attachments/{_sms_attachment_dir(guid)}/{name}"


_SMS_SCHEMA = """
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL,
    country TEXT, service TEXT NOT NULL, uncanonicalized_id TEXT, person_centric_id TEXT,
    UNIQUE (id, service));
CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
    style INTEGER, state INTEGER, account_id TEXT, properties BLOB, chat_identifier TEXT,
    service_name TEXT, room_name TEXT, account_login TEXT, is_archived INTEGER DEFAULT 0,
    last_addressed_handle TEXT, display_name TEXT, group_id TEXT, is_filtered INTEGER DEFAULT 0,
    successful_query INTEGER, last_read_message_timestamp INTEGER DEFAULT 0);
CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
    text TEXT, replace INTEGER DEFAULT 0, service_center TEXT, handle_id INTEGER DEFAULT 0,
    subject TEXT, country TEXT, attributedBody BLOB, version INTEGER DEFAULT 0,
    type INTEGER DEFAULT 0, service TEXT, account TEXT, account_guid TEXT,
    error INTEGER DEFAULT 0, date INTEGER, date_read INTEGER, date_delivered INTEGER,
    is_delivered INTEGER DEFAULT 0, is_finished INTEGER DEFAULT 0, is_emote INTEGER DEFAULT 0,
    is_from_me INTEGER DEFAULT 0, is_empty INTEGER DEFAULT 0, is_delayed INTEGER DEFAULT 0,
    is_auto_reply INTEGER DEFAULT 0, is_prepared INTEGER DEFAULT 0, is_read INTEGER DEFAULT 0,
    is_system_message INTEGER DEFAULT 0, is_sent INTEGER DEFAULT 0,
    has_dd_results INTEGER DEFAULT 0, cache_has_attachments INTEGER DEFAULT 0,
    cache_roomnames TEXT, was_data_detected INTEGER DEFAULT 0, item_type INTEGER DEFAULT 0,
    other_handle INTEGER DEFAULT 0, group_title TEXT, associated_message_guid TEXT,
    associated_message_type INTEGER DEFAULT 0, balloon_bundle_id TEXT, payload_data BLOB,
    expressive_send_style_id TEXT, thread_originator_guid TEXT, destination_caller_id TEXT);
CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
    created_date INTEGER DEFAULT 0, start_date INTEGER DEFAULT 0, filename TEXT, uti TEXT,
    mime_type TEXT, transfer_state INTEGER DEFAULT 0, is_outgoing INTEGER DEFAULT 0,
    user_info BLOB, transfer_name TEXT, total_bytes INTEGER DEFAULT 0, is_sticker INTEGER DEFAULT 0,
    sticker_user_info BLOB, attribution_info BLOB, hide_attachment INTEGER DEFAULT 0,
    ck_sync_state INTEGER DEFAULT 0, ck_record_id TEXT, original_guid TEXT UNIQUE NOT NULL,
    is_commsafety_sensitive INTEGER DEFAULT 0);
CREATE TABLE chat_handle_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
    handle_id INTEGER REFERENCES handle (ROWID) ON DELETE CASCADE, UNIQUE(chat_id, handle_id));
CREATE TABLE chat_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
    message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE,
    message_date INTEGER DEFAULT 0, PRIMARY KEY (chat_id, message_id));
CREATE TABLE message_attachment_join (message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE,
    attachment_id INTEGER REFERENCES attachment (ROWID) ON DELETE CASCADE,
    UNIQUE(message_id, attachment_id));
CREATE TABLE deleted_messages (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, guid TEXT NOT NULL);
CREATE INDEX message_idx_handle ON message(handle_id, date);
CREATE INDEX chat_message_join_idx_message_date_id_chat_id ON chat_message_join(chat_id, message_date, message_id);
"""

_SMS_HANDLES = (("+15550100123", "iMessage"), ("alex.martin@example.com", "iMessage"), ("+15550100777", "SMS"))
# (handle index, from me, text): the conversation a newcomer sees when opening sms.db.
_SMS_MESSAGES = (
    (0, False, "Hey! Are we still on for dinner tomorrow?"),
    (0, True, "Yes! 7pm at the usual place?"),
    (0, False, "Perfect. I'll book a table."),
    (1, False, "Sending you the photos from the hike"),
    (1, True, "Wow, these are great, thanks!"),
    (2, False, "Your package will be delivered today between 2pm and 5pm."),
    (1, False, "Did you get home ok?"),
    (1, True, "Yep, all good. Long day!"),
)
# Committed after the last checkpoint: in WAL mode these exist only in sms.db-wal.
_SMS_LATE_MESSAGES = (
    (0, False, "Running 5 minutes late, sorry!"),
    (0, True, "No worries, I'm at the bar"),
    (1, False, "Lunch on Friday?"),
)
_MIME_BY_EXT = {
    "heic": ("public.heic", "image/heic"), "jpg": ("public.jpeg", "image/jpeg"),
    "jpeg": ("public.jpeg", "image/jpeg"), "png": ("public.png", "image/png"),
    "gif": ("com.compuserve.gif", "image/gif"), "mov": ("com.apple.quicktime-movie", "video/quicktime"),
    "mp4": ("public.mpeg-4", "video/mp4"), "caf": ("com.apple.coreaudio-format", "audio/x-caf"),
    "m4a": ("com.apple.m4a-audio", "audio/x-m4a"), "pdf": ("com.adobe.pdf", "application/pdf"),
    "vcf": ("public.vcard", "text/vcard"), "zip": ("public.zip-archive", "application/zip"),
}


def _sms_script(attachments: Sequence[str]) -> _Script:
    script = _Script(_SMS_SCHEMA)
    script.early.append(("INSERT INTO _SqliteDatabaseProperties VALUES (?, ?)", ("_ClientVersion", "17100")))
    for number, service in _SMS_HANDLES:
        script.early.append(("INSERT INTO handle (id, country, service, uncanonicalized_id) VALUES (?, 'us', ?, ?)",
                             (number, service, number)))
    for chat_id, (number, service) in enumerate(_SMS_HANDLES, 1):
        script.early += [
            ("INSERT INTO chat (guid, style, state, account_id, chat_identifier, service_name, account_login) "
             "VALUES (?, 45, 3, ?, ?, ?, 'E:me@example.com')",
             (f"{service};-;{number}", str(uuid.uuid5(uuid.NAMESPACE_URL, number)).upper(), number, service)),
            ("INSERT INTO chat_handle_join VALUES (?, ?)", (chat_id, chat_id)),
        ]
    base = 1_699_900_000
    messages: list[tuple[int, bool, str, str | None]] = [(*m, None) for m in _SMS_MESSAGES]
    for name in attachments[:-1]:
        messages.append((1, False, "\ufffc", name))
    late: list[tuple[int, bool, str, str | None]] = [(*m, None) for m in _SMS_LATE_MESSAGES]
    if attachments:
        late.insert(0, (0, True, "\ufffc", attachments[-1]))
    attachment_id = 0
    for number, (handle, from_me, text_, filename) in enumerate(messages + late, 1):
        rows = script.early if number <= len(messages) else script.late
        guid = str(uuid.uuid5(uuid.NAMESPACE_OID, f"sms-message-{number}")).upper()
        date = _apple_time(base + 600 * number) * 1_000_000_000
        service = _SMS_HANDLES[handle][1]
        rows += [
            ("INSERT INTO message (ROWID, guid, text, handle_id, service, account, date, date_read, "
             "date_delivered, is_delivered, is_finished, is_from_me, is_read, is_sent, cache_has_attachments) "
             "VALUES (?, ?, ?, ?, ?, 'e:me@example.com', ?, ?, ?, 1, 1, ?, ?, ?, ?)",
             (number, guid, text_, handle + 1, service, date, date + 30_000_000_000, date + 1_000_000_000,
              int(from_me), int(not from_me), int(from_me), int(filename is not None))),
            ("INSERT INTO chat_message_join VALUES (?, ?, ?)", (handle + 1, number, date)),
        ]
        if filename is None:
            continue
        attachment_id += 1
        ext = filename.rsplit(".", 1)[-1].lower()
        uti, mime = _MIME_BY_EXT.get(ext, ("public.data", "application/octet-stream"))
        att_guid = filename.split("/")[-2] if filename.count("/") >= 2 else str(
            uuid.uuid5(uuid.NAMESPACE_OID, f"sms-attachment-{attachment_id}")).upper()
        rows += [
            ("INSERT INTO attachment (ROWID, guid, created_date, start_date, filename, uti, mime_type, "
             "transfer_state, is_outgoing, transfer_name, total_bytes, original_guid) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, 5, ?, ?, ?, ?)",
             (attachment_id, att_guid, date // 1_000_000_000, date // 1_000_000_000, filename, uti, mime,
              int(from_me), filename.rsplit("/", 1)[-1], 100_000 + 137 * attachment_id, att_guid)),
            ("INSERT INTO message_attachment_join VALUES (?, ?)", (number, attachment_id)),
        ]
    return script


@overload
def sms_db(attachments: Sequence[str] = ..., *, wal: Literal[False] = ...) -> bytes: ...
@overload
def sms_db(attachments: Sequence[str] = ..., *, wal: Literal[True]) -> WalPair: ...
def sms_db(attachments: Sequence[str] = (), *, wal: bool = False) -> bytes | WalPair:
    """iOS 17 ``sms.db``: handles, chats, messages and one message per attachment.

    ``attachments`` are ``attachment.filename`` values (see ``sms_attachment_filename``).
    In WAL mode the last attachment and the last three messages are committed only to the
    WAL, so a reader that ignores ``sms.db-wal`` misses them.
    """
    return _cached(_sms_script, tuple(attachments), wal=wal)


def wal_database() -> WalPair:
    """An ``sms.db`` in WAL mode and its ``-wal``, which holds committed messages the main
    file lacks (the main file's header says WAL: bytes 18 and 19 are 2)."""
    return sms_db((), wal=True)


_PHOTOS_SCHEMA = """
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
CREATE TABLE ZASSET (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCOMPLETE INTEGER,
    ZFAVORITE INTEGER, ZHIDDEN INTEGER, ZKIND INTEGER, ZKINDSUBTYPE INTEGER, ZHEIGHT INTEGER,
    ZWIDTH INTEGER, ZORIENTATION INTEGER, ZSAVEDASSETTYPE INTEGER, ZTRASHEDSTATE INTEGER,
    ZCLOUDLOCALSTATE INTEGER, ZADDITIONALATTRIBUTES INTEGER, ZDATECREATED TIMESTAMP,
    ZADDEDDATE TIMESTAMP, ZMODIFICATIONDATE TIMESTAMP, ZLATITUDE FLOAT, ZLONGITUDE FLOAT,
    ZDURATION FLOAT, ZDIRECTORY VARCHAR, ZFILENAME VARCHAR, ZUNIFORMTYPEIDENTIFIER VARCHAR,
    ZUUID VARCHAR, ZCLOUDASSETGUID VARCHAR);
CREATE TABLE ZADDITIONALASSETATTRIBUTES (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
    ZASSET INTEGER, ZORIGINALFILESIZE INTEGER, ZORIGINALHEIGHT INTEGER, ZORIGINALWIDTH INTEGER,
    ZORIGINALFILENAME VARCHAR, ZTIMEZONENAME VARCHAR, ZTITLE VARCHAR);
CREATE INDEX ZASSET_ZDIRECTORY_ZFILENAME ON ZASSET (ZDIRECTORY, ZFILENAME);
CREATE INDEX ZADDITIONALASSETATTRIBUTES_ZASSET_INDEX ON ZADDITIONALASSETATTRIBUTES (ZASSET);
"""
_UTI_BY_EXT = {"heic": "public.heic", "jpg": "public.jpeg", "jpeg": "public.jpeg", "png": "public.png",
               "mov": "com.apple.quicktime-movie", "mp4": "public.mpeg-4", "gif": "com.compuserve.gif"}
DEFAULT_PHOTO_ASSETS = (("DCIM/100APPLE", "IMG_0001.HEIC"), ("DCIM/100APPLE", "IMG_0002.JPG"),
                        ("DCIM/100APPLE", "IMG_0003.MOV"))


def _photos_script(assets: Sequence[tuple[str, str]]) -> _Script:
    script = _Script(_PHOTOS_SCHEMA)
    script.early += [
        ("INSERT INTO Z_PRIMARYKEY VALUES (?, ?, 0, ?)", (33, "Asset", len(assets))),
        ("INSERT INTO Z_PRIMARYKEY VALUES (?, ?, 0, ?)", (35, "AdditionalAssetAttributes", len(assets))),
        ("INSERT INTO Z_METADATA VALUES (16500, ?, ?)",
         ("3A0B6F1E-2C4D-4E5F-8A9B-0C1D2E3F4A5B", plistlib.dumps({"NSStoreModelVersionHashesVersion": 3},
                                                                 fmt=plistlib.FMT_BINARY))),
    ]
    for pk, (directory, filename) in enumerate(assets, 1):
        rows = script.late if pk == len(assets) and pk > 1 else script.early
        ext = filename.rsplit(".", 1)[-1].lower()
        video = ext in ("mov", "mp4")
        created = _apple_time(1_699_000_000 + 3600 * pk)
        asset_uuid = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{directory}/{filename}")).upper()
        rows += [
            ("INSERT INTO ZASSET (Z_PK, Z_ENT, Z_OPT, ZCOMPLETE, ZFAVORITE, ZHIDDEN, ZKIND, ZKINDSUBTYPE, "
             "ZHEIGHT, ZWIDTH, ZORIENTATION, ZSAVEDASSETTYPE, ZTRASHEDSTATE, ZCLOUDLOCALSTATE, "
             "ZADDITIONALATTRIBUTES, ZDATECREATED, ZADDEDDATE, ZMODIFICATIONDATE, ZLATITUDE, ZLONGITUDE, "
             "ZDURATION, ZDIRECTORY, ZFILENAME, ZUNIFORMTYPEIDENTIFIER, ZUUID) "
             "VALUES (?, 33, 4, 1, 0, 0, ?, 0, 3024, 4032, 1, 3, 0, 1, ?, ?, ?, ?, 48.8566, 2.3522, ?, ?, ?, ?, ?)",
             (pk, int(video), pk, created, created + 5, created + 60, 4.2 if video else 0.0, directory,
              filename, _UTI_BY_EXT.get(ext, "public.data"), asset_uuid)),
            ("INSERT INTO ZADDITIONALASSETATTRIBUTES (Z_PK, Z_ENT, Z_OPT, ZASSET, ZORIGINALFILESIZE, "
             "ZORIGINALHEIGHT, ZORIGINALWIDTH, ZORIGINALFILENAME, ZTIMEZONENAME) "
             "VALUES (?, 35, 2, ?, ?, 3024, 4032, ?, 'Europe/Paris')",
             (pk, pk, 1_500_000 + 4099 * pk, filename)),
        ]
    return script


@overload
def photos_sqlite(assets: Sequence[tuple[str, str]] = ..., *, wal: Literal[False] = ...) -> bytes: ...
@overload
def photos_sqlite(assets: Sequence[tuple[str, str]] = ..., *, wal: Literal[True]) -> WalPair: ...
def photos_sqlite(assets: Sequence[tuple[str, str]] = DEFAULT_PHOTO_ASSETS, *, wal: bool = False) -> bytes | WalPair:
    """``Photos.sqlite`` (iOS 14+ ``ZASSET``); each asset is (ZDIRECTORY, ZFILENAME), naming
    CameraRollDomain ``Media/<dir>/<file>``. In WAL mode the last asset is only in the WAL."""
    return _cached(_photos_script, tuple(assets), wal=wal)


_ADDRESS_BOOK_SCHEMA = """
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE ABStore (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, Name TEXT, Guid TEXT, Enabled INTEGER);
CREATE TABLE ABPerson (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, First TEXT, Last TEXT, Middle TEXT,
    FirstPhonetic TEXT, MiddlePhonetic TEXT, LastPhonetic TEXT, Organization TEXT, Department TEXT,
    Note TEXT, Kind INTEGER, Birthday TEXT, JobTitle TEXT, Nickname TEXT, Prefix TEXT, Suffix TEXT,
    FirstSort TEXT, LastSort TEXT, CreationDate INTEGER, ModificationDate INTEGER,
    CompositeNameFallback TEXT, StoreID INTEGER, DisplayName TEXT, guid TEXT UNIQUE);
CREATE TABLE ABMultiValue (UID INTEGER PRIMARY KEY, record_id INTEGER, property INTEGER,
    identifier INTEGER, label INTEGER, value TEXT, guid TEXT);
CREATE TABLE ABMultiValueLabel (value TEXT, UNIQUE(value));
CREATE TABLE ABMultiValueEntryKey (value TEXT, UNIQUE(value));
CREATE TABLE ABGroup (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, Name TEXT, StoreID INTEGER, guid TEXT);
CREATE TABLE ABGroupMembers (UID INTEGER PRIMARY KEY, group_id INTEGER, member_type INTEGER,
    member_id INTEGER, UNIQUE(group_id, member_type, member_id));
CREATE INDEX ABMultiValueRecordIDIndex ON ABMultiValue(record_id);
"""
_PEOPLE = (("Emma", "Laurent", "+1 (555) 010-0123", "emma.laurent@example.com"),
           ("Alex", "Martin", "+1 (555) 010-0456", "alex.martin@example.com"),
           ("Sam", "Okafor", "+1 (555) 010-0789", "sam.okafor@example.com"),
           ("Dr. Priya", "Shah", "+1 (555) 010-0999", "office@shah-clinic.example"))


def _address_book_script(people: tuple[tuple[str, str, str, str], ...]) -> _Script:
    script = _Script(_ADDRESS_BOOK_SCHEMA)
    script.early += [
        ("INSERT INTO _SqliteDatabaseProperties VALUES ('__ABVersion', '2100')", ()),
        ("INSERT INTO ABStore (Name, Guid, Enabled) VALUES ('Local', 'LocalSource', 1)", ()),
        ("INSERT INTO ABMultiValueLabel VALUES ('_$!<Mobile>!$_'), ('_$!<Home>!$_'), ('_$!<Work>!$_')", ()),
        ("INSERT INTO ABGroup (Name, StoreID, guid) VALUES ('Family', 1, 'A1B2C3D4-0000-4000-8000-000000000001')", ()),
    ]
    for rowid, (first, last, phone, email) in enumerate(people, 1):
        rows = script.late if rowid == len(people) and rowid > 1 else script.early
        created = _apple_time(1_650_000_000 + 86_400 * rowid)
        rows += [
            ("INSERT INTO ABPerson (ROWID, First, Last, Kind, FirstSort, LastSort, CreationDate, "
             "ModificationDate, StoreID, guid) VALUES (?, ?, ?, 0, ?, ?, ?, ?, 1, ?)",
             (rowid, first, last, first.upper(), last.upper(), created, created + 100,
              str(uuid.uuid5(uuid.NAMESPACE_OID, f"person-{first}-{last}")).upper() + ":ABPerson")),
            ("INSERT INTO ABMultiValue (record_id, property, identifier, label, value) VALUES (?, 3, 0, 1, ?)",
             (rowid, phone)),
            ("INSERT INTO ABMultiValue (record_id, property, identifier, label, value) VALUES (?, 4, 0, 2, ?)",
             (rowid, email)),
        ]
    script.early.append(("INSERT INTO ABGroupMembers (group_id, member_type, member_id) VALUES (1, 0, 1)", ()))
    return script


@overload
def address_book(*, wal: Literal[False] = ...) -> bytes: ...
@overload
def address_book(*, wal: Literal[True]) -> WalPair: ...
def address_book(*, wal: bool = False) -> bytes | WalPair:
    """``AddressBook.sqlitedb`` with a few contacts (phones and e-mails in ABMultiValue)."""
    return _cached(_address_book_script, _PEOPLE, wal=wal)


_CALENDAR_SCHEMA = """
CREATE TABLE Store (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, type INTEGER, disabled INTEGER);
CREATE TABLE Calendar (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, store_id INTEGER, title TEXT,
    flags INTEGER, color TEXT, type TEXT, UUID TEXT);
CREATE TABLE Location (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT, address TEXT,
    latitude REAL, longitude REAL, item_owner_id INTEGER);
CREATE TABLE CalendarItem (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, summary TEXT, location_id INTEGER,
    description TEXT, start_date REAL, start_tz TEXT, end_date REAL, all_day INTEGER,
    calendar_id INTEGER, orig_item_id INTEGER DEFAULT 0, status INTEGER DEFAULT 0,
    invitation_status INTEGER DEFAULT 0, availability INTEGER DEFAULT 0, UUID TEXT,
    has_recurrences INTEGER DEFAULT 0, has_attendees INTEGER DEFAULT 0, creation_date REAL,
    last_modified REAL);
CREATE TABLE Alarm (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, trigger_date REAL, trigger_interval INTEGER,
    calendaritem_owner_id INTEGER, UUID TEXT);
CREATE INDEX CalendarItemCalendarId ON CalendarItem(calendar_id);
"""
_EVENTS = (("Dentist", "Rue de Rivoli 12", False), ("Team offsite", "Lyon", True),
           ("Dinner with Emma", "Le Petit Zinc", False), ("Flight to Lisbon", "CDG Terminal 2E", False))


def _calendar_script(events: tuple[tuple[str, str, bool], ...]) -> _Script:
    script = _Script(_CALENDAR_SCHEMA)
    script.early += [
        ("INSERT INTO Store (name, type, disabled) VALUES ('Default', 0, 0)", ()),
        ("INSERT INTO Calendar (store_id, title, flags, color, type, UUID) VALUES (1, 'Home', 0, '#1BADF8', "
         "'local', '6C1E3B0A-7F4D-4E2B-9A8C-1D2E3F4A5B6C')", ()),
        ("INSERT INTO Calendar (store_id, title, flags, color, type, UUID) VALUES (1, 'Work', 0, '#CC73E1', "
         "'local', '0F9E8D7C-6B5A-4C3D-8E2F-1A0B9C8D7E6F')", ()),
    ]
    for rowid, (summary, place, all_day) in enumerate(events, 1):
        rows = script.late if rowid == len(events) and rowid > 1 else script.early
        start = float(_apple_time(1_700_100_000 + 86_400 * 3 * rowid))
        rows += [
            ("INSERT INTO Location (ROWID, title, item_owner_id) VALUES (?, ?, ?)", (rowid, place, rowid)),
            ("INSERT INTO CalendarItem (ROWID, summary, location_id, start_date, start_tz, end_date, all_day, "
             "calendar_id, UUID, creation_date, last_modified) VALUES (?, ?, ?, ?, 'Europe/Paris', ?, ?, ?, ?, ?, ?)",
             (rowid, summary, rowid, start, start + (86_400 if all_day else 3_600), int(all_day),
              1 + rowid % 2, str(uuid.uuid5(uuid.NAMESPACE_OID, f"event-{summary}")).upper(),
              start - 604_800, start - 86_400)),
            ("INSERT INTO Alarm (trigger_interval, calendaritem_owner_id, UUID) VALUES (-900, ?, ?)",
             (rowid, str(uuid.uuid5(uuid.NAMESPACE_OID, f"alarm-{summary}")).upper())),
        ]
    return script


@overload
def calendar_db(*, wal: Literal[False] = ...) -> bytes: ...
@overload
def calendar_db(*, wal: Literal[True]) -> WalPair: ...
def calendar_db(*, wal: bool = False) -> bytes | WalPair:
    """``Calendar.sqlitedb`` with two calendars and a few events."""
    return _cached(_calendar_script, _EVENTS, wal=wal)


_CALL_HISTORY_SCHEMA = """
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
CREATE TABLE ZCALLRECORD (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZANSWERED INTEGER,
    ZCALL_CATEGORY INTEGER, ZCALLTYPE INTEGER, ZDISCONNECTED_CAUSE INTEGER, ZFACE_TIME_DATA INTEGER,
    ZHANDLE_TYPE INTEGER, ZNUMBER_AVAILABILITY INTEGER, ZORIGINATED INTEGER, ZREAD INTEGER,
    ZDATE TIMESTAMP, ZDURATION FLOAT, ZADDRESS VARCHAR, ZISO_COUNTRY_CODE VARCHAR, ZNAME VARCHAR,
    ZSERVICE_PROVIDER VARCHAR, ZUNIQUE_ID VARCHAR);
CREATE INDEX ZCALLRECORD_ZDATE_INDEX ON ZCALLRECORD (ZDATE);
"""
_CALLS = (("+15550100123", True, True, 312.0), ("+15550100456", False, True, 47.5),
          ("+15550100999", False, False, 0.0), ("+15550100123", True, True, 1204.0))


def _call_history_script(calls: tuple[tuple[str, bool, bool, float], ...]) -> _Script:
    script = _Script(_CALL_HISTORY_SCHEMA)
    script.early += [
        ("INSERT INTO Z_PRIMARYKEY VALUES (2, 'CallRecord', 0, ?)", (len(calls),)),
        ("INSERT INTO Z_METADATA VALUES (1, '7E1C4B2A-3D5F-4A6B-8C9D-0E1F2A3B4C5D', NULL)", ()),
    ]
    for pk, (address, originated, answered, duration) in enumerate(calls, 1):
        rows = script.late if pk == len(calls) and pk > 1 else script.early
        rows.append(
            ("INSERT INTO ZCALLRECORD (Z_PK, Z_ENT, Z_OPT, ZANSWERED, ZCALL_CATEGORY, ZCALLTYPE, ZHANDLE_TYPE, "
             "ZORIGINATED, ZREAD, ZDATE, ZDURATION, ZADDRESS, ZISO_COUNTRY_CODE, ZSERVICE_PROVIDER, ZUNIQUE_ID) "
             "VALUES (?, 2, 1, ?, 1, 1, 2, ?, 1, ?, ?, ?, 'us', 'com.apple.Telephony', ?)",
             (pk, int(answered), int(originated), float(_apple_time(1_699_950_000 + 7_200 * pk)), duration,
              address, str(uuid.uuid5(uuid.NAMESPACE_OID, f"call-{pk}")).upper())))
    return script


@overload
def call_history(*, wal: Literal[False] = ...) -> bytes: ...
@overload
def call_history(*, wal: Literal[True]) -> WalPair: ...
def call_history(*, wal: bool = False) -> bytes | WalPair:
    """``CallHistory.storedata`` (Core Data, table ZCALLRECORD)."""
    return _cached(_call_history_script, _CALLS, wal=wal)


_NOTES_SCHEMA = """
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
CREATE TABLE ZICCLOUDSYNCINGOBJECT (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
    ZMARKEDFORDELETION INTEGER, ZACCOUNT2 INTEGER, ZACCOUNT4 INTEGER, ZFOLDER INTEGER, ZNOTE INTEGER,
    ZNOTEDATA INTEGER, ZMEDIA INTEGER, ZCREATIONDATE1 TIMESTAMP, ZMODIFICATIONDATE1 TIMESTAMP,
    ZIDENTIFIER VARCHAR, ZNAME VARCHAR, ZTITLE1 VARCHAR, ZTITLE2 VARCHAR, ZSNIPPET VARCHAR,
    ZTYPEUTI VARCHAR, ZFILENAME VARCHAR, ZACCOUNTTYPE INTEGER);
CREATE TABLE ZICNOTEDATA (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZNOTE INTEGER, ZDATA BLOB);
CREATE INDEX ZICCLOUDSYNCINGOBJECT_ZIDENTIFIER_INDEX ON ZICCLOUDSYNCINGOBJECT (ZIDENTIFIER);
"""
_NOTES = (("Groceries", "Milk, eggs, coffee beans, basil"), ("Trip ideas", "Lisbon in spring, Porto by train"),
          ("Wi-Fi at the cabin", "Network: Cabin-5G  password on the fridge"))


def _notes_script(media: tuple[tuple[str, str], ...]) -> _Script:
    script = _Script(_NOTES_SCHEMA)
    created = float(_apple_time(1_698_000_000))
    script.early += [
        ("INSERT INTO Z_PRIMARYKEY VALUES (?, ?, 0, 0)", (ent, name))
        for ent, name in ((8, "ICAccount"), (11, "ICAttachment"), (13, "ICFolder"), (12, "ICNote"), (14, "ICMedia"))
    ]
    script.early += [
        ("INSERT INTO ZICCLOUDSYNCINGOBJECT (Z_PK, Z_ENT, Z_OPT, ZIDENTIFIER, ZNAME, ZACCOUNTTYPE) "
         "VALUES (1, 8, 1, ?, 'On My iPhone', 3)", (NOTES_ACCOUNT_ID,)),
        ("INSERT INTO ZICCLOUDSYNCINGOBJECT (Z_PK, Z_ENT, Z_OPT, ZIDENTIFIER, ZTITLE2, ZACCOUNT4) "
         "VALUES (2, 13, 1, 'DefaultFolder-" + NOTES_ACCOUNT_ID + "', 'Notes', 1)", ()),
    ]
    pk = 2
    for number, (title, body) in enumerate(_NOTES, 1):
        pk += 1
        rows = script.late if number == len(_NOTES) else script.early
        rows += [
            ("INSERT INTO ZICCLOUDSYNCINGOBJECT (Z_PK, Z_ENT, Z_OPT, ZACCOUNT2, ZFOLDER, ZNOTEDATA, "
             "ZCREATIONDATE1, ZMODIFICATIONDATE1, ZIDENTIFIER, ZTITLE1, ZSNIPPET) VALUES (?, 12, 3, 1, 2, ?, ?, ?, ?, ?, ?)",
             (pk, number, created + 3600 * number, created + 7200 * number,
              str(uuid.uuid5(uuid.NAMESPACE_OID, f"note-{title}")).upper(), title, body)),
            ("INSERT INTO ZICNOTEDATA VALUES (?, 9, 1, ?, ?)",
             (number, pk, zlib.compress(f"{title}\n{body}".encode()))),
        ]
    for media_id, filename in media:
        pk += 1
        ext = filename.rsplit(".", 1)[-1].lower()
        script.early.append(
            ("INSERT INTO ZICCLOUDSYNCINGOBJECT (Z_PK, Z_ENT, Z_OPT, ZACCOUNT4, ZNOTE, ZIDENTIFIER, ZFILENAME, "
             "ZTYPEUTI, ZCREATIONDATE1) VALUES (?, 14, 2, 1, 3, ?, ?, ?, ?)",
             (pk, media_id, filename, _UTI_BY_EXT.get(ext, "public.data"), created)))
    return script


def notes_media_path(media_id: str, filename: str) -> str:
    """Where Notes keeps an attachment, in AppDomainGroup-group.com.apple.notes."""
    return f"Accounts/{NOTES_ACCOUNT_ID}/Media/{media_id}/{filename}"


@overload
def notes_store(media: Sequence[tuple[str, str]] = ..., *, wal: Literal[False] = ...) -> bytes: ...
@overload
def notes_store(media: Sequence[tuple[str, str]] = ..., *, wal: Literal[True]) -> WalPair: ...
def notes_store(media: Sequence[tuple[str, str]] = (), *, wal: bool = False) -> bytes | WalPair:
    """``NoteStore.sqlite``: an account, a folder, notes, and (media id, file name) media
    rows whose files live at ``notes_media_path``."""
    return _cached(_notes_script, tuple(media), wal=wal)


def _generic_script(tables: tuple[tuple[str, tuple[tuple[tuple[str, object], ...], ...]], ...]) -> _Script:
    schema = []
    script = _Script("")
    for name, rows in tables:
        columns = [column for column, _ in rows[0]] if rows else ["id"]
        schema.append(f'CREATE TABLE "{name}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)});')
        for number, row in enumerate(rows, 1):
            target = script.late if number == len(rows) else script.early
            marks = ", ".join("?" for _ in row)
            target.append((f'INSERT INTO "{name}" VALUES ({marks})', tuple(value for _, value in row)))
    script.schema = "\n".join(schema)
    return script


def _default_tables(variant: int = 0) -> dict[str, list[dict[str, object]]]:
    return {
        "items": [{"id": i, "name": f"item {i}", "updated": 1_700_000_000 + 60 * i + variant,
                   "payload": bytes([variant % 256, i])} for i in range(1, 6)],
        "meta": [{"key": "schema_version", "value": str(3 + variant)}, {"key": "last_sync", "value": "2023-11-14"}],
    }


@overload
def sqlite_db(tables: Mapping[str, Sequence[Mapping[str, object]]] | None = ..., *,
              wal: Literal[False] = ...) -> bytes: ...
@overload
def sqlite_db(tables: Mapping[str, Sequence[Mapping[str, object]]] | None = ..., *,
              wal: Literal[True]) -> WalPair: ...
def sqlite_db(tables: Mapping[str, Sequence[Mapping[str, object]]] | None = None, *,
              wal: bool = False) -> bytes | WalPair:
    """A database with one table per key of ``tables`` (columns from the first row's keys).

    In WAL mode the last row of every table is committed only to the WAL.
    """
    tables = _default_tables() if tables is None else tables
    frozen = tuple((name, tuple(tuple(row.items()) for row in rows)) for name, rows in tables.items())
    return _cached(_generic_script, frozen, wal=wal)


@functools.lru_cache(maxsize=256)
def _cached(make: Callable[..., _Script], argument: object, *, wal: bool) -> bytes | WalPair:
    return _build(make(argument), wal)


# --- plists and text formats -----------------------------------------------------------------

def binary_plist(obj: object) -> bytes:
    return plistlib.dumps(obj, fmt=plistlib.FMT_BINARY)


def xml_plist(obj: object) -> bytes:
    return plistlib.dumps(obj, fmt=plistlib.FMT_XML)


def json_bytes(obj: object | None = None) -> bytes:
    if obj is None:
        obj = {"version": 4, "lastUpdated": "2023-11-14T22:13:20Z", "items": [{"id": 1, "seen": True}]}
    return json.dumps(obj, indent=2, sort_keys=True).encode()


_LOG_EVENTS = ("session started", "sync completed (12 items)", "cache hit ratio 0.93", "network reachable: wifi",
               "background refresh scheduled", "token refreshed", "upload queued", "db vacuum skipped")


def text(rng: random.Random | None = None, lines: int = 20) -> bytes:
    """A plausible app log: timestamped lines, plain UTF-8."""
    rng = rng or random.Random(0)
    stamp = 1_700_000_000 + rng.randrange(86_400)
    out = []
    for _ in range(lines):
        stamp += rng.randrange(1, 90)
        out.append(f"{stamp} [{rng.choice(('INFO', 'DEBUG', 'WARN'))}] {rng.choice(_LOG_EVENTS)}")
    return ("\n".join(out) + "\n").encode()


def vcard(first: str = "Emma", last: str = "Laurent", phone: str = "+1 (555) 010-0123") -> bytes:
    return (f"BEGIN:VCARD\r\nVERSION:3.0\r\nN:{last};{first};;;\r\nFN:{first} {last}\r\n"
            f"TEL;type=CELL;type=VOICE;type=pref:{phone}\r\nEND:VCARD\r\n").encode()


def pdf(message: str = "Boarding pass") -> bytes:
    """A one-page PDF with a correct cross-reference table (viewers open it cleanly)."""
    stream = f"BT /F1 24 Tf 72 720 Td ({message}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def zip_bytes(files: Mapping[str, bytes] | None = None) -> bytes:
    """A zip archive with fixed timestamps (so the bytes are reproducible)."""
    files = {"export/readme.txt": b"Exported chats\n", "export/data.json": json_bytes()} if files is None else files
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2023, 11, 14, 22, 13, 20)), data)
    return buffer.getvalue()


# --- images ----------------------------------------------------------------------------------

_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)  # the standard luminance DC table
_DC_VALUES = tuple(range(12))
_AC_BITS = (0, 1) + (0,) * 14  # a one-symbol AC table: every block ends right after its DC
_AC_VALUES = (0x00,)  # EOB
_QUANT = 16


def _huffman_codes(bits: Sequence[int], values: Sequence[int]) -> dict[int, tuple[int, int]]:
    codes, code, k = {}, 0, 0
    for length, count in enumerate(bits, 1):
        for _ in range(count):
            codes[values[k]] = (code, length)
            code, k = code + 1, k + 1
        code <<= 1
    return codes


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


@functools.lru_cache(maxsize=64)
def jpeg(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    """A real baseline JPEG (JFIF, YCbCr 4:4:4): a smooth gradient that any decoder draws.

    Each 8x8 block carries only its DC coefficient, which keeps the entropy coder to a
    few lines while staying a fully standard file.
    """
    dc_codes = _huffman_codes(_DC_BITS, _DC_VALUES)
    eob_code = _huffman_codes(_AC_BITS, _AC_VALUES)[0]
    blocks_x, blocks_y = (width + 7) // 8, (height + 7) // 8
    tint = random.Random(seed)
    cb, cr = tint.randrange(80, 176), tint.randrange(80, 176)
    acc, nbits = 0, 0
    previous = [0, 0, 0]
    for by in range(blocks_y):
        for bx in range(blocks_x):
            luma = 30 + 190 * (bx + by) // max(1, blocks_x + blocks_y - 2)
            for component, level in enumerate((luma, cb, cr)):
                dc = round(8 * (level - 128) / _QUANT)
                diff, previous[component] = dc - previous[component], dc
                size = abs(diff).bit_length()
                code, length = dc_codes[size]
                acc, nbits = (acc << length) | code, nbits + length
                if size:
                    acc, nbits = (acc << size) | (diff if diff > 0 else diff + (1 << size) - 1), nbits + size
                acc, nbits = (acc << eob_code[1]) | eob_code[0], nbits + eob_code[1]
    pad = (-nbits) % 8
    acc, nbits = (acc << pad) | ((1 << pad) - 1), nbits + pad
    scan = acc.to_bytes(nbits // 8, "big").replace(b"\xff", b"\xff\x00")
    components = b"".join(bytes((cid, 0x11, 0)) for cid in (1, 2, 3))
    return b"".join((
        b"\xff\xd8",
        _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00"),
        _segment(0xDB, b"\x00" + bytes([_QUANT] * 64)),
        _segment(0xC0, struct.pack(">BHHB", 8, height, width, 3) + components),
        _segment(0xC4, b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALUES)),
        _segment(0xC4, b"\x10" + bytes(_AC_BITS) + bytes(_AC_VALUES)),
        _segment(0xDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00"),
        scan,
        b"\xff\xd9",
    ))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.lru_cache(maxsize=64)
def png(width: int = 32, height: int = 32, seed: int = 0) -> bytes:
    """A real RGB PNG (a gradient), built with zlib and struct."""
    tint = random.Random(seed).randrange(256)
    raw = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in (x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), tint))
        for y in range(height)
    )
    return (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(raw, 9))
            + _png_chunk(b"IEND", b""))


def gif() -> bytes:
    """The classic 1x1 GIF89a."""
    return (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
            b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", version << 24 | flags) + payload)


def _ftyp(major: bytes, compatible: Sequence[bytes]) -> bytes:
    return _box(b"ftyp", major + b"\x00\x00\x00\x00" + b"".join(compatible))


def heic(width: int = 4032, height: int = 3024, seed: int = 0) -> bytes:
    """An iPhone-shaped HEIF file: ftyp heic, a meta box (hdlr pict, pitm, iinf, iloc, iprp)
    and an mdat. The HEVC payload is not a real bitstream; the container is well formed."""
    coded = b"\x00\x00\x00\x1a\x28\x01\xaf" + random.Random(seed).randbytes(249)
    ftyp = _ftyp(b"heic", (b"mif1", b"MiHE", b"miaf", b"MiHB", b"heic"))

    def meta(mdat_offset: int) -> bytes:
        return _full_box(b"meta", 0, 0, b"".join((
            _full_box(b"hdlr", 0, 0, b"\x00\x00\x00\x00pict" + bytes(12) + b"\x00"),
            _full_box(b"pitm", 0, 0, struct.pack(">H", 1)),
            _full_box(b"iinf", 0, 0, struct.pack(">H", 1) + _full_box(b"infe", 2, 0, struct.pack(">HH", 1, 0) + b"hvc1\x00")),
            _full_box(b"iloc", 0, 0, struct.pack(">BBHHHHII", 0x44, 0x00, 1, 1, 0, 1, mdat_offset + 8, len(coded))),
            _box(b"iprp", _box(b"ipco", _full_box(b"ispe", 0, 0, struct.pack(">II", width, height)))
                 + _full_box(b"ipma", 0, 0, struct.pack(">IHBB", 1, 1, 1, 0x81))),
        )))

    offset = len(ftyp) + len(meta(0))
    return ftyp + meta(offset) + _box(b"mdat", coded)


def _mvhd(duration: int, timescale: int = 600) -> bytes:
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    return _full_box(b"mvhd", 0, 0, struct.pack(">IIII", 3_782_000_000, 3_782_000_000, timescale, duration)
                     + struct.pack(">IH", 0x10000, 0x100) + bytes(10) + matrix + bytes(24) + struct.pack(">I", 2))


def _media(major: bytes, compatible: Sequence[bytes], seed: int, quicktime: bool) -> bytes:
    body = random.Random(seed).randbytes(512)
    parts = [_ftyp(major, compatible)]
    if quicktime:  # as an iPhone writes a .MOV: wide, mdat, then moov
        parts += [_box(b"wide", b""), _box(b"mdat", body), _box(b"moov", _mvhd(2520))]
    else:
        parts += [_box(b"moov", _mvhd(2520)), _box(b"mdat", body)]
    return b"".join(parts)


def mov(seed: int = 0) -> bytes:
    return _media(b"qt  ", (b"qt  ",), seed, quicktime=True)


def mp4(seed: int = 0) -> bytes:
    return _media(b"mp42", (b"isom", b"mp42"), seed, quicktime=False)


def m4a(seed: int = 0) -> bytes:
    return _media(b"M4A ", (b"M4A ", b"mp42", b"isom"), seed, quicktime=False)


def amr(frames: int = 25) -> bytes:
    """AMR-NB 12.2 kbit/s (voicemail, older voice memos): magic then 32-byte frames."""
    return b"#!AMR\n" + (b"\x3c" + bytes(31)) * frames


def caf() -> bytes:
    """Core Audio Format (iMessage audio messages): header and a desc chunk."""
    desc = struct.pack(">dIIIIII", 44100.0, 0x6C70636D, 0, 2, 1, 1, 16)  # lpcm mono 16-bit
    return b"caff\x00\x01\x00\x00" + b"desc" + struct.pack(">q", len(desc)) + desc + b"data" + struct.pack(">q", 4) + bytes(4)


def binarycookies() -> bytes:
    """Safari/WebKit ``Cookies.binarycookies``: "cook", page count, page sizes, pages."""
    page = b"\x00\x00\x01\x00" + struct.pack("<I", 0) + b"\x00\x00\x00\x00"
    return b"cook" + struct.pack(">II", 1, len(page)) + page + bytes(8)


def shm(seed: int = 0) -> bytes:
    """A 32 KiB wal-index (``-shm``): two copies of the header, the rest zero.

    The header checksum is left zero, so SQLite would rebuild the index from the WAL
    rather than trust it.
    """
    frames = random.Random(seed).randrange(1, 40)
    header = struct.pack("<IIIBBHII", 3_007_000, 0, frames, 1, 0, 4096, frames, 8) + bytes(24)
    return (header + header).ljust(32_768, b"\x00")


# --- content by file name --------------------------------------------------------------------

_DB_BUILDERS: dict[str, Callable[[], WalPair]] = {
    "sms.db": lambda: sms_db(wal=True),
    "addressbook.sqlitedb": lambda: address_book(wal=True),
    "calendar.sqlitedb": lambda: calendar_db(wal=True),
    "callhistory.storedata": lambda: call_history(wal=True),
    "photos.sqlite": lambda: photos_sqlite(wal=True),
    "notestore.sqlite": lambda: notes_store(wal=True),
}
_DB_VARIANTS = 4

# Extension (lowercase) -> what content_for_path writes; the sniffer's extension for it is
# _EXPECTED[kind]. Names without a known extension are typed by _kind.
_KIND_BY_EXT = {
    "sqlite": "sqlite", "sqlite3": "sqlite", "db": "sqlite", "sqlitedb": "sqlite", "storedata": "sqlite",
    "plist": "plist", "bplist": "plist", "webarchive": "plist", "aae": "xml-plist",
    "jpg": "jpg", "jpeg": "jpg", "heic": "heic", "heif": "heic", "png": "png", "gif": "gif",
    "mov": "mov", "mp4": "mp4", "m4a": "m4a", "m4r": "m4a", "amr": "amr", "caf": "caf",
    "json": "json", "txt": "txt", "log": "txt", "vcf": "vcf", "pdf": "pdf", "zip": "zip",
    "binarycookies": "binarycookies",
}
_EXPECTED = {
    "sqlite": "sqlite", "sqlite-wal": "sqlite-wal", "sqlite-shm": "sqlite-shm", "plist": "plist",
    "xml-plist": "plist", "jpg": "jpg", "heic": "heic", "png": "png", "gif": "gif", "mov": "mov",
    "mp4": "mp4", "m4a": "m4a", "amr": "amr", "caf": "caf", "json": "json", "txt": "txt", "vcf": "vcf",
    "pdf": "pdf", "zip": "zip", "binarycookies": "binarycookies", "random": None,
}


def _stable(text_: str) -> int:
    """A hash of a path that does not change between runs (unlike ``hash``)."""
    return zlib.crc32(text_.encode("utf-8", "surrogateescape"))


def _kind(relative_path: str) -> str:
    name = relative_path.rsplit("/", 1)[-1]
    lower = name.lower()
    if lower.endswith("-wal"):
        return "sqlite-wal"
    if lower.endswith("-shm"):
        return "sqlite-shm"
    ext = lower.rsplit(".", 1)[-1] if "." in lower.lstrip(".") else ""
    found = _KIND_BY_EXT.get(ext)
    if found is not None:
        return found
    # No usable extension: the kind follows from the path, not the rng, so that
    # expected_type() can say what content_for_path() wrote.
    return "txt" if _stable(relative_path) % 4 == 0 else "random"


def expected_type(relative_path: str) -> str | None:
    """The extension ``backupfs.sniff`` gives to what ``content_for_path`` writes for this
    path: sqlite, sqlite-wal, sqlite-shm, plist, jpg, heic, png, gif, mov, mp4, m4a, amr,
    caf, json, txt, vcf, pdf, zip, binarycookies, or None for random bytes."""
    return _EXPECTED[_kind(relative_path)]


def _database_pair(relative_path: str) -> WalPair:
    """The WAL pair standing for a database path; ``X`` and ``X-wal`` get the same pair, so
    a database and its WAL sibling in a rebuilt backup always belong together."""
    base = relative_path[:-4] if relative_path.lower().endswith("-wal") else relative_path
    builder = _DB_BUILDERS.get(base.rsplit("/", 1)[-1].lower())
    if builder is not None:
        return builder()
    return _generic_pair(_stable(base) % _DB_VARIANTS)


@functools.lru_cache(maxsize=_DB_VARIANTS)
def _generic_pair(variant: int) -> WalPair:
    tables = _default_tables(variant)
    frozen = tuple((name, tuple(tuple(row.items()) for row in rows)) for name, rows in tables.items())
    return _cached(_generic_script, frozen, wal=True)  # type: ignore[return-value]


def _plist_object(rng: random.Random) -> dict[str, object]:
    return {
        "version": rng.randrange(1, 20),
        "lastLaunch": rng.randrange(1_690_000_000, 1_700_000_000),
        "enabled": rng.random() < 0.5,
        "identifier": str(uuid.UUID(int=rng.getrandbits(128))).upper(),
        "recent": [f"item-{rng.randrange(1000)}" for _ in range(rng.randrange(1, 4))],
    }


@functools.lru_cache(maxsize=1)
def _log_filler() -> bytes:
    return text(random.Random(1), lines=200)


def _pad_iso(data: bytes, size: int) -> bytes:
    """Grow an ISO-BMFF file with a trailing ``free`` box (ignored by every reader)."""
    extra = size - len(data)
    return data + _box(b"free", bytes(extra - 8)) if extra >= 8 else data


def content_for_path(relative_path: str, rng: random.Random, size_hint: int | None = None) -> bytes:
    """Plausible bytes for a file of this name (see ``expected_type`` for what they sniff as).

    Databases are real SQLite in WAL mode (``X`` and ``X-wal`` match each other); plists are
    mostly binary; media are real containers. ``size_hint`` is followed, up to
    ``MAX_PADDED_SIZE``, by random blobs, logs and ISO-BMFF/JPEG media; other formats keep
    their natural size. Never returns empty bytes (an empty file sniffs as nothing).
    """
    kind = _kind(relative_path)
    target = min(size_hint, MAX_PADDED_SIZE) if size_hint is not None else None
    seed = rng.randrange(1 << 16)
    if kind == "sqlite":
        return _database_pair(relative_path)[0]
    if kind == "sqlite-wal":
        return _database_pair(relative_path)[1]
    if kind == "sqlite-shm":
        return shm(seed)
    if kind == "plist":
        return (binary_plist if rng.random() < 0.8 else xml_plist)(_plist_object(rng))
    if kind == "xml-plist":
        return xml_plist({"adjustmentFormatIdentifier": "com.apple.photo", "adjustmentFormatVersion": "1.5",
                          "adjustmentData": rng.randbytes(32)})
    if kind == "jpg":
        data = jpeg(64, 48, seed % 8)
        # A COM segment after SOI: cheap per-file variation, still a valid JPEG.
        data = data[:2] + _segment(0xFE, f"id {seed}".encode()) + data[2:]
        return data + bytes(max(0, (target or 0) - len(data)))
    if kind in ("heic", "mov", "mp4", "m4a"):
        data = {"heic": heic, "mov": mov, "mp4": mp4, "m4a": m4a}[kind](seed=seed)
        return _pad_iso(data, target or 0)
    if kind == "txt":
        data = text(rng, lines=rng.randrange(3, 40))
        if target is not None and target > len(data):
            filler = _log_filler()
            data = (data + filler * (1 + target // len(filler)))[:target]
        return data
    if kind == "random":
        return rng.randbytes(max(64, target) if target is not None else rng.randrange(64, 4096))
    return _FIXED[kind](rng)


_FIXED: dict[str, Callable[[random.Random], bytes]] = {
    "png": lambda rng: png(16, 16, rng.randrange(8)),
    "gif": lambda rng: gif(),
    "amr": lambda rng: amr(rng.randrange(5, 50)),
    "caf": lambda rng: caf(),
    "json": lambda rng: json_bytes({"id": rng.randrange(1 << 30), "items": [rng.randrange(100) for _ in range(5)]}),
    "vcf": lambda rng: vcard(rng.choice(("Emma", "Alex", "Sam")), rng.choice(("Laurent", "Martin", "Okafor"))),
    "pdf": lambda rng: pdf(f"Receipt {rng.randrange(10_000)}"),
    "zip": lambda rng: zip_bytes(),
    "binarycookies": lambda rng: binarycookies(),
}


def random_name(rng: random.Random, length: int = 4) -> str:
    """An app-private file name (hex), as caches use: nothing outside the app can know it."""
    return rng.randbytes(length).hex()


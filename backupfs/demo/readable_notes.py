"""Notes databases as real phones write them, with the notes put in, for tests and the demo backup.

Three builders, each returning a :class:`NotesFixture` (an SQL script building the
database, the attachment files the backup holds, and the notes as the phone shows them):

* :func:`note_store_ios11` and :func:`note_store_ios16`: ``NoteStore.sqlite`` of two schema
  generations (creation date in ``ZCREATIONDATE1`` vs ``ZCREATIONDATE3``, the note's account
  in ``ZACCOUNT2`` vs ``ZACCOUNT7``, nested folders and inline hashtags only in the newer),
  with bodies that are real gzip'd protobuf documents written by the small encoder here;
* :func:`legacy_notes`: the ``notes.sqlite`` of iOS 8 and earlier, bodies as HTML.

Together they hold a folder structure, notes in "Recently Deleted", a locked note, images
present in the backup and missing from it, text in several scripts with emoji, a long
note, untitled notes and titles that are not valid file names. Everything is
deterministic: same call, same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from backupfs.demo import samples
from backupfs.demo.sqlbuild import insert

APPLE_EPOCH = 978_307_200
STORE_DOMAIN = "AppDomainGroup-group.com.apple.notes"
STORE_PATH = "NoteStore.sqlite"
LEGACY_DOMAIN = "HomeDomain"
LEGACY_PATH = "Library/Notes/notes.sqlite"
OBJECT = "\ufffc"  # where an attachment sits in a note's text


# --- protobuf, as Notes writes its documents -------------------------------------------------

def varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def proto_field(number: int, value: int | bytes | str) -> bytes:
    """One field: an int as a varint (wire type 0), bytes or text length-delimited (wire type 2)."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode("utf-8") if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def _utf16_length(text: str) -> int:
    """Attribute runs count UTF-16 code units, as NSString does: an emoji counts two."""
    return len(text.encode("utf-16-le")) // 2


def note_document(text: str, attachments: Sequence[tuple[str, str]] = ()) -> bytes:
    """The protobuf of a note (not compressed): root 2 -> document 3 -> note (2 text, 5 runs).

    Each U+FFFC of ``text`` is the next of ``attachments`` ((identifier, type UTI)); the first
    line is styled as the title, like the phone does.
    """
    title, newline, rest = text.partition("\n")
    runs = [proto_field(1, _utf16_length(title + newline)) + proto_field(2, proto_field(1, 0))]
    pieces = rest.split(OBJECT)
    for index, piece in enumerate(pieces):
        if piece:
            runs.append(proto_field(1, _utf16_length(piece)) + proto_field(5, 1))
        if index < len(pieces) - 1:
            identifier, uti = attachments[index]
            info = proto_field(1, identifier) + proto_field(2, uti)
            runs.append(proto_field(1, 1) + proto_field(12, info))
    note = proto_field(2, text) + b"".join(proto_field(5, run) for run in runs)
    document = proto_field(2, 0) + proto_field(3, note)
    return proto_field(2, document)


def note_data(text: str, attachments: Sequence[tuple[str, str]] = ()) -> bytes:
    """``ZICNOTEDATA.ZDATA``: the document gzip'd (with a fixed header time, for repeatable bytes)."""
    return gzip.compress(note_document(text, attachments), mtime=0)


# --- what the fixtures hold ------------------------------------------------------------------

@dataclass(frozen=True)
class FixtureAttachment:
    """An attachment. ``filename`` None: kept inside the database (a table); ``alt_text``: an
    inline attachment (a hashtag) that reads as that text."""

    identifier: str
    uti: str
    filename: str | None = None
    present: bool = True  # the backup holds its file
    alt_text: str | None = None

    @property
    def media_identifier(self) -> str:
        return _uuid(f"media-{self.identifier}")


@dataclass(frozen=True)
class FixtureNote:
    """A note as the phone shows it. ``text`` holds U+FFFC where each attachment sits; for a
    legacy note ``html`` is the body as stored and ``text`` what it reads as."""

    title: str
    text: str
    folder: tuple[str, ...]  # as shown, within its account
    account: str
    created: int  # Unix seconds
    modified: int
    stored_title: bool = True  # False: no title in the database, the phone shows the first line
    locked: bool = False
    marked_for_deletion: bool = False  # still in its folder in the database; shown in Recently Deleted
    attachments: tuple[FixtureAttachment, ...] = ()
    html: str | None = None

    @property
    def lines(self) -> list[str]:
        """The lines of text a reader must find in the rendering."""
        return [line for line in self.text.replace(OBJECT, "\n").splitlines() if line.strip()]


@dataclass(frozen=True)
class NotesFixture:
    """A notes database (``sql`` builds it) at ``domain``/``path``, and ``files``, the attachment
    files the backup holds, as (relative path in ``domain``, bytes)."""

    domain: str
    path: str
    sql: str
    notes: tuple[FixtureNote, ...]
    files: tuple[tuple[str, bytes], ...] = ()


def _uuid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"backupfs-notes/{seed}")).upper()


def _apple(unix: int) -> float:
    return float(unix - APPLE_EPOCH)


def _opaque(seed: str, size: int) -> bytes:
    """Bytes that look like ciphertext (a locked note's body), the same on every build."""
    out = b""
    while len(out) < size:
        out += hashlib.sha256(f"{seed}/{len(out)}".encode()).digest()
    return out[:size]


# --- NoteStore.sqlite ------------------------------------------------------------------------

_COMMON_COLUMNS = (
    "Z_PK INTEGER PRIMARY KEY", "Z_ENT INTEGER", "Z_OPT INTEGER", "ZCRYPTOITERATIONCOUNT INTEGER",
    "ZISPASSWORDPROTECTED INTEGER", "ZMARKEDFORDELETION INTEGER", "ZMINIMUMSUPPORTEDNOTESVERSION INTEGER",
    "ZNEEDSINITIALFETCHFROMCLOUD INTEGER", "ZNEEDSTOBEFETCHEDFROMCLOUD INTEGER", "ZCHECKEDFORLOCATION INTEGER",
    "ZFILESIZE INTEGER", "ZHASMARKUPDATA INTEGER", "ZORIENTATION INTEGER", "ZSECTION INTEGER", "ZMEDIA INTEGER",
    "ZNOTE INTEGER", "ZTYPE INTEGER", "ZACCOUNT1 INTEGER", "ZACCOUNTTYPE INTEGER", "ZDIDCHOOSETOMIGRATE INTEGER",
    "ZFOLDERTYPE INTEGER", "ZOWNER INTEGER", "ZACCOUNT2 INTEGER", "ZFOLDER INTEGER", "ZISPINNED INTEGER",
    "ZLEGACYNOTEWASPLAINTEXT INTEGER", "ZNOTEDATA INTEGER", "ZCREATIONDATE TIMESTAMP", "ZMODIFICATIONDATE TIMESTAMP",
    "ZCREATIONDATE1 TIMESTAMP", "ZLASTVIEWEDMODIFICATIONDATE TIMESTAMP", "ZMODIFICATIONDATE1 TIMESTAMP",
    "ZIDENTIFIER VARCHAR", "ZSUMMARY VARCHAR", "ZTITLE VARCHAR", "ZTYPEUTI VARCHAR", "ZURLSTRING VARCHAR",
    "ZFILENAME VARCHAR", "ZNAME VARCHAR", "ZTITLE2 VARCHAR", "ZSNIPPET VARCHAR", "ZTITLE1 VARCHAR",
    "ZCRYPTOINITIALIZATIONVECTOR BLOB", "ZCRYPTOSALT BLOB", "ZCRYPTOTAG BLOB", "ZCRYPTOWRAPPEDKEY BLOB",
    "ZMERGEABLEDATA BLOB", "ZSERVERRECORD BLOB", "ZSERVERSHARE BLOB",
)
_IOS16_COLUMNS = (
    "ZACCOUNT3 INTEGER", "ZACCOUNT4 INTEGER", "ZACCOUNT5 INTEGER", "ZACCOUNT6 INTEGER", "ZACCOUNT7 INTEGER",
    "ZPARENT INTEGER", "ZPAPERSTYLETYPE INTEGER", "ZCREATIONDATE3 TIMESTAMP", "ZALTTEXT VARCHAR",
    "ZTOKENCONTENTIDENTIFIER VARCHAR", "ZTYPEUTI1 VARCHAR", "ZMERGEABLEDATA1 BLOB",
)


@dataclass(frozen=True)
class _Generation:
    """What differs between the NoteStore schemas of two iOS generations."""

    columns: tuple[str, ...]
    entities: tuple[str, ...]  # Z_PRIMARYKEY names, Z_ENT = position + 1
    created: str  # the note's creation date
    note_account: str  # the note's account
    nested: bool  # folders have ZPARENT


_IOS11 = _Generation(
    _COMMON_COLUMNS,
    ("ICAccountData", "ICCloudState", "ICCloudSyncingObject", "ICAccount", "ICAttachment", "ICAttachmentPreviewImage",
     "ICFolder", "ICLocation", "ICMedia", "ICNote", "ICNoteData", "ICServerChangeToken"),
    "ZCREATIONDATE1", "ZACCOUNT2", nested=False)
_IOS16 = _Generation(
    _COMMON_COLUMNS + _IOS16_COLUMNS,
    ("ICAccountData", "ICCloudState", "ICCloudSyncingObject", "ICAccount", "ICAttachment", "ICAttachmentPreviewImage",
     "ICFolder", "ICHashtag", "ICInlineAttachment", "ICLocation", "ICMedia", "ICNote", "ICNoteData",
     "ICSearchIndexTransaction", "ICServerChangeToken"),
    "ZCREATIONDATE3", "ZACCOUNT7", nested=True)
_SUPER = {"ICAccount", "ICAttachment", "ICAttachmentPreviewImage", "ICFolder", "ICHashtag", "ICInlineAttachment",
          "ICLocation", "ICMedia", "ICNote"}  # sub-entities of ICCloudSyncingObject, in its table


class _StoreWriter:
    """Rows of one NoteStore, numbered as Core Data numbers them (one Z_PK sequence for the table)."""

    def __init__(self, generation: _Generation) -> None:
        self.gen = generation
        self.ent = {name: number for number, name in enumerate(generation.entities, 1)}
        self.rows: list[str] = []
        self.pk = 0
        self.data_pk = 0
        self.accounts: dict[str, tuple[int, str]] = {}  # name -> (Z_PK, identifier)
        self.folders: dict[tuple[str, tuple[str, ...]], int] = {}  # (account, path) -> Z_PK
        self.files: list[tuple[str, bytes]] = []

    def object(self, entity: str, **values: object) -> int:
        self.pk += 1
        self.rows.append(insert("ZICCLOUDSYNCINGOBJECT", Z_PK=self.pk, Z_ENT=self.ent[entity], Z_OPT=1, **values))
        return self.pk

    def account(self, name: str, account_type: int) -> None:
        identifier = _uuid(f"account-{name}")
        self.accounts[name] = (self.object("ICAccount", ZIDENTIFIER=identifier, ZNAME=name,
                                           ZACCOUNTTYPE=account_type), identifier)

    def folder(self, account: str, path: tuple[str, ...], trash: bool = False) -> None:
        owner, identifier = self.accounts[account]
        if trash:
            folder_id = f"TrashFolder-{identifier}"
        else:
            folder_id = f"DefaultFolder-{identifier}" if path == ("Notes",) else _uuid(f"folder-{account}-{path}")
        values: dict[str, object] = {"ZIDENTIFIER": folder_id, "ZTITLE2": path[-1], "ZOWNER": owner,
                                     "ZFOLDERTYPE": 1 if trash else 0}
        if self.gen.nested and len(path) > 1:
            values["ZPARENT"] = self.folders[(account, path[:-1])]
        self.folders[(account, path)] = self.object("ICFolder", **values)

    def note(self, note: FixtureNote) -> None:
        account_pk, account_id = self.accounts[note.account]
        folder = ("Notes",) if note.marked_for_deletion else note.folder
        self.data_pk += 1
        identifier = _uuid(f"note-{note.account}-{note.title}-{note.created}")
        values: dict[str, object] = {
            "ZIDENTIFIER": identifier, "ZFOLDER": self.folders[(note.account, folder)], "ZNOTEDATA": self.data_pk,
            "ZTITLE1": note.title if note.stored_title else None, self.gen.created: _apple(note.created),
            "ZMODIFICATIONDATE1": _apple(note.modified), self.gen.note_account: account_pk,
            "ZISPASSWORDPROTECTED": int(note.locked), "ZMARKEDFORDELETION": int(note.marked_for_deletion),
            "ZSNIPPET": None if note.locked else (note.lines[1:2] or [""])[0],
        }
        if note.locked:
            values |= {"ZCRYPTOITERATIONCOUNT": 20000, "ZCRYPTOSALT": _opaque(f"salt-{identifier}", 16),
                       "ZCRYPTOWRAPPEDKEY": _opaque(f"key-{identifier}", 24)}
        note_pk = self.object("ICNote", **values)
        for attachment in note.attachments:
            self._attachment(attachment, note_pk, account_id, note.created)
        if note.locked:  # the body is AES-GCM ciphertext: nothing of the text is in the database
            body = {"ZDATA": _opaque(f"body-{identifier}", 48 + len(note.text.encode())),
                    "ZCRYPTOINITIALIZATIONVECTOR": _opaque(f"iv-{identifier}", 16),
                    "ZCRYPTOTAG": _opaque(f"tag-{identifier}", 16)}
        else:
            body = {"ZDATA": note_data(note.text, [(a.identifier, a.uti) for a in note.attachments])}
        self.rows.append(insert("ZICNOTEDATA", Z_PK=self.data_pk, Z_ENT=self.ent["ICNoteData"], Z_OPT=1,
                                 ZNOTE=note_pk, **body))

    def _attachment(self, attachment: FixtureAttachment, note_pk: int, account_id: str, created: int) -> None:
        if attachment.alt_text is not None:  # an inline attachment: a hashtag
            self.object("ICInlineAttachment", ZIDENTIFIER=attachment.identifier, ZTYPEUTI1=attachment.uti,
                        ZALTTEXT=attachment.alt_text, ZTOKENCONTENTIDENTIFIER=attachment.alt_text.lstrip("#").upper(),
                        ZNOTE=note_pk)
            return
        media = None
        if attachment.filename is not None:
            media = self.object("ICMedia", ZIDENTIFIER=attachment.media_identifier, ZFILENAME=attachment.filename,
                                ZCREATIONDATE=_apple(created))
            if attachment.present:
                path = f"Accounts/{account_id}/Media/{attachment.media_identifier}/{attachment.filename}"
                self.files.append((path, _attachment_bytes(attachment)))
        merge = gzip.compress(b"\x0a\x02\x08\x01", mtime=0) if attachment.filename is None else None
        self.object("ICAttachment", ZIDENTIFIER=attachment.identifier, ZTYPEUTI=attachment.uti, ZNOTE=note_pk,
                    ZMEDIA=media, ZMERGEABLEDATA=merge, ZCREATIONDATE=_apple(created),
                    ZMODIFICATIONDATE=_apple(created))

    def script(self) -> str:
        primary_keys = [insert("Z_PRIMARYKEY", Z_ENT=number, Z_NAME=name,
                                Z_SUPER=self.ent["ICCloudSyncingObject"] if name in _SUPER else 0,
                                Z_MAX=self.pk if name == "ICCloudSyncingObject" else 0)
                        for name, number in self.ent.items()]
        schema = f"""
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
CREATE TABLE ZICCLOUDSYNCINGOBJECT ({', '.join(self.gen.columns)});
CREATE TABLE ZICNOTEDATA (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZNOTE INTEGER,
    ZCRYPTOINITIALIZATIONVECTOR BLOB, ZCRYPTOTAG BLOB, ZDATA BLOB);
CREATE INDEX ZICCLOUDSYNCINGOBJECT_ZFOLDER_INDEX ON ZICCLOUDSYNCINGOBJECT (ZFOLDER);
CREATE INDEX ZICCLOUDSYNCINGOBJECT_ZIDENTIFIER_INDEX ON ZICCLOUDSYNCINGOBJECT (ZIDENTIFIER);
CREATE INDEX ZICNOTEDATA_ZNOTE_INDEX ON ZICNOTEDATA (ZNOTE);
"""
        metadata = insert("Z_METADATA", Z_VERSION=1, Z_UUID=_uuid(f"store-{self.gen.created}"), Z_PLIST=b"bplist00")
        return "\n".join([schema, *primary_keys, metadata, *self.rows, ""])


def _attachment_bytes(attachment: FixtureAttachment) -> bytes:
    seed = int(hashlib.sha1(attachment.identifier.encode()).hexdigest()[:4], 16)
    if attachment.uti == "com.adobe.pdf":
        return samples.pdf(attachment.filename.rsplit(".", 1)[0] if attachment.filename else "Document")
    return samples.jpeg(96, 72, seed)


def _store(generation: _Generation, accounts: Sequence[tuple[str, int]],
           folders: Sequence[tuple[str, tuple[str, ...], bool]], notes: Sequence[FixtureNote]) -> NotesFixture:
    writer = _StoreWriter(generation)
    for name, account_type in accounts:
        writer.account(name, account_type)
    for account, path, trash in folders:
        writer.folder(account, path, trash)
    for note in notes:
        writer.note(note)
    return NotesFixture(STORE_DOMAIN, STORE_PATH, writer.script(), tuple(notes), tuple(writer.files))


def _reading_journal() -> str:
    """A long note: a year of reading, one line a week."""
    books = ("Middlemarch", "Der Zauberberg", "One Hundred Years of Solitude", "Les Misérables",
             "The Left Hand of Darkness", "Норвежский лес", "Beloved", "The Remains of the Day", "Pedro Páramo",
             "Kafka on the Shore")
    moods = ("slow start, then could not put it down", "re-read the last chapter twice",
             "the ending 😭", "good on the train", "lent it to Sam afterwards", "notes in the margins")
    lines = ["Reading journal 2023"]
    for week in range(1, 53):
        book = books[week % len(books)]
        lines.append(f"Week {week}: {book}, pages {week * 37 % 400 + 20}-{week * 37 % 400 + 61}, "
                     f"{moods[week % len(moods)]}.")
    return "\n".join(lines)


def note_store_ios16() -> NotesFixture:
    """An iOS 16 NoteStore: one iCloud account, nested folders, a trash folder, hashtags."""
    at = 1_680_000_000  # 28 March 2023
    tart = FixtureAttachment(_uuid("tart-photo"), "public.jpeg", "IMG_4031.jpeg")
    ramen = FixtureAttachment(_uuid("ramen-photo"), "public.heic", "IMG_5120.HEIC", present=False)
    jr_pass = FixtureAttachment(_uuid("jr-pass"), "com.adobe.pdf", "JR Pass.pdf")
    table = FixtureAttachment(_uuid("q3-table"), "com.apple.notes.table")
    hashtag = FixtureAttachment(_uuid("q3-hashtag"), "com.apple.notes.inlinetextattachment.hashtag", alt_text="#work")
    notes = (
        FixtureNote("Groceries", "Groceries\nOat milk\nEggs (a dozen)\nCoffee beans – the Ethiopian ones\nBasil 🌿",
                    ("Notes",), "iCloud", at, at + 86_400),
        FixtureNote("Groceries", "Groceries\nFor the party: crisps, lemons 🍋, ice, 2 × tonic",
                    ("Notes",), "iCloud", at + 600_000, at + 600_500),
        FixtureNote("Tarte tatin", f"Tarte tatin\n6 pommes, 150 g de sucre, 80 g de beurre demi-sel\n"
                    f"Caraméliser le sucre, ajouter les pommes, cuire 45 min à 180 °C.\n{OBJECT}\nBon appétit !",
                    ("Recipes",), "iCloud", at - 2_000_000, at - 1_990_000, attachments=(tart,)),
        FixtureNote("Ramen in Tokyo", f"Ramen in Tokyo\n一蘭 渋谷店 — open 24h 🍜\nAfuri Ebisu: yuzu shio, order at the "
                    f"machine\n{OBJECT}\nTickets: {OBJECT}", ("Travel", "Japan 2023"), "iCloud", at + 2_000_000,
                    at + 2_500_000, attachments=(ramen, jr_pass)),
        FixtureNote("Passport & visas", "Passport & visas\nPassport no. X1234567, expires 2031", ("Travel",), "iCloud",
                    at + 1_000_000, at + 1_000_000, locked=True),
        FixtureNote("Reading journal 2023", _reading_journal(), ("Notes",), "iCloud", at - 7_000_000, at + 9_000_000),
        FixtureNote("Call the plumber about the leak under the sink",
                    "Call the plumber about the leak under the sink\nNumber is on the fridge, ask for Marco",
                    ("Notes",), "iCloud", at + 300_000, at + 300_000, stored_title=False),
        FixtureNote("Old packing list", "Old packing list\nSunscreen\nAdapter (type A!)\nRain jacket",
                    ("Recently Deleted",), "iCloud", at - 9_000_000, at + 4_000_000),
        FixtureNote("Q3 plan: budget/costs?", f"Q3 plan: budget/costs?\n{OBJECT} hiring freeze until Sept\n{OBJECT}\n"
                    "Ask Priya about the \"<b>offsite</b>\" & travel budget", ("Notes",), "iCloud", at + 800_000,
                    at + 850_000, attachments=(hashtag, table)),
    )
    folders = [("iCloud", ("Notes",), False), ("iCloud", ("Recipes",), False), ("iCloud", ("Travel",), False),
               ("iCloud", ("Travel", "Japan 2023"), False), ("iCloud", ("Recently Deleted",), True)]
    return _store(_IOS16, [("iCloud", 1)], folders, notes)


def note_store_ios11() -> NotesFixture:
    """An iOS 11 NoteStore: an iCloud and an On My iPhone account, a locked note, a note marked for deletion."""
    at = 1_521_000_000  # 14 March 2018
    whiteboard = FixtureAttachment(_uuid("whiteboard"), "public.jpeg", "IMG_0412.jpeg")
    second = FixtureAttachment(_uuid("whiteboard-2"), "public.jpeg", "IMG_0413.jpeg", present=False)
    notes = (
        FixtureNote("Wi-Fi at the cabin", "Wi-Fi at the cabin\nNetwork: Cabin-5G\nPassword: on the fridge 🧊",
                    ("Notes",), "iCloud", at, at + 3_600),
        FixtureNote("Meeting 14 March", f"Meeting 14 March\nAgenda\n• budget\n• hiring\n{OBJECT}{OBJECT}\n"
                    "Action: send the photos to Jo", ("Work",), "iCloud", at + 7_200, at + 9_000,
                    attachments=(whiteboard, second)),
        FixtureNote("Bank codes", "Bank codes\nPIN 0000 (not really)", ("Notes",), "iCloud", at - 90_000, at - 90_000,
                    locked=True),
        FixtureNote("Old shopping list", "Old shopping list\nFlour\nYeast", ("Recently Deleted",), "iCloud",
                    at - 400_000, at - 300_000),
        FixtureNote("Gift ideas", "Gift ideas\nMum: scarf 🧣\nLéa: Lego set 🧱\nΓιώργος: βιβλίο", ("Notes",),
                    "On My iPhone", at - 50_000, at + 20_000),
        FixtureNote("Parking spot", "Parking spot\nLevel -2, pillar C7", ("Recently Deleted",), "On My iPhone",
                    at + 10_000, at + 10_000, marked_for_deletion=True),
    )
    folders = [("iCloud", ("Notes",), False), ("iCloud", ("Work",), False), ("iCloud", ("Recently Deleted",), True),
               ("On My iPhone", ("Notes",), False)]
    return _store(_IOS11, [("iCloud", 1), ("On My iPhone", 3)], folders, notes)


# --- notes.sqlite (iOS 8 and earlier) --------------------------------------------------------

_LEGACY_SCHEMA = """
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
CREATE TABLE ZACCOUNT (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZDEFAULTSTORE INTEGER,
    ZACCOUNTIDENTIFIER VARCHAR, ZNAME VARCHAR);
CREATE TABLE ZSTORE (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZACCOUNT INTEGER,
    ZEXTERNALIDENTIFIER VARCHAR, ZNAME VARCHAR, ZSYNCANCHOR VARCHAR);
CREATE TABLE ZNOTE (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCONTAINSCJK INTEGER,
    ZCONTENTTYPE INTEGER, ZDELETEDFLAG INTEGER, ZEXTERNALFLAGS INTEGER, ZEXTERNALSERVERINTID INTEGER,
    ZINTEGERID INTEGER, ZISBOOKKEEPINGENTRY INTEGER, ZBODY INTEGER, ZSTORE INTEGER, ZCREATIONDATE TIMESTAMP,
    ZMODIFICATIONDATE TIMESTAMP, ZAUTHOR VARCHAR, ZGUID VARCHAR, ZSERVERID VARCHAR, ZSUMMARY VARCHAR,
    ZTITLE VARCHAR, ZEXTERNALCONTENTREF BLOB, ZEXTERNALREPRESENTATION BLOB);
CREATE TABLE ZNOTEBODY (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZOWNER INTEGER,
    ZCONTENT VARCHAR, ZEXTERNALCONTENTREF VARCHAR, ZEXTERNALREPRESENTATION BLOB);
CREATE TABLE ZNOTEATTACHMENT (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZNOTE INTEGER,
    ZCONTENTID VARCHAR, ZFILENAME VARCHAR, ZMIMETYPE VARCHAR);
CREATE TABLE ZNOTECHANGE (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCHANGETYPE INTEGER,
    ZNOTEINTEGERID INTEGER, ZSTORE INTEGER, ZNOTESERVERID VARCHAR);
CREATE TABLE ZNEXTID (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCOUNTER INTEGER);
CREATE TABLE ZPROPERTY (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZKEY VARCHAR, ZVALUE BLOB);
CREATE INDEX ZNOTE_ZSTORE_INDEX ON ZNOTE (ZSTORE);
CREATE INDEX ZNOTEBODY_ZOWNER_INDEX ON ZNOTEBODY (ZOWNER);
"""


def _legacy_notes() -> tuple[FixtureNote, ...]:
    at = 1_380_000_000  # 24 September 2013
    thesis_lines = [f"Chapter {n}: {topic}" for n, topic in enumerate(
        ("related work — read Smith 2009 & Okafor 2011 again", "method: 3 sites × 4 seasons", "pilot results",
         "threats to validity", "what the reviewers asked (see e-mail of 12/6)", "conclusion — keep it short"), 1)]
    thesis_html = "Thesis notes" + "".join(f"<div>{line.replace('&', '&amp;')}</div>" for line in thesis_lines) * 4
    return (
        FixtureNote("Shopping", "Shopping\nBread\nCheese & wine 🍷\nMilk", ("Notes",), "iCloud", at, at + 5_000,
                    html="Shopping<div>Bread</div><div>Cheese &amp; wine 🍷<br></div><div>Milk</div>"),
        FixtureNote("Door code", "Door code\n4482#, then the second door: 1910", ("Notes",), "iCloud", at - 80_000,
                    at - 80_000, html="Door code<div>4482#, then the second door: 1910</div>"),
        FixtureNote("Thesis notes", "Thesis notes\n" + "\n".join(thesis_lines * 4), ("Notes",), "iCloud",
                    at - 900_000, at + 700_000, html=thesis_html),
        FixtureNote("Web clipping", "Web clipping\nbold words and <not a tag> & more\nafter the script",
                    ("Notes",), "Gmail", at + 40_000, at + 41_000,
                    html="Web clipping<div><b>bold words</b> and &lt;not a tag&gt; &amp; more</div>"
                         "<script>alert('x')</script><div>after the script</div>"),
        FixtureNote("Remember to water the plants", "Remember to water the plants\nEvery Sunday, not the cactus",
                    ("Notes",), "iCloud", at + 90_000, at + 90_000, stored_title=False,
                    html="<div>Remember to water the plants</div><div>Every Sunday, not the cactus</div>"),
        FixtureNote("Old phone numbers", "Old phone numbers\nDentist +44 20 7946 0000", ("Recently Deleted",),
                    "iCloud", at - 3_000_000, at - 2_000_000,
                    html="Old phone numbers<div>Dentist +44 20 7946 0000</div>"),
        FixtureNote("Рецепт борща", "Рецепт борща\nСвёкла, капуста, картофель 🥔\nВарить 2 часа", ("Notes",),
                    "Gmail", at + 200_000, at + 260_000,
                    html="Рецепт борща<div>Свёкла, капуста, картофель 🥔</div><div>Варить 2 часа</div>"),
    )


def legacy_notes() -> NotesFixture:
    """An iOS 6-8 ``notes.sqlite``: notes of an iCloud and a Gmail account, HTML bodies, a deleted
    note, an untitled one, and a bookkeeping row that is not a note."""
    notes = _legacy_notes()
    rows = [insert("Z_PRIMARYKEY", Z_ENT=n, Z_NAME=name, Z_SUPER=0, Z_MAX=0)
            for n, name in enumerate(("Account", "Note", "NoteAttachment", "NoteBody", "NoteChange", "NextId",
                                      "Property", "Store"), 1)]
    stores: dict[str, int] = {}
    for pk, account in enumerate(("iCloud", "Gmail"), 1):
        rows.append(insert("ZACCOUNT", Z_PK=pk, Z_ENT=1, Z_OPT=1, ZDEFAULTSTORE=pk, ZNAME=account,
                            ZACCOUNTIDENTIFIER=_uuid(f"legacy-account-{account}")))
        rows.append(insert("ZSTORE", Z_PK=pk, Z_ENT=8, Z_OPT=1, ZACCOUNT=pk, ZNAME="Notes",
                            ZEXTERNALIDENTIFIER="Notes" if account == "Gmail" else _uuid(f"store-{account}")))
        stores[account] = pk
    for pk, note in enumerate(notes, 1):
        rows.append(insert(
            "ZNOTE", Z_PK=pk, Z_ENT=2, Z_OPT=3, ZCONTAINSCJK=0, ZCONTENTTYPE=0,
            ZDELETEDFLAG=int(note.folder == ("Recently Deleted",)), ZISBOOKKEEPINGENTRY=0, ZINTEGERID=1000 + pk,
            ZBODY=pk, ZSTORE=stores[note.account], ZCREATIONDATE=_apple(note.created),
            ZMODIFICATIONDATE=_apple(note.modified), ZGUID=_uuid(f"legacy-note-{pk}"),
            ZTITLE=note.title if note.stored_title else None, ZSUMMARY=(note.lines[1:2] or [""])[0]))
        rows.append(insert("ZNOTEBODY", Z_PK=pk, Z_ENT=4, Z_OPT=1, ZOWNER=pk, ZCONTENT=note.html))
    bookkeeping = len(notes) + 1  # IMAP sync keeps a row of its own among the notes
    rows.append(insert("ZNOTE", Z_PK=bookkeeping, Z_ENT=2, Z_OPT=1, ZISBOOKKEEPINGENTRY=1, ZSTORE=stores["Gmail"],
                        ZSERVERID="bookkeeping", ZINTEGERID=0))
    return NotesFixture(LEGACY_DOMAIN, LEGACY_PATH, "\n".join([_LEGACY_SCHEMA, *rows, ""]), notes)

"""Notes: every note of the phone as a page and a plain text file, in its folders as on the phone.

Two databases hold notes, both with Core Data dates (seconds since 2001-01-01 UTC, shown in local time):

* ``NoteStore.sqlite`` (iOS 9 and later), in ``AppDomainGroup-group.com.apple.notes``. One table,
  ``ZICCLOUDSYNCINGOBJECT``, holds accounts, folders, notes, attachments and media, told apart
  by ``Z_ENT`` and the entity names in ``Z_PRIMARYKEY`` (ICAccount, ICFolder, ICNote...). A
  note's body is ``ZICNOTEDATA.ZDATA``: a gzip'd protobuf, root field 2 (document) -> field 3
  (note) -> field 2 (the text, UTF-8) and field 5 (attribute runs; an attachment's run holds
  field 12, whose field 1 is the attachment's ``ZIDENTIFIER``). Each attachment sits in the
  text as U+FFFC, in the order of those runs. Attachment files are in the same domain, at
  ``Accounts/<account ZIDENTIFIER>/Media/<media ZIDENTIFIER>/[<generation>/]<ZFILENAME>``.
  Apple renumbers columns as entities are added, so every column is looked up by name with
  its known variants. Two generations are tested:

  - iOS 11-14: creation date ``ZCREATIONDATE1``, the note's account in a low ``ZACCOUNTn``
    (``ZACCOUNT2``), no inline attachments;
  - iOS 15-16: creation date ``ZCREATIONDATE3`` (``ZCREATIONDATE1`` still exists, empty for
    notes), account in ``ZACCOUNT7``, folders nested through ``ZPARENT``, inline attachments
    (hashtags, mentions) whose text is ``ZALTTEXT`` and type ``ZTYPEUTI1``.

  Older stores (``ZTITLE`` rather than ``ZTITLE1``, ``ZCREATIONDATE``, media at the top of
  the container) read through the same fallbacks. Folder titles are ``ZTITLE2``; a folder of
  ``ZFOLDERTYPE`` 1 is "Recently Deleted", where a note ``ZMARKEDFORDELETION`` is shown too:
  a backup is often opened precisely to get such a note back. A password-protected note
  (``ZISPASSWORDPROTECTED``) is encrypted: it shows its title and says so, never decrypted.
* ``notes.sqlite`` (iOS 8 and earlier, and notes of accounts not upgraded since), in
  ``HomeDomain`` at ``Library/Notes/notes.sqlite``: ``ZNOTE`` (``ZTITLE``, dates, ``ZSTORE``,
  ``ZDELETEDFLAG``), ``ZNOTEBODY`` (``ZOWNER`` = the note, ``ZCONTENT`` = its body as HTML),
  ``ZSTORE`` (the folder, ``ZNAME``) and ``ZACCOUNT`` (``ZNAME``). The HTML is reduced to
  text with :mod:`html.parser`; none of it reaches a page.

Each note gives ``<folders>/<title>.html`` (attachments linked to their files in the mount,
images shown inline) and ``<title>.txt`` beside it. When notes belong to several accounts,
each account's folders sit in a folder named after it, as the phone lists them.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import NamedTuple

from backupfs.readable.base import Backup, Plan, Planned, safe_name, unique_paths
from backupfs.readable.html import escape, media, page
from backupfs.readable.values import (
    APPLE_EPOCH,
    column_or_null,
    columns_of,
    int_of,
    optional_text,
    plural,
    select_list,
    stamp,
    unix_time,
)

STORE_DOMAIN = "AppDomainGroup-group.com.apple.notes"
STORE_PATH = "NoteStore.sqlite"
LEGACY_DOMAIN = "HomeDomain"
LEGACY_PATH = "Library/Notes/notes.sqlite"
RECENTLY_DELETED = "Recently Deleted"
LOCKED_MESSAGE = "This note is locked with a password. It cannot be read without the phone."
UNREADABLE_MESSAGE = "The text of this note could not be read: its copy in the backup is damaged."

_OBJECTS = "ZICCLOUDSYNCINGOBJECT"
_WHEN = "%Y-%m-%d %H:%M"  # a note's dates, in local time
_TRASH_FOLDER_TYPE = 1
_EMBEDDED_KINDS = {  # attachments kept inside the database, with no file of their own
    "com.apple.notes.table": "Table",
    "com.apple.drawing": "Drawing",
    "com.apple.drawing.2": "Drawing",
    "com.apple.paper": "Drawing",
    "com.apple.notes.gallery": "Scanned document",
}


# --- values as damaged databases hold them ---------------------------------------------------

def _raw(value: object) -> str | None:
    """A value as a path part, its exact bytes kept as surrogates, as the backup's index names files."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    return None if value is None or "/" in str(value) or not str(value) else str(value)


def _first_line(text: str) -> str | None:
    return next((line.strip() for line in text.replace("\ufffc", "").splitlines() if line.strip()), None)


# --- protobuf --------------------------------------------------------------------------------

class ProtoField(NamedTuple):
    """One field of a protobuf message: varints and fixed-size numbers as int, the rest as bytes."""

    number: int
    value: int | bytes


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it; ValueError when cut short or too long."""
    result = shift = 0
    while pos < len(data) and shift < 70:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    raise ValueError("truncated or overlong varint")


def _next_field(data: bytes, pos: int) -> tuple[ProtoField, int]:
    """The field at ``pos``; ValueError when it cannot be read. A length-delimited field cut
    by the end of the data keeps what is there: in a damaged body the cut text is still text."""
    key, pos = _varint(data, pos)
    number, wire = key >> 3, key & 7
    if number == 0:
        raise ValueError("field number 0")
    if wire == 0:
        value, pos = _varint(data, pos)
        return ProtoField(number, value), pos
    if wire == 2:
        length, pos = _varint(data, pos)
        return ProtoField(number, data[pos:pos + length]), pos + length
    if wire in (1, 5):
        size = 8 if wire == 1 else 4
        if pos + size > len(data):
            raise ValueError("truncated fixed-size field")
        return ProtoField(number, int.from_bytes(data[pos:pos + size], "little")), pos + size
    raise ValueError(f"wire type {wire} (groups are not used by Notes)")


def proto_fields(data: bytes) -> list[ProtoField]:
    """The fields of a protobuf message, in order, as far as they can be read: reading stops at
    the first malformed field instead of failing, so a truncated body still gives its start."""
    fields: list[ProtoField] = []
    pos = 0
    while pos < len(data):
        try:
            field, pos = _next_field(data, pos)
        except ValueError:
            break
        fields.append(field)
    return fields


def _message(fields: Iterable[ProtoField], number: int) -> bytes | None:
    """The first length-delimited field ``number`` (a nested message or a string)."""
    return next((f.value for f in fields if f.number == number and isinstance(f.value, bytes)), None)


@dataclass(frozen=True)
class NoteBody:
    """A note's text and, in order of appearance, the identifiers and types of its attachments."""

    text: str
    attachments: tuple[tuple[str, str | None], ...]


def inflate(blob: bytes) -> bytes:
    """gzip (or zlib) data decompressed as far as it goes: a damaged stream gives what came before
    the damage. ValueError when nothing can be decompressed."""
    inflater = zlib.decompressobj(47)  # 32 + 15: either header
    out = []
    for start in range(0, len(blob), 4096):
        try:
            out.append(inflater.decompress(blob[start:start + 4096]))
        except zlib.error:
            break
    data = b"".join(out)
    if not data:
        raise ValueError("not gzip data")
    return data


def parse_note_body(data: bytes) -> NoteBody:
    """The text and attachments of a decompressed ``ZICNOTEDATA.ZDATA``; ValueError when it is not a note."""
    document = _message(proto_fields(data), 2)
    note = _message(proto_fields(document), 3) if document is not None else None
    fields = proto_fields(note) if note is not None else []
    text = _message(fields, 2)
    if text is None:
        raise ValueError("no note text in this protobuf")
    attachments = []
    for run in (f.value for f in fields if f.number == 5 and isinstance(f.value, bytes)):
        info = _message(proto_fields(run), 12)
        identifier = _message(proto_fields(info), 1) if info is not None else None
        if identifier is not None:
            uti = _message(proto_fields(info or b""), 2)
            attachments.append((identifier.decode("utf-8", "replace"), optional_text(uti)))
    return NoteBody(text.decode("utf-8", "replace"), tuple(attachments))


def _read_body(blob: object) -> NoteBody | None:
    """A ``ZDATA`` value as a note body; None when it cannot be read."""
    if not isinstance(blob, bytes):
        return None
    try:
        return parse_note_body(inflate(blob))
    except ValueError:
        return None


# --- what a note is, whichever database it comes from ----------------------------------------

@dataclass(frozen=True)
class Attachment:
    """An attachment as shown: ``label`` is its file name, its own text (a hashtag) or its kind."""

    label: str
    file: str | None = None  # its file, relative to the notes domain, when the backup holds it
    missing: bool = False  # the note had a file that the backup does not hold
    inline_text: bool = False  # ``label`` is text of the note itself


Part = str | Attachment


@dataclass(frozen=True)
class Note:
    """One note, as listed; ``source`` is "store" (NoteStore.sqlite) or "legacy" (notes.sqlite)."""

    source: str
    pk: int
    title: str
    folder: tuple[str, ...]
    account: str
    created: float | None
    modified: float | None
    locked: bool = False
    account_id: str | None = None  # NoteStore: the folder under ``Accounts/`` holding its media
    data_row: int | None = None  # NoteStore: its ``ZNOTEDATA``, the ZICNOTEDATA row of its body


@dataclass(frozen=True)
class Content:
    """A note's body as parts, or the reason it has none to show."""

    parts: tuple[Part, ...] = ()
    problem: str | None = None


# --- NoteStore.sqlite ------------------------------------------------------------------------

class NoteStore:
    """NoteStore.sqlite's accounts and folders, read once per plan or render.

    Raises ``sqlite3.Error`` when the database cannot be queried, ValueError when its
    tables are missing, KeyError when it defines no ICNote entity.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.columns = columns_of(conn, _OBJECTS)
        if not self.columns or not columns_of(conn, "ZICNOTEDATA"):
            raise ValueError("NoteStore.sqlite lacks the ZICCLOUDSYNCINGOBJECT or ZICNOTEDATA table")
        self.entities = self._entities()
        if not self.entities.get("ICNote"):
            raise KeyError("NoteStore.sqlite defines no ICNote entity")
        self.account_columns = sorted(c for c in self.columns if c.startswith("ZACCOUNT") and c[8:].isdigit())
        self.accounts = self._accounts()
        self.trash: set[int] = set()
        self.folders = self._folders()

    def _entities(self) -> dict[str, list[int]]:
        entities: dict[str, list[int]] = {}
        for ent, name in self.conn.execute("SELECT Z_ENT, Z_NAME FROM Z_PRIMARYKEY"):
            if isinstance(ent, int) and optional_text(name):
                entities.setdefault(str(optional_text(name)), []).append(ent)
        return entities

    def _rows(self, entity: str, expressions: Sequence[str], where: str = "", params: tuple = ()) -> list[tuple]:
        ents = self.entities.get(entity, [])
        if not ents:
            return []
        marks = ", ".join("?" * len(ents))
        sql = f"SELECT {', '.join(expressions)} FROM {_OBJECTS} WHERE Z_ENT IN ({marks}){where}"
        return self.conn.execute(sql, (*ents, *params)).fetchall()

    def _accounts(self) -> dict[int, tuple[str | None, str]]:
        """Account Z_PK -> (identifier, the name the phone shows: "iCloud", "On My iPhone")."""
        rows = self._rows("ICAccount", ["Z_PK", select_list(self.columns, ("ZIDENTIFIER", "ZNAME"))])
        return {pk: (_raw(identifier), optional_text(name) or "Notes account") for pk, identifier, name in rows}

    def _folders(self) -> dict[int, tuple[tuple[str, ...], int | None]]:
        """Folder Z_PK -> (its path of titles, from the top; its account's Z_PK)."""
        col = self.columns
        rows = self._rows("ICFolder", ["Z_PK", select_list(col, ("ZTITLE2", "ZFOLDERTYPE", "ZPARENT", "ZOWNER"))])
        own = {pk: (optional_text(title), int_of(kind), int_of(parent), int_of(owner))
               for pk, title, kind, parent, owner in rows}
        folders = {}
        for pk, (title, kind, parent, owner) in own.items():
            if kind == _TRASH_FOLDER_TYPE:
                self.trash.add(pk)
            path = [title or (RECENTLY_DELETED if kind == _TRASH_FOLDER_TYPE else "Folder")]
            seen = {pk}
            while parent in own and parent not in seen:  # a loop of parents in a damaged store ends here
                seen.add(parent)
                path.insert(0, own[parent][0] or "Folder")
                parent = own[parent][2]
            folders[pk] = (tuple(path), owner)
        return folders

    def notes(self, only: int | None = None) -> list[Note]:
        """Every note (or the one whose Z_PK is ``only``)."""
        col = self.columns
        expressions = ["Z_PK", column_or_null(col, "ZTITLE1", "ZTITLE"),
                       select_list(col, ("ZFOLDER", "ZNOTEDATA", "ZISPASSWORDPROTECTED", "ZMARKEDFORDELETION")),
                       column_or_null(col, "ZCREATIONDATE3", "ZCREATIONDATE1", "ZCREATIONDATE"),
                       column_or_null(col, "ZMODIFICATIONDATE1", "ZMODIFICATIONDATE"), *self.account_columns]
        where, params = (" AND Z_PK = ?", (only,)) if only is not None else ("", ())
        notes = []
        for pk, title, folder, data, locked, deleted, created, modified, *accounts in self._rows(
                "ICNote", expressions, where, params):
            folder_path, owner = self.folders.get(int_of(folder) or -1, ((), None))
            if int_of(deleted) and int_of(folder) not in self.trash:
                folder_path = (RECENTLY_DELETED,)
            account = next((a for a in map(int_of, accounts) if a in self.accounts), owner)
            account_id, account_name = self.accounts.get(account, (None, "")) if account is not None else (None, "")
            is_locked = bool(int_of(locked))
            title = optional_text(title) or self._title_from_body(pk, int_of(data), is_locked)
            notes.append(Note("store", pk, title.splitlines()[0], folder_path, account_name,
                              unix_time(created, APPLE_EPOCH), unix_time(modified, APPLE_EPOCH), is_locked,
                              account_id, int_of(data)))
        return notes

    def _title_from_body(self, pk: int, data: int | None, locked: bool) -> str:
        """An untitled note is listed by its first line, as the phone lists it."""
        if locked:
            return "Locked note"
        body = _read_body(self.note_data(pk, data))
        return (_first_line(body.text) if body else None) or "Untitled note"

    def note_data(self, pk: int, data: int | None) -> object:
        """The note's ``ZDATA``: by the note's ``ZNOTEDATA``, else the row pointing back at the note."""
        rows = self.conn.execute("SELECT ZDATA FROM ZICNOTEDATA WHERE Z_PK = ? OR ZNOTE = ? ORDER BY Z_PK = ? DESC",
                                 (data, pk, data)).fetchall()
        return rows[0][0] if rows else None

    def content(self, backup: Backup, note: Note) -> Content:
        """The note's body, its attachments resolved to the backup's files."""
        if note.locked:
            return Content(problem=LOCKED_MESSAGE)
        body = _read_body(self.note_data(note.pk, note.data_row))
        if body is None:
            return Content(problem=UNREADABLE_MESSAGE)
        found = self._attachments(backup, [identifier for identifier, _ in body.attachments], note.account_id)
        pieces = body.text.split("\ufffc")
        parts: list[Part] = [pieces[0]]
        for index, piece in enumerate(pieces[1:]):
            if index < len(body.attachments):
                identifier, uti = body.attachments[index]
                parts.append(found.get(identifier) or Attachment(_kind(uti), missing=True))
            else:
                parts.append(Attachment("Attachment", missing=True))
            parts.append(piece)
        return Content(tuple(part for part in parts if part != ""))

    def _attachments(self, backup: Backup, identifiers: list[str], account: str | None) -> dict[str, Attachment]:
        """Attachment identifier -> how it shows, for those the database knows."""
        if not identifiers or "ZIDENTIFIER" not in self.columns:
            return {}
        found = {}
        for identifier, uti, alt, url, media_id, filename, *generation in self.conn.execute(
                self._attachment_sql(len(identifiers)), identifiers):
            key = optional_text(identifier)
            if key is not None:
                folders = self._media_folders(_raw(media_id), [_raw(g) for g in generation], account)
                own_text = optional_text(alt) or optional_text(url)
                found[key] = _attachment(backup, optional_text(uti), own_text, _raw(filename), folders)
        return found

    def _attachment_sql(self, count: int) -> str:
        """Attachments by identifier: type, own text (hashtag, URL), and their media row's folder and file name."""
        col = self.columns
        media = "NULL, NULL"
        join = ""
        if {"ZMEDIA", "ZFILENAME"} <= col:
            generations = sorted(c for c in col if c.startswith("ZGENERATION"))  # iOS 17+ media folders
            media = ", ".join(["m.ZIDENTIFIER", "m.ZFILENAME", *(f"m.{c}" for c in generations)])
            join = f"LEFT JOIN {_OBJECTS} m ON m.Z_PK = a.ZMEDIA"
        own = select_list(col, ("ZALTTEXT", "ZURLSTRING"), alias="a")
        return (f"SELECT a.ZIDENTIFIER, {column_or_null(col, 'ZTYPEUTI', 'ZTYPEUTI1', alias='a')}, {own}, {media} "
                f"FROM {_OBJECTS} a {join} WHERE a.ZIDENTIFIER IN ({', '.join('?' * count)})")

    def _media_folders(self, media_id: str | None, generations: list[str | None], account: str | None) -> list[str]:
        """Where a media file may be, most likely first: the note's account, any account, the
        container's top (iOS 9-10), each with the generation folders of newer versions."""
        if media_id is None:
            return []
        accounts = [account] if account else []
        accounts += [identifier for identifier, _ in self.accounts.values() if identifier and identifier != account]
        tops = [f"Accounts/{a}/Media/{media_id}" for a in accounts] + [f"Media/{media_id}"]
        return [f"{top}/{g}" for top in tops for g in generations if g] + tops


def _kind(uti: str | None) -> str:
    return _EMBEDDED_KINDS.get(uti or "", "Attachment")


def _attachment(backup: Backup, uti: str | None, own_text: str | None, filename: str | None,
                folders: list[str]) -> Attachment:
    """How one attachment shows: its file when the backup holds it, its own text, or its kind."""
    if filename is not None and folders:
        label = optional_text(filename) or "Attachment"
        for folder in folders:
            if backup.has(STORE_DOMAIN, f"{folder}/{filename}"):
                return Attachment(label, file=f"{folder}/{filename}")
        return Attachment(label, missing=True)
    if own_text is not None:
        return Attachment(own_text, inline_text=True)
    return Attachment(_kind(uti))


# --- notes.sqlite (iOS 8 and earlier) --------------------------------------------------------

_BLOCKS = frozenset({"div", "p", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "ul", "ol",
                     "table"})
_HIDDEN = frozenset({"script", "style", "head", "title"})  # their content is not text a person wrote


class _HtmlText(HTMLParser):
    """The text of a legacy note's HTML body: one line per block, ``<br>`` kept, scripts dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.hidden = 0

    def _line_start(self) -> None:
        if self.out and not self.out[-1].endswith("\n"):
            self.out.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag in _BLOCKS:
            self._line_start()
            if tag == "li":
                self.out.append("• ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS:
            self._line_start()

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.out.append(data)


def html_to_text(markup: str) -> str:
    """A legacy note's HTML body as plain text (the page escapes it; no markup ever passes)."""
    parser = _HtmlText()
    parser.feed(markup)
    parser.close()
    return "".join(parser.out).strip("\n")


class LegacyNotes:
    """notes.sqlite: ``ZNOTE``, ``ZNOTEBODY``, and folders from ``ZSTORE`` / ``ZACCOUNT`` when present.

    Raises ``sqlite3.Error`` when the database cannot be queried, ValueError when a table it needs is missing.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.columns = columns_of(conn, "ZNOTE")
        if not self.columns or not columns_of(conn, "ZNOTEBODY"):
            raise ValueError("notes.sqlite lacks the ZNOTE or ZNOTEBODY table")
        self.stores = self._stores()

    def _stores(self) -> dict[int, tuple[str, str]]:
        """Store (folder) Z_PK -> (its name, its account's name)."""
        store_columns = columns_of(self.conn, "ZSTORE")
        if not store_columns:
            return {}
        accounts: dict[int, str] = {}
        if "ZACCOUNT" in store_columns and "ZNAME" in columns_of(self.conn, "ZACCOUNT"):
            accounts = {pk: optional_text(name) or ""
                        for pk, name in self.conn.execute("SELECT Z_PK, ZNAME FROM ZACCOUNT")}
        sql = f"SELECT Z_PK, {select_list(store_columns, ('ZNAME', 'ZACCOUNT'))} FROM ZSTORE"
        return {pk: (optional_text(name) or "Notes", accounts.get(int_of(owner) or -1, ""))
                for pk, name, owner in self.conn.execute(sql)}

    def notes(self, only: int | None = None) -> list[Note]:
        """Every note (or the one whose Z_PK is ``only``); bookkeeping rows are not notes."""
        col = self.columns
        where, params = (" AND Z_PK = ?", (only,)) if only is not None else ("", ())
        wanted = ("ZTITLE", "ZSTORE", "ZDELETEDFLAG", "ZCREATIONDATE", "ZMODIFICATIONDATE")
        sql = (f"SELECT Z_PK, {select_list(col, wanted)} FROM ZNOTE "
               f"WHERE COALESCE({column_or_null(col, 'ZISBOOKKEEPINGENTRY')}, 0) = 0{where}")
        notes = []
        for pk, title, store, deleted, created, modified in self.conn.execute(sql, params):
            folder, account = self.stores.get(int_of(store) or -1, ("", ""))
            folder_path = (RECENTLY_DELETED,) if int_of(deleted) else ((folder,) if folder else ())
            title = optional_text(title) or _first_line(self.text(pk) or "") or "Untitled note"
            notes.append(Note("legacy", pk, title.splitlines()[0], folder_path, account,
                              unix_time(created, APPLE_EPOCH), unix_time(modified, APPLE_EPOCH)))
        return notes

    def text(self, pk: int) -> str | None:
        """The note's body as text; None when it has none that can be read."""
        body = column_or_null(self.columns, "ZBODY")
        rows = self.conn.execute(f"SELECT b.ZCONTENT FROM ZNOTEBODY b WHERE b.ZOWNER = ? OR b.Z_PK = "
                                 f"(SELECT {body} FROM ZNOTE WHERE Z_PK = ?) ORDER BY b.ZOWNER = ? DESC",
                                 (pk, pk, pk)).fetchall()
        markup = optional_text(rows[0][0]) if rows else None
        return html_to_text(markup) if markup else None

    def content(self, backup: Backup, note: Note) -> Content:
        """The note's text (legacy notes have no attachment files in the backup to link)."""
        text = self.text(note.pk)
        return Content((text,)) if text is not None else Content(problem=UNREADABLE_MESSAGE)


# --- the renderer ----------------------------------------------------------------------------

_SOURCES = {"store": (STORE_DOMAIN, STORE_PATH, NoteStore), "legacy": (LEGACY_DOMAIN, LEGACY_PATH, LegacyNotes)}


def _open(backup: Backup, source: str) -> tuple[sqlite3.Connection, NoteStore | LegacyNotes] | None:
    domain, path, reader = _SOURCES[source]
    conn = backup.database(domain, path)
    if conn is None:
        return None
    conn.text_factory = bytes  # a text value that is not UTF-8 must not fail the whole query
    try:
        return conn, reader(conn)
    except Exception:
        conn.close()
        raise


def _folders_shown(notes: list[Note]) -> list[tuple[str, ...]]:
    """Each note's folder path as shown: behind its account's name when notes come from several."""
    several = len({note.account for note in notes if note.account}) > 1
    return [((note.account,) if several and note.account else ()) + note.folder for note in notes]


def _subtitle(note: Note) -> str:
    dates = [f"{label} {stamp(moment, _WHEN)}"
             for label, moment in (("Created", note.created), ("modified", note.modified)) if moment is not None]
    return " · ".join(part for part in (" / ".join(note.folder), ", ".join(dates)) if part)


def _planned(notes: list[Note]) -> list[Planned]:
    """Each note's page and text file, in its folders; the older of two same-named notes keeps the plain name."""
    shown = _folders_shown(notes)
    order = sorted(range(len(notes)), key=lambda i: ([p.casefold() for p in shown[i]], notes[i].title.casefold(),
                                                      notes[i].created or 0.0, notes[i].source, notes[i].pk))
    names = [f"{''.join(safe_name(p) + '/' for p in shown[i])}{safe_name(notes[i].title)}.html" for i in order]
    files = []
    for i, path in zip(order, unique_paths(names)):
        note = notes[i]
        moment = note.modified if note.modified is not None else note.created
        mtime = int(moment) if moment is not None else None
        text_path = path.removesuffix(".html") + ".txt"
        files.append(Planned(path, key=f"{note.source}|{note.pk}|html|{path}", mtime=mtime))
        files.append(Planned(text_path, key=f"{note.source}|{note.pk}|txt|{text_path}", mtime=mtime))
    return files


def _attachment_html(part: Attachment, link: str | None) -> str:
    label = escape(part.label)
    if part.inline_text:
        return label
    if link is not None:
        return media(link, part.file.rpartition("/")[2] if part.file else part.label, part.label)
    if part.missing:
        return f'<span class="note missing">[{label}: missing from the backup]</span>'
    return f'<span class="note">[{label}, not shown]</span>'


def _attachment_text(part: Attachment) -> str:
    if part.inline_text:
        return part.label
    if part.file is not None:
        return f"[Attachment: {part.label}]"
    if part.missing:
        return f"[Attachment missing from the backup: {part.label}]"
    return f"[{part.label}, not shown]"


def note_html(backup: Backup, note: Note, content: Content, from_file: str) -> bytes:
    """The note as a page; ``from_file`` is its path in the readable folder, for relative links."""
    if content.problem is not None:
        body = f'<p class="note">{escape(content.problem)}</p>'
    else:
        html = []
        for part in content.parts:
            if isinstance(part, str):
                html.append(escape(part))
            else:
                link = backup.link(from_file, STORE_DOMAIN, part.file) if part.file is not None else None
                html.append(_attachment_html(part, link))
        body = f"<article>{''.join(html)}</article>"
    return page(note.title, body, _subtitle(note))


def note_text(note: Note, content: Content) -> bytes:
    """The note as plain text: title, folder and dates, then the body."""
    head = [note.title]
    if note.folder:
        head.append(f"Folder: {' / '.join(note.folder)}")
    head += [f"{label}: {stamp(moment, _WHEN)}"
             for label, moment in (("Created", note.created), ("Modified", note.modified)) if moment is not None]
    if content.problem is not None:
        body = content.problem
    else:
        body = "".join(part if isinstance(part, str) else _attachment_text(part) for part in content.parts)
    return ("\n".join(head) + "\n\n" + body.rstrip("\n") + "\n").encode("utf-8")


class NotesRenderer:
    """The ``Notes`` folder: each note as ``<title>.html`` and ``<title>.txt``, in its folders."""

    folder = "Notes"

    def plan(self, backup: Backup) -> Plan | None:
        """Both databases' notes; a database that cannot be read raises, even beside a good one,
        so that the folder says so rather than silently showing only part of the notes."""
        notes: list[Note] = []
        for source in _SOURCES:
            opened = _open(backup, source)
            if opened is not None:
                conn, reader = opened
                try:
                    notes += reader.notes()
                finally:
                    conn.close()
        if not notes:
            return None
        folders = {(note.account, *note.folder[:depth]) for note in notes for depth in range(1, len(note.folder) + 1)}
        return Plan(_planned(notes), f"{plural(len(notes), 'note')} in {plural(len(folders), 'folder')}")

    def render(self, backup: Backup, key: str) -> bytes:
        """The page or text file of one note; its key names the database, the row, the kind and
        the path (links to attachments are relative to it)."""
        source, pk, kind, path = key.split("|", 3)
        opened = _open(backup, source)
        if opened is None:
            raise KeyError(f"no {source} notes database in this backup")
        conn, reader = opened
        try:
            found = reader.notes(only=int(pk))
            if not found:
                raise KeyError(f"no note {pk} in the {source} notes database")
            content = reader.content(backup, found[0])
        finally:
            conn.close()
        if kind == "html":
            return note_html(backup, found[0], content, f"{self.folder}/{path}")
        return note_text(found[0], content)


NOTES = NotesRenderer()

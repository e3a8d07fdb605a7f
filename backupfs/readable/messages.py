"""Messages: every iMessage and SMS conversation of ``sms.db``, as a page to read and a text to search.

The database is HomeDomain ``Library/SMS/sms.db`` (iOS 6 and later). ``message`` rows belong
to a conversation through ``chat_message_join`` (``chat`` holds its name and address), to a
sender through ``handle`` (a phone number or e-mail address) and to their files through
``message_attachment_join`` and ``attachment`` (``filename`` is ``~/Library/SMS/Attachments/..``,
kept in MediaDomain, in HomeDomain on some old backups). Schema generations, told apart by
the columns of ``message``:

* iOS 9-10: none of the iCloud-era columns (``ck_sync_state``, ``sort_id``, ``is_spam``...);
  ``date`` counts seconds since 2001-01-01;
* iOS 11-15: those columns are present; ``date`` counts nanoseconds since 2001-01-01;
* iOS 16-17: ``date_edited`` and ``date_retracted`` appear, and ``text`` is often NULL with
  the body only in ``attributedBody``, an NSArchiver "typedstream" read by
  :func:`attributed_text`.

Messages in no chat (older backups keep some) are grouped by their handle, and one-to-one
chats with the same address (an iMessage chat and an SMS chat with one number) make one
conversation, as the phone shows them. Each conversation becomes ``Messages/<Name>.html``,
bubbles with day separators, images inline and every attachment linked to its file in the
mount, and ``Messages/<Name>.txt``, the same as plain text. ``<Name>`` is the contact's name
from the address book, else the number or address; a group is named by its display name,
else by its participants ("Anna, Ben & 2 more").
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from threading import Lock
from time import localtime, strftime, struct_time

from backupfs.naming.harvest import _home_relative
from backupfs.readable.addressbook import Directory
from backupfs.readable.base import Backup, Plan, Planned, safe_name, unique_paths
from backupfs.readable.html import escape, media, page
from backupfs.readable.values import (
    APPLE_EPOCH,
    LATEST,
    column_or_null,
    columns_of,
    date_span,
    number_of,
    plural,
    readable_link,
    text_of,
)

DOMAIN = "HomeDomain"
SMS_DB = "Library/SMS/sms.db"
ATTACHMENT_DOMAINS = ("MediaDomain", "HomeDomain")  # where attachments live, most likely first
_NANOSECONDS = 1_000_000_000
# No iPhone message predates 2002: an earlier date (a count of seconds read as nanoseconds falls in
# 2001) is read in the other unit, else unknown.
_EARLIEST = APPLE_EPOCH + 365 * 86_400
# Columns of ``message`` that iOS 11 added when it moved dates to nanoseconds.
_IOS11_COLUMNS = frozenset({"CK_SYNC_STATE", "CK_RECORD_ID", "SR_CK_SYNC_STATE", "IS_CORRUPT", "REPLY_TO_GUID",
                            "SORT_ID", "IS_SPAM", "THREAD_ORIGINATOR_GUID", "DATE_EDITED", "DATE_RETRACTED"})
_GROUP_STYLE = 43  # chat.style of a group; 45 is a one-to-one chat
_RENAMED = 2  # message.item_type of "X named the conversation"
_MESSAGE_COLUMNS = ("service", "attributedBody", "item_type", "group_title", "date_retracted")
_OBJECT_REPLACEMENT = "\ufffc"  # stands in the text for each attachment
_FORMS = ("html", "txt")
# Messages in a chat; NULLs left out, as one NULL in a NOT IN list would make every message look in a chat.
_IN_A_CHAT = "SELECT message_id FROM chat_message_join WHERE message_id IS NOT NULL"
# The handle of a message in no chat, as plan groups it and render finds it again (NULL or junk is 0).
_HANDLE = "CAST(coalesce(m.handle_id, 0) AS INTEGER)"
# "HH:MM" of each minute of a day and ":SS" of each second of a minute, made once: formatting numbers
# costs more than the rest of a message's line. A leap second (60, 61) shows as 59, as datetime does.
_CLOCKS = tuple(f"{hour:02d}:{minute:02d}" for hour in range(24) for minute in range(60))
_SECONDS = tuple(f":{min(second, 59):02d}" for second in range(62))


# --- attributedBody --------------------------------------------------------------------------

def attributed_text(blob: object) -> str | None:
    """The text of an ``attributedBody`` blob (an NSAttributedString in NSArchiver's typedstream).

    iOS 16 and later often leave ``text`` NULL, so this is the only copy of the body. The
    string follows the ``NSString`` class name: a ``+`` type marker, a length (one byte, or
    0x81 and two bytes little-endian, or 0x82 and four), then UTF-8. Damaged blobs give
    what can be read: None without the marker, the available bytes when the length overruns.
    """
    if not isinstance(blob, bytes):
        return None
    marker = blob.find(b"NSString")
    if marker < 0:
        return None
    after = marker + len(b"NSString")
    plus = blob.find(b"+", after, after + 16)  # class version, reference and type tag come between
    if plus < 0:
        return None
    length, start = _typedstream_length(blob, plus + 1)
    if length is None:
        return None
    return blob[start:start + length].decode("utf-8", "replace")


def _typedstream_length(blob: bytes, at: int) -> tuple[int | None, int]:
    """(length, offset of the data) of the typedstream integer at ``at``; None when it is not one."""
    if at >= len(blob):
        return None, at
    tag = blob[at]
    if tag < 0x80:
        return tag, at + 1
    width = {0x81: 2, 0x82: 4}.get(tag)
    if width is None or at + 1 + width > len(blob):
        return None, at
    return int.from_bytes(blob[at + 1:at + 1 + width], "little"), at + 1 + width


# --- reading the database ----------------------------------------------------------------------

@dataclass(frozen=True)
class _Schema:
    """The columns of each table sms.db has, upper case; a missing table has none."""

    columns: dict[str, frozenset[str]]

    @classmethod
    def read(cls, conn: sqlite3.Connection) -> _Schema:
        """Raises ValueError when ``message`` or ``handle`` lack what every generation since iOS 6 has."""
        tables = ("message", "handle", "chat", "chat_message_join", "chat_handle_join", "attachment",
                  "message_attachment_join")
        columns = {table: frozenset(columns_of(conn, table)) for table in tables}
        missing = {"DATE", "TEXT", "HANDLE_ID", "IS_FROM_ME"} - columns["message"]
        if missing:
            lacks = ", ".join(sorted(missing)).lower()
            raise ValueError(f"sms.db: table message lacks {lacks} (iOS 5 or older, or damaged)")
        if "ID" not in columns["handle"]:
            raise ValueError("sms.db: no handle table with an id column")
        return cls(columns)

    @property
    def nanoseconds(self) -> bool:
        """Whether ``message.date`` counts nanoseconds (iOS 11+) rather than seconds (iOS 9-10)."""
        return bool(self.columns["message"] & _IOS11_COLUMNS)

    def has(self, *tables: str) -> bool:
        return all(self.columns[table] for table in tables)

    def column(self, alias: str, table: str, column: str) -> str:
        """``alias.column`` for a SELECT, or NULL when this generation (or damage) lacks it."""
        return column_or_null(self.columns[table], column, alias=alias)


def _unix(value: object, nanoseconds: bool) -> int | None:
    """Unix seconds of a ``message.date``; None when unset or implausible.

    The generation gives the unit; a value that only makes sense in the other unit (a
    half-migrated or hand-edited database) is read in that one. This runs for every message,
    so it does the sum and the checks of :func:`unix_time` itself rather than calling it twice.
    """
    number = float(value) if type(value) is int else number_of(value)  # a shortcut for the usual integer
    if number:  # NULL, junk and 0 are no date
        for scale in ((_NANOSECONDS, 1) if nanoseconds else (1, _NANOSECONDS)):
            unix = number / scale + APPLE_EPOCH
            if _EARLIEST <= unix <= LATEST:
                return int(unix)
    return None


def _handles(conn: sqlite3.Connection) -> dict[int, str]:
    return {rowid: text_of(address) for rowid, address in conn.execute("SELECT ROWID, id FROM handle")
            if isinstance(rowid, int) and address}


def _in(ids: Iterable[int]) -> str:
    """An SQL list of integers (ids come from the key or the database, never from text)."""
    return f"({', '.join(str(int(i)) for i in ids)})"


@dataclass
class _Chat:
    identifier: str
    display_name: str
    group: bool
    participants: list[str] = field(default_factory=list)


def _chats(conn: sqlite3.Connection, schema: _Schema, handles: dict[int, str],
           only: list[int] | None = None) -> dict[int, _Chat]:
    """Chats by ROWID with their participants' addresses; ``only`` limits to those ids."""
    if not schema.has("chat"):
        return {}
    where = "" if only is None else f" WHERE c.ROWID IN {_in(only)}"
    columns = ", ".join(schema.column("c", "chat", name) for name in ("chat_identifier", "display_name", "style"))
    chats = {rowid: _Chat(text_of(identifier), text_of(name).strip(), style == _GROUP_STYLE)
             for rowid, identifier, name, style in conn.execute(f"SELECT c.ROWID, {columns} FROM chat c{where}")}
    if schema.has("chat_handle_join"):
        where = "" if only is None else f" WHERE chat_id IN {_in(only)}"
        for chat_id, handle_id in conn.execute(
                f"SELECT chat_id, handle_id FROM chat_handle_join{where} ORDER BY chat_id, handle_id"):
            if chat_id in chats and handle_id in handles:
                chats[chat_id].participants.append(handles[handle_id])
    for chat in chats.values():
        chat.group = chat.group or len(chat.participants) > 1
    return chats


def _address_key(address: str) -> str:
    """What identifies an address across chats: the e-mail case-folded, the number without its punctuation."""
    if "@" in address:
        return address.strip().casefold()
    return re.sub(r"[\s\-().]", "", address).casefold()


@dataclass
class _Conversation:
    """One file pair: chats of one person (or one group chat), and the person's messages in no chat."""

    chat_ids: list[int] = field(default_factory=list)
    handle_ids: list[int] = field(default_factory=list)  # messages of these handles that are in no chat
    participants: list[str] = field(default_factory=list)
    display_name: str = ""
    identifier: str = ""
    count: int = 0
    last: int | None = None

    def add_chat(self, chat_id: int, chat: _Chat | None) -> None:
        self.chat_ids.append(chat_id)
        if chat is not None:
            self.participants += chat.participants or ([chat.identifier] if chat.identifier and not chat.group else [])
            self.display_name = self.display_name or chat.display_name
            self.identifier = self.identifier or chat.identifier

    def add_handle(self, handle_id: int, address: str | None) -> None:
        self.handle_ids.append(handle_id)
        if address:
            self.participants.append(address)

    def add_stats(self, count: int, last: int | None) -> None:
        self.count += count
        if last is not None and (self.last is None or last > self.last):
            self.last = last

    def key(self, form: str) -> str:
        return f"conv:{'+'.join(map(str, self.chat_ids))}:{'+'.join(map(str, self.handle_ids))}:{form}"


def _parse_key(key: str) -> tuple[list[int], list[int], str]:
    """(chat ids, handle ids, form) of a key made by :meth:`_Conversation.key`; ValueError otherwise."""
    kind, chats, handles, form = key.split(":")
    if kind != "conv" or form not in _FORMS:
        raise ValueError(f"not a Messages key: {key!r}")
    return [int(i) for i in chats.split("+") if i], [int(i) for i in handles.split("+") if i], form


def _merge_key(chat: _Chat | None, chat_id: int) -> str:
    """Chats with the same key are one conversation: one-to-one chats by address, groups each on their own."""
    if chat is not None and not chat.group:
        address = chat.participants[0] if chat.participants else chat.identifier
        if address:
            return f"address:{_address_key(address)}"
    return f"chat:{chat_id}"


def _conversations(conn: sqlite3.Connection) -> list[_Conversation]:
    """Every conversation holding at least one message, with its message count and last date."""
    schema = _Schema.read(conn)
    handles = _handles(conn)
    chats = _chats(conn, schema, handles)
    grouped: dict[str, _Conversation] = {}
    if schema.has("chat_message_join"):
        for chat_id, count, last in conn.execute(
                "SELECT j.chat_id, count(*), max(m.date) FROM chat_message_join j "
                "JOIN message m ON m.ROWID = j.message_id GROUP BY j.chat_id"):
            if not isinstance(chat_id, int):  # a damaged join row: its messages are in no chat that can be named
                continue
            conversation = grouped.setdefault(_merge_key(chats.get(chat_id), chat_id), _Conversation())
            conversation.add_chat(chat_id, chats.get(chat_id))
            conversation.add_stats(count, _unix(last, schema.nanoseconds))
    outside = f" WHERE m.ROWID NOT IN ({_IN_A_CHAT})" if schema.has("chat_message_join") else ""
    for handle_id, count, last in conn.execute(
            f"SELECT {_HANDLE} AS sender, count(*), max(m.date) FROM message m{outside} GROUP BY sender"):
        address = handles.get(handle_id)
        key = f"address:{_address_key(address)}" if address else f"handle:{handle_id}"
        conversation = grouped.setdefault(key, _Conversation())
        conversation.add_handle(handle_id, address)
        conversation.add_stats(count, _unix(last, schema.nanoseconds))
    return list(grouped.values())


def _conversation(conn: sqlite3.Connection, schema: _Schema, handles: dict[int, str], chat_ids: list[int],
                  handle_ids: list[int]) -> _Conversation:
    """The conversation of a key, named the same way :func:`_conversations` did."""
    chats = _chats(conn, schema, handles, chat_ids)
    conversation = _Conversation()
    for chat_id in chat_ids:
        conversation.add_chat(chat_id, chats.get(chat_id))
    for handle_id in handle_ids:
        conversation.add_handle(handle_id, handles.get(handle_id))
    return conversation


@dataclass
class _Attachment:
    name: str
    mime: str
    size: int | None
    path: str | None  # relative to the home folder ("Library/SMS/Attachments/..."), exact bytes as surrogates


@dataclass(slots=True)
class _Message:
    rowid: int
    when: int | None
    from_me: bool
    sender: str  # the handle's address; "" when unknown
    service: str
    body: str
    note: str  # shown instead of an empty body: "(no text)", or "(unsent)" for a message taken back (iOS 16+)
    attachments: Sequence[_Attachment]


def _message_ids(schema: _Schema, chat_ids: list[int], handle_ids: list[int]) -> list[str]:
    """Queries of the ROWIDs of a conversation's messages: those in its chats, and its people's in no chat."""
    queries = []
    if chat_ids and schema.has("chat_message_join"):
        queries.append(f"SELECT message_id FROM chat_message_join WHERE chat_id IN {_in(chat_ids)}")
    if handle_ids:
        outside = f" AND m.ROWID NOT IN ({_IN_A_CHAT})" if schema.has("chat_message_join") else ""
        queries.append(f"SELECT m.ROWID FROM message m WHERE {_HANDLE} IN {_in(handle_ids)}{outside}")
    return queries


def _messages(conn: sqlite3.Connection, schema: _Schema, handles: dict[int, str], chat_ids: list[int],
              handle_ids: list[int]) -> list[_Message]:
    """The conversation's messages, oldest first.

    A conversation may hold tens of thousands of messages and each form reads them all, so the
    query gives one row per message with only the columns shown: the sender comes from
    ``handles`` and the files from :func:`_attachments`, rather than from joins that repeat rows.
    """
    ids = _message_ids(schema, chat_ids, handle_ids)
    if not ids:
        return []
    files = _attachments(conn, schema, ids)
    nanoseconds = schema.nanoseconds
    columns = ", ".join(schema.column("m", "message", c) for c in _MESSAGE_COLUMNS)
    messages = []
    for rowid, date, from_me, handle_id, text, service, attributed, item_type, group_title, retracted in _strict_first(
            conn, f"SELECT m.ROWID, m.date, m.is_from_me, m.handle_id, m.text, {columns} "
            f"FROM message m WHERE {' OR '.join(f'm.ROWID IN ({query})' for query in ids)} ORDER BY m.date, m.ROWID"):
        body = (text_of(text) or attributed_text(attributed) or "").replace(_OBJECT_REPLACEMENT, "").strip()
        if not body and item_type == _RENAMED and group_title:
            body = f"named the conversation “{text_of(group_title)}”"
        messages.append(_Message(rowid, _unix(date, nanoseconds), from_me == 1, handles.get(handle_id, ""),
                                 text_of(service), body, "(unsent)" if retracted else "(no text)",
                                 files.get(rowid, ())))
    return messages


def _strict_first(conn: sqlite3.Connection, query: str) -> list[tuple]:
    """The rows of a query, text decoded by SQLite's own UTF-8 reader when it is valid.

    The connection's lenient text factory is a Python call for every TEXT value, a good part of
    the cost of reading a big conversation; sms.db is nearly always valid UTF-8, so the rows are
    read strictly and read again leniently only when one is not (the same text either way).
    """
    lenient = conn.text_factory
    conn.text_factory = str
    try:
        return conn.execute(query).fetchall()
    except sqlite3.OperationalError:  # "Could not decode to UTF-8 column ..."
        conn.text_factory = lenient
        return conn.execute(query).fetchall()
    finally:
        conn.text_factory = lenient


def _attachments(conn: sqlite3.Connection, schema: _Schema, ids: list[str]) -> dict[int, list[_Attachment]]:
    """The files of the messages whose ROWIDs ``ids`` select, by message ROWID, in the order they were attached.

    The joins go from ``chat_message_join`` straight to ``message_attachment_join``: reading the
    (large) message table again for a few files would cost more than the messages themselves.
    """
    if not schema.has("attachment", "message_attachment_join"):
        return {}
    columns = ", ".join(schema.column("a", "attachment", c) for c in ("mime_type", "transfer_name", "total_bytes"))
    files: dict[int, list[_Attachment]] = {}
    for message_id, filename, mime, transfer_name, total_bytes in conn.execute(
            f"SELECT j.message_id, CAST(a.filename AS BLOB), {columns} FROM message_attachment_join j "
            "JOIN attachment a ON a.ROWID = j.attachment_id "
            f"WHERE {' OR '.join(f'j.message_id IN ({query})' for query in ids)} "
            "ORDER BY j.message_id, j.attachment_id"):
        files.setdefault(message_id, []).append(_attachment(filename, mime, transfer_name, total_bytes))
    return files


def _attachment(filename: object, mime: object, transfer_name: object, total_bytes: object) -> _Attachment:
    path = filename.decode("utf-8", "surrogateescape") if isinstance(filename, bytes) else None
    relative = None
    if path:
        relative = path if path.startswith("Library/") else _home_relative(path)
    name = text_of(transfer_name) or (path or "").rsplit("/", 1)[-1].encode("utf-8", "replace").decode() or "attachment"
    size = total_bytes if isinstance(total_bytes, int) and total_bytes > 0 else None
    return _Attachment(name, text_of(mime).lower(), size, relative)


def _read(conn: sqlite3.Connection, chat_ids: list[int], handle_ids: list[int]) -> tuple[_Conversation, list[_Message]]:
    """The conversation of a key and its messages."""
    schema = _Schema.read(conn)
    handles = _handles(conn)
    return (_conversation(conn, schema, handles, chat_ids, handle_ids),
            _messages(conn, schema, handles, chat_ids, handle_ids))


class _LastRead:
    """The conversation read last, kept for the other form of the pair.

    The two forms of a conversation are rendered one after the other (the mount measures the
    files in order, a file manager lists them together) and reading the messages costs as much
    as writing them, so the second form reuses what the first read from the same database file:
    same path, inode, size and modification time. Only the last conversation is kept.
    """

    def __init__(self) -> None:
        self._lock = Lock()
        self._last: tuple[tuple, tuple[_Conversation, list[_Message]]] | None = None  # (key, what was read)

    def read(self, conn: sqlite3.Connection, chat_ids: list[int],
             handle_ids: list[int]) -> tuple[_Conversation, list[_Message]]:
        file = _file_identity(conn)
        if file is None:
            return _read(conn, chat_ids, handle_ids)
        key = (file, tuple(chat_ids), tuple(handle_ids))
        with self._lock:
            if self._last is not None and self._last[0] == key:
                return self._last[1]
        read = _read(conn, chat_ids, handle_ids)
        with self._lock:
            self._last = key, read
        return read


def _file_identity(conn: sqlite3.Connection) -> tuple[str, int, int, int, int] | None:
    """(path, device, inode, size, modification time) of a connection's database; None when it is no file."""
    path = next((text_of(file) for _, name, file in conn.execute("PRAGMA database_list") if name == "main"), "")
    try:
        status = os.stat(path) if path else None
    except OSError:
        return None
    return None if status is None else (path, status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


_LAST_READ = _LastRead()


# --- presenting --------------------------------------------------------------------------------

class _Names:
    """Names of addresses from the address book, each looked up once per file."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self._known: dict[str, str | None] = {}

    def known(self, address: str) -> str | None:
        if address not in self._known:
            self._known[address] = self._directory.name_for(address)
        return self._known[address]

    def __call__(self, address: str) -> str:
        return self.known(address) or address or "Unknown"


def _title(conversation: _Conversation, names: _Names) -> str:
    """As the phone names the conversation: its group name, else its people ("Anna, Ben & 2 more")."""
    if conversation.display_name:
        return conversation.display_name
    people = _people(conversation, names)
    if not people:
        return conversation.identifier or "Unknown"
    if len(people) <= 3:
        return " & ".join([", ".join(people[:-1]), people[-1]]) if len(people) > 1 else people[0]
    return f"{people[0]}, {people[1]} & {len(people) - 2} more"


def _people(conversation: _Conversation, names: _Names) -> list[str]:
    """The participants' names, one per address, named contacts first, then alphabetically."""
    unique = {_address_key(address): address for address in conversation.participants}
    ordered = sorted(unique.values(), key=lambda address: (names.known(address) is None, names(address).casefold()))
    return [names(address) for address in ordered]


def _size(total: int | None) -> str:
    if total is None:
        return ""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if total >= scale:
            return f"{total / scale:.1f} {unit}"
    return f"{total} bytes"


class _Links:
    """Relative links from a conversation file to attachments, each resolved once."""

    def __init__(self, backup: Backup, from_file: str) -> None:
        self._backup = backup
        self._from = from_file
        self._found: dict[str, str | None] = {}

    def __call__(self, relative: str | None) -> str | None:
        if relative is None:
            return None
        if relative not in self._found:
            self._found[relative] = next((self._backup.link(self._from, domain, relative)
                                          for domain in ATTACHMENT_DOMAINS if self._backup.has(domain, relative)), None)
        return self._found[relative]


def _subtitle(conversation: _Conversation, names: _Names, messages: list[_Message]) -> str:
    unique = {_address_key(address): address for address in conversation.participants}
    who = ", ".join(f"{names(a)} ({a})" if names.known(a) else a for a in unique.values())
    span = date_span(m.when for m in messages)
    return " · ".join(part for part in (who, plural(len(messages), "message"), span) if part)


def _html_attachment(attachment: _Attachment, link: str | None) -> str:
    label = " ".join(part for part in (attachment.name, f"({_size(attachment.size)})" if attachment.size else "") if part)
    if link is None:
        return f'<span class="note">📎 {escape(label)}, not in the backup</span>'
    # The name the phone gave it says what it is; the file in the backup has the same extension.
    name = attachment.name if "." in attachment.name else readable_link(link).rpartition("/")[2]
    return media(link, name, label)


class _Clock:
    """Local dates and times of moments, as ``datetime.fromtimestamp(unix).astimezone()`` gives them, but fast.

    A big conversation shows tens of thousands of times: each is read with ``time.localtime`` (the
    same C call that datetime makes, exact across daylight saving time, without building two
    datetimes), and the texts of each day and of each offset from UTC are made once.
    """

    def __init__(self) -> None:
        self._days: dict[tuple[int, int, int], tuple[str, str]] = {}
        self._zones: dict[int, str] = {}

    def page(self, unix: int) -> tuple[str, str]:
        """("Thursday 14 March 2024", '<time datetime="2024-03-14T09:05:00+01:00">09:05</time>') of Unix seconds."""
        moment = localtime(unix)
        date, day = self._day(moment)
        if (zone := self._zones.get(moment.tm_gmtoff)) is None:
            zone = self._zones[moment.tm_gmtoff] = _zone_text(unix)
        clock = _CLOCKS[moment.tm_hour * 60 + moment.tm_min]
        return day, f'<time datetime="{date}T{clock}{_SECONDS[moment.tm_sec]}{zone}">{clock}</time>'

    def line(self, unix: int) -> str:
        """ "2024-03-14 09:05" of Unix seconds."""
        moment = localtime(unix)
        return f"{self._day(moment)[0]} {_CLOCKS[moment.tm_hour * 60 + moment.tm_min]}"

    def _day(self, moment: struct_time) -> tuple[str, str]:
        """(ISO date, the day as a page heads it) of a moment's local day."""
        if (day := self._days.get(moment[:3])) is None:
            day = self._days[moment[:3]] = strftime("%Y-%m-%d", moment), strftime("%A %d %B %Y", moment)
        return day


def _zone_text(unix: int) -> str:
    """The local offset from UTC at a moment as ISO 8601 ends a time with it ("+01:00", "-04:00")."""
    return datetime.fromtimestamp(unix).astimezone().isoformat()[len("2001-01-01T00:00:00"):]


def _html_frame(message: _Message, names: _Names) -> tuple[str, str, str]:
    """The markup of a message before its ROWID, between it and the bubble, and after its time.

    It depends only on who sent the message and by which service, so a page builds it once per sender.
    """
    classes = "msg me" if message.from_me else "msg"
    if message.from_me and message.service.upper() == "SMS":
        classes += " sms"
    sender = "Me" if message.from_me else names(message.sender)
    service = f" · {escape(message.service)}" if message.service else ""
    return (f'<div class="{classes}" id="m', f'"><div class="who">{escape(sender)}</div><div class="bubble">',
            f"{service}</div></div>")


def _html_bubble(message: _Message, links: _Links) -> str:
    parts = [escape(message.body)] if message.body else []
    parts += [_html_attachment(a, links(a.path)) for a in message.attachments]
    return "\n".join(parts) or f'<span class="note">{message.note}</span>'


def _html(title: str, subtitle: str, messages: list[_Message], names: _Names, links: _Links) -> bytes:
    clock, frames = _Clock(), {}
    body, day = [], None
    for message in messages:
        label, when = ("Date unknown", "time unknown") if message.when is None else clock.page(message.when)
        if label != day:
            day = label
            body.append(f'<div class="day">{escape(day)}</div>')
        sender = (message.from_me, message.sender, message.service)
        if (frame := frames.get(sender)) is None:
            frame = frames[sender] = _html_frame(message, names)
        # Most messages are text alone: that bubble is made here, the others by _html_bubble.
        bubble = escape(message.body) if message.body and not message.attachments else _html_bubble(message, links)
        body.append(f'{frame[0]}{message.rowid}{frame[1]}{bubble}</div><div class="meta">{when}{frame[2]}')
    return page(title, "\n".join(body), subtitle)


def _text_attachment(attachment: _Attachment, link: str | None) -> str:
    size = f", {_size(attachment.size)}" if attachment.size else ""
    where = f": {readable_link(link)}" if link else ", not in the backup"
    return f"[attachment {attachment.name}{size}{where}]"


def _plain(title: str, subtitle: str, messages: list[_Message], names: _Names, links: _Links) -> bytes:
    clock, senders = _Clock(), {}
    lines = [title, subtitle, ""]
    for message in messages:
        when = "date unknown" if message.when is None else clock.line(message.when)
        sender = (message.from_me, message.sender, message.service)
        if (who := senders.get(sender)) is None:
            name = "Me" if message.from_me else names(message.sender)
            who = senders[sender] = f"  {name} ({message.service})" if message.service else f"  {name}"
        lines.append(f"{when}{who}")
        if message.body:
            lines.append("    " + "\n    ".join(message.body.splitlines()))
        if message.attachments:
            lines += [f"    {_text_attachment(a, links(a.path))}" for a in message.attachments]
        elif not message.body:
            lines.append(f"    {message.note}")
        lines.append("")
    return "\n".join(lines).encode("utf-8", "replace")


_WRITERS: dict[str, Callable[[str, str, list[_Message], _Names, _Links], bytes]] = {"html": _html, "txt": _plain}


# --- the renderer ------------------------------------------------------------------------------

class MessagesRenderer:
    """iMessage and SMS conversations of ``sms.db``, one ``.html`` and one ``.txt`` each."""

    folder = "Messages"

    def plan(self, backup: Backup) -> Plan | None:
        conn = backup.database(DOMAIN, SMS_DB)
        if conn is None:
            return None
        try:
            conversations = _conversations(conn)
        finally:
            conn.close()
        if not conversations:
            return None
        names = _Names(Directory.of(backup))
        # Sorted so that, of two conversations with one title, the older chat keeps the plain name.
        titled = sorted(((_title(c, names), c) for c in conversations),
                        key=lambda pair: (pair[0].casefold(), pair[1].chat_ids, pair[1].handle_ids))
        files = []
        paths = unique_paths(f"{safe_name(title, 'Conversation')}.html" for title, _ in titled)
        for path, (_, conversation) in zip(paths, titled, strict=True):
            files += [Planned(path, key=conversation.key("html"), mtime=conversation.last),
                      Planned(f"{path[:-len('.html')]}.txt", key=conversation.key("txt"), mtime=conversation.last)]
        total = sum(c.count for c in conversations)
        return Plan(files, f"{plural(len(conversations), 'conversation')}, {plural(total, 'message')}")

    def render(self, backup: Backup, key: str) -> bytes:
        chat_ids, handle_ids, form = _parse_key(key)
        conn = backup.database(DOMAIN, SMS_DB)
        if conn is None:
            raise KeyError("the backup no longer holds sms.db")
        try:
            conversation, messages = _LAST_READ.read(conn, chat_ids, handle_ids)
        finally:
            conn.close()
        names = _Names(Directory.of(backup))
        # Links depend only on the folder of the file they are written in, the same for every conversation.
        links = _Links(backup, f"{self.folder}/conversation.{form}")
        return _WRITERS[form](_title(conversation, names), _subtitle(conversation, names, messages),
                              messages, names, links)


MESSAGES = MessagesRenderer()


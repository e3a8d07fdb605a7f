"""WhatsApp: every chat of ``ChatStorage.sqlite``, as a page to read and a text to search.

WhatsApp keeps its chats at the top of its shared app group
(AppDomainGroup-group.net.whatsapp.WhatsApp.shared ``ChatStorage.sqlite``), a Core Data store:

* ``ZWACHATSESSION``, one row per chat: ``ZCONTACTJID`` ("447700900123@s.whatsapp.net", a
  group's ends in "@g.us"), ``ZPARTNERNAME`` (the name WhatsApp shows, a group's subject),
  ``ZSESSIONTYPE`` (1 for a group);
* ``ZWAMESSAGE``: ``ZCHATSESSION``, ``ZISFROMME``, ``ZTEXT``, ``ZMESSAGEDATE`` (seconds since
  2001-01-01), ``ZMESSAGETYPE`` (0 text, 1 image, 2 video, 3 audio, 4 contact card,
  5 location, 6 group event, 8 document, 14 deleted, 15 sticker), ``ZFROMJID``,
  ``ZPUSHNAME`` (the sender's own WhatsApp name), ``ZMEDIAITEM``;
* ``ZWAMEDIAITEM``: ``ZMEDIALOCALPATH`` ("Media/<jid>/4/1/<uuid>.jpg"), ``ZTITLE`` (a
  caption, or a document's name), ``ZVCARDNAME``, ``ZLATITUDE``, ``ZLONGITUDE``.

Two generations, told apart by their columns and tables:

* older (WhatsApp 2.1x, iOS 7-9 era): ``ZWAMESSAGE`` has no ``ZGROUPMEMBER`` column and there
  is no ``ZWAGROUPMEMBER`` table: in a group, ``ZFROMJID`` is the sender and ``ZPUSHNAME``
  their name; media paths are relative to the top of the container ("Media/...");
* current (WhatsApp 2.2x, iOS 12-17): ``ZWAMESSAGE.ZGROUPMEMBER`` points to ``ZWAGROUPMEMBER``
  (``ZMEMBERJID``, ``ZCONTACTNAME``), while ``ZFROMJID`` holds the group; senders' own names
  are in ``ZWAPROFILEPUSHNAME`` (``ZJID``, ``ZPUSHNAME``); media sit under ``Message/``.

Each chat with messages becomes ``WhatsApp/<Name>.html`` (bubbles by day, images inline,
every media file linked to the backup's own file, a missing one named and marked so) and
``WhatsApp/<Name>.txt``, oldest message first. ``<Name>`` is the chat's name in WhatsApp,
else the address book's name for its number, else the number. Group events without text
("Anna joined") carry nothing readable and are left out, of the count too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass

from backupfs.naming.harvest import WHATSAPP_SHARED, _whatsapp_paths
from backupfs.readable.addressbook import Directory
from backupfs.readable.base import Backup, Plan, Planned, safe_name, unique_paths
from backupfs.readable.html import escape, media, page
from backupfs.readable.values import (
    APPLE_EPOCH,
    column_or_null,
    columns_of,
    date_span,
    local_time,
    mtime_of,
    plural,
    readable_link,
    stamp,
    text_of,
    unix_time,
)

DOMAIN = WHATSAPP_SHARED
DATABASE = "ChatStorage.sqlite"
_GROUP_SESSION, _GROUP_EVENT, _CONTACT, _LOCATION, _DELETED = 1, 6, 4, 5, 14
_FORMS = ("html", "txt")


# --- reading the database ----------------------------------------------------------------------

def _phone(jid: str) -> str:
    """"447700900123@s.whatsapp.net" -> "+447700900123"; "" for a group or anything else."""
    user, _, server = jid.partition("@")
    return f"+{user}" if server == "s.whatsapp.net" and user.isdigit() else ""


@dataclass(frozen=True)
class _Schema:
    """The columns of the tables this renderer reads, upper case; empty for a missing table."""

    tables: dict[str, set[str]]

    @classmethod
    def read(cls, conn: sqlite3.Connection) -> _Schema:
        names = ("ZWACHATSESSION", "ZWAMESSAGE", "ZWAMEDIAITEM", "ZWAGROUPMEMBER", "ZWAPROFILEPUSHNAME")
        tables = {name: columns_of(conn, name) for name in names}
        needed = {"ZWACHATSESSION": {"Z_PK", "ZCONTACTJID"}, "ZWAMESSAGE": {"ZCHATSESSION", "ZMESSAGEDATE", "ZTEXT"}}
        for table, columns in needed.items():
            if not columns <= tables[table]:
                raise ValueError(f"{DATABASE}: {table} lacks {', '.join(sorted(columns - tables[table]))}")
        return cls(tables)

    def column(self, alias: str, table: str, column: str) -> str:
        """``alias.column`` when the table has it, else NULL: every generation is read by one query."""
        return column_or_null(self.tables[table], column, alias=alias)

    def shown(self) -> str:
        """The SQL condition of a message worth showing: anything but a group event without text."""
        kind = self.column("m", "ZWAMESSAGE", "ZMESSAGETYPE")
        return f"NOT ({kind} IS {_GROUP_EVENT} AND COALESCE(m.ZTEXT, '') = '')"

    def media_join(self) -> str:
        """How a message finds its media item: ZMEDIAITEM, or on some versions only ZWAMEDIAITEM.ZMESSAGE."""
        if "ZMEDIALOCALPATH" not in self.tables["ZWAMEDIAITEM"]:
            return ""
        if "ZMEDIAITEM" in self.tables["ZWAMESSAGE"]:
            return "LEFT JOIN ZWAMEDIAITEM i ON i.Z_PK = m.ZMEDIAITEM"
        if "ZMESSAGE" in self.tables["ZWAMEDIAITEM"]:
            return "LEFT JOIN ZWAMEDIAITEM i ON i.ZMESSAGE = m.Z_PK"
        return ""

    def member_join(self) -> str:
        if "ZGROUPMEMBER" in self.tables["ZWAMESSAGE"] and "ZMEMBERJID" in self.tables["ZWAGROUPMEMBER"]:
            return "LEFT JOIN ZWAGROUPMEMBER g ON g.Z_PK = m.ZGROUPMEMBER"
        return ""


@dataclass(frozen=True)
class _Chat:
    pk: int
    jid: str
    partner: str
    group: bool
    count: int
    last: float | None


@dataclass(frozen=True)
class _Message:
    pk: int
    when: float | None
    from_me: bool
    text: str
    kind: int | None
    sender_jid: str  # the group member, or "" in a one-to-one chat
    member_name: str  # the group member's name as WhatsApp kept it
    push_name: str
    media: str  # ZMEDIALOCALPATH
    title: str  # caption, or a document's name
    vcard_name: str
    location: tuple[float, float] | None


def _open(backup: Backup) -> sqlite3.Connection | None:
    return backup.database(DOMAIN, DATABASE)


def _chats(conn: sqlite3.Connection, schema: _Schema) -> list[_Chat]:
    """Chats with at least one message worth showing, in the order WhatsApp created them."""
    partner = schema.column("s", "ZWACHATSESSION", "ZPARTNERNAME")
    kind = schema.column("s", "ZWACHATSESSION", "ZSESSIONTYPE")
    rows = conn.execute(
        f"SELECT s.Z_PK, s.ZCONTACTJID, {partner}, {kind}, COUNT(*), MAX(m.ZMESSAGEDATE) "
        f"FROM ZWACHATSESSION s JOIN ZWAMESSAGE m ON m.ZCHATSESSION = s.Z_PK WHERE {schema.shown()} "
        "GROUP BY s.Z_PK ORDER BY s.Z_PK")
    chats = []
    for pk, jid, name, session_type, count, last in rows:
        jid_text = text_of(jid)
        group = session_type == _GROUP_SESSION or jid_text.endswith("@g.us")
        chats.append(_Chat(pk, jid_text, text_of(name).strip(), group, count, unix_time(last, APPLE_EPOCH)))
    return chats


def _messages(conn: sqlite3.Connection, schema: _Schema, chat: _Chat) -> list[_Message]:
    """The chat's messages worth showing, oldest first (undated ones, which sort first, at the top)."""
    media = schema.media_join()
    members = schema.member_join()

    def item(column: str) -> str:
        return schema.column("i", "ZWAMEDIAITEM", column) if media else "NULL"

    def member(column: str) -> str:
        return schema.column("g", "ZWAGROUPMEMBER", column) if members else "NULL"

    message = [schema.column("m", "ZWAMESSAGE", c) for c in ("ZISFROMME", "ZMESSAGETYPE", "ZFROMJID", "ZPUSHNAME")]
    extra = [item(c) for c in ("ZMEDIALOCALPATH", "ZTITLE", "ZVCARDNAME", "ZLATITUDE", "ZLONGITUDE")]
    extra += [member(c) for c in ("ZMEMBERJID", "ZCONTACTNAME")]
    rows = conn.execute(
        f"SELECT m.Z_PK, m.ZMESSAGEDATE, m.ZTEXT, {', '.join(message + extra)} FROM ZWAMESSAGE m {media} {members} "
        f"WHERE m.ZCHATSESSION = ? AND {schema.shown()} ORDER BY m.ZMESSAGEDATE, m.Z_PK", (chat.pk,))
    return [_message(row, chat) for row in rows]


def _message(row: tuple, chat: _Chat) -> _Message:
    (pk, date, text, from_me, kind, from_jid, push_name, path, title, vcard, latitude, longitude,
     member_jid, member_name) = row
    sender = text_of(member_jid) or text_of(from_jid) if chat.group else ""
    location = ((latitude, longitude) if isinstance(latitude, (int, float)) and isinstance(longitude, (int, float))
                and (latitude or longitude) else None)
    return _Message(pk, unix_time(date, APPLE_EPOCH), from_me in (1, "1", b"1"), text_of(text),
                    kind if isinstance(kind, int) else None, "" if sender == chat.jid else sender,
                    text_of(member_name).strip(), text_of(push_name).strip(), text_of(path), text_of(title).strip(),
                    text_of(vcard).strip(), location)


def _push_names(conn: sqlite3.Connection, schema: _Schema) -> dict[str, str]:
    """Senders' own WhatsApp names by JID (current versions); an unreadable table only loses these names."""
    if not {"ZJID", "ZPUSHNAME"} <= schema.tables["ZWAPROFILEPUSHNAME"]:
        return {}
    try:
        rows = conn.execute("SELECT ZJID, ZPUSHNAME FROM ZWAPROFILEPUSHNAME").fetchall()
    except sqlite3.Error:
        return {}
    return {text_of(jid): text_of(name).strip() for jid, name in rows if text_of(name).strip()}


# --- names ---------------------------------------------------------------------------------------

def _chat_name(chat: _Chat, directory: Directory) -> str:
    if chat.partner:
        return chat.partner
    if chat.jid == "status@broadcast":
        return "Status updates"
    phone = _phone(chat.jid)
    return (directory.name_for(phone) if phone else None) or phone or chat.jid or f"Chat {chat.pk}"


class _Senders:
    """Who sent an incoming message: the chat itself one-to-one; in a group, the member's
    name as WhatsApp kept it, else the address book's, else their own WhatsApp name, else the number."""

    def __init__(self, directory: Directory, push_names: dict[str, str]) -> None:
        self._directory = directory
        self._push_names = push_names

    def __call__(self, message: _Message, chat_name: str) -> str:
        if message.from_me:
            return "Me"
        if not message.sender_jid:
            return chat_name
        phone = _phone(message.sender_jid)
        return (message.member_name or (self._directory.name_for(phone) if phone else None)
                or self._push_names.get(message.sender_jid) or message.push_name or phone or message.sender_jid)


def _planned_chats(conn: sqlite3.Connection, schema: _Schema, directory: Directory) -> list[tuple[_Chat, str, str]]:
    """(chat, name, path of its page) for every chat, paths unique in the folder."""
    chats = _chats(conn, schema)
    names = [_chat_name(chat, directory) for chat in chats]
    paths = unique_paths(f"{safe_name(name, 'Chat')}.html" for name in names)
    return list(zip(chats, names, paths))


# --- writing -------------------------------------------------------------------------------------

def _media_file(backup: Backup, path: str) -> str | None:
    """Where the backup holds a ZMEDIALOCALPATH: under ``Message/`` (current), else as it is (older)."""
    return next((candidate for candidate in _whatsapp_paths(path) if backup.has(DOMAIN, candidate)), None)


def _file_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _note(message: _Message) -> str:
    """What a message without text or media stands for, in plain text."""
    if message.kind == _CONTACT or message.vcard_name:
        return f"Contact card: {message.vcard_name or 'no name'}"
    if message.location is not None:
        place = f"{message.title}, " if message.title else ""
        return f"Location: {place}{message.location[0]:.6f}, {message.location[1]:.6f}"
    if message.kind == _DELETED:
        return "This message was deleted."
    return "" if message.text or message.media else "(a message without text)"


def _caption(message: _Message) -> str:
    """A media item's title (a caption, a document's name), when it says more than the text."""
    if not message.media or not message.title or message.title == message.text:
        return ""
    return message.title


class _Writer:
    """Writes one chat as a page and as text; media resolved through the backup once per file."""

    def __init__(self, backup: Backup, from_file: str, senders: _Senders, chat_name: str) -> None:
        self._backup = backup
        self._from = from_file
        self._senders = senders
        self._name = chat_name

    def html_media(self, path: str) -> str:
        name = escape(_file_name(path))
        found = _media_file(self._backup, path)
        link = None if found is None else self._backup.link(self._from, DOMAIN, found)
        if link is None:
            return f'<span class="note">📎 {name}, not in the backup</span>'
        return media(link, _file_name(path))

    def html_message(self, message: _Message) -> str:
        parts = [escape(part) for part in (message.text, _caption(message), _note(message)) if part]
        if message.media:
            parts.append(self.html_media(message.media))
        bubble = "\n".join(parts)
        local = local_time(message.when)
        when = f'<time datetime="{local.isoformat()}">{local:%H:%M}</time>' if local is not None else "time unknown"
        return (f'<div class="{"msg me" if message.from_me else "msg"}" id="m{message.pk}">'
                f'<div class="who">{escape(self._senders(message, self._name))}</div>'
                f'<div class="bubble">{bubble}</div><div class="meta">{when}</div></div>')

    def html(self, messages: list[_Message], subtitle: str) -> bytes:
        body, day = [], None
        for message in messages:
            if _day(message.when) != day:
                day = _day(message.when)
                body.append(f'<div class="day">{escape(day)}</div>')
            body.append(self.html_message(message))
        return page(self._name, "\n".join(body), subtitle)

    def text_media(self, path: str) -> str:
        found = _media_file(self._backup, path)
        link = None if found is None else self._backup.link(self._from, DOMAIN, found)
        where = f": {readable_link(link)}" if link is not None else ", not in the backup"
        return f"[attachment {_file_name(path)}{where}]"

    def txt(self, messages: list[_Message], subtitle: str) -> bytes:
        lines = [self._name, subtitle, ""]
        for message in messages:
            when = stamp(message.when, "%Y-%m-%d %H:%M", "date unknown")
            lines.append(f"{when}  {self._senders(message, self._name)}")
            for part in (message.text, _caption(message), _note(message)):
                lines += [f"    {line}" for line in part.splitlines()]
            if message.media:
                lines.append(f"    {self.text_media(message.media)}")
            lines.append("")
        return "\n".join(lines).encode("utf-8", "replace")


def _day(unix: float | None) -> str:
    return stamp(unix, "%A %d %B %Y", "Date unknown")


def _subtitle(chat: _Chat, messages: list[_Message]) -> str:
    kind = "WhatsApp group" if chat.group else f"WhatsApp chat{f' with {_phone(chat.jid)}' if _phone(chat.jid) else ''}"
    span = date_span(m.when for m in messages)
    return " · ".join(part for part in (kind, plural(len(messages), "message"), span) if part)


_WRITERS: dict[str, Callable[[_Writer, list[_Message], str], bytes]] = {"html": _Writer.html, "txt": _Writer.txt}


# --- the renderer ----------------------------------------------------------------------------------

class WhatsAppRenderer:
    """WhatsApp chats of ``ChatStorage.sqlite``, one ``.html`` and one ``.txt`` each."""

    folder = "WhatsApp"

    def plan(self, backup: Backup) -> Plan | None:
        conn = _open(backup)
        if conn is None:
            return None
        with closing(conn):
            planned = _planned_chats(conn, _Schema.read(conn), Directory.of(backup))
        if not planned:
            return None
        files = []
        for chat, _, path in planned:
            mtime = mtime_of(chat.last)
            files += [Planned(path, key=f"chat:{chat.pk}:html", mtime=mtime),
                      Planned(f"{path[:-len('.html')]}.txt", key=f"chat:{chat.pk}:txt", mtime=mtime)]
        total = sum(chat.count for chat, _, _ in planned)
        return Plan(files, f"{plural(len(planned), 'chat')}, {plural(total, 'message')}")

    def render(self, backup: Backup, key: str) -> bytes:
        kind, _, rest = key.partition(":")
        pk, _, form = rest.partition(":")
        if kind != "chat" or not pk.isdigit() or form not in _FORMS:
            raise KeyError(key)
        conn = _open(backup)
        if conn is None:
            raise KeyError("the backup no longer holds ChatStorage.sqlite")
        directory = Directory.of(backup)
        with closing(conn):
            schema = _Schema.read(conn)
            found = [(chat, name) for chat, name, _ in _planned_chats(conn, schema, directory) if chat.pk == int(pk)]
            if not found:
                raise KeyError(key)
            chat, name = found[0]
            messages = _messages(conn, schema, chat)
            push_names = _push_names(conn, schema)
        # Links depend only on the folder of the file they are written in, the same for every chat.
        writer = _Writer(backup, f"{self.folder}/chat.{form}", _Senders(directory, push_names), name)
        return _WRITERS[form](writer, messages, _subtitle(chat, messages))


WHATSAPP = WhatsAppRenderer()

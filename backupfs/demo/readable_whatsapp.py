"""Sample WhatsApp chats for the readable folder: ``ChatStorage.sqlite`` of two generations, and its media.

Both follow the Core Data layout WhatsApp ships (table and column names, Z_PK/Z_ENT/Z_OPT,
Z_PRIMARYKEY, dates in seconds since 2001-01-01), with the columns of each generation:

* :func:`current_chat_storage` (WhatsApp 2.2x, iOS 12-17): ``ZWAMESSAGE.ZGROUPMEMBER`` ->
  ``ZWAGROUPMEMBER``, push names in ``ZWAPROFILEPUSHNAME``, media under ``Message/Media/``;
* :func:`legacy_chat_storage` (WhatsApp 2.1x, iOS 7-9 era): no group-member table, a group
  message's sender in ``ZFROMJID`` and ``ZPUSHNAME``, media under ``Media/`` at the top.

Contents are deterministic and varied: several people (some known only by the demo address
book of :func:`backupfs.demo.samples.address_book`), a group, unicode and emoji, a long
text, NULLs, images, a document, audio, a location, a contact card, a deleted message, a
group event without text, media missing from the backup, a name with characters no file
name may hold. Each builder returns the SQL, the media files, and the messages a reader
must show, with the names it must show them under.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from backupfs.demo import samples
from backupfs.demo.sqlbuild import database_bytes, insert
from backupfs.demo.writer import PayloadSpec

DOMAIN = "AppDomainGroup-group.net.whatsapp.WhatsApp.shared"
DATABASE = "ChatStorage.sqlite"
APPLE_EPOCH = samples.APPLE_EPOCH
_DAY, _MINUTE = 86_400, 60

_CORE_DATA = """
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
CREATE TABLE Z_MODELCACHE (Z_CONTENT BLOB);
"""
_CURRENT_SCHEMA = _CORE_DATA + """
CREATE TABLE ZWACHATSESSION ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZARCHIVED INTEGER,
    ZCONTACTABID INTEGER, ZFLAGS INTEGER, ZHIDDEN INTEGER, ZIDENTITYVERIFICATIONEPOCH INTEGER,
    ZIDENTITYVERIFICATIONSTATE INTEGER, ZMESSAGECOUNTER INTEGER, ZREMOVED INTEGER, ZSESSIONTYPE INTEGER,
    ZSPOTLIGHTSTATUS INTEGER, ZUNREADCOUNT INTEGER, ZGROUPINFO INTEGER, ZLASTMESSAGE INTEGER, ZPROPERTIES INTEGER,
    ZLASTMESSAGEDATE TIMESTAMP, ZLOCATIONSHARINGENDDATE TIMESTAMP, ZCONTACTIDENTIFIER VARCHAR, ZCONTACTJID VARCHAR,
    ZETAG VARCHAR, ZLASTMESSAGETEXT VARCHAR, ZPARTNERNAME VARCHAR, ZSAVEDINPUT VARCHAR );
CREATE TABLE ZWAMESSAGE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCHILDMESSAGESDELIVEREDCOUNT INTEGER,
    ZCHILDMESSAGESPLAYEDCOUNT INTEGER, ZCHILDMESSAGESREADCOUNT INTEGER, ZDATAITEMVERSION INTEGER, ZDOCID INTEGER,
    ZENCRETRYCOUNT INTEGER, ZFILTEREDRECIPIENTCOUNT INTEGER, ZFLAGS INTEGER, ZGROUPEVENTTYPE INTEGER,
    ZISFROMME INTEGER, ZMESSAGEERRORSTATUS INTEGER, ZMESSAGESTATUS INTEGER, ZMESSAGETYPE INTEGER, ZSORT INTEGER,
    ZSPOTLIGHTSTATUS INTEGER, ZSTARRED INTEGER, ZCHATSESSION INTEGER, ZGROUPMEMBER INTEGER, ZLASTSESSION INTEGER,
    ZMEDIAITEM INTEGER, ZMESSAGEINFO INTEGER, ZPARENTMESSAGE INTEGER, ZMESSAGEDATE TIMESTAMP, ZSENTDATE TIMESTAMP,
    ZFROMJID VARCHAR, ZMEDIASECTIONID VARCHAR, ZPHASH VARCHAR, ZPUSHNAME VARCHAR, ZSTANZAID VARCHAR, ZTEXT VARCHAR,
    ZTOJID VARCHAR );
CREATE TABLE ZWAMEDIAITEM ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCLOUDSTATUS INTEGER,
    ZFILESIZE INTEGER, ZMEDIAORIGIN INTEGER, ZMOVIEDURATION INTEGER, ZMESSAGE INTEGER, ZASPECTRATIO FLOAT,
    ZHACCURACY FLOAT, ZLATITUDE FLOAT, ZLONGITUDE FLOAT, ZMEDIAURLDATE TIMESTAMP, ZAUTHORNAME VARCHAR,
    ZCOLLECTIONNAME VARCHAR, ZMEDIALOCALPATH VARCHAR, ZMEDIAURL VARCHAR, ZTHUMBNAILLOCALPATH VARCHAR, ZTITLE VARCHAR,
    ZVCARDNAME VARCHAR, ZVCARDSTRING VARCHAR, ZXMPPTHUMBPATH VARCHAR, ZMEDIAKEY BLOB, ZMETADATA BLOB );
CREATE TABLE ZWAGROUPMEMBER ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCONTACTABID INTEGER,
    ZISACTIVE INTEGER, ZISADMIN INTEGER, ZSENDERKEYSENT INTEGER, ZCHATSESSION INTEGER, ZRECENTGROUPCHAT INTEGER,
    ZCONTACTIDENTIFIER VARCHAR, ZCONTACTNAME VARCHAR, ZFIRSTNAME VARCHAR, ZMEMBERJID VARCHAR );
CREATE TABLE ZWAPROFILEPUSHNAME ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZJID VARCHAR,
    ZPUSHNAME VARCHAR );
CREATE INDEX ZWAMESSAGE_ZCHATSESSION_INDEX ON ZWAMESSAGE (ZCHATSESSION);
CREATE INDEX ZWAMESSAGE_ZMEDIAITEM_INDEX ON ZWAMESSAGE (ZMEDIAITEM);
CREATE INDEX ZWAMESSAGE_ZGROUPMEMBER_INDEX ON ZWAMESSAGE (ZGROUPMEMBER);
CREATE INDEX ZWAMEDIAITEM_ZMESSAGE_INDEX ON ZWAMEDIAITEM (ZMESSAGE);
CREATE INDEX ZWAGROUPMEMBER_ZCHATSESSION_INDEX ON ZWAGROUPMEMBER (ZCHATSESSION);
"""
_LEGACY_SCHEMA = _CORE_DATA + """
CREATE TABLE ZWACHATSESSION ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCONTACTABID INTEGER,
    ZMESSAGECOUNTER INTEGER, ZSESSIONTYPE INTEGER, ZUNREADCOUNT INTEGER, ZGROUPINFO INTEGER, ZLASTMESSAGE INTEGER,
    ZLASTMESSAGEDATE TIMESTAMP, ZCONTACTJID VARCHAR, ZLASTMESSAGETEXT VARCHAR, ZPARTNERNAME VARCHAR,
    ZSAVEDINPUT VARCHAR );
CREATE TABLE ZWAMESSAGE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZISFROMME INTEGER,
    ZMESSAGESTATUS INTEGER, ZMESSAGETYPE INTEGER, ZSORT INTEGER, ZCHATSESSION INTEGER, ZMEDIAITEM INTEGER,
    ZMESSAGEDATE TIMESTAMP, ZFROMJID VARCHAR, ZMEDIASECTIONID VARCHAR, ZPUSHNAME VARCHAR, ZSTANZAID VARCHAR,
    ZTEXT VARCHAR, ZTOJID VARCHAR );
CREATE TABLE ZWAMEDIAITEM ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZFILESIZE INTEGER,
    ZMOVIEDURATION INTEGER, ZMESSAGE INTEGER, ZLATITUDE FLOAT, ZLONGITUDE FLOAT, ZMEDIALOCALPATH VARCHAR,
    ZMEDIAURL VARCHAR, ZTHUMBNAILLOCALPATH VARCHAR, ZTITLE VARCHAR, ZVCARDNAME VARCHAR, ZVCARDSTRING VARCHAR,
    ZXMPPTHUMBPATH VARCHAR );
CREATE INDEX ZWAMESSAGE_ZCHATSESSION_INDEX ON ZWAMESSAGE (ZCHATSESSION);
CREATE INDEX ZWAMESSAGE_ZMEDIAITEM_INDEX ON ZWAMESSAGE (ZMEDIAITEM);
"""
# Entity numbers as Z_PRIMARYKEY lists them (they differ between versions; readers never rely on them).
_CURRENT_ENTITIES = {"ZWACHATSESSION": (3, "WAChatSession"), "ZWAGROUPMEMBER": (6, "WAGroupMember"),
                     "ZWAMEDIAITEM": (8, "WAMediaItem"), "ZWAMESSAGE": (9, "WAMessage"),
                     "ZWAPROFILEPUSHNAME": (14, "WAProfilePushName")}
_LEGACY_ENTITIES = {"ZWACHATSESSION": (1, "WAChatSession"), "ZWAMEDIAITEM": (3, "WAMediaItem"),
                    "ZWAMESSAGE": (4, "WAMessage")}

TEXT, IMAGE, VIDEO, AUDIO, CONTACT, LOCATION, GROUP_EVENT, DOCUMENT, DELETED = 0, 1, 2, 3, 4, 5, 6, 8, 14

_LONG_TEXT = (
    "Okay, here is the plan for Saturday, so nobody gets lost this time 😅\n"
    "1. Meet at 10:00 at the market entrance (the one with the blue awning, not the car park).\n"
    "2. Coffee & croissants at Chez Louise: they open at 9:30, we can sit outside if it's sunny ☀️.\n"
    "3. Around noon we walk up the hill; bring good shoes, the path is muddy after the rain.\n"
    "4. Picnic at the top: I bring bread, cheese and the famous lemon cake 🍋; you bring fruit and water.\n"
    "5. Back down by 16:00 because I promised to help Jonas move his piano (yes, really, a piano 🎹).\n"
    "If it rains we skip the hill and go to the museum instead: the new exhibition on maps of the 1700s "
    "is supposed to be wonderful, with a whole room of hand-drawn charts of the coast. "
    "Let me know if anything changes. À samedi !"
)


@dataclass(frozen=True)
class Media:
    """A media item: where ZMEDIALOCALPATH points, its bytes, and whether the backup holds the file."""

    local_path: str  # the ZMEDIALOCALPATH value
    content: Callable[[], bytes]
    present: bool = True
    title: str | None = None  # caption, or a document's name


@dataclass(frozen=True)
class SampleMessage:
    """One message a reader must show: in which chat (its name as shown), from whom, and what."""

    chat: str
    sender: str  # "Me", or the name the reader must show
    text: str  # what must appear: the text, a caption, a contact's name, a place, a file name
    unix: float | None
    media: str | None = None  # relative path of its file in DOMAIN, present or not
    present: bool = False


@dataclass(frozen=True)
class ChatStorageSample:
    """A ChatStorage.sqlite as SQL, the media files the backup holds, and what must be shown."""

    sql: str
    media: dict[str, bytes]  # relative path in DOMAIN -> bytes
    messages: tuple[SampleMessage, ...]
    chats: tuple[str, ...]  # the names of the chats a reader must show, one file each

    def payloads(self) -> list[PayloadSpec]:
        """The database and its media, ready for a sample backup."""
        return [PayloadSpec(DOMAIN, DATABASE, database_bytes(self.sql)),
                *(PayloadSpec(DOMAIN, path, data) for path, data in self.media.items())]


def _uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"whatsapp:{name}"))


def _stanza(name: str) -> str:
    return _uuid(name).replace("-", "")[:20].upper()


@dataclass
class _Builder:
    """Collects rows of one database and what the reader must show of them."""

    entities: dict[str, tuple[int, str]]
    statements: list[str] = field(default_factory=list)
    media: dict[str, bytes] = field(default_factory=dict)
    messages: list[SampleMessage] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, row: dict[str, object]) -> int:
        pk = self.counts.get(table, 0) + 1
        self.counts[table] = pk
        self.statements.append(insert(table, **{"Z_PK": pk, "Z_ENT": self.entities[table][0], "Z_OPT": 1, **row}))
        return pk

    def sql(self, schema: str) -> str:
        keys = [insert("Z_PRIMARYKEY", Z_ENT=ent, Z_NAME=name, Z_SUPER=0, Z_MAX=self.counts.get(t, 0))
                for t, (ent, name) in sorted(self.entities.items(), key=lambda item: item[1][0])]
        metadata = insert("Z_METADATA", Z_VERSION=1, Z_UUID=_uuid("store").upper(), Z_PLIST=None)
        return "\n".join([schema.strip(), *keys, metadata, *self.statements]) + "\n"

    def media_item(self, media: Media | None, message_pk: int, extra: dict[str, object]) -> int | None:
        if media is None and not extra:
            return None
        row: dict[str, object] = {"ZMESSAGE": message_pk, **extra}
        if media is not None:
            data = media.content()
            row |= {"ZMEDIALOCALPATH": media.local_path, "ZTITLE": media.title, "ZFILESIZE": len(data)}
        return self.add("ZWAMEDIAITEM", row)


def _file(local_path: str, current: bool) -> str:
    """Where the backup holds a ZMEDIALOCALPATH: under ``Message/`` on current versions."""
    return f"Message/{local_path}" if current else local_path


@dataclass(frozen=True)
class _Spec:
    """One message to write: the rest of its row, and what a reader must show of it."""

    chat: int  # Z_PK of its chat
    sender: str | None  # key into the people, None for me
    at: float | None  # seconds since 2001, None for a row whose date was lost
    text: str | None = None
    kind: int = TEXT
    media: Media | None = None
    item: dict[str, object] = field(default_factory=dict)  # other media-item columns (location, contact)
    shows: str | None = None  # what must appear when the text is NULL


@dataclass(frozen=True)
class _Person:
    """Someone who writes: their JID, the name a reader must show, and the names WhatsApp kept."""

    jid: str
    shown: str
    push: str | None = None  # their own WhatsApp name, on their group messages
    contact_name: str | None = None  # ZWAGROUPMEMBER.ZCONTACTNAME (current versions)


def _member(builder: _Builder, members: dict[tuple[int, str], int], chat: int, person: _Person) -> int:
    """The ZWAGROUPMEMBER row of ``person`` in group ``chat``, added on first use."""
    if (chat, person.jid) not in members:
        members[chat, person.jid] = builder.add("ZWAGROUPMEMBER", {
            "ZCHATSESSION": chat, "ZMEMBERJID": person.jid, "ZCONTACTNAME": person.contact_name,
            "ZISACTIVE": 1, "ZISADMIN": 0})
    return members[chat, person.jid]


def _write(builder: _Builder, specs: list[_Spec], chats: dict[int, tuple[str, str]],
           people: dict[str, _Person], current: bool) -> None:
    """Message rows and their media items; what a reader must show of them goes to ``builder.messages``."""
    members: dict[tuple[int, str], int] = {}
    for number, spec in enumerate(specs, 1):
        jid, chat_name = chats[spec.chat]
        group = jid.endswith("@g.us")
        person = people[spec.sender] if spec.sender else None
        pk = builder.counts.get("ZWAMESSAGE", 0) + 1
        row: dict[str, object] = {
            "ZISFROMME": int(person is None), "ZMESSAGESTATUS": 8 if person is None else 0,
            "ZMESSAGETYPE": spec.kind, "ZSORT": number, "ZCHATSESSION": spec.chat, "ZMESSAGEDATE": spec.at,
            "ZSTANZAID": _stanza(f"{spec.chat}-{number}"), "ZTEXT": spec.text,
            "ZTOJID": jid if person is None else None, "ZPUSHNAME": person.push if person and group else None,
            "ZMEDIAITEM": builder.media_item(spec.media, pk, spec.item),
        }
        if current:  # a message's ZFROMJID is its chat; a group member has a row of their own
            row |= {"ZFROMJID": jid if person else None, "ZSENTDATE": spec.at, "ZSTARRED": 0, "ZFLAGS": 0}
            if group and person:
                row["ZGROUPMEMBER"] = _member(builder, members, spec.chat, person)
        else:  # a message's ZFROMJID is its sender
            row["ZFROMJID"] = person.jid if person else None
        builder.add("ZWAMESSAGE", row)
        if spec.kind != GROUP_EVENT or spec.text:
            builder.messages.append(_shown(spec, chat_name, person, current))
            if spec.media is not None and spec.media.present:
                builder.media[_file(spec.media.local_path, current)] = spec.media.content()


def _shown(spec: _Spec, chat_name: str, person: _Person | None, current: bool) -> SampleMessage:
    """What a reader must show of one message."""
    media = spec.media
    name = "" if media is None else media.local_path.rsplit("/", 1)[1]
    shows = spec.text or spec.shows or (media.title if media and media.title else "") or name
    return SampleMessage(chat_name, person.shown if person else "Me", shows,
                         None if spec.at is None else spec.at + APPLE_EPOCH,
                         None if media is None else _file(media.local_path, current), bool(media and media.present))


def _sessions(builder: _Builder, chats: dict[int, tuple[str, str]], partners: dict[int, str | None],
              extra: dict[str, object], specs: list[_Spec]) -> None:
    for pk, (jid, _) in chats.items():
        dates = [s.at for s in specs if s.chat == pk and s.at is not None]
        builder.add("ZWACHATSESSION", {
            "ZCONTACTJID": jid, "ZPARTNERNAME": partners[pk], "ZSESSIONTYPE": int(jid.endswith("@g.us")),
            "ZLASTMESSAGEDATE": max(dates, default=None), "ZMESSAGECOUNTER": len(dates), "ZUNREADCOUNT": 0, **extra})


_ANNA, _ALEX, _SAM = "447700900123@s.whatsapp.net", "15550100456@s.whatsapp.net", "15550100789@s.whatsapp.net"
_JEANNE, _LUKAS = "33698765432@s.whatsapp.net", "4915112345678@s.whatsapp.net"
_FAMILY, _OLD = "33698765432-1600000000@g.us", "447700900777@s.whatsapp.net"


def current_chat_storage() -> ChatStorageSample:
    """ChatStorage.sqlite as WhatsApp 2.2x writes it on iOS 12-17 (see the module's docstring).

    Names expect the demo address book (Alex Martin, Sam Okafor) in the same backup.
    """
    base = 721_296_000.0  # 2023-11-10 08:00 UTC
    chats = {1: (_ANNA, "Anna Müller"), 2: (_ALEX, "Alex Martin"), 3: (_FAMILY, "Famille 🏡"),
             4: (_LUKAS, "Luki <3 / Berlin"), 5: (_OLD, "Old number")}
    partners = {1: "Anna Müller", 2: None, 3: "Famille 🏡", 4: "Luki <3 / Berlin", 5: "Old number"}
    people = {"anna": _Person(_ANNA, "Anna Müller"), "alex": _Person(_ALEX, "Alex Martin"),
              "sam": _Person(_SAM, "Sam Okafor", push="Sammy"),
              "jeanne": _Person(_JEANNE, "Mamie Jeanne", contact_name="Mamie Jeanne"),
              "lukas": _Person(_LUKAS, "Lukas 🚲"), "luki": _Person(_LUKAS, "Luki <3 / Berlin")}
    group = f"Media/{_FAMILY}"
    specs = [
        _Spec(1, "anna", base, "Hi! Are we still on for Saturday? 😊"),
        _Spec(1, None, base + 3 * _MINUTE, "Yes! 10am at the market 🥐"),
        _Spec(1, "anna", base + 5 * _MINUTE, kind=IMAGE, media=Media(
            f"Media/{_ANNA}/4/1/41b0c2e8-5d7a-4f3e-9c21-8a6b0d4e1f37.jpg", lambda: samples.jpeg(120, 90, 11),
            title="The view from the hill 🌄")),
        _Spec(1, None, base + _DAY + 10 * _MINUTE, _LONG_TEXT),
        _Spec(1, "anna", base + _DAY + 30 * _MINUTE, kind=VIDEO, media=Media(
            f"Media/{_ANNA}/9/c/9c3e71aa-0b2d-4c8e-a5f4-6d1e2b3c4a50.mp4", lambda: samples.mp4(seed=12), present=False)),
        _Spec(1, "anna", base + _DAY + 31 * _MINUTE, "Ça marche — à samedi ! 👋"),
        _Spec(2, None, base + 2 * _DAY, "Did you get the tickets?"),
        _Spec(2, "alex", base + 2 * _DAY + 2 * _MINUTE, "Got them 🎟️🎟️ Row 12, seats 7 & 8"),
        _Spec(2, "alex", base + 2 * _DAY + 3 * _MINUTE, kind=LOCATION, shows="38.706932, -9.145825",
              item={"ZLATITUDE": 38.706932, "ZLONGITUDE": -9.145825, "ZTITLE": "Time Out Market"}),
        _Spec(2, "alex", base + 2 * _DAY + 4 * _MINUTE, kind=AUDIO, media=Media(
            f"Media/{_ALEX}/c/8/c81f4a2e-77d0-4b8a-9e3c-5f1a2b3c4d5e.m4a", lambda: samples.m4a(seed=3))),
        _Spec(2, None, base + 2 * _DAY + 5 * _MINUTE, kind=DELETED, shows="This message was deleted."),
        _Spec(3, "jeanne", base + 3 * _DAY - _MINUTE, kind=GROUP_EVENT),
        _Spec(3, "jeanne", base + 3 * _DAY, "Bon appétit à tous ! 🍲 La soupe est prête à 19h."),
        _Spec(3, "sam", base + 3 * _DAY + _MINUTE, "Thanks Mamie ❤️"),
        _Spec(3, "lukas", base + 3 * _DAY + 2 * _MINUTE, "Ich komme etwas später 🚲 <b>sorry</b> & so"),
        _Spec(3, "jeanne", base + 3 * _DAY + 3 * _MINUTE, kind=DOCUMENT, media=Media(
            f"{group}/7/e/7e2d5c1b-3a4f-4e6d-8b9a-0c1d2e3f4a5b.pdf", lambda: samples.pdf("Soupe au pistou"),
            title="Recette de la soupe.pdf")),
        _Spec(3, "sam", base + 3 * _DAY + 4 * _MINUTE, kind=IMAGE, media=Media(
            f"{group}/0/5/05ab9e7c-2d4f-4a1b-b6c8-9d0e1f2a3b4c.jpg", lambda: samples.jpeg(96, 128, 21))),
        _Spec(3, "jeanne", base + 3 * _DAY + 5 * _MINUTE, kind=CONTACT, shows="Dr. Priya Shah",
              item={"ZVCARDNAME": "Dr. Priya Shah",
                    "ZVCARDSTRING": "BEGIN:VCARD\nVERSION:3.0\nFN:Dr. Priya Shah\nTEL:+1 (555) 010-0999\nEND:VCARD"}),
        _Spec(3, None, base + 3 * _DAY + 6 * _MINUTE, "Merci ! 😘"),
        _Spec(4, "luki", base + 4 * _DAY, "Kommst du morgen zum Radfahren?"),
        _Spec(4, None, base + 4 * _DAY + _MINUTE, "Ja! 🚴‍♀️ Treffen um 9?"),
        _Spec(4, "luki", None, "Klar, bis dann"),
    ]
    builder = _Builder(_CURRENT_ENTITIES)
    _sessions(builder, chats, partners, {"ZARCHIVED": 0, "ZHIDDEN": 0, "ZREMOVED": 0, "ZFLAGS": 0}, specs)
    builder.add("ZWAPROFILEPUSHNAME", {"ZJID": _LUKAS, "ZPUSHNAME": "Lukas 🚲"})
    builder.add("ZWAPROFILEPUSHNAME", {"ZJID": _SAM, "ZPUSHNAME": "Sammy"})
    _write(builder, specs, chats, people, current=True)
    return ChatStorageSample(builder.sql(_CURRENT_SCHEMA), builder.media, tuple(builder.messages),
                             ("Anna Müller", "Alex Martin", "Famille 🏡", "Luki <3 / Berlin"))


_EMMA, _BOOKS = "15550100123@s.whatsapp.net", "15550100123-1380000000@g.us"
_NOOR, _STRANGER = "971501234567@s.whatsapp.net", "447700900555@s.whatsapp.net"


def legacy_chat_storage() -> ChatStorageSample:
    """ChatStorage.sqlite as WhatsApp 2.1x wrote it (iOS 7-9 era; see the module's docstring).

    Names expect the demo address book (Alex Martin) in the same backup.
    """
    base = 421_000_000.0  # 2014-05-05 16:26 UTC
    chats = {1: (_EMMA, "Emma"), 2: (_BOOKS, "Book club 📚"), 3: (_STRANGER, "+447700900555")}
    partners: dict[int, str | None] = {1: "Emma", 2: "Book club 📚", 3: None}
    people = {"emma": _Person(_EMMA, "Emma"), "alex": _Person(_ALEX, "Alex Martin", push="alex_m"),
              "noor": _Person(_NOOR, "Noor 🌙", push="Noor 🌙"), "stranger": _Person(_STRANGER, "+447700900555")}
    specs = [
        _Spec(1, "emma", base, "Are you coming tonight? 🎉"),
        _Spec(1, None, base + 2 * _MINUTE, "On my way, 10 minutes"),
        _Spec(1, "emma", base + 14 * _MINUTE, kind=IMAGE, media=Media(
            f"Media/{_EMMA}/b/2/b2c4d6e8-1a3b-4c5d-8e9f-0a1b2c3d4e5f.jpg", lambda: samples.jpeg(80, 60, 31),
            title="Table by the window")),
        _Spec(2, "alex", base + _DAY, "Next book: « Le Petit Prince » ✨"),
        _Spec(2, "noor", base + _DAY + 4 * _MINUTE, "I've read it twice already!"),
        _Spec(2, None, base + _DAY + 9 * _MINUTE, "See you Thursday"),
        _Spec(2, "stranger", base + _DAY + 11 * _MINUTE, "Count me in"),
        _Spec(3, "stranger", base + 2 * _DAY, "Hello, is this the flat on Rue Oberkampf?"),
        _Spec(3, None, base + 2 * _DAY + 7 * _MINUTE, "Yes it is. Visits on Saturday."),
        _Spec(3, "stranger", base + 2 * _DAY + 8 * _MINUTE, kind=VIDEO, media=Media(
            f"Media/{_STRANGER}/3/f/3f9a0b1c-2d3e-4f5a-6b7c-8d9e0f1a2b3c.mp4", lambda: samples.mp4(seed=5),
            present=False)),
    ]
    builder = _Builder(_LEGACY_ENTITIES)
    _sessions(builder, chats, partners, {}, specs)
    _write(builder, specs, chats, people, current=False)
    return ChatStorageSample(builder.sql(_LEGACY_SCHEMA), builder.media, tuple(builder.messages),
                             ("Emma", "Book club 📚", "+447700900555"))

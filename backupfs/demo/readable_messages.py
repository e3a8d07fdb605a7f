"""Sample ``sms.db`` databases for the readable Messages folder: two schema generations, and a big one.

:func:`ios10_sms` follows the iOS 9-10 schema: dates in seconds since 2001-01-01, no
iCloud-era columns, ``chat_message_join`` without ``message_date``, some messages in no
chat (as older backups keep them), an attachment kept in HomeDomain. :func:`ios17_sms`
follows the iOS 16-17 schema: dates in nanoseconds, bodies only in ``attributedBody``, an
SMS chat and an iMessage chat with the same number, groups with and without a name. Both
talk with the people of :func:`samples.address_book`, so the demo backup shows names, and
hold unicode, emoji, a long text, NULLs, a row that is not UTF-8 and attachments present
and missing. Each returns the SQL that builds the database, the attachment files the
backup holds, and every message as the renderer must show it, so tests can prove that
nothing is lost. :func:`big_sms_db` builds the 100,000-message database of the
performance test. Everything is deterministic.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from dataclasses import dataclass, field

from backupfs.demo import samples
from backupfs.demo.sqlbuild import database_bytes, insert, not_utf8

SMS_DOMAIN, SMS_PATH = "HomeDomain", "Library/SMS/sms.db"
HOME, MEDIA = "HomeDomain", "MediaDomain"

# Names of the demo address book (samples.address_book()) by the addresses the samples use.
CONTACTS = {"+15550100123": "Emma Laurent", "alex.martin@example.com": "Alex Martin",
            "+15550100789": "Sam Okafor", "+15550100999": "Dr. Priya Shah"}

_MESSAGE_IOS10 = """
CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, text TEXT,
    replace INTEGER DEFAULT 0, service_center TEXT, handle_id INTEGER DEFAULT 0, subject TEXT, country TEXT,
    attributedBody BLOB, version INTEGER DEFAULT 0, type INTEGER DEFAULT 0, service TEXT, account TEXT,
    account_guid TEXT, error INTEGER DEFAULT 0, date INTEGER, date_read INTEGER, date_delivered INTEGER,
    is_delivered INTEGER DEFAULT 0, is_finished INTEGER DEFAULT 0, is_emote INTEGER DEFAULT 0,
    is_from_me INTEGER DEFAULT 0, is_empty INTEGER DEFAULT 0, is_delayed INTEGER DEFAULT 0,
    is_auto_reply INTEGER DEFAULT 0, is_prepared INTEGER DEFAULT 0, is_read INTEGER DEFAULT 0,
    is_system_message INTEGER DEFAULT 0, is_sent INTEGER DEFAULT 0, has_dd_results INTEGER DEFAULT 0,
    is_service_message INTEGER DEFAULT 0, is_forward INTEGER DEFAULT 0, was_downgraded INTEGER DEFAULT 0,
    is_archive INTEGER DEFAULT 0, cache_has_attachments INTEGER DEFAULT 0, cache_roomnames TEXT,
    was_data_detected INTEGER DEFAULT 0, was_deduplicated INTEGER DEFAULT 0, is_audio_message INTEGER DEFAULT 0,
    is_played INTEGER DEFAULT 0, date_played INTEGER, item_type INTEGER DEFAULT 0, other_handle INTEGER DEFAULT 0,
    group_title TEXT, group_action_type INTEGER DEFAULT 0, share_status INTEGER DEFAULT 0,
    share_direction INTEGER DEFAULT 0, is_expirable INTEGER DEFAULT 0, expire_state INTEGER DEFAULT 0,
    message_action_type INTEGER DEFAULT 0, message_source INTEGER DEFAULT 0, associated_message_guid TEXT,
    associated_message_type INTEGER DEFAULT 0, balloon_bundle_id TEXT, payload_data BLOB,
    expressive_send_style_id TEXT, associated_message_range_location INTEGER DEFAULT 0,
    associated_message_range_length INTEGER DEFAULT 0, time_expressive_send_played INTEGER,
    message_summary_info BLOB);
"""
_IOS10_SCHEMA = """
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL, country TEXT,
    service TEXT NOT NULL, uncanonicalized_id TEXT, UNIQUE (id, service));
CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, style INTEGER,
    state INTEGER, account_id TEXT, properties BLOB, chat_identifier TEXT, service_name TEXT, room_name TEXT,
    account_login TEXT, is_archived INTEGER DEFAULT 0, last_addressed_handle TEXT, display_name TEXT,
    group_id TEXT, is_filtered INTEGER DEFAULT 0, successful_query INTEGER);
CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
    created_date INTEGER DEFAULT 0, start_date INTEGER DEFAULT 0, filename TEXT, uti TEXT, mime_type TEXT,
    transfer_state INTEGER DEFAULT 0, is_outgoing INTEGER DEFAULT 0, user_info BLOB, transfer_name TEXT,
    total_bytes INTEGER DEFAULT 0, is_sticker INTEGER DEFAULT 0, sticker_user_info BLOB,
    attribution_info BLOB, hide_attachment INTEGER DEFAULT 0);
CREATE TABLE chat_handle_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
    handle_id INTEGER REFERENCES handle (ROWID) ON DELETE CASCADE, UNIQUE(chat_id, handle_id));
CREATE TABLE chat_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
    message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, PRIMARY KEY (chat_id, message_id));
CREATE TABLE message_attachment_join (message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE,
    attachment_id INTEGER REFERENCES attachment (ROWID) ON DELETE CASCADE, UNIQUE(message_id, attachment_id));
""" + _MESSAGE_IOS10 + """
CREATE INDEX message_idx_handle ON message(handle_id, date);
CREATE INDEX chat_message_join_idx_message_id ON chat_message_join(message_id);
"""

_IOS17_SCHEMA = """
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL, country TEXT,
    service TEXT NOT NULL, uncanonicalized_id TEXT, person_centric_id TEXT, UNIQUE (id, service));
CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, style INTEGER,
    state INTEGER, account_id TEXT, properties BLOB, chat_identifier TEXT, service_name TEXT, room_name TEXT,
    account_login TEXT, is_archived INTEGER DEFAULT 0, last_addressed_handle TEXT, display_name TEXT,
    group_id TEXT, is_filtered INTEGER DEFAULT 0, successful_query INTEGER, engram_id TEXT,
    server_change_token TEXT, ck_sync_state INTEGER DEFAULT 0, original_group_id TEXT,
    last_read_message_timestamp INTEGER DEFAULT 0, cloudkit_record_id TEXT, last_addressed_sim_id TEXT,
    is_blackholed INTEGER DEFAULT 0, syndication_date INTEGER DEFAULT 0, syndication_type INTEGER DEFAULT 0,
    is_recovered INTEGER DEFAULT 0, is_deleting_incoming_messages INTEGER DEFAULT 0);
CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
    created_date INTEGER DEFAULT 0, start_date INTEGER DEFAULT 0, filename TEXT, uti TEXT, mime_type TEXT,
    transfer_state INTEGER DEFAULT 0, is_outgoing INTEGER DEFAULT 0, user_info BLOB, transfer_name TEXT,
    total_bytes INTEGER DEFAULT 0, is_sticker INTEGER DEFAULT 0, sticker_user_info BLOB,
    attribution_info BLOB, hide_attachment INTEGER DEFAULT 0, ck_sync_state INTEGER DEFAULT 0,
    ck_server_change_token_blob BLOB, ck_record_id TEXT, original_guid TEXT UNIQUE NOT NULL,
    is_commsafety_sensitive INTEGER DEFAULT 0, emoji_image_content_identifier TEXT,
    emoji_image_short_description TEXT, preview_generation_state INTEGER DEFAULT 0);
CREATE TABLE chat_handle_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
    handle_id INTEGER REFERENCES handle (ROWID) ON DELETE CASCADE, UNIQUE(chat_id, handle_id));
CREATE TABLE chat_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
    message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, message_date INTEGER DEFAULT 0,
    PRIMARY KEY (chat_id, message_id));
CREATE TABLE message_attachment_join (message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE,
    attachment_id INTEGER REFERENCES attachment (ROWID) ON DELETE CASCADE, UNIQUE(message_id, attachment_id));
""" + _MESSAGE_IOS10.rstrip().removesuffix(");") + """,
    ck_sync_state INTEGER DEFAULT 0, ck_record_id TEXT, ck_record_change_tag TEXT, destination_caller_id TEXT,
    is_corrupt INTEGER DEFAULT 0, reply_to_guid TEXT, sort_id INTEGER, is_spam INTEGER DEFAULT 0,
    has_unseen_mention INTEGER DEFAULT 0, thread_originator_guid TEXT, thread_originator_part TEXT,
    syndication_ranges TEXT, synced_syndication_ranges TEXT, was_delivered_quietly INTEGER DEFAULT 0,
    did_notify_recipient INTEGER DEFAULT 0, date_retracted INTEGER DEFAULT 0, date_edited INTEGER DEFAULT 0,
    was_detonated INTEGER DEFAULT 0, part_count INTEGER, is_stewie INTEGER DEFAULT 0,
    is_kt_verified INTEGER DEFAULT 0, is_sos INTEGER DEFAULT 0, is_critical INTEGER DEFAULT 0,
    bia_reference_id TEXT DEFAULT NULL, fallback_hash TEXT DEFAULT NULL);
CREATE INDEX message_idx_handle ON message(handle_id, date);
CREATE INDEX message_idx_date ON message(date);
CREATE INDEX chat_message_join_idx_message_id_only ON chat_message_join(message_id);
CREATE INDEX chat_message_join_idx_message_date_id_chat_id ON chat_message_join(chat_id, message_date, message_id);
CREATE INDEX message_attachment_join_idx_message_id ON message_attachment_join(message_id);
"""


@dataclass(frozen=True)
class SampleAttachment:
    """One attachment: what the renderer shows, and the backup file (``data`` None: the backup lacks it)."""

    name: str
    mime: str
    domain: str
    relative_path: str
    data: bytes | None


@dataclass(frozen=True)
class SampleMessage:
    """One message as the renderer must show it."""

    conversation: str  # the conversation's title
    sender: str  # "Me", a contact's name, or the address
    text: str  # "" when the message has only attachments (or nothing)
    when: int | None  # Unix seconds; None when the row has no date
    service: str  # "" when NULL
    attachments: tuple[SampleAttachment, ...] = ()


@dataclass(frozen=True)
class SampleSms:
    """An ``sms.db`` as SQL, the files it names, and every message in it."""

    generation: str
    sql: str
    messages: tuple[SampleMessage, ...]

    @property
    def conversations(self) -> list[str]:
        """Titles of the conversations, each once."""
        return list(dict.fromkeys(message.conversation for message in self.messages))

    @property
    def files(self) -> list[tuple[str, str, bytes]]:
        """(domain, relativePath, bytes) of the attachments the backup holds."""
        return [(a.domain, a.relative_path, a.data) for m in self.messages for a in m.attachments
                if a.data is not None]

    def database(self) -> bytes:
        """The database file's bytes (for the demo backup)."""
        return database_bytes(self.sql)


def _typedstream_int(value: int) -> bytes:
    """An unsigned integer as NSArchiver writes it: one byte below 0x80, else 0x81 and two bytes little-endian."""
    return bytes([value]) if value < 0x80 else b"\x81" + value.to_bytes(2, "little")


def attributed_body(text: str) -> bytes:
    """An ``attributedBody`` blob as iOS writes it: an NSAttributedString in NSArchiver's typedstream.

    The string, then one attribute run over all of it (its length in UTF-16 units), whose
    dictionary says which message part it is.
    """
    data = text.encode("utf-8")
    return (b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString\x00\x84\x84\x08NSObject"
            b"\x00\x85\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+" + _typedstream_int(len(data)) + data
            + b"\x86\x84\x02iI\x01" + _typedstream_int(len(text.encode("utf-16-le")) // 2)
            + b"\x92\x84\x84\x84\x0cNSDictionary\x00\x94\x84\x01i\x01\x92\x84\x96\x96\x1d__kIMMessagePartAttributeName"
            b"\x86\x92\x84\x84\x84\x08NSNumber\x00\x84\x84\x07NSValue\x00\x94\x84\x01*\x84\x99\x99\x00\x86\x86\x86")


@dataclass
class _Chat:
    rowid: int
    title: str
    service: str
    handles: list[int]


@dataclass
class _Builder:
    """Writes an sms.db of one generation as SQL, and records each message as it must be shown."""

    generation: str
    schema: str
    modern: bool  # iOS 11+: nanosecond dates, chat_message_join.message_date, attachment.original_guid
    now: int  # Unix seconds of the next message
    statements: list[str] = field(default_factory=list)
    messages: list[SampleMessage] = field(default_factory=list)
    handles: dict[int, str] = field(default_factory=dict)
    chats: int = 0
    attachments: int = 0

    def handle(self, address: str, service: str) -> int:
        rowid = len(self.handles) + 1
        self.handles[rowid] = address
        self.statements.append(insert("handle", ROWID=rowid, id=address, country="us", service=service,
                                      uncanonicalized_id=address))
        return rowid

    def chat(self, handles: list[int], service: str, title: str, display_name: str | None = None) -> _Chat:
        self.chats += 1
        group = len(handles) > 1
        identifier = f"chat{912_000_000 + 7_919 * self.chats}" if group else self.handles[handles[0]]
        self.statements.append(insert("chat", ROWID=self.chats,
                                      guid=f"{service};{'+' if group else '-'};{identifier}",
                                      style=43 if group else 45, state=3, chat_identifier=identifier,
                                      service_name=service, account_login="E:me@example.com",
                                      display_name=display_name))
        self.statements += [insert("chat_handle_join", chat_id=self.chats, handle_id=h) for h in handles]
        return _Chat(self.chats, title, service, handles)

    def _date(self, unix: int) -> int:
        seconds = unix - samples.APPLE_EPOCH
        return seconds * 1_000_000_000 if self.modern else seconds

    def say(self, chat: _Chat | str, sender: int | None, text: str | None, *, gap: int = 420,
            shown: str | None = None, service: str | None = "", body_only: bool = False, undated: bool = False,
            attachments: tuple[SampleAttachment, ...] = (), extra: dict[str, object] | None = None) -> None:
        """One message in ``chat`` (a chat, or a conversation title for a message in no chat).

        ``sender`` None is the phone's owner; ``shown`` is the text as displayed when it differs
        from ``text``; ``body_only`` keeps the text in ``attributedBody`` alone (iOS 16+).
        """
        self.now += gap
        rowid = len(self.messages) + 1
        in_chat = isinstance(chat, _Chat)
        service = (chat.service if in_chat else "SMS") if service == "" else service
        date = None if undated else self._date(self.now)
        # As iOS stores them: the other person's handle in a one-to-one chat, even on the owner's messages.
        handle = sender or (chat.handles[0] if in_chat and len(chat.handles) == 1 else 0)
        row = {"ROWID": rowid, "guid": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{self.generation}-{rowid}")).upper(),
               "text": None if body_only else text, "attributedBody": attributed_body(text) if body_only and text
               else None, "handle_id": handle, "service": service, "account": "e:me@example.com",
               "date": date, "date_read": date, "date_delivered": date, "is_delivered": 1, "is_finished": 1,
               "is_from_me": int(sender is None), "is_read": int(sender is not None), "is_sent": int(sender is None),
               "cache_has_attachments": int(bool(attachments)), **(extra or {})}
        self.statements.append(insert("message", **row))
        if in_chat:
            join = {"chat_id": chat.rowid, "message_id": rowid} | ({"message_date": date or 0} if self.modern else {})
            self.statements.append(insert("chat_message_join", **join))
        for attachment in attachments:
            self._attach(rowid, attachment, sender is None)
        title = chat.title if in_chat else chat
        who = "Me" if sender is None else CONTACTS.get(self.handles[sender], self.handles[sender])
        shown = shown if shown is not None else (text or "").replace("\ufffc", "").strip()
        self.messages.append(SampleMessage(title, who, shown, None if undated else self.now, service or "",
                                           attachments))

    def _attach(self, message: int, attachment: SampleAttachment, outgoing: bool) -> None:
        self.attachments += 1
        guid = attachment.relative_path.split("/")[-2]
        row = {"ROWID": self.attachments, "guid": guid, "created_date": self.now - samples.APPLE_EPOCH,
               "start_date": self.now - samples.APPLE_EPOCH, "filename": f"~/{attachment.relative_path}",
               "mime_type": attachment.mime or None, "transfer_state": 5, "is_outgoing": int(outgoing),
               "transfer_name": attachment.name, "total_bytes": len(attachment.data or b"") or 48_213}
        if self.modern:
            row["original_guid"] = guid
        join = {"message_id": message, "attachment_id": self.attachments}
        self.statements += [insert("attachment", **row), insert("message_attachment_join", **join)]

    def build(self) -> SampleSms:
        # One transaction: run statement by statement, each would be a commit and a sync of its own.
        sql = "\n".join(["BEGIN;", self.schema, *self.statements, "COMMIT;"])
        return SampleSms(self.generation, sql, tuple(self.messages))


def _attachment(name: str, mime: str, data: bytes | None, domain: str = MEDIA) -> SampleAttachment:
    guid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sms-attachment-{name}")).upper()
    return SampleAttachment(name, mime, domain, samples.sms_attachment_filename(guid, name)[2:], data)


_STORY = (
    "So here is the whole story, since you asked. We left the house at six, which was already late, and the "
    "motorway was closed after Lyon because of a lorry that had lost its load of melons (yes, melons). We took "
    "the small roads through the vineyards, stopped twice for coffee and once for the best apricot tart I have "
    "ever eaten, in a village whose name I still cannot pronounce. Grandma called four times to ask where we "
    "were. When we finally arrived the power was out in the whole street, so dinner was cold ham, bread, "
    "cheese and candles, and honestly it was perfect. The kids slept in the car, then on the sofa, then in "
    "our bed. Tomorrow: the lake, if the weather holds. I'll send photos. Love to everyone 💛\n\n"
    "P.S. Tell Alex his map was wrong about the bridge. There is no bridge. There was never a bridge."
)


def ios10_sms() -> SampleSms:
    """An iOS 9-10 ``sms.db``: seconds since 2001, messages in no chat, an attachment in HomeDomain."""
    b = _Builder("iOS 9-10", _IOS10_SCHEMA, modern=False, now=1_476_100_000)
    b.statements.append(insert("_SqliteDatabaseProperties", key="_ClientVersion", value="10013"))
    emma, alex = b.handle("+15550100123", "iMessage"), b.handle("alex.martin@example.com", "iMessage")
    priya, berlin = b.handle("+15550100999", "SMS"), b.handle("+4915123456789", "iMessage")
    bank = b.handle("72404", "SMS")
    with_emma = b.chat([emma], "iMessage", "Emma Laurent")
    with_alex = b.chat([alex], "iMessage", "Alex Martin")
    family = b.chat([emma, alex, berlin], "iMessage", "Family 👨‍👩‍👧", display_name="Family 👨‍👩‍👧")
    clinic = b.chat([emma, priya], "SMS", "Dr. Priya Shah & Emma Laurent")
    b.say(with_emma, emma, "Are you coming to the market on Saturday? 🍓")
    b.say(with_emma, None, "Yes! Save me some strawberries")
    b.say(with_emma, emma, "Ça marche 👍 — à samedi !", gap=3_600)
    b.say(with_emma, None, "\ufffc", gap=86_400, attachments=(_attachment("IMG_0042.JPG", "image/jpeg",
                                                                           samples.jpeg(seed=42), HOME),))
    b.say(with_emma, emma, "Beautiful photo 😍")
    b.say("Emma Laurent", emma, "(from my old phone) Did you get my voicemail?", service="iMessage")
    b.say(with_alex, alex, "Meeting moved to 3pm", gap=90_000, service=None)
    b.say(with_alex, None, "<b>Noted</b> & thanks — see you at 3 < 4")
    b.say(with_alex, alex, "Agenda:\n1. Budget\n2. Hiring\n3. Coffee ☕")
    b.say(with_alex, alex, "\ufffc", attachments=(_attachment("Audio Message.caf", "audio/x-caf", None),),
          extra={"is_audio_message": 1})
    b.say(family, None, None, gap=40_000, shown="named the conversation “Family 👨‍👩‍👧”",
          extra={"item_type": 2, "group_title": "Family 👨‍👩‍👧"})
    b.say(family, berlin, "Hallo zusammen! Grüße aus Berlin 🇩🇪")
    b.say(family, emma, "ありがとう!")
    b.say(family, None, _STORY)
    b.say(family, alex, not_utf8(b"Caf\xe9 tomorrow at 10?"), shown="Caf\ufffd tomorrow at 10?")
    b.say(clinic, priya, "Reminder: your appointment is on Tuesday at 10:30.", gap=200_000)
    b.say(clinic, None, "Thank you, I'll be there.")
    b.say(clinic, emma, "I'll drive you 🚗", service="iMessage")
    b.say("Dr. Priya Shah", priya, "Your test results are ready. All normal.", gap=500_000)
    b.say("72404", bank, "Your code is 493 201", undated=True)
    return b.build()


def ios17_sms() -> SampleSms:
    """An iOS 16-17 ``sms.db``: nanoseconds since 2001, bodies only in ``attributedBody``, merged SMS chats."""
    b = _Builder("iOS 16-17", _IOS17_SCHEMA, modern=True, now=1_699_600_000)
    b.statements.append(insert("_SqliteDatabaseProperties", key="_ClientVersion", value="17100"))
    emma, emma_sms = b.handle("+15550100123", "iMessage"), b.handle("+15550100123", "SMS")
    alex, sam = b.handle("alex.martin@example.com", "iMessage"), b.handle("+15550100789", "iMessage")
    paris, london = b.handle("+33612345678", "iMessage"), b.handle("+447700900123", "iMessage")
    bank = b.handle("24273", "SMS")
    with_emma = b.chat([emma], "iMessage", "Emma Laurent")
    with_emma_sms = b.chat([emma_sms], "SMS", "Emma Laurent")
    with_alex = b.chat([alex], "iMessage", "Alex Martin")
    codes = b.chat([bank], "SMS", "24273")
    ski = b.chat([emma, alex, sam, paris], "iMessage", "Ski trip 🎿", display_name="Ski trip 🎿")
    quiz = b.chat([emma, sam, paris, london], "iMessage", "Emma Laurent, Sam Okafor & 2 more")
    with_paris = b.chat([paris], "iMessage", "+33612345678")
    b.say(with_emma, emma, "Running 5 minutes late, sorry!", body_only=True)
    b.say(with_emma, None, "No worries, I'm at the bar")
    b.say(with_emma, emma, None, attachments=(_attachment("IMG_2051.HEIC", "image/heic", samples.heic(seed=2051)),))
    b.say(with_emma_sms, emma_sms, "No signal here, texting instead", gap=86_400)
    b.say(with_emma_sms, None, "Got it 📶")
    b.say(with_alex, alex, "Lunch on Friday?", body_only=True)
    b.say(with_alex, None, "Friday works! I'll book the Thai place near the station 🍜 unless you'd rather try "
          "the new ramen bar on Rue Oberkampf — Sam says the queue is long but it moves fast, and they take "
          "reservations for four or more. Also: bring the book you borrowed in March 📚 (no pressure 😇).",
          body_only=True)
    b.say(with_alex, alex, "Two from the trail \ufffc\ufffc", attachments=(
        _attachment("Trail.MOV", "video/quicktime", samples.mov(seed=7)),
        _attachment("IMG_2099.JPG", "image/jpeg", samples.jpeg(seed=2099))))
    b.say(with_alex, alex, "\ufffc", attachments=(_attachment("Boarding pass.pdf", "application/pdf", None),))
    b.say(codes, bank, "Your verification code is 918 204. Do not share it.", gap=7_200)
    b.say(ski, paris, "Salut ! On part à quelle heure ? ⛷️", gap=90_000)
    b.say(ski, sam, "6:30 sharp. Bring snacks 🍫", body_only=True)
    b.say(ski, emma, "Here's the route \ufffc", attachments=(_attachment("map.png", "image/png", samples.png(seed=3)),))
    b.say(ski, alex, "Tabs\tand <tags> & \"quotes\" — edge cases")
    b.say(ski, None, "🎿🎿🎿")
    b.say(quiz, london, "Who's in for quiz night?", gap=170_000)
    b.say(quiz, sam, "Me! 🙋🏾")
    b.say(quiz, emma, "مرحبا! I'm in too")
    b.say(quiz, paris, None, extra={"date_retracted": b._date(b.now + 480)})  # unsent: nothing left to show
    b.say(with_paris, paris, "Merci pour hier soir 🙏", body_only=True, gap=50_000)
    b.say(with_paris, None, "Avec plaisir !")
    return b.build()


_WORDS = ("ok", "see you", "tomorrow", "dinner", "at", "the", "station", "🙂", "😂", "❤️", "call me", "later",
          "running late", "thanks!", "where are you?", "home", "work", "café", "straße", "photo", "weekend", "?")


def big_sms_db(messages: int = 100_000, conversations: int = 200, largest: int = 20_000, seed: int = 11) -> bytes:
    """An iOS 17 ``sms.db`` of ``messages`` messages in ``conversations`` one-to-one chats.

    The first chat (Emma Laurent's number) holds ``largest`` messages, one in 25 with a
    photo; the others share the rest. Built with bulk inserts, in a second or two.
    """
    rng = random.Random(seed)
    addresses = ["+15550100123"] + [f"+1555020{n:04d}" for n in range(1, conversations)]
    chat_of = [0] * largest + [1 + n % (conversations - 1) for n in range(messages - largest)]
    rng.shuffle(chat_of)
    sentences = [" ".join(rng.choices(_WORDS, k=rng.randrange(1, 14))) for _ in range(997)]
    start = (1_600_000_000 - samples.APPLE_EPOCH) * 1_000_000_000

    def fill(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode=OFF")  # a throwaway file: no rollback needed
        conn.executescript(_IOS17_SCHEMA)
        conn.executemany("INSERT INTO handle (ROWID, id, service) VALUES (?, ?, 'iMessage')",
                         enumerate(addresses, 1))
        conn.executemany("INSERT INTO chat (ROWID, guid, style, chat_identifier, service_name) "
                         "VALUES (?, ?, 45, ?, 'iMessage')",
                         ((n, f"iMessage;-;{a}", a) for n, a in enumerate(addresses, 1)))
        conn.executemany("INSERT INTO chat_handle_join VALUES (?, ?)", ((n, n) for n in range(1, conversations + 1)))
        rows, joins, attachments = [], [], []
        for rowid, chat in enumerate(chat_of, 1):
            date = start + rowid * 97_000_000_000
            text = sentences[rowid % len(sentences)]
            photo = chat == 0 and rowid % 25 == 0
            rows.append((rowid, f"big-{rowid}", text, chat + 1, date, rowid % 2, int(photo)))
            joins.append((chat + 1, rowid, date))
            if photo:
                filename = f"~/Library/SMS/Attachments/{rowid % 256:02x}/{rowid % 16:02d}/att-{rowid}/IMG_{rowid}.JPG"
                attachments.append((rowid, f"att-{rowid}", filename, f"IMG_{rowid}.JPG"))
        conn.executemany("INSERT INTO message (ROWID, guid, text, handle_id, date, is_from_me, "
                         "cache_has_attachments, service) VALUES (?, ?, ?, ?, ?, ?, ?, 'iMessage')", rows)
        conn.executemany("INSERT INTO chat_message_join VALUES (?, ?, ?)", joins)
        conn.executemany("INSERT INTO attachment (ROWID, guid, original_guid, filename, mime_type, transfer_name, "
                         "total_bytes) VALUES (?, ?, ?, ?, 'image/jpeg', ?, 123456)",
                         ((n, g, g, f, t) for n, (_, g, f, t) in enumerate(attachments, 1)))
        conn.executemany("INSERT INTO message_attachment_join VALUES (?, ?)",
                         ((m, n) for n, (m, *_) in enumerate(attachments, 1)))

    return database_bytes(fill)

"""The Messages folder: every message of both sms.db generations, readable, searchable, and fast."""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from html.parser import HTMLParser
from itertools import pairwise
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote

import pytest

from backupfs.demo import samples
from backupfs.demo.readable_messages import (
    SMS_DOMAIN,
    SMS_PATH,
    SampleMessage,
    SampleSms,
    attributed_body,
    big_sms_db,
    ios10_sms,
    ios17_sms,
)
from backupfs.demo.sqlbuild import database_bytes
from backupfs.readable.addressbook import ADDRESS_BOOK, Directory
from backupfs.readable.addressbook import DOMAIN as ADDRESS_BOOK_DOMAIN
from backupfs.readable.base import Plan, safe_name
from backupfs.readable.html import PLAYED_VIDEOS, SHOWN_IMAGES
from backupfs.readable.messages import (
    MESSAGES,
    _Clock,
    _Conversation,
    _Names,
    _Schema,
    _title,
    attributed_text,
)
from tests.readable.helpers import NOT_A_DATABASE, assert_names_safe_and_unique

if TYPE_CHECKING:
    from tests.readable.conftest import FixtureBackup

GENERATIONS = {"ios10": ios10_sms, "ios17": ios17_sms}


def _local(unix: int) -> datetime:
    return datetime.fromtimestamp(unix).astimezone()


def _with_sms(backup: FixtureBackup, sample: SampleSms, address_book: bool = True) -> FixtureBackup:
    backup.add_database(SMS_DOMAIN, SMS_PATH, sample.sql)
    if address_book:
        backup.add(ADDRESS_BOOK_DOMAIN, ADDRESS_BOOK, samples.address_book())
    for domain, path, data in sample.files:
        backup.add(domain, path, data)
    return backup


def _plan(backup: FixtureBackup) -> Plan:
    plan = MESSAGES.plan(backup)
    assert plan is not None
    return plan


def _keys(plan: Plan) -> dict[str, str]:
    return {planned.path: planned.key for planned in plan.files if planned.key is not None}


def _by_conversation(sample: SampleSms) -> dict[str, list[SampleMessage]]:
    grouped: dict[str, list[SampleMessage]] = defaultdict(list)
    for message in sample.messages:
        grouped[message.conversation].append(message)
    return grouped


class Page(HTMLParser):
    """A strict reading of a rendered page: tags must balance; messages are collected with their parts."""

    VOID: ClassVar[frozenset[str]] = frozenset({"meta", "img", "br", "hr", "source", "link", "input"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.messages: list[dict] = []
        self.days: list[str] = []
        self.title = ""
        self.feed(html)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    def _part(self) -> str:
        return next((cls for tag, cls in reversed(self.stack) if cls in ("who", "bubble", "meta", "day")), "")

    def _in_message(self) -> bool:
        return any("msg" in cls.split() for _, cls in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        cls = values.get("class", "")
        if tag == "div" and "msg" in cls.split():
            self.messages.append({"classes": cls.split(), "who": "", "bubble": "", "meta": "", "imgs": [], "links": [],
                                  "videos": [], "times": []})
        elif tag == "div" and cls == "day":
            self.days.append("")
        if self._in_message() or (tag == "div" and "msg" in cls.split()):
            current = self.messages[-1]
            if tag == "img":
                current["imgs"].append(values["src"])
            elif tag == "a":
                current["links"].append(values["href"])
            elif tag == "video":
                current["videos"].append(values["src"])
            elif tag == "time":
                current["times"].append(values["datetime"])
        if tag not in self.VOID:
            self.stack.append((tag, cls))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        part = self._part()
        if part == "day":
            self.days[-1] += data
        elif part and self._in_message():
            self.messages[-1][part] += data
        elif self.stack and self.stack[-1][0] == "h1":
            self.title += data


# --- attributedBody ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["Hi", "x" * 127, "é" * 64, "Long 🎿 " * 40, "line one\nline two", ""])
def test_attributed_text_reads_short_and_long_strings(text: str) -> None:
    assert attributed_text(attributed_body(text)) == text


def test_attributed_text_reads_a_four_byte_length() -> None:
    text = "y" * 70_000
    blob = b"\x04\x0bstreamtyped\x84\x84\x08NSString\x01\x94\x84\x01+\x82" + len(text).to_bytes(4, "little")
    assert attributed_text(blob + text.encode() + b"\x86") == text


@pytest.mark.parametrize("blob", [None, 42, "text", b"", b"streamtyped without the class", b"NSString\x01\x94",
                                  b"NSString\x01\x94\x84\x01+", b"NSString\x01\x94\x84\x01+\x81\x05",
                                  b"NSString\x01\x94\x84\x01+\xf0abc"])
def test_attributed_text_of_damaged_blobs_is_none(blob: object) -> None:
    assert attributed_text(blob) is None


def test_attributed_text_of_a_truncated_blob_keeps_what_is_there() -> None:
    blob = attributed_body("Running 5 minutes late, sorry!")
    cut = blob[:blob.index(b"late") + 4]
    assert attributed_text(cut) == "Running 5 minutes late"


def test_attributed_text_survives_bytes_that_are_not_utf8() -> None:
    assert attributed_text(b"NSString\x01\x94\x84\x01+\x04Caf\xe9") == "Caf\ufffd"


# --- plan ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("generation", GENERATIONS)
def test_plan_names_each_conversation_by_its_people_in_two_forms(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    plan = _plan(_with_sms(backup, sample))
    expected = {f"{safe_name(title)}.{form}" for title in sample.conversations for form in ("html", "txt")}
    assert {planned.path for planned in plan.files} == expected
    assert all(planned.same_as is None for planned in plan.files)
    conversations, messages = len(sample.conversations), len(sample.messages)
    assert plan.summary == f"{conversations} conversations, {messages} messages"


@pytest.mark.parametrize("generation", GENERATIONS)
def test_planned_names_are_safe_unique_and_dated_by_the_last_message(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    plan = _plan(_with_sms(backup, sample))
    assert_names_safe_and_unique(plan, flat=True)
    for title, messages in _by_conversation(sample).items():
        dates = [m.when for m in messages if m.when is not None]
        for form in ("html", "txt"):
            planned = next(p for p in plan.files if p.path == f"{safe_name(title)}.{form}")
            assert planned.mtime == (max(dates) if dates else None)


@pytest.mark.parametrize(("addresses", "title"), [
    (["+15550100123"], "Emma Laurent"),
    (["+15550100456", "+15550100123"], "Alex Martin & Emma Laurent"),
    (["+4915123456789", "+15550100789", "+15550100123"], "Emma Laurent, Sam Okafor & +4915123456789"),
    (["b@example.com", "+15550100789", "a@example.com", "+15550100123"], "Emma Laurent, Sam Okafor & 2 more"),
    (["+15550100123", "+1 (555) 010-0123"], "Emma Laurent"),
    ([], "Unknown"),
])
def test_a_conversation_without_a_name_is_named_by_its_people(backup: FixtureBackup, addresses: list[str],
                                                             title: str) -> None:
    backup.add(ADDRESS_BOOK_DOMAIN, ADDRESS_BOOK, samples.address_book())
    assert _title(_Conversation(participants=addresses), _Names(Directory.of(backup))) == title


def test_plan_without_an_address_book_names_conversations_by_address(backup: FixtureBackup) -> None:
    plan = _plan(_with_sms(backup, ios17_sms(), address_book=False))
    stems = {planned.path.rsplit(".", 1)[0] for planned in plan.files}
    assert {"+15550100123", "alex.martin@example.com", "Ski trip 🎿",
            "+15550100123, +15550100789 & 2 more"} <= stems


def test_same_titles_get_numbered_names_and_both_forms_agree(backup: FixtureBackup) -> None:
    sample = ios17_sms()
    extra = ("INSERT INTO chat (ROWID, guid, style, chat_identifier, service_name, display_name) "
             "VALUES (50, 'iMessage;+;chat50', 43, 'chat50', 'iMessage', 'Ski trip 🎿');"
             "INSERT INTO message (ROWID, guid, text, handle_id, date, is_from_me) "
             "VALUES (500, 'extra', 'A second trip', 0, 721300000000000000, 1);"
             "INSERT INTO chat_message_join VALUES (50, 500, 721300000000000000);")
    backup.add_database(SMS_DOMAIN, SMS_PATH, sample.sql + extra)
    keys = _keys(_plan(backup))
    assert {"Ski trip 🎿.html", "Ski trip 🎿.txt", "Ski trip 🎿 2.html", "Ski trip 🎿 2.txt"} <= set(keys)
    assert keys["Ski trip 🎿 2.html"].replace("html", "") == keys["Ski trip 🎿 2.txt"].replace("txt", "")
    assert "A second trip" in MESSAGES.render(backup, keys["Ski trip 🎿 2.txt"]).decode()


def test_no_sms_db_is_no_folder(backup: FixtureBackup) -> None:
    backup.add(ADDRESS_BOOK_DOMAIN, ADDRESS_BOOK, samples.address_book())
    assert MESSAGES.plan(backup) is None


def test_an_sms_db_without_messages_is_no_folder(backup: FixtureBackup) -> None:
    sample = ios17_sms()
    backup.add_database(SMS_DOMAIN, SMS_PATH, sample.sql + "DELETE FROM message; DELETE FROM chat_message_join;")
    assert MESSAGES.plan(backup) is None


# --- damage ----------------------------------------------------------------------------------------

def test_garbage_bytes_raise(backup: FixtureBackup) -> None:
    backup.add(SMS_DOMAIN, SMS_PATH, NOT_A_DATABASE)
    with pytest.raises(sqlite3.DatabaseError):
        MESSAGES.plan(backup)


@pytest.mark.parametrize("drop", ["message", "handle"])
def test_a_missing_table_raises(backup: FixtureBackup, drop: str) -> None:
    backup.add_database(SMS_DOMAIN, SMS_PATH, ios17_sms().sql + f"DROP TABLE {drop};")
    with pytest.raises(ValueError, match=drop):
        MESSAGES.plan(backup)


def test_an_ios5_message_table_raises(backup: FixtureBackup) -> None:
    backup.add_database(SMS_DOMAIN, SMS_PATH, "CREATE TABLE message (ROWID INTEGER PRIMARY KEY, address TEXT, "
                        "date INTEGER, text TEXT, flags INTEGER, group_id INTEGER);"
                        "INSERT INTO message VALUES (1, '+15550100123', 1300000000, 'hello', 2, 1);")
    with pytest.raises(ValueError, match="handle_id"):
        MESSAGES.plan(backup)


def test_render_of_a_foreign_key_raises(backup: FixtureBackup) -> None:
    _with_sms(backup, ios17_sms())
    for key in ("chat:1:html", "conv:1::pdf", "conv:x::html"):
        with pytest.raises(ValueError):
            MESSAGES.render(backup, key)


def test_odd_rows_show_what_they_can(backup: FixtureBackup) -> None:
    sample = ios17_sms()
    odd = ("INSERT INTO message (ROWID, guid, text, handle_id, date, is_from_me, service) VALUES "
           "(900, 'odd-1', X'4F6B20FF', 4242, 'yesterday', NULL, X'FF'),"
           "(901, 'odd-2', 17, 1, 9e30, 1, NULL),"
           "(902, 'odd-3', 'Seconds in a nanosecond database', 1, 721300000, 0, 'iMessage');"
           "INSERT INTO chat_message_join (chat_id, message_id) VALUES (1, 900), (1, 901), (1, 902);"
           "INSERT INTO attachment (ROWID, guid, original_guid, filename, mime_type, transfer_name, total_bytes) "
           "VALUES (90, 'a90', 'a90', NULL, NULL, NULL, 'big'), (91, 'a91', 'a91', X'7E2F4C6962FF2E6A7067', 7, 3, -1);"
           "INSERT INTO message_attachment_join VALUES (901, 90), (901, 91), (901, 4040);")
    backup.add_database(SMS_DOMAIN, SMS_PATH, sample.sql + odd)
    keys = _keys(_plan(backup))
    page = Page(MESSAGES.render(backup, keys["+15550100123.html"]).decode())
    assert not page.errors
    bubbles = {m["bubble"] for m in page.messages}
    assert {"Ok \ufffd", "17", "Seconds in a nanosecond database"} <= {b.split("\n")[0] for b in bubbles}
    seconds = next(m for m in page.messages if m["bubble"] == "Seconds in a nanosecond database")
    assert seconds["times"] == [_local(samples.APPLE_EPOCH + 721_300_000).isoformat()]
    text = MESSAGES.render(backup, keys["+15550100123.txt"]).decode()
    assert "date unknown  Unknown" in text and "not in the backup" in text


def test_null_join_rows_do_not_hide_messages_in_no_chat(backup: FixtureBackup) -> None:
    sample = ios10_sms()
    damaged = ("INSERT INTO chat_message_join (chat_id, message_id) VALUES (NULL, NULL), (NULL, 1);"
               "INSERT INTO message (ROWID, guid, text, handle_id, date, is_from_me) "
               "VALUES (600, 'no-handle', 'Who sent this?', NULL, 500000000, 0);")
    backup.add_database(SMS_DOMAIN, SMS_PATH, sample.sql + damaged)
    backup.add(ADDRESS_BOOK_DOMAIN, ADDRESS_BOOK, samples.address_book())
    plan = _plan(backup)
    assert plan.summary == f"7 conversations, {len(sample.messages) + 1} messages"
    keys = _keys(plan)
    assert "Your test results are ready" in MESSAGES.render(backup, keys["Dr. Priya Shah.txt"]).decode()
    assert "Who sent this?" in MESSAGES.render(backup, keys["Unknown.txt"]).decode()


@pytest.mark.parametrize(("generation", "nanoseconds"), [("ios10", False), ("ios17", True)])
def test_the_date_unit_follows_the_columns_of_each_generation(generation: str, nanoseconds: bool) -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript(GENERATIONS[generation]().sql)
    assert _Schema.read(conn).nanoseconds is nanoseconds


# --- rendering -------------------------------------------------------------------------------------

def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("generation", GENERATIONS)
def test_html_shows_every_message_in_order_with_sender_date_and_service(backup: FixtureBackup,
                                                                       generation: str) -> None:
    sample = GENERATIONS[generation]()
    keys = _keys(_plan(_with_sms(backup, sample)))
    for title, expected in _by_conversation(sample).items():
        page = Page(MESSAGES.render(backup, keys[f"{safe_name(title)}.html"]).decode("utf-8"))
        assert not page.errors, page.errors
        assert page.title == title
        assert len(page.messages) == len(expected)
        for shown, message in zip(page.messages, expected, strict=True):
            if not message.attachments:
                assert shown["bubble"] == (message.text or shown["bubble"])
                assert shown["bubble"] in (message.text, "(no text)", "(unsent)")
            else:
                assert shown["bubble"].startswith(message.text)
            assert shown["who"] == message.sender
            assert ("me" in shown["classes"]) == (message.sender == "Me")
            assert message.service in shown["meta"]
            if message.when is None:
                assert shown["times"] == [] and "time unknown" in shown["meta"]
            else:
                assert shown["times"] == [_local(message.when).isoformat()]
                assert f"{_local(message.when):%H:%M}" in shown["meta"]
        days = [f"{_local(m.when):%A %d %B %Y}" if m.when is not None else "Date unknown" for m in expected]
        assert page.days == list(dict.fromkeys(days))


@pytest.mark.parametrize("generation", GENERATIONS)
def test_html_shows_images_inline_and_links_every_attachment(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    keys = _keys(_plan(_with_sms(backup, sample)))
    seen_image = seen_missing = seen_linked_image = False
    for title, expected in _by_conversation(sample).items():
        path = f"Messages/{safe_name(title)}.html"
        page = Page(MESSAGES.render(backup, keys[f"{safe_name(title)}.html"]).decode("utf-8"))
        for shown, message in zip(page.messages, expected, strict=True):
            for attachment in message.attachments:
                link = backup.link(path, attachment.domain, attachment.relative_path)
                if attachment.data is None:
                    assert link is None and f"{attachment.name}" in shown["bubble"]
                    assert "not in the backup" in shown["bubble"]
                    seen_missing = True
                    continue
                assert link in shown["links"]
                assert (backup.folder / "0 Your data" / "Messages" / link).resolve() == (
                    backup.folder / attachment.domain / attachment.relative_path).resolve()
                extension = attachment.name.rpartition(".")[2].lower()
                if extension in SHOWN_IMAGES:
                    assert link in shown["imgs"]
                    seen_image = True
                elif attachment.mime.startswith("image/"):  # HEIC: a link, not a broken image
                    assert link not in shown["imgs"]
                    seen_linked_image = True
                if extension in PLAYED_VIDEOS:
                    assert link in shown["videos"]
    assert seen_image and seen_missing and (seen_linked_image or generation == "ios10")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_text_form_holds_every_line_sender_and_date(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    keys = _keys(_plan(_with_sms(backup, sample)))
    for title, expected in _by_conversation(sample).items():
        text = MESSAGES.render(backup, keys[f"{safe_name(title)}.txt"]).decode("utf-8")
        assert text.splitlines()[0] == title
        position = 0
        for message in expected:
            stamp = f"{_local(message.when):%Y-%m-%d %H:%M}" if message.when is not None else "date unknown"
            service = f" ({message.service})" if message.service else ""
            header = f"{stamp}  {message.sender}{service}\n"
            position = text.index(header, position) + len(header)
            for line in _lines(message.text):
                position = text.index(f"    {line}\n", position)
            for attachment in message.attachments:
                assert f"[attachment {attachment.name}" in text


def test_the_same_number_on_sms_and_imessage_is_one_conversation(backup: FixtureBackup) -> None:
    keys = _keys(_plan(_with_sms(backup, ios17_sms())))
    text = MESSAGES.render(backup, keys["Emma Laurent.txt"]).decode()
    assert "Emma Laurent (iMessage)" in text and "Emma Laurent (SMS)" in text and "Me (SMS)" in text
    page = Page(MESSAGES.render(backup, keys["Emma Laurent.html"]).decode())
    sms_from_me = [m for m in page.messages if "me" in m["classes"] and "SMS" in m["meta"]]
    assert sms_from_me and all("sms" in m["classes"] for m in sms_from_me)


def test_messages_in_no_chat_join_their_person_or_stand_alone(backup: FixtureBackup) -> None:
    keys = _keys(_plan(_with_sms(backup, ios10_sms())))
    assert "(from my old phone)" in MESSAGES.render(backup, keys["Emma Laurent.txt"]).decode()
    assert "Your test results are ready" in MESSAGES.render(backup, keys["Dr. Priya Shah.txt"]).decode()


def test_an_unsent_message_says_so(backup: FixtureBackup) -> None:
    keys = _keys(_plan(_with_sms(backup, ios17_sms())))
    page = Page(MESSAGES.render(backup, keys["Emma Laurent, Sam Okafor & 2 more.html"]).decode())
    assert page.messages[-1]["bubble"] == "(unsent)"


def test_the_demo_sms_db_renders(backup: FixtureBackup) -> None:
    name = samples.sms_attachment_filename("0C3A7F2E-1111-4222-8333-444455556666", "IMG_0001.HEIC")
    backup.add(SMS_DOMAIN, SMS_PATH, samples.sms_db([name]))
    backup.add(ADDRESS_BOOK_DOMAIN, ADDRESS_BOOK, samples.address_book())
    backup.add("MediaDomain", name[2:], samples.heic())
    plan = _plan(backup)
    assert plan.summary == "3 conversations, 12 messages"
    html = MESSAGES.render(backup, _keys(plan)["Emma Laurent.html"]).decode()
    assert "Hey! Are we still on for dinner tomorrow?" in html and "IMG_0001.HEIC" in html


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_samples_are_deterministic(generation: str) -> None:
    first, second = GENERATIONS[generation](), GENERATIONS[generation]()
    assert first == second and first.database() == second.database()


# POSIX rules, so that no time zone database is needed: central Europe, eastern US, and Lord Howe
# Island, whose clocks move by half an hour.
ZONES_WITH_DAYLIGHT_SAVING = ("CET-1CEST,M3.5.0,M10.5.0/3", "EST5EDT,M3.2.0,M11.1.0",
                              "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0")


@pytest.fixture
def zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("zone", ZONES_WITH_DAYLIGHT_SAVING, indirect=True)
def test_the_clock_agrees_with_datetime_across_daylight_saving_changes(zone: str) -> None:
    """Every hour of a year and each second around each change of offset, as datetime shows them."""
    start = 1_672_531_200  # 2023-01-01 UTC
    grid = range(start, start + 366 * 86_400, 600)
    changes = [unix for before, unix in pairwise(grid) if time.localtime(before).tm_gmtoff != time.localtime(unix).tm_gmtoff]
    assert len(changes) == 2, zone
    moments = [*grid[::6], *(second for change in changes for second in range(change - 900, change + 300))]
    clock = _Clock()
    for unix in moments:
        local = _local(unix)
        assert clock.line(unix) == f"{local:%Y-%m-%d %H:%M}"
        assert clock.page(unix) == (f"{local:%A %d %B %Y}",
                                    f'<time datetime="{local.isoformat()}">{local:%H:%M}</time>'), unix


def test_a_database_that_changed_is_read_again(backup: FixtureBackup) -> None:
    """The two forms share one reading of the database; a new file at the same path is not mistaken for it."""
    sample = ios17_sms()
    backup.add(SMS_DOMAIN, SMS_PATH, sample.database())
    backup.add(ADDRESS_BOOK_DOMAIN, ADDRESS_BOOK, samples.address_book())
    keys = _keys(_plan(backup))
    text = MESSAGES.render(backup, keys["Emma Laurent.txt"]).decode()
    assert MESSAGES.render(backup, keys["Emma Laurent.html"]).decode().count('<div class="msg') == len(
        _by_conversation(sample)["Emma Laurent"])
    late = "A late addition " + "padding " * 2_000  # a bigger file, whatever the clock's resolution
    backup.add(SMS_DOMAIN, SMS_PATH, database_bytes(
        sample.sql + "INSERT INTO message (ROWID, guid, text, handle_id, date, is_from_me, service) "
        f"VALUES (990, 'late', '{late}', 1, 760000000000000000, 0, 'iMessage');"
        "INSERT INTO chat_message_join (chat_id, message_id) VALUES (1, 990);"))
    again = MESSAGES.render(backup, keys["Emma Laurent.txt"]).decode()
    assert "A late addition" in again and "A late addition" not in text


# --- speed -----------------------------------------------------------------------------------------

def test_a_hundred_thousand_messages_plan_and_render_fast(backup: FixtureBackup) -> None:
    backup.add(SMS_DOMAIN, SMS_PATH, big_sms_db())
    backup.add(ADDRESS_BOOK_DOMAIN, ADDRESS_BOOK, samples.address_book())
    started = time.perf_counter()
    plan = _plan(backup)
    planned = time.perf_counter() - started
    assert plan.summary == "200 conversations, 100,000 messages"
    started = time.perf_counter()
    html = MESSAGES.render(backup, _keys(plan)["Emma Laurent.html"])
    rendered = time.perf_counter() - started
    assert html.count(b'<div class="msg') == 20_000
    assert planned < 1.0, f"plan took {planned:.2f} s"
    assert rendered < 2.0, f"render took {rendered:.2f} s"


def test_the_text_shows_an_attachment_path_readable_and_the_page_a_url(backup: FixtureBackup) -> None:
    """A space in a file name is "%20" in the page's link, which a browser needs, and a space in the text."""
    path = "Library/SMS/Attachments/4a/10/F00D-JR/JR Pass (Tōkyō).pdf"
    attachment = ("INSERT INTO message (ROWID, guid, text, handle_id, date, is_from_me, service) "
                  "VALUES (950, 'jr-pass', 'Ticket', 1, 721300000000000000, 1, 'iMessage');"
                  "INSERT INTO chat_message_join (chat_id, message_id) VALUES (1, 950);"
                  "INSERT INTO attachment (ROWID, guid, original_guid, filename, mime_type, transfer_name, total_bytes) "
                  f"VALUES (95, 'jr-pass', 'jr-pass', '~/{path}', 'application/pdf', 'JR Pass (Tōkyō).pdf', 9);"
                  "INSERT INTO message_attachment_join VALUES (950, 95);")
    backup.add_database(SMS_DOMAIN, SMS_PATH, ios17_sms().sql + attachment)
    backup.add("MediaDomain", path, b"%PDF-1.4\n")
    keys = _keys(_plan(backup))
    conversation = next(path.removesuffix(".txt") for path, key in keys.items()
                        if path.endswith(".txt") and "Ticket" in MESSAGES.render(backup, key).decode())
    text = MESSAGES.render(backup, keys[f"{conversation}.txt"]).decode()
    assert f"[attachment JR Pass (Tōkyō).pdf, 9 bytes: ../../MediaDomain/{path}]" in text
    html = MESSAGES.render(backup, keys[f"{conversation}.html"]).decode()
    assert f'href="../../MediaDomain/{quote(path)}"' in html

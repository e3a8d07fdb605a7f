"""WhatsApp: every chat of both ChatStorage generations, every message with its sender, media linked."""

from __future__ import annotations

import posixpath
import sqlite3
from datetime import datetime, timezone
from html.parser import HTMLParser
from urllib.parse import quote, unquote

import pytest

from backupfs.demo import samples
from backupfs.demo.readable_whatsapp import (
    DATABASE,
    DOMAIN,
    ChatStorageSample,
    current_chat_storage,
    legacy_chat_storage,
)
from backupfs.demo.sqlbuild import sql_literal
from backupfs.readable.addressbook import ADDRESS_BOOK
from backupfs.readable.base import READABLE_FOLDER, safe_name
from backupfs.readable.whatsapp import WHATSAPP
from tests.readable.conftest import FixtureBackup

pytestmark = pytest.mark.usefixtures("utc")  # dates are shown in local time: expected texts are exact in UTC

GENERATIONS = {"current": current_chat_storage, "legacy": legacy_chat_storage}
_VOID = {"meta", "img", "br", "input", "link", "hr", "source"}


def install(backup: FixtureBackup, sample: ChatStorageSample, address_book: bool = True) -> None:
    backup.add_database(DOMAIN, DATABASE, sample.sql)
    for path, data in sample.media.items():
        backup.add(DOMAIN, path, data)
    if address_book:
        backup.add("HomeDomain", ADDRESS_BOOK, samples.address_book())


class Page(HTMLParser):
    """The parts of a chat page the tests look at; fails on any unbalanced tag."""

    def __init__(self, data: bytes) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.bubbles: list[dict[str, str]] = []  # who, bubble, meta texts and classes of each message
        self.days: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.tags: list[str] = []
        self.title = ""
        self._part: str | None = None
        self.feed(data.decode("utf-8"))
        self.close()
        assert not self.stack, f"unclosed tags: {self.stack}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append(tag)
        classes = (values.get("class") or "").split()
        if tag == "div" and "msg" in classes:
            self.bubbles.append({"class": " ".join(classes), "who": "", "bubble": "", "meta": ""})
        elif tag == "div" and {"who", "bubble", "meta", "day"} & set(classes):
            self._part = classes[0]
            if self._part == "day":
                self.days.append("")
        elif tag == "img":  # read as a text browser would: by its alternative text
            self.images.append(values.get("src") or "")
            self.handle_data(values.get("alt") or "")
        elif tag == "a":
            self.links.append(values.get("href") or "")
        elif tag == "title":
            self._part = "title"
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()
        if tag in ("div", "title"):
            self._part = None

    def handle_data(self, data: str) -> None:
        if self._part == "title":
            self.title += data
        elif self._part == "day":
            self.days[-1] += data
        elif self._part is not None and self.bubbles:
            self.bubbles[-1][self._part] += data


def render_chat(backup: FixtureBackup, name: str, form: str) -> bytes:
    plan = WHATSAPP.plan(backup)
    assert plan is not None
    matches = [f for f in plan.files if f.path == f"{safe_name(name)}.{form}"]
    assert len(matches) == 1, [f.path for f in plan.files]
    assert matches[0].key is not None
    return WHATSAPP.render(backup, matches[0].key)


def resolve(link: str) -> str:
    """The mount path a link from a file of the WhatsApp folder points to."""
    return posixpath.normpath(posixpath.join(f"{READABLE_FOLDER}/WhatsApp", unquote(link)))


@pytest.mark.parametrize("generation", GENERATIONS)
def test_each_chat_is_a_page_and_a_text_with_safe_unique_names(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    install(backup, sample)
    plan = WHATSAPP.plan(backup)
    assert plan is not None
    expected = {f"{safe_name(name)}.{form}" for name in sample.chats for form in ("html", "txt")}
    assert {f.path for f in plan.files} == expected
    assert len({f.path.casefold() for f in plan.files}) == len(plan.files)
    assert all(safe_name(f.path) == f.path and f.key and f.same_as is None for f in plan.files)
    assert plan.summary == f"{len(sample.chats)} chats, {len(sample.messages)} messages"


def test_a_name_no_file_may_hold_is_made_safe(backup: FixtureBackup) -> None:
    install(backup, current_chat_storage())
    plan = WHATSAPP.plan(backup)
    assert plan is not None
    assert "Luki _3 _ Berlin.html" in {f.path for f in plan.files}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_every_message_is_on_its_chat_page_oldest_first_with_its_sender(backup: FixtureBackup,
                                                                        generation: str) -> None:
    sample = GENERATIONS[generation]()
    install(backup, sample)
    for chat in sample.chats:
        page = Page(render_chat(backup, chat, "html"))
        expected = [m for m in sample.messages if m.chat == chat]
        # Undated rows sort first, as they do in the database.
        expected.sort(key=lambda m: (m.unix is not None, m.unix or 0))
        assert page.title == chat
        assert len(page.bubbles) == len(expected)
        for bubble, message in zip(page.bubbles, expected):
            assert bubble["who"] == message.sender
            assert message.text in bubble["bubble"]
            assert ("me" in bubble["class"].split()) == (message.sender == "Me")
            if message.unix is not None:
                moment = datetime.fromtimestamp(message.unix, timezone.utc)
                assert bubble["meta"] == f"{moment:%H:%M}"
                assert f"{moment:%A %d %B %Y}" in page.days
            else:
                assert bubble["meta"] == "time unknown" and "Date unknown" in page.days


@pytest.mark.parametrize("generation", GENERATIONS)
def test_every_message_is_in_the_text_file_with_date_and_sender(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    install(backup, sample)
    for chat in sample.chats:
        text = render_chat(backup, chat, "txt").decode("utf-8")
        head, *blocks = text.rstrip("\n").split("\n\n")
        assert head.splitlines()[0] == chat
        expected = sorted((m for m in sample.messages if m.chat == chat), key=lambda m: (m.unix is not None, m.unix or 0))
        assert len(blocks) == len(expected)
        for block, message in zip(blocks, expected):
            when = (f"{datetime.fromtimestamp(message.unix, timezone.utc):%Y-%m-%d %H:%M}"
                    if message.unix is not None else "date unknown")
            header, *lines = block.split("\n")
            assert header == f"{when}  {message.sender}"
            assert all(line.startswith("    ") for line in lines)
            assert message.text in "\n".join(line[4:] for line in lines)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_media_are_linked_to_the_backup_files_and_missing_ones_named(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    install(backup, sample)
    with_media = [m for m in sample.messages if m.media]
    assert any(m.present for m in with_media) and any(not m.present for m in with_media)
    for chat in {m.chat for m in with_media}:
        page = Page(render_chat(backup, chat, "html"))
        text = render_chat(backup, chat, "txt").decode("utf-8")
        targets = {resolve(link) for link in page.links + page.images}
        for message in (m for m in with_media if m.chat == chat):
            assert message.media is not None
            name = message.media.rsplit("/", 1)[1]
            if message.present:
                assert f"{DOMAIN}/{message.media}" in targets
                assert f"[attachment {name}: " in text
            else:
                assert f"{name}, not in the backup" in b"".join(
                    b["bubble"].encode() for b in page.bubbles).decode()
                assert f"[attachment {name}, not in the backup]" in text
        for image in page.images:  # images are shown inline, and only the files the backup holds
            assert backup.has(DOMAIN, resolve(image).removeprefix(f"{DOMAIN}/"))


def test_legacy_media_are_found_at_the_top_of_the_container(backup: FixtureBackup) -> None:
    sample = legacy_chat_storage()
    install(backup, sample)
    page = Page(render_chat(backup, "Emma", "html"))
    assert [resolve(src) for src in page.images] == [f"{DOMAIN}/{next(iter(sample.media))}"]
    assert not next(iter(sample.media)).startswith("Message/")


def test_text_that_looks_like_html_is_shown_not_interpreted(backup: FixtureBackup) -> None:
    install(backup, current_chat_storage())
    page = Page(render_chat(backup, "Famille 🏡", "html"))
    assert "b" not in page.tags
    assert any("<b>sorry</b> & so" in b["bubble"] for b in page.bubbles)


def test_location_contact_and_deleted_messages_say_what_they_were(backup: FixtureBackup) -> None:
    install(backup, current_chat_storage())
    bubbles = [b["bubble"] for b in Page(render_chat(backup, "Alex Martin", "html")).bubbles]
    assert "Location: Time Out Market, 38.706932, -9.145825" in bubbles
    assert "This message was deleted." in bubbles
    family = [b["bubble"] for b in Page(render_chat(backup, "Famille 🏡", "html")).bubbles]
    assert "Contact card: Dr. Priya Shah" in family


def test_without_the_address_book_a_chat_is_named_by_its_number(backup: FixtureBackup) -> None:
    install(backup, current_chat_storage(), address_book=False)
    plan = WHATSAPP.plan(backup)
    assert plan is not None
    paths = {f.path for f in plan.files}
    assert "+15550100456.html" in paths and "Alex Martin.html" not in paths
    senders = {b["who"] for b in Page(render_chat(backup, "Famille 🏡", "html")).bubbles}
    assert senders == {"Mamie Jeanne", "Sammy", "Lukas 🚲", "Me"}  # push names stand in for the address book


def test_two_chats_with_one_name_get_two_files(backup: FixtureBackup) -> None:
    sample = current_chat_storage()
    sql = sample.sql + (
        "INSERT INTO ZWACHATSESSION (Z_PK, Z_ENT, Z_OPT, ZCONTACTJID, ZPARTNERNAME, ZSESSIONTYPE) "
        "VALUES (6, 3, 1, '447700900999@s.whatsapp.net', 'Anna Müller', 0);\n"
        "INSERT INTO ZWAMESSAGE (Z_PK, Z_ENT, Z_OPT, ZCHATSESSION, ZISFROMME, ZMESSAGEDATE, ZTEXT) "
        "VALUES (99, 9, 1, 6, 0, 721900000.0, 'The other Anna');\n")
    backup.add_database(DOMAIN, DATABASE, sql)
    plan = WHATSAPP.plan(backup)
    assert plan is not None
    assert {"Anna Müller.html", "Anna Müller 2.html", "Anna Müller 2.txt"} <= {f.path for f in plan.files}
    assert "The other Anna" in render_chat(backup, "Anna Müller 2", "txt").decode()


def test_odd_rows_are_shown_as_far_as_they_can_be(backup: FixtureBackup) -> None:
    sample = current_chat_storage()
    sql = sample.sql + (
        "INSERT INTO ZWAMESSAGE (Z_PK, Z_ENT, Z_OPT, ZCHATSESSION, ZISFROMME, ZMESSAGEDATE, ZTEXT, ZMESSAGETYPE) "
        "VALUES (100, 9, 1, 1, NULL, 'not a date', X'4869FF21', NULL),"
        " (101, 9, 1, 1, X'01', 1e300, 'Far future', 'seven'),"
        " (102, 9, 1, 42, 0, 721900000.0, 'In no chat', 0),"
        " (103, 9, 1, NULL, 0, 721900000.0, 'Nowhere', 0);\n")
    backup.add_database(DOMAIN, DATABASE, sql)
    plan = WHATSAPP.plan(backup)
    assert plan is not None
    assert plan.summary == f"4 chats, {len(sample.messages) + 2} messages"
    text = render_chat(backup, "Anna Müller", "txt").decode()
    assert "Hi\ufffd!" in text and "Far future" in text
    assert "In no chat" not in text and "Nowhere" not in text
    Page(render_chat(backup, "Anna Müller", "html"))


def test_planned_files_are_dated_by_their_last_message(backup: FixtureBackup) -> None:
    sample = current_chat_storage()
    install(backup, sample)
    plan = WHATSAPP.plan(backup)
    assert plan is not None
    dates = {f.path: f.mtime for f in plan.files}
    last = max(m.unix or 0 for m in sample.messages if m.chat == "Anna Müller")
    assert dates["Anna Müller.html"] == dates["Anna Müller.txt"] == int(last)


def test_no_database_or_no_message_means_no_folder(backup: FixtureBackup) -> None:
    assert WHATSAPP.plan(backup) is None
    schema = current_chat_storage().sql.split("INSERT", 1)[0]
    backup.add_database(DOMAIN, DATABASE, schema)
    assert WHATSAPP.plan(backup) is None


def test_a_damaged_database_raises(backup: FixtureBackup) -> None:
    backup.add(DOMAIN, DATABASE, b"\x13\x37 not an SQLite file at all " * 300)
    with pytest.raises(sqlite3.DatabaseError):
        WHATSAPP.plan(backup)


def test_a_database_without_messages_table_raises(backup: FixtureBackup) -> None:
    backup.add_database(DOMAIN, DATABASE, current_chat_storage().sql + "DROP TABLE ZWAMESSAGE;")
    with pytest.raises(ValueError, match="ZWAMESSAGE"):
        WHATSAPP.plan(backup)


def test_an_unknown_key_raises(backup: FixtureBackup) -> None:
    install(backup, current_chat_storage())
    for key in ("chat:999:html", "chat:1:pdf", "calls:csv", "chat:x:txt"):
        with pytest.raises(KeyError):
            WHATSAPP.render(backup, key)


def test_the_text_shows_a_media_path_readable_and_the_page_a_url(backup: FixtureBackup) -> None:
    """A space in a file name is "%20" in the page's link, which a browser needs, and a space in the text."""
    sample = legacy_chat_storage()
    message = next(m for m in sample.messages if m.media and m.present)
    assert message.media is not None
    renamed = f"{message.media.rsplit('/', 1)[0]}/JR Pass (Tōkyō).pdf"
    backup.add_database(DOMAIN, DATABASE, sample.sql + f"UPDATE ZWAMEDIAITEM SET ZMEDIALOCALPATH = "
                        f"{sql_literal(renamed)} WHERE ZMEDIALOCALPATH = {sql_literal(message.media)};")
    backup.add(DOMAIN, renamed, b"%PDF-1.4\n")
    text = render_chat(backup, message.chat, "txt").decode("utf-8")
    assert f"[attachment JR Pass (Tōkyō).pdf: ../../{DOMAIN}/{renamed}]" in text
    page = Page(render_chat(backup, message.chat, "html"))
    assert f"../../{DOMAIN}/{quote(renamed)}" in page.links

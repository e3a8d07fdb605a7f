"""The Notes renderer over NoteStore.sqlite (iOS 11 and iOS 16 schemas) and the legacy notes.sqlite."""

from __future__ import annotations

import gzip
import posixpath
import sqlite3
from collections.abc import Callable
from datetime import datetime
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import unquote

import pytest

from backupfs.demo import readable_notes as fixtures
from backupfs.demo.readable_notes import OBJECT, FixtureNote, NotesFixture, proto_field
from backupfs.demo.sqlbuild import database_bytes
from backupfs.readable.base import READABLE_FOLDER, Plan, safe_name
from backupfs.readable.notes import (
    LOCKED_MESSAGE,
    NOTES,
    UNREADABLE_MESSAGE,
    ProtoField,
    html_to_text,
    inflate,
    parse_note_body,
    proto_fields,
)

if TYPE_CHECKING:  # the fixture comes from conftest; importing it again would load that module twice
    from tests.readable.conftest import FixtureBackup

BUILDERS: dict[str, Callable[[], NotesFixture]] = {
    "ios16": fixtures.note_store_ios16, "ios11": fixtures.note_store_ios11, "legacy": fixtures.legacy_notes,
}
_VOID = {"meta", "img", "br", "hr", "link", "input"}


# --- helpers ---------------------------------------------------------------------------------

class Page(HTMLParser):
    """A rendered page, checked as it is parsed: every element closed in order, nothing left open."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.opened: list[str] = []
        self.text: dict[str, list[str]] = {"h1": [], "header": [], "article": [], "main": []}
        self.in_article: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.spans: list[tuple[str, str]] = []  # (class, text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if "article" in self.stack:
            self.in_article.append(tag)
        if tag == "img":
            self.images.append(values)
        elif tag == "a":
            self.links.append(str(values["href"]))
        elif tag == "span":
            self.spans.append((str(values.get("class")), ""))
        self.opened.append(tag)
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        for element, parts in self.text.items():
            if element in self.stack:
                parts.append(data)
        if self.stack and self.stack[-1] == "span":
            kind, text = self.spans[-1]
            self.spans[-1] = (kind, text + data)

    def of(self, element: str) -> str:
        return "".join(self.text[element])


def parse_page(data: bytes) -> Page:
    page = Page()
    page.feed(data.decode("utf-8"))
    page.close()
    assert not page.stack, f"left open: {page.stack}"
    assert page.opened[:6] == ["html", "head", "meta", "meta", "title", "style"]
    assert page.opened[6:9] == ["body", "header", "h1"] and "main" in page.opened
    assert "script" not in page.opened
    return page


def install(backup: FixtureBackup, fixture: NotesFixture, sql_after: str = "") -> None:
    backup.add_database(fixture.domain, fixture.path, fixture.sql + sql_after)
    for path, data in fixture.files:
        backup.add(fixture.domain, path, data)


def planned(backup: FixtureBackup) -> Plan:
    plan = NOTES.plan(backup)
    assert plan is not None
    return plan


def rendered(backup: FixtureBackup, plan: Plan, path: str) -> bytes:
    entry = next(f for f in plan.files if f.path == path)
    assert entry.key is not None
    return NOTES.render(backup, entry.key)


def find(plan: Plan, title: str, extension: str, number: int = 1) -> str:
    """The path of the ``number``-th note named ``title`` (" 2" is added to the second's name)."""
    stem = safe_name(title) + (f" {number}" if number > 1 else "")
    matches = [f.path for f in plan.files if f.path.rsplit("/", 1)[-1] == f"{stem}.{extension}"]
    assert len(matches) == 1, (title, matches)
    return matches[0]


def when(unix: int) -> str:
    """A note's date as shown: in the computer's time zone."""
    return f"{datetime.fromtimestamp(unix).astimezone():%Y-%m-%d %H:%M}"


def resolve(note_path: str, href: str) -> str:
    """Where a link of the page at ``note_path`` leads, relative to the backup's top."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(f"{READABLE_FOLDER}/Notes/{note_path}"), unquote(href)))


def shown_folder(fixture: NotesFixture, note: FixtureNote) -> str:
    several = len({n.account for n in fixture.notes}) > 1
    return "/".join(safe_name(p) for p in ((note.account,) if several else ()) + note.folder)


# --- protobuf --------------------------------------------------------------------------------

def test_proto_fields_reads_varints_strings_nested_messages_and_fixed_numbers() -> None:
    nested = proto_field(1, 300) + proto_field(2, "é🙂")
    data = (proto_field(1, 0) + proto_field(2, nested) + bytes([3 << 3 | 5]) + (7).to_bytes(4, "little")
            + bytes([4 << 3 | 1]) + (2**40).to_bytes(8, "little") + proto_field(5, 2**63))
    fields = proto_fields(data)
    assert fields == [ProtoField(1, 0), ProtoField(2, nested), ProtoField(3, 7), ProtoField(4, 2**40),
                      ProtoField(5, 2**63)]
    assert proto_fields(nested) == [ProtoField(1, 300), ProtoField(2, "é🙂".encode())]


def test_proto_fields_keeps_what_precedes_a_cut() -> None:
    data = proto_field(1, 150) + proto_field(2, "hello world")
    assert proto_fields(data[:-3]) == [ProtoField(1, 150), ProtoField(2, b"hello wo")]  # a cut string keeps its start
    assert proto_fields(data[:5]) == [ProtoField(1, 150), ProtoField(2, b"")]  # cut right after a length
    assert proto_fields(data[:4]) == [ProtoField(1, 150)]  # cut between a key and its length
    assert proto_fields(data[:3]) == [ProtoField(1, 150)]  # key (1 byte) and value (2 bytes), then nothing
    assert proto_fields(data[:2]) == []  # the value of field 1 is cut inside its varint
    assert proto_fields(proto_field(1, 5) + bytes([2 << 3 | 5, 1, 2])) == [ProtoField(1, 5)]  # fixed32 cut short


def test_proto_fields_stops_at_garbage_without_failing() -> None:
    assert proto_fields(b"\xff" * 20) == []  # a varint longer than 64 bits
    assert proto_fields(proto_field(1, 1) + bytes([2 << 3 | 3]) + b"rest") == [ProtoField(1, 1)]  # a group
    assert proto_fields(b"\x00\x01") == []  # field number 0 does not exist
    assert proto_fields(b"") == []


def test_a_note_body_gives_its_text_and_attachments_in_order() -> None:
    text = f"Title 🙂\nline with an emoji 🎉 before {OBJECT} and{OBJECT}\nend"
    body = parse_note_body(fixtures.note_document(text, [("ID-1", "public.jpeg"), ("ID-2", "com.adobe.pdf")]))
    assert body.text == text
    assert body.attachments == (("ID-1", "public.jpeg"), ("ID-2", "com.adobe.pdf"))


def test_a_truncated_note_body_gives_the_start_of_its_text() -> None:
    text = fixtures.note_store_ios16().notes[5].text  # the long reading journal
    blob = fixtures.note_data(text)
    assert parse_note_body(inflate(blob)).text == text
    partial = parse_note_body(inflate(blob[:len(blob) // 2])).text.removesuffix("\ufffd")  # a character cut in two
    assert 100 < len(partial) < len(text) and text.startswith(partial)


def test_inflate_and_parse_refuse_what_is_not_a_note() -> None:
    with pytest.raises(ValueError):
        inflate(b"\x00garbage that is not gzip")
    with pytest.raises(ValueError):
        parse_note_body(gzip.decompress(gzip.compress(b"plain text, not a protobuf")))


def test_html_to_text_keeps_lines_and_drops_markup() -> None:
    markup = "Title<div>one<br></div><div><br></div><div>a &lt;b&gt; &amp; c</div><script>x()</script>" \
             "<ul><li>first</li><li>second</li></ul><style>p{}</style>end"
    assert html_to_text(markup) == "Title\none\n\na <b> & c\n• first\n• second\nend"


# --- every fixture: every note, every line, valid pages --------------------------------------

@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_note_is_rendered_with_its_title_body_and_dates(backup: FixtureBackup, name: str) -> None:
    fixture = BUILDERS[name]()
    install(backup, fixture)
    plan = planned(backup)
    assert len(plan.files) == 2 * len(fixture.notes)
    for index, note in enumerate(fixture.notes):
        number = 1 + sum(other.title == note.title for other in fixture.notes[:index])
        html_path = find(plan, note.title, "html", number)
        text_path = find(plan, note.title, "txt", number)
        assert html_path.rpartition("/")[0] == shown_folder(fixture, note)
        page = parse_page(rendered(backup, plan, html_path))
        text = rendered(backup, plan, text_path).decode("utf-8")
        assert page.of("h1") == note.title and text.splitlines()[0] == note.title
        assert when(note.created) in page.of("header") and f"Created: {when(note.created)}" in text
        assert f"Modified: {when(note.modified)}" in text
        if note.locked:
            assert LOCKED_MESSAGE in page.of("main") and LOCKED_MESSAGE in text
            assert "article" not in page.opened
            assert all(line not in page.of("main") + text for line in note.lines[1:])
        else:
            for line in note.lines:
                assert line in page.of("article"), (note.title, line)
                assert line in text, (note.title, line)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_file_names_are_safe_unique_and_paired(backup: FixtureBackup, name: str) -> None:
    install(backup, BUILDERS[name]())
    paths = [f.path for f in planned(backup).files]
    assert len({p.casefold() for p in paths}) == len(paths)
    for path in paths:
        assert all(part == safe_name(part) for part in path.split("/")), path
    html = sorted(p.removesuffix(".html") for p in paths if p.endswith(".html"))
    assert html == sorted(p.removesuffix(".txt") for p in paths if p.endswith(".txt"))


# --- folders as on the phone -----------------------------------------------------------------

def test_ios16_folders_nested_and_recently_deleted(backup: FixtureBackup) -> None:
    install(backup, fixtures.note_store_ios16())
    plan = planned(backup)
    assert plan.summary == "9 notes in 5 folders"
    assert {f.path for f in plan.files if f.path.endswith(".html")} == {
        "Notes/Groceries.html", "Notes/Groceries 2.html", "Notes/Reading journal 2023.html",
        "Notes/Call the plumber about the leak under the sink.html", "Notes/Q3 plan_ budget_costs_.html",
        "Recipes/Tarte tatin.html", "Travel/Passport & visas.html", "Travel/Japan 2023/Ramen in Tokyo.html",
        "Recently Deleted/Old packing list.html",
    }
    groceries = next(f for f in plan.files if f.path == "Notes/Groceries.html")
    assert groceries.mtime == fixtures.note_store_ios16().notes[0].modified  # the older one keeps the plain name


def test_ios11_accounts_become_folders_and_a_note_marked_for_deletion_is_recently_deleted(
        backup: FixtureBackup) -> None:
    install(backup, fixtures.note_store_ios11())
    plan = planned(backup)
    assert plan.summary == "6 notes in 5 folders"
    assert {f.path for f in plan.files if f.path.endswith(".txt")} == {
        "iCloud/Notes/Wi-Fi at the cabin.txt", "iCloud/Notes/Bank codes.txt", "iCloud/Work/Meeting 14 March.txt",
        "iCloud/Recently Deleted/Old shopping list.txt", "On My iPhone/Notes/Gift ideas.txt",
        "On My iPhone/Recently Deleted/Parking spot.txt",
    }


def test_legacy_folders_skip_bookkeeping_rows(backup: FixtureBackup) -> None:
    install(backup, fixtures.legacy_notes())
    plan = planned(backup)
    assert plan.summary == "7 notes in 3 folders"
    assert "iCloud/Recently Deleted/Old phone numbers.html" in {f.path for f in plan.files}
    assert "Gmail/Notes/Рецепт борща.html" in {f.path for f in plan.files}


def test_both_databases_together(backup: FixtureBackup) -> None:
    install(backup, fixtures.note_store_ios16())
    install(backup, fixtures.legacy_notes())
    plan = planned(backup)
    assert plan.summary == "16 notes in 6 folders"
    paths = {f.path for f in plan.files}
    assert {"iCloud/Notes/Groceries.html", "iCloud/Notes/Shopping.html", "Gmail/Notes/Web clipping.txt",
            "iCloud/Travel/Japan 2023/Ramen in Tokyo.html"} <= paths
    assert "Cheese & wine 🍷" in rendered(backup, plan, "iCloud/Notes/Shopping.txt").decode()
    assert "Oat milk" in rendered(backup, plan, "iCloud/Notes/Groceries.txt").decode()


def test_an_untitled_note_is_named_by_its_first_line(backup: FixtureBackup) -> None:
    fixture = fixtures.note_store_ios16()
    install(backup, fixture)
    untitled = next(n for n in fixture.notes if not n.stored_title)
    path = find(planned(backup), untitled.title, "html")
    assert path == f"Notes/{untitled.title}.html"


# --- attachments -----------------------------------------------------------------------------

def test_an_image_in_the_backup_is_shown_inline_and_linked(backup: FixtureBackup) -> None:
    fixture = fixtures.note_store_ios16()
    install(backup, fixture)
    plan = planned(backup)
    page = parse_page(rendered(backup, plan, "Recipes/Tarte tatin.html"))
    media, data = next((p, d) for p, d in fixture.files if p.endswith("/IMG_4031.jpeg"))
    assert [resolve("Recipes/Tarte tatin.html", str(img["src"])) for img in page.images] == \
        [f"{fixture.domain}/{media}"]
    assert (backup.folder / fixture.domain / media).read_bytes() == data[:] and data[:2] == b"\xff\xd8"
    assert page.images[0]["alt"] == "IMG_4031.jpeg"
    assert "[Attachment: IMG_4031.jpeg]" in rendered(backup, plan, "Recipes/Tarte tatin.txt").decode()


def test_a_missing_attachment_is_named_and_marked_and_a_document_is_linked(backup: FixtureBackup) -> None:
    fixture = fixtures.note_store_ios16()
    install(backup, fixture)
    plan = planned(backup)
    path = "Travel/Japan 2023/Ramen in Tokyo.html"
    page = parse_page(rendered(backup, plan, path))
    assert page.images == []
    assert ("note missing", "[IMG_5120.HEIC: missing from the backup]") in page.spans
    pdf = next(p for p, _ in fixture.files if p.endswith("/JR Pass.pdf"))
    assert [resolve(path, href) for href in page.links] == [f"{fixture.domain}/{pdf}"]
    text = rendered(backup, plan, path.replace(".html", ".txt")).decode()
    assert "[Attachment missing from the backup: IMG_5120.HEIC]" in text and "[Attachment: JR Pass.pdf]" in text


def test_ios11_attachments_one_present_one_missing(backup: FixtureBackup) -> None:
    fixture = fixtures.note_store_ios11()
    install(backup, fixture)
    page = parse_page(rendered(backup, planned(backup), "iCloud/Work/Meeting 14 March.html"))
    assert len(page.images) == 1 and str(page.images[0]["src"]).endswith("/IMG_0412.jpeg")
    assert ("note missing", "[IMG_0413.jpeg: missing from the backup]") in page.spans


def test_inline_hashtags_tables_and_markup_in_text(backup: FixtureBackup) -> None:
    install(backup, fixtures.note_store_ios16())
    page = parse_page(rendered(backup, planned(backup), "Notes/Q3 plan_ budget_costs_.html"))
    assert "#work hiring freeze" in page.of("article")
    assert ("note", "[Table, not shown]") in page.spans
    assert 'the "<b>offsite</b>" & travel' in page.of("article")  # shown as text, never as markup
    assert page.in_article == ["span"]


def test_legacy_html_never_reaches_the_page(backup: FixtureBackup) -> None:
    install(backup, fixtures.legacy_notes())
    plan = planned(backup)
    data = rendered(backup, plan, "Gmail/Notes/Web clipping.html")
    page = parse_page(data)
    assert page.in_article == [] and b"alert" not in data
    assert "bold words and <not a tag> & more\nafter the script" in page.of("article")


# --- absent and damaged databases ------------------------------------------------------------

def test_no_notes_database_gives_none(backup: FixtureBackup) -> None:
    backup.add("HomeDomain", "Library/SMS/sms.db", b"")
    assert NOTES.plan(backup) is None


def test_a_notestore_without_notes_gives_none(backup: FixtureBackup) -> None:
    install(backup, fixtures.note_store_ios16(), "DELETE FROM ZICNOTEDATA; DELETE FROM ZICCLOUDSYNCINGOBJECT;")
    assert NOTES.plan(backup) is None


@pytest.mark.parametrize("name", list(BUILDERS))
def test_a_garbage_database_raises(backup: FixtureBackup, name: str) -> None:
    fixture = BUILDERS[name]()
    backup.add(fixture.domain, fixture.path, b"SQLite format 3\x00" + bytes(range(256)) * 20)
    with pytest.raises(sqlite3.DatabaseError):
        NOTES.plan(backup)


@pytest.mark.parametrize(("name", "damage", "error"), [
    ("ios16", "DROP TABLE ZICNOTEDATA;", ValueError),
    ("ios11", "DROP TABLE ZICCLOUDSYNCINGOBJECT;", ValueError),
    ("ios16", "DELETE FROM Z_PRIMARYKEY WHERE Z_NAME = 'ICNote';", KeyError),
    ("ios11", "DROP TABLE Z_PRIMARYKEY;", sqlite3.OperationalError),
    ("legacy", "DROP TABLE ZNOTEBODY;", ValueError),
])
def test_a_missing_table_raises(backup: FixtureBackup, name: str, damage: str, error: type[Exception]) -> None:
    install(backup, BUILDERS[name](), damage)
    with pytest.raises(error):
        NOTES.plan(backup)


def test_a_damaged_notestore_beside_a_good_legacy_database_still_raises(backup: FixtureBackup) -> None:
    install(backup, fixtures.legacy_notes())
    backup.add(fixtures.STORE_DOMAIN, fixtures.STORE_PATH, b"\x00" * 4096)
    with pytest.raises(sqlite3.DatabaseError):
        NOTES.plan(backup)


def test_odd_rows_show_what_can_be_read(backup: FixtureBackup) -> None:
    fixture = fixtures.note_store_ios16()
    damage = """
UPDATE ZICNOTEDATA SET ZDATA = X'1f8b0800deadbeef' WHERE ZNOTE = (SELECT Z_PK FROM ZICCLOUDSYNCINGOBJECT
    WHERE ZTITLE1 = 'Tarte tatin');
UPDATE ZICNOTEDATA SET ZDATA = substr(ZDATA, 1, length(ZDATA) / 2) WHERE ZNOTE = (SELECT Z_PK
    FROM ZICCLOUDSYNCINGOBJECT WHERE ZTITLE1 = 'Reading journal 2023');
UPDATE ZICCLOUDSYNCINGOBJECT SET ZTITLE1 = CAST(X'4f6cff6420c3a9' AS TEXT), ZCREATIONDATE3 = 'yesterday',
    ZMODIFICATIONDATE1 = NULL WHERE ZTITLE1 = 'Old packing list';
UPDATE ZICCLOUDSYNCINGOBJECT SET ZFOLDER = 999 WHERE ZTITLE1 = 'Passport & visas';
UPDATE ZICCLOUDSYNCINGOBJECT SET ZPARENT = (SELECT Z_PK FROM ZICCLOUDSYNCINGOBJECT WHERE ZTITLE2 = 'Japan 2023')
    WHERE ZTITLE2 = 'Travel';
"""
    install(backup, fixture, damage)
    plan = planned(backup)
    paths = {f.path for f in plan.files}
    assert "Passport & visas.html" in paths  # its folder is gone: shown at the top
    assert "Recently Deleted/Ol\ufffdd é.txt" in paths  # a title that is not UTF-8
    odd = rendered(backup, plan, "Recently Deleted/Ol\ufffdd é.txt").decode()
    assert "Created" not in odd and "Modified" not in odd and "Sunscreen" in odd
    tart = parse_page(rendered(backup, plan, "Recipes/Tarte tatin.html"))
    assert tart.of("h1") == "Tarte tatin" and UNREADABLE_MESSAGE in tart.of("main")
    journal = rendered(backup, plan, "Notes/Reading journal 2023.txt").decode()
    assert "Week 1:" in journal and "Week 52:" not in journal
    assert any("Japan 2023/Ramen in Tokyo.html" in p for p in paths)  # a loop of parent folders ends


def test_an_unknown_key_raises(backup: FixtureBackup) -> None:
    install(backup, fixtures.note_store_ios16())
    with pytest.raises(KeyError):
        NOTES.render(backup, "store|99999|html|Notes/Gone.html")
    with pytest.raises(KeyError):
        NOTES.render(backup, "legacy|1|html|Notes/Gone.html")


# --- the builders ----------------------------------------------------------------------------

def test_builders_are_deterministic_and_their_database_bytes_read_the_same(backup: FixtureBackup) -> None:
    first, second = fixtures.note_store_ios16(), fixtures.note_store_ios16()
    assert first == second
    backup.add(first.domain, first.path, database_bytes(first.sql))
    for path, data in first.files:
        backup.add(first.domain, path, data)
    assert planned(backup).summary == "9 notes in 5 folders"


@pytest.mark.parametrize("name", ["ios16", "ios11"])
def test_notestore_fixtures_use_the_schema_of_their_generation(name: str) -> None:
    fixture = BUILDERS[name]()
    conn = sqlite3.connect(":memory:")
    conn.executescript(fixture.sql)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(ZICCLOUDSYNCINGOBJECT)")}
    created, account = ("ZCREATIONDATE3", "ZACCOUNT7") if name == "ios16" else ("ZCREATIONDATE1", "ZACCOUNT2")
    assert {created, account, "ZTITLE1", "ZTITLE2", "ZFOLDER", "ZNOTEDATA", "ZISPASSWORDPROTECTED"} <= columns
    assert ("ZCREATIONDATE3" in columns) == (name == "ios16")
    notes = conn.execute(f"SELECT COUNT(*) FROM ZICCLOUDSYNCINGOBJECT WHERE {created} IS NOT NULL AND {account} "
                         "IS NOT NULL AND Z_ENT = (SELECT Z_ENT FROM Z_PRIMARYKEY WHERE Z_NAME = 'ICNote')").fetchone()
    assert notes == (len(fixture.notes),)
    locked = conn.execute("SELECT ZDATA FROM ZICNOTEDATA WHERE ZNOTE = (SELECT Z_PK FROM ZICCLOUDSYNCINGOBJECT "
                          "WHERE ZISPASSWORDPROTECTED = 1)").fetchone()[0]
    assert locked[:2] != b"\x1f\x8b"  # ciphertext, not a gzip'd body
    conn.close()

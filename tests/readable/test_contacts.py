"""The Contacts folder: everyone of both address-book generations, as vCard 3.0 and as CSV."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import vobject

from backupfs.demo import samples
from backupfs.demo.readable_contacts import (
    ADDRESS_BOOK,
    DOMAIN,
    HOME,
    HOME_FAX,
    IMAGES,
    IPHONE,
    MAIN,
    MOBILE,
    OTHER,
    PAGER,
    WORK,
    WORK_FAX,
    AddressBookFixture,
    address_book_ios9,
    address_book_ios16,
)
from backupfs.demo.sqlbuild import database_bytes
from backupfs.readable.contacts import CONTACTS, birthday
from tests.readable.conftest import FixtureBackup
from tests.readable.helpers import csv_rows, garbage_pages, truncated

GENERATIONS = {"ios9": address_book_ios9, "ios16": address_book_ios16}

# What the phone shows as each person's name, in the fixtures' order (the iOS 16 book adds the last two).
NAMES = ["Émilie Laurent-Dubois", "王小明", "Dr. Priya Shah MD", "Müller, Schmidt & Partner; GmbH",
         "+1 (555) 010-0199", "Grandma 👵", "Seán Patrick O'Brien", "Ana García", "Kofi Mensah", "Дмитрий Иванов"]
# The TYPE values importers know, for each built-in label the fixtures use.
TYPES = {MOBILE: {"CELL"}, IPHONE: {"IPHONE", "CELL"}, HOME: {"HOME"}, WORK: {"WORK"}, MAIN: {"MAIN"},
         HOME_FAX: {"HOME", "FAX"}, WORK_FAX: {"WORK", "FAX"}, PAGER: {"PAGER"}, OTHER: {"OTHER"}}


def _install(backup: FixtureBackup, fixture: AddressBookFixture, images: bool = True) -> FixtureBackup:
    backup.add_database(DOMAIN, ADDRESS_BOOK, fixture.sql)
    if images:
        backup.add_database(DOMAIN, IMAGES, fixture.images_sql)
    return backup


def _cards(backup: FixtureBackup) -> list[vobject.base.Component]:
    return list(vobject.readComponents(CONTACTS.render(backup, "vcf").decode("utf-8")))


def _rows(backup: FixtureBackup) -> list[list[str]]:
    return csv_rows(CONTACTS.render(backup, "csv"))


def _lines(card: vobject.base.Component, name: str) -> list[vobject.base.ContentLine]:
    return card.contents.get(name, [])


def _label_of(card: vobject.base.Component, line: vobject.base.ContentLine) -> str | None:
    """The X-ABLABEL beside a value of the user's own label, None when the value has none."""
    if line.group is None:
        return None
    return next(label.value for label in _lines(card, "x-ablabel") if label.group == line.group)


# --- vCard -----------------------------------------------------------------------------------

@pytest.mark.parametrize("generation", GENERATIONS)
def test_plan_lists_the_vcard_and_the_csv(backup: FixtureBackup, generation: str) -> None:
    fixture = GENERATIONS[generation]()
    plan = CONTACTS.plan(_install(backup, fixture))
    assert plan is not None
    assert [(f.path, f.key) for f in plan.files] == [("Contacts.vcf", "vcf"), ("Contacts.csv", "csv")]
    assert plan.summary == f"{len(fixture.people)} contacts"


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_vcard_parses_into_exactly_the_people(backup: FixtureBackup, generation: str) -> None:
    fixture = GENERATIONS[generation]()
    cards = _cards(_install(backup, fixture))
    assert [card.fn.value for card in cards] == NAMES[:len(fixture.people)]
    for card, person in zip(cards, fixture.people):
        assert card.version.value == "3.0"
        name = card.n.value
        assert (name.family, name.given, name.additional, name.prefix, name.suffix) == tuple(
            part or "" for part in (person.last, person.first, person.middle, person.prefix, person.suffix))
        assert [line.value for line in _lines(card, "tel")] == [number for _, number in person.phones]
        assert [line.value for line in _lines(card, "email")] == [address for _, address in person.emails]
        assert [line.value for line in _lines(card, "nickname")] == [person.nickname] * bool(person.nickname)
        assert [line.value for line in _lines(card, "title")] == [person.job_title] * bool(person.job_title)
        assert [line.value for line in _lines(card, "note")] == [person.note] * bool(person.note)
        company = [part for part in (person.organization, person.department) if part]
        assert [line.value for line in _lines(card, "org")] == [company] * bool(company)
        assert bool(_lines(card, "x-abshowas")) == person.is_company


@pytest.mark.parametrize("generation", GENERATIONS)
def test_labels_become_types_or_apple_labels(backup: FixtureBackup, generation: str) -> None:
    fixture = GENERATIONS[generation]()
    for card, person in zip(_cards(_install(backup, fixture)), fixture.people):
        lines = _lines(card, "tel") + _lines(card, "email")
        for (label, _), line in zip(person.phones + person.emails, lines):
            types = {value.upper() for value in line.params.get("TYPE", [])}
            if label is None:
                assert (types, line.group) == (set(), None)
            elif label in TYPES:
                assert TYPES[label] <= types and line.group is None
            else:  # the user's own, such as "Cabin 🏡"
                assert (types, _label_of(card, line)) == (set(), label)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_birthdays_keep_their_day_and_a_missing_year(backup: FixtureBackup, generation: str) -> None:
    fixture = GENERATIONS[generation]()
    for card, person in zip(_cards(_install(backup, fixture)), fixture.people):
        days = _lines(card, "bday")
        if person.birthday is None:
            assert days == []
            continue
        assert [line.value for line in days] == [person.birthday.isoformat()]
        assert ("X-APPLE-OMIT-YEAR" in days[0].params) == (person.birthday.year == 1604)


@pytest.mark.parametrize(("value", "day"), [("0", "2001-01-01"), ("43200.0", "2001-01-01"), ("-3600", "2001-01-01"),
                                            ("not a date", None), ("nan", None), ("1e300", None)])
def test_birthday_reads_noon_utc_and_local_midnight_and_refuses_damage(value: str, day: str | None) -> None:
    found = birthday(value)
    assert (found.isoformat() if found else None) == day


@pytest.mark.parametrize("generation", GENERATIONS)
def test_photos_are_carried_full_size_or_thumbnail(backup: FixtureBackup, generation: str) -> None:
    fixture = GENERATIONS[generation]()
    cards = _cards(_install(backup, fixture))
    assert any(person.thumbnail_only for person in fixture.people) == (generation == "ios16")
    for card, person in zip(cards, fixture.people):
        photos = _lines(card, "photo")
        assert [line.value for line in photos] == [person.photo] * (person.photo is not None)
        for line in photos:
            assert line.params["TYPE"] == ["JPEG"] and line.params["ENCODING"] == ["b"]


def test_without_the_images_database_everyone_is_there_without_photos(backup: FixtureBackup) -> None:
    fixture = address_book_ios16()
    cards = _cards(_install(backup, fixture, images=False))
    assert [card.fn.value for card in cards] == NAMES
    assert not any(_lines(card, "photo") for card in cards)


def test_a_photo_a_vcard_cannot_carry_is_left_out(backup: FixtureBackup) -> None:
    fixture = address_book_ios9()
    _install(backup, fixture, images=False)
    backup.add_database(DOMAIN, IMAGES, fixture.images_sql.replace(
        samples.jpeg(96, 96, seed=1).hex(), (b"\x00raw pixels" * 40).hex()))
    assert not any(_lines(card, "photo") for card in _cards(backup))


def test_rows_a_reader_must_skip_appear_nowhere(backup: FixtureBackup) -> None:
    _install(backup, address_book_ios9())
    vcf, text = CONTACTS.render(backup, "vcf").decode(), CONTACTS.render(backup, "csv").decode("utf-8-sig")
    for both in (vcf, text):
        assert "+1 555 0100 404" not in both  # its person was deleted
        assert "12 Rue des Lilas" not in both  # postal addresses are not written


def test_text_a_vcard_must_escape_survives(backup: FixtureBackup) -> None:
    _install(backup, address_book_ios9())
    vcf = CONTACTS.render(backup, "vcf").decode()
    assert "ORG:Müller\\, Schmidt & Partner\\; GmbH" in vcf
    assert all(len(line.encode()) <= 75 for line in vcf.split("\r\n") if not line.startswith("PHOTO"))
    assert vcf.count("BEGIN:VCARD") == vcf.count("END:VCARD") == 8


# --- CSV -------------------------------------------------------------------------------------

def _cell(entries: tuple[tuple[str | None, str], ...], words: dict[str | None, str]) -> str:
    return "; ".join(f"{words[label]}: {value}" if label else value for label, value in entries)


# The label of each entry as the CSV words it: built-in labels by their name, the user's own as typed.
WORDS = {MOBILE: "Mobile", IPHONE: "iPhone", HOME: "Home", WORK: "Work", MAIN: "Main", HOME_FAX: "Home fax",
         WORK_FAX: "Work fax", PAGER: "Pager", OTHER: "Other", "Cabin 🏡": "Cabin 🏡", "Band 🎸": "Band 🎸"}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_csv_holds_one_row_per_person(backup: FixtureBackup, generation: str) -> None:
    fixture = GENERATIONS[generation]()
    header, *rows = _rows(_install(backup, fixture))
    assert header == ["Name", "Company", "Phone numbers", "E-mail addresses"]
    assert len(rows) == len(fixture.people)
    for row, name, person in zip(rows, NAMES, fixture.people):
        # "+1 (555) 010-0199" has no letter: it can run nothing in a spreadsheet, and stays readable
        assert row == [name, person.organization or "", _cell(person.phones, WORDS), _cell(person.emails, WORDS)]


def test_a_name_written_as_a_formula_is_shown_as_text(backup: FixtureBackup) -> None:
    backup.add_database(DOMAIN, ADDRESS_BOOK, address_book_ios9().sql
                        + "UPDATE ABPerson SET First = '=HYPERLINK(\"http://x\")', Last = NULL WHERE ROWID = 8;")
    assert _rows(backup)[8][0] == "'=HYPERLINK(\"http://x\")"
    assert _cards(backup)[7].fn.value == "=HYPERLINK(\"http://x\")"  # a vCard is not computed: kept as is


# --- the demo backup's address book ----------------------------------------------------------

def test_the_demo_address_book_renders(backup: FixtureBackup) -> None:
    photo = samples.jpeg(32, 32, 4)
    backup.add(DOMAIN, ADDRESS_BOOK, samples.address_book())
    backup.add(DOMAIN, IMAGES, samples.sqlite_db({"ABThumbnailImage": [{"record_id": 1, "format": 0, "data": photo}]}))
    plan = CONTACTS.plan(backup)
    assert plan is not None and plan.summary == "4 contacts"
    cards = _cards(backup)
    people = [("Emma Laurent", "+1 (555) 010-0123", "emma.laurent@example.com"),
              ("Alex Martin", "+1 (555) 010-0456", "alex.martin@example.com"),
              ("Sam Okafor", "+1 (555) 010-0789", "sam.okafor@example.com"),
              ("Dr. Priya Shah", "+1 (555) 010-0999", "office@shah-clinic.example")]
    assert [(card.fn.value, card.tel.value, card.email.value) for card in cards] == people
    assert cards[0].photo.value == photo and not any(_lines(card, "photo") for card in cards[1:])
    assert [row[0] for row in _rows(backup)[1:]] == [name for name, _, _ in people]


# --- absent, empty, damaged ------------------------------------------------------------------

def test_no_address_book_is_no_folder(backup: FixtureBackup) -> None:
    backup.add_database(DOMAIN, IMAGES, address_book_ios9().images_sql)
    assert CONTACTS.plan(backup) is None
    with pytest.raises(KeyError):
        CONTACTS.render(backup, "vcf")


def test_an_address_book_without_people_is_no_folder(backup: FixtureBackup) -> None:
    backup.add_database(DOMAIN, ADDRESS_BOOK, address_book_ios16().sql + "DELETE FROM ABPerson;")
    assert CONTACTS.plan(backup) is None


def test_an_unknown_key_raises(backup: FixtureBackup) -> None:
    _install(backup, address_book_ios9())
    with pytest.raises(KeyError):
        CONTACTS.render(backup, "html")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_a_truncated_address_book_raises(backup: FixtureBackup, generation: str) -> None:
    backup.add(DOMAIN, ADDRESS_BOOK, truncated(database_bytes(GENERATIONS[generation]().sql)))
    with pytest.raises(sqlite3.DatabaseError):
        CONTACTS.plan(backup)
    with pytest.raises(sqlite3.DatabaseError):
        CONTACTS.render(backup, "vcf")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_an_address_book_with_garbage_pages_raises(backup: FixtureBackup, generation: str) -> None:
    backup.add(DOMAIN, ADDRESS_BOOK, garbage_pages(database_bytes(GENERATIONS[generation]().sql), seed=7))
    with pytest.raises(sqlite3.DatabaseError):
        CONTACTS.plan(backup)
    with pytest.raises(sqlite3.DatabaseError):
        CONTACTS.render(backup, "csv")


def test_a_database_that_is_not_an_address_book_raises(backup: FixtureBackup) -> None:
    backup.add(DOMAIN, ADDRESS_BOOK, samples.calendar_db())
    with pytest.raises(sqlite3.DatabaseError, match="ABPerson"):
        CONTACTS.plan(backup)


def test_a_damaged_images_database_only_loses_the_photos(backup: FixtureBackup) -> None:
    fixture = address_book_ios9()
    _install(backup, fixture, images=False)
    data = database_bytes(fixture.images_sql)
    backup.add(DOMAIN, IMAGES, data[:4096] + bytes(len(data) - 4096))
    cards = _cards(backup)
    assert [card.fn.value for card in cards] == NAMES[:8] and not any(_lines(card, "photo") for card in cards)


# --- the fixtures ----------------------------------------------------------------------------

@pytest.mark.parametrize("generation", GENERATIONS)
def test_payloads_are_the_two_databases_and_render_the_same(backup: FixtureBackup, generation: str,
                                                             tmp_path: Path) -> None:
    fixture = GENERATIONS[generation]()
    payloads = fixture.payloads()
    assert [(p.domain, p.relative_path) for p in payloads] == [(DOMAIN, ADDRESS_BOOK), (DOMAIN, IMAGES)]
    from_payloads = FixtureBackup(tmp_path / "from payloads")
    for payload in payloads:
        assert payload.content is not None
        from_payloads.add(payload.domain, payload.relative_path, payload.content)
    assert CONTACTS.render(from_payloads, "vcf") == CONTACTS.render(_install(backup, fixture), "vcf")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_fixtures_are_deterministic_and_use_their_generation_schema(generation: str) -> None:
    first, second = GENERATIONS[generation](), GENERATIONS[generation]()
    assert first == second and first.payloads() == second.payloads()
    conn = sqlite3.connect(":memory:")
    conn.executescript(first.sql)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(ABPerson)")]
    assert columns[-1] == ("SensitiveContentConfiguration" if generation == "ios16" else "MapsData")
    assert ("FirstPronunciation" in columns) == (generation == "ios16")


def test_a_value_that_is_not_utf8_costs_only_that_value(backup: FixtureBackup) -> None:
    fixture = address_book_ios16()
    path = _install(backup, fixture).files[(DOMAIN, ADDRESS_BOOK)]
    with sqlite3.connect(path) as conn:  # as a damaged page leaves a TEXT value
        conn.execute("UPDATE ABPerson SET Note = CAST(x'4e6f74e9ff' AS TEXT) WHERE ROWID = (SELECT min(ROWID) FROM ABPerson)")
    conn.close()
    cards = _cards(backup)
    assert len(cards) == len(fixture.people)
    assert any("Not\ufffd" in card.note.value for card in cards if hasattr(card, "note"))

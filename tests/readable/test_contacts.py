"""The Contacts folder: everyone of both address-book generations, as vCard 3.0 and as CSV."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
import vobject

from backupfs.demo import samples
from backupfs.demo.readable_contacts import (
    ADDRESS_BOOK,
    ANNIVERSARY,
    BROTHER,
    DOMAIN,
    HOME,
    HOME_FAX,
    HOME_PAGE,
    IMAGES,
    IPHONE,
    MAIN,
    MOBILE,
    MOTHER,
    OTHER,
    PAGER,
    SPOUSE,
    WORK,
    WORK_FAX,
    AddressBookFixture,
    Parts,
    SampleContact,
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


@pytest.mark.parametrize("generation", GENERATIONS)
def test_rows_a_reader_must_skip_appear_nowhere(backup: FixtureBackup, generation: str) -> None:
    fixture = GENERATIONS[generation]()
    _install(backup, fixture)
    vcf, text = CONTACTS.render(backup, "vcf").decode(), CONTACTS.render(backup, "csv").decode("utf-8-sig")
    for both in (vcf, text):
        assert "+1 555 0100 404" not in both  # its person was deleted
        assert "Deleted Lane" not in both and "Nowhere" not in both  # parts of a value that is gone
        assert "Lost key street" not in both  # a part whose key is not known
        assert "not a date" not in both
    # Ana's damaged address, web page, date and account cost nothing else, and appear nowhere
    ana = _cards(backup)[7]
    assert ana.fn.value == "Ana García" and ana.email.value == "ana.garcia@example.es"
    assert not any(_lines(ana, name) for name in ("adr", "url", "x-abdate", "impp", "x-ablabel"))
    assert _rows(backup)[8][4:] == [""] * 6


def test_text_a_vcard_must_escape_survives(backup: FixtureBackup) -> None:
    _install(backup, address_book_ios9())
    vcf = CONTACTS.render(backup, "vcf").decode()
    assert "ORG:Müller\\, Schmidt & Partner\\; GmbH" in vcf
    assert all(len(line.encode()) <= 75 for line in vcf.split("\r\n") if not line.startswith("PHOTO"))
    assert vcf.count("BEGIN:VCARD") == vcf.count("END:VCARD") == 8


# --- addresses, web pages, dates, related names, accounts, profiles --------------------------

# The TYPE values of the built-in labels of addresses, web pages and accounts; any other label is an X-ABLabel.
PLACE_TYPES = {HOME: {"HOME"}, WORK: {"WORK"}, OTHER: {"OTHER"}}
# The URI scheme Apple gives each instant-message service.
SCHEMES = {"Skype": "skype", "Jabber": "xmpp", "ICQ": "aim", "Yahoo": "ymsgr", "GaduGadu": "x-apple"}


def _assert_label(card: vobject.base.Component, line: vobject.base.ContentLine, label: str | None,
                  types: dict[str, set[str]]) -> None:
    """A built-in label as TYPE, any other as the X-ABLabel beside the value, exactly as the book keeps it."""
    found = {value.upper() for value in line.params.get("TYPE", [])}
    if label is None:
        assert (line.group, found) == (None, set())
    elif label in types:
        assert found == types[label] and _beside(card, line, "x-ablabel") == []
    else:  # "_$!<Anniversary>!$_" as Apple writes it, or the user's own such as "Chalet ⛷️"
        assert (found, _beside(card, line, "x-ablabel")) == (set(), [label])


def _people_and_cards(backup: FixtureBackup, generation: str) -> list[tuple[SampleContact, vobject.base.Component]]:
    fixture = GENERATIONS[generation]()
    cards = _cards(_install(backup, fixture))
    assert len(cards) == len(fixture.people)
    return list(zip(fixture.people, cards))


def _beside(card: vobject.base.Component, line: vobject.base.ContentLine, name: str) -> list[str]:
    return [other.value for other in _lines(card, name) if line.group is not None and other.group == line.group]


@pytest.mark.parametrize("generation", GENERATIONS)
def test_every_part_of_every_address_is_in_the_vcard(backup: FixtureBackup, generation: str) -> None:
    for person, card in _people_and_cards(backup, generation):
        lines = _lines(card, "adr")
        assert len(lines) == len(person.addresses)
        for (label, parts), line in zip(person.addresses, lines):
            part = dict(parts)
            address = line.value
            assert (address.box, address.extended) == ("", "")
            assert (address.street, address.city, address.region, address.code, address.country) == tuple(
                part.get(key, "") for key in ("Street", "City", "State", "ZIP", "Country"))
            for key, name in (("CountryCode", "x-abadr"), ("SubLocality", "x-apple-sublocality"),
                              ("SubAdministrativeArea", "x-apple-subadministrativearea")):
                assert _beside(card, line, name) == [part[key] for key in (key,) if key in part]
            _assert_label(card, line, label, PLACE_TYPES)


def test_an_address_with_missing_parts_keeps_those_it_has(backup: FixtureBackup) -> None:
    grandma = _cards(_install(backup, address_book_ios9()))[5]
    assert grandma.fn.value == "Grandma 👵"
    address = grandma.adr.value
    assert (address.street, address.city, address.region, address.code, address.country) == ("", "Bath", "", "", "")
    assert grandma.adr.params["TYPE"] == ["HOME"]
    assert _beside(grandma, grandma.adr, "x-abadr") == ["gb"]


def test_a_part_lost_or_null_costs_only_that_part(backup: FixtureBackup) -> None:
    fixture = address_book_ios9()
    backup.add_database(DOMAIN, ADDRESS_BOOK, fixture.sql + "UPDATE ABMultiValueEntry SET value = NULL WHERE value = 'Lyon';"
                        "UPDATE ABMultiValueEntry SET value = '   ' WHERE value = '69003';")
    home = _cards(backup)[0].adr.value
    assert (home.street, home.city, home.code, home.country) == ("12 Rue des Lilas", "", "", "France")
    assert _rows(backup)[1][4].startswith("Home: 12 Rue des Lilas, France; Chalet ⛷️: ")


def test_a_book_without_the_entry_tables_has_everything_but_the_parts(backup: FixtureBackup) -> None:
    fixture = address_book_ios16()
    backup.add_database(DOMAIN, ADDRESS_BOOK, fixture.sql + "DROP TABLE ABMultiValueEntry;")
    cards = _cards(backup)
    assert [card.fn.value for card in cards] == NAMES
    assert not any(_lines(card, name) for card in cards for name in ("adr", "impp", "x-socialprofile"))
    assert [line.value for line in _lines(cards[0], "url")] == [page for _, page in fixture.people[0].urls]


@pytest.mark.parametrize("generation", GENERATIONS)
def test_web_pages_dates_and_related_names_are_in_the_vcard(backup: FixtureBackup, generation: str) -> None:
    for person, card in _people_and_cards(backup, generation):
        urls, dates, names = _lines(card, "url"), _lines(card, "x-abdate"), _lines(card, "x-abrelatednames")
        assert [line.value for line in urls] == [page for _, page in person.urls]
        assert [line.value for line in dates] == [day.isoformat() for _, day in person.dates]
        assert [line.value for line in names] == [name for _, name in person.related_names]
        for (label, _), line in zip(person.urls, urls):
            _assert_label(card, line, label, PLACE_TYPES)
        for (label, day), line in zip(person.dates, dates):
            _assert_label(card, line, label, {})
            assert ("X-APPLE-OMIT-YEAR" in line.params) == (day.year == 1604)
        for (label, _), line in zip(person.related_names, names):
            _assert_label(card, line, label, {})


@pytest.mark.parametrize("generation", GENERATIONS)
def test_accounts_and_social_profiles_are_in_the_vcard(backup: FixtureBackup, generation: str) -> None:
    for person, card in _people_and_cards(backup, generation):
        accounts, profiles = _lines(card, "impp"), _lines(card, "x-socialprofile")
        assert len(accounts) == len(person.instant_messages) and len(profiles) == len(person.social_profiles)
        for (label, parts), line in zip(person.instant_messages, accounts):
            part = dict(parts)
            assert line.value == f"{SCHEMES[part['service']]}:{part['username']}"
            assert line.params["X-SERVICE-TYPE"] == [part["service"]]
            _assert_label(card, line, label, PLACE_TYPES)
        for (label, parts), line in zip(person.social_profiles, profiles):
            part = dict(parts)
            assert line.value == part.get("url", f"x-apple:{part['username']}")
            assert line.params["TYPE"] == [part["service"]] and line.params["X-USER"] == [part["username"]]
            assert line.params.get("X-USERID") == ([part["identifier"]] if "identifier" in part else None)
            assert label is None and line.group is None


def test_the_fixtures_hold_every_kind_built_in_and_typed_labels(backup: FixtureBackup) -> None:
    people = address_book_ios16().people
    kinds = ("addresses", "urls", "dates", "related_names", "instant_messages", "social_profiles")
    assert all(sum(len(getattr(person, kind)) for person in people) >= 2 for kind in kinds)
    labels = {label for person in people for kind in kinds for label, _ in getattr(person, kind)}
    assert {HOME, WORK, HOME_PAGE, ANNIVERSARY, "Chalet ⛷️", "First met 💞", "Marraine", "Gaming 🎮", None} <= labels
    vcf = CONTACTS.render(_install(backup, address_book_ios16()), "vcf").decode()
    assert "X-ABLABEL:_$!<Anniversary>!$_" in vcf and "X-ABLABEL:Chalet ⛷️" in vcf


# --- CSV -------------------------------------------------------------------------------------

def _cell(entries: tuple[tuple[str | None, str], ...], words: dict[str | None, str]) -> str:
    return "; ".join(f"{words[label]}: {value}" if label else value for label, value in entries)


# The label of each entry as the CSV words it: built-in labels by their name, the user's own as typed.
WORDS = {MOBILE: "Mobile", IPHONE: "iPhone", HOME: "Home", WORK: "Work", MAIN: "Main", HOME_FAX: "Home fax",
         WORK_FAX: "Work fax", PAGER: "Pager", OTHER: "Other", HOME_PAGE: "Home page", ANNIVERSARY: "Anniversary",
         SPOUSE: "Spouse", MOTHER: "Mother", BROTHER: "Brother",
         **{typed: typed for typed in ("Cabin 🏡", "Band 🎸", "Chalet ⛷️", "First met 💞", "Marraine", "Grandson 👦",
                                       "Gaming 🎮")}}
# An address on one line, in this order, street lines apart; the country code when there is no country.
LINE_ORDER = ("Street", "SubLocality", "City", "SubAdministrativeArea", "State", "ZIP", "Country")


def _address_text(parts: Parts) -> str:
    part = dict(parts)
    part.setdefault("Country", part.get("CountryCode", "").upper())
    return ", ".join(line for key in LINE_ORDER for line in part.get(key, "").split("\n") if line)


def _date_text(day: date) -> str:
    return f"--{day:%m-%d}" if day.year == 1604 else day.isoformat()


def _account_text(parts: Parts) -> str:
    part = dict(parts)
    return " ".join(filter(None, (part.get("username"), f"({part['service']})", part.get("url"))))


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_csv_holds_one_row_per_person(backup: FixtureBackup, generation: str) -> None:
    fixture = GENERATIONS[generation]()
    header, *rows = _rows(_install(backup, fixture))
    assert header == ["Name", "Company", "Phone numbers", "E-mail addresses", "Postal addresses", "Web pages",
                      "Dates", "Related names", "Instant messaging", "Social profiles"]
    assert len(rows) == len(fixture.people)
    for row, name, person in zip(rows, NAMES, fixture.people):
        # "+1 (555) 010-0199" has no letter: it can run nothing in a spreadsheet, and stays readable
        assert row == [name, person.organization or "", _cell(person.phones, WORDS), _cell(person.emails, WORDS),
                       _cell(tuple((label, _address_text(parts)) for label, parts in person.addresses), WORDS),
                       _cell(person.urls, WORDS), _cell(tuple((label, _date_text(day)) for label, day in person.dates),
                                                        WORDS),
                       _cell(person.related_names, WORDS),
                       _cell(tuple((label, _account_text(parts)) for label, parts in person.instant_messages), WORDS),
                       _cell(tuple((label, _account_text(parts)) for label, parts in person.social_profiles), WORDS)]


def test_the_csv_words_addresses_dates_and_profiles_as_a_person_reads_them(backup: FixtureBackup) -> None:
    rows = _rows(_install(backup, address_book_ios16()))
    emilie, wang, grandma, sean = rows[1], rows[2], rows[6], rows[7]
    assert emilie[4] == ("Home: 12 Rue des Lilas, Lyon, 69003, France; Chalet ⛷️: Chemin des Praz 4, "
                         "Chalet « Les Sapins », Chamonix-Mont-Blanc, Haute-Savoie, 74400, France")
    assert wang[4] == "Work: 建国门外大街1号, 朝阳区, 北京, 北京市, 100004, 中国"
    assert grandma[4] == "Home: Bath, GB"  # only a city and a country code: the code stands for the country
    assert emilie[5] == "Home page: https://emilie.example.fr; Work: https://atelier-lilas.example.fr/équipe?x=1,2;y"
    assert emilie[6] == "Anniversary: 2014-06-21; First met 💞: --09-03"
    assert emilie[7] == "Spouse: Julien Dubois; Mother: Anne Laurent; Marraine: Céline Roux"
    assert sean[8] == "Gaming 🎮: sean o'brien (GaduGadu); 123456789 (ICQ)"
    assert sean[9] == "sean.obrien (facebook) https://www.facebook.com/sean.obrien"


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

"""Contacts: the address book as one vCard file to import anywhere, and a CSV for a spreadsheet.

The contacts come from :func:`backupfs.readable.addressbook.read_people`, which reads
``AddressBook.sqlitedb`` (``ABPerson``; phone numbers and e-mail addresses in
``ABMultiValue`` with labels in ``ABMultiValueLabel``) and the photos of
``AddressBookImages.sqlitedb`` (``ABFullSizeImage``, else ``ABThumbnailImage``). It reads the
columns each generation has; two are tested here: iOS 9 (``ABPerson`` ending with
``PhonemeData``, ``AlternateBirthday``, ``MapsData``) and iOS 16 (about fifteen more columns:
``FirstPronunciation``, ``PreviousFamilyName``, ``ImageType``, ``Wallpaper``...).

Two files:

* ``Contacts.vcf``: everyone as vCard 3.0, the version iCloud, Google Contacts, Outlook and
  phones all import. Written with :mod:`vobject`, which folds, escapes and encodes as the
  format requires (a comma in a company name, a newline in a note, emoji). Labels become the
  TYPE values importers know (Mobile is CELL); any other label is kept as Apple writes it,
  an ``itemN.X-ABLabel`` beside the value. The birthday is kept as a moment (seconds since
  2001) and read back to its day; a birthday without a year (kept in 1604) is written as
  Apple writes it, with ``X-APPLE-OMIT-YEAR``.
* ``Contacts.csv``: one row per contact (name, company, phone numbers, e-mail addresses),
  UTF-8 with a byte-order mark so that Excel reads the accents, a cell that would run as a formula
  guarded (:func:`backupfs.readable.values.csv_bytes`).
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta

import vobject

from backupfs.readable.addressbook import Person, read_people
from backupfs.readable.base import Backup, Plan, Planned
from backupfs.readable.values import csv_bytes, plural, printable

VCARD_FILE = "Contacts.vcf"
CSV_FILE = "Contacts.csv"
NO_YEAR = 1604  # the year Apple gives a birthday whose year is unknown

_APPLE_EPOCH_DAY = date(2001, 1, 1)
_TEL_TYPES = {
    "mobile": ("CELL", "VOICE"), "iphone": ("IPHONE", "CELL", "VOICE"), "home": ("HOME", "VOICE"),
    "work": ("WORK", "VOICE"), "main": ("MAIN",), "homefax": ("HOME", "FAX"), "workfax": ("WORK", "FAX"),
    "otherfax": ("OTHER", "FAX"), "pager": ("PAGER",), "other": ("OTHER", "VOICE"),
}
_EMAIL_TYPES = {"home": ("INTERNET", "HOME"), "work": ("INTERNET", "WORK"), "other": ("INTERNET", "OTHER")}
_PHOTO_TYPES = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF8", "GIF"))
_EAST_ASIAN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_LABEL_WORDS = {"homefax": "Home fax", "workfax": "Work fax", "otherfax": "Other fax", "homepage": "Home page"}


def full_name(person: Person) -> str:
    """The FN of a contact: its whole name with prefix and suffix, else what the phone shows for it."""
    if any((person.first, person.middle, person.last)):
        if _EAST_ASIAN.search(person.first + person.last):  # 王小明: family name first, no space, as the phone shows
            return printable(person.last + person.middle + person.first)
        parts = (person.prefix, person.first, person.middle, person.last, person.suffix)
        return printable(" ".join(part for part in parts if part))
    return printable(person.display_name) or f"Contact {person.row}"


def birthday(value: str) -> date | None:
    """The day of a ``Birthday`` value (seconds since 2001, as text); None when absent or absurd.

    The phone keeps a birthday typed on it at noon UTC, and one synced from elsewhere at
    midnight in the owner's time zone: rounding to the nearest midnight UTC gives the right
    day for both, anywhere from UTC-12 to UTC+12.
    """
    try:
        seconds = float(value)
    except ValueError:
        return None
    if not math.isfinite(seconds) or abs(seconds) > 2e11:  # beyond years 1 to 9999
        return None
    try:
        return _APPLE_EPOCH_DAY + timedelta(days=math.ceil((seconds - 43_200) / 86_400))
    except OverflowError:
        return None


def _types(label: str, known: dict[str, tuple[str, ...]]) -> tuple[str, ...] | None:
    """The TYPE values of a label; None for a label of the user's own, () for none."""
    if not label:
        return ()
    return known.get(label.replace(" ", "").casefold())


class _Card:
    """One vCard being built; ``item`` numbers the values whose label is the user's own."""

    def __init__(self) -> None:
        self.card = vobject.vCard()
        self.item = 0

    def add(self, name: str, value: object) -> vobject.base.ContentLine:
        line = self.card.add(name)
        line.value = value
        return line

    def labelled(self, name: str, label: str, value: str, known: dict[str, tuple[str, ...]]) -> None:
        types = _types(label, known)
        line = self.add(name, value)
        if types:
            line.params["TYPE"] = list(types)
        elif types is None:  # Apple's way, read by iCloud and Google: a group naming the label
            self.item += 1
            line.group = f"item{self.item}"
            self.add("x-ablabel", printable(label)).group = line.group


def _photo(data: bytes | None) -> tuple[bytes, str] | None:
    """The photo and its TYPE; None when absent or in a format a vCard cannot carry (old raw thumbnails)."""
    if not data:
        return None
    kind = next((name for magic, name in _PHOTO_TYPES if data.startswith(magic)), None)
    return (data, kind) if kind else None


def vcard(person: Person) -> str:
    """The contact as one vCard 3.0."""
    card = _Card()
    card.add("fn", full_name(person))
    card.add("n", vobject.vcard.Name(family=printable(person.last), given=printable(person.first),
                                     additional=printable(person.middle), prefix=printable(person.prefix),
                                     suffix=printable(person.suffix)))
    if person.nickname:
        card.add("nickname", printable(person.nickname))
    if person.organization or person.department:
        card.add("org", [printable(person.organization), printable(person.department)] if person.department
                 else [printable(person.organization)])
    if not any((person.first, person.middle, person.last)) and person.organization:
        card.add("x-abshowas", "COMPANY")  # so that iCloud lists it as a company, as the phone did
    if person.job_title:
        card.add("title", printable(person.job_title))
    day = birthday(person.birthday) if person.birthday else None
    if day is not None:
        line = card.add("bday", day.isoformat())
        if day.year == NO_YEAR:
            line.params["X-APPLE-OMIT-YEAR"] = [str(NO_YEAR)]
    for label, number in person.phones:
        card.labelled("tel", label, printable(number), _TEL_TYPES)
    for label, address in person.emails:
        card.labelled("email", label, printable(address), _EMAIL_TYPES)
    if person.note:
        card.add("note", printable(person.note))
    photo = _photo(person.photo)
    if photo is not None:
        line = card.add("photo", photo[0])
        line.encoding_param, line.type_param = "b", photo[1]
    return card.card.serialize()


def _entries(entries: list[tuple[str, str]]) -> str:
    """Numbers or addresses in one cell, each after its label as the phone words it ("Work fax: ...")."""
    return "; ".join(f"{printable(_LABEL_WORDS.get(label.casefold(), label))}: {printable(value)}" if label
                     else printable(value) for label, value in entries)


def contacts_csv(people: list[Person]) -> bytes:
    """Everyone as CSV rows: name, company, phone numbers, e-mail addresses."""
    rows = ([full_name(person), printable(person.organization), _entries(person.phones), _entries(person.emails)]
            for person in people)
    return csv_bytes(["Name", "Company", "Phone numbers", "E-mail addresses"], rows)


class ContactsRenderer:
    """The ``Contacts`` folder: ``Contacts.vcf`` and ``Contacts.csv``."""

    folder = "Contacts"

    def plan(self, backup: Backup) -> Plan | None:
        people = read_people(backup)
        if not people:
            return None
        return Plan([Planned(VCARD_FILE, key="vcf"), Planned(CSV_FILE, key="csv")], plural(len(people), "contact"))

    def render(self, backup: Backup, key: str) -> bytes:
        if key not in ("vcf", "csv"):
            raise KeyError(f"no contacts file {key!r}")
        people = read_people(backup, with_photos=key == "vcf")
        if people is None:
            raise KeyError("this backup has no address book")
        if key == "csv":
            return contacts_csv(people)
        return "".join(vcard(person) for person in people).encode("utf-8")


CONTACTS = ContactsRenderer()

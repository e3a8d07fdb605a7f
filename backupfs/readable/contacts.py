"""Contacts: the address book as one vCard file to import anywhere, and a CSV for a spreadsheet.

The contacts come from :func:`backupfs.readable.addressbook.read_people`, which reads
``AddressBook.sqlitedb`` (``ABPerson``; phone numbers, e-mail addresses, web pages, dates,
related names in ``ABMultiValue``, the parts of postal addresses, instant-message accounts and
social profiles in ``ABMultiValueEntry``, labels in ``ABMultiValueLabel``) and the photos of
``AddressBookImages.sqlitedb`` (``ABFullSizeImage``, else ``ABThumbnailImage``). It reads the
columns each generation has; two are tested here: iOS 9 (``ABPerson`` ending with
``PhonemeData``, ``AlternateBirthday``, ``MapsData``) and iOS 16 (about fifteen more columns:
``FirstPronunciation``, ``PreviousFamilyName``, ``ImageType``, ``Wallpaper``...).

Two files:

* ``Contacts.vcf``: everyone as vCard 3.0, the version iCloud, Google Contacts, Outlook and
  phones all import. Written with :mod:`vobject`, which folds, escapes and encodes as the
  format requires (a comma in a company name, a newline in a note, emoji). Labels become the
  TYPE values importers know (Mobile is CELL); any other label is kept as Apple writes it,
  an ``itemN.X-ABLabel`` beside the value, Apple's built-in ones ("Anniversary", "Mother") in
  Apple's own form "_$!<Mother>!$_", which Apple and Google read as theirs. The birthday and
  the other dates are kept as moments (seconds since 2001) and read back to their day; a date
  without a year (kept in 1604) is written as Apple writes it, with ``X-APPLE-OMIT-YEAR``.
  What vCard 3.0 lacks is written as Apple's Contacts exports it, which iCloud and Google
  import: ``X-ABDATE`` (anniversaries and other dates), ``X-ABRELATEDNAMES``,
  ``X-SOCIALPROFILE``; an address's country code and district beside its ``ADR``
  (``X-ABADR``, ``X-APPLE-SUBLOCALITY``, ``X-APPLE-SUBADMINISTRATIVEAREA``); instant-message
  accounts as ``IMPP`` (RFC 4770) with ``X-SERVICE-TYPE``.
* ``Contacts.csv``: one row per contact (name, company, then one column per kind of value:
  phone numbers, e-mail addresses, postal addresses, web pages, dates, related names,
  instant messaging, social profiles),
  UTF-8 with a byte-order mark so that Excel reads the accents, a cell that would run as a formula
  guarded (:func:`backupfs.readable.values.csv_bytes`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import TypeVar

import vobject

from backupfs.readable.addressbook import Person, read_people
from backupfs.readable.base import Backup, Plan, Planned
from backupfs.readable.values import csv_bytes, plural, printable

_Value = TypeVar("_Value", str, dict[str, str])
VCARD_FILE = "Contacts.vcf"
CSV_FILE = "Contacts.csv"
CSV_HEADER = ["Name", "Company", "Phone numbers", "E-mail addresses", "Postal addresses", "Web pages", "Dates",
              "Related names", "Instant messaging", "Social profiles"]
NO_YEAR = 1604  # the year Apple gives a birthday whose year is unknown

_APPLE_EPOCH_DAY = date(2001, 1, 1)
_TEL_TYPES = {
    "mobile": ("CELL", "VOICE"), "iphone": ("IPHONE", "CELL", "VOICE"), "home": ("HOME", "VOICE"),
    "work": ("WORK", "VOICE"), "main": ("MAIN",), "homefax": ("HOME", "FAX"), "workfax": ("WORK", "FAX"),
    "otherfax": ("OTHER", "FAX"), "pager": ("PAGER",), "other": ("OTHER", "VOICE"),
}
_EMAIL_TYPES = {"home": ("INTERNET", "HOME"), "work": ("INTERNET", "WORK"), "other": ("INTERNET", "OTHER")}
_PLACE_TYPES = {"home": ("HOME",), "work": ("WORK",), "other": ("OTHER",)}  # addresses, web pages, accounts
_APPLE_LABELS = frozenset({  # built in: "_$!<Mother>!$_" in the database and in Apple's X-ABLabel
    "homepage", "anniversary", "other", "mother", "father", "parent", "brother", "sister", "child", "friend",
    "spouse", "partner", "assistant", "manager"})
# What an address has, in the order an address reads; the country code stands for a missing country.
_ADDRESS_PARTS = ("street", "sublocality", "city", "subadministrativearea", "state", "zip", "country")
_ADDRESS_EXTRAS = (("countrycode", "x-abadr"), ("sublocality", "x-apple-sublocality"),
                   ("subadministrativearea", "x-apple-subadministrativearea"))
_IM_SCHEMES = {"aim": "aim", "icq": "aim", "jabber": "xmpp", "googletalk": "xmpp", "facebook": "xmpp",
               "msn": "msnim", "yahoo": "ymsgr", "skype": "skype"}  # as Apple writes them; others x-apple
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

    def beside(self, line: vobject.base.ContentLine, name: str, value: str) -> None:
        """A line that tells more of ``line``, tied to it as Apple does: both in one ``itemN`` group."""
        if line.group is None:
            self.item += 1
            line.group = f"item{self.item}"
        self.add(name, value).group = line.group

    def labelled(self, name: str, label: str, value: object,
                 known: dict[str, tuple[str, ...]]) -> vobject.base.ContentLine:
        types = _types(label, known)
        line = self.add(name, value)
        if types:
            line.params["TYPE"] = list(types)
        elif types is None:  # Apple's way, read by iCloud and Google: a group naming the label
            word = printable(label)
            self.beside(line, "x-ablabel", f"_$!<{word}>!$_" if word.casefold() in _APPLE_LABELS else word)
        return line


def _photo(data: bytes | None) -> tuple[bytes, str] | None:
    """The photo and its TYPE; None when absent or in a format a vCard cannot carry (old raw thumbnails)."""
    if not data:
        return None
    kind = next((name for magic, name in _PHOTO_TYPES if data.startswith(magic)), None)
    return (data, kind) if kind else None


def _param(text: str) -> list[str]:
    """A parameter value as vCard 3.0 allows it: no double quote (vobject refuses one)."""
    return [printable(text).replace('"', "'")]


def _day(card: _Card, line_name: str, label: str, value: str) -> None:
    """A date line (BDAY, X-ABDATE) with the day of ``value``; nothing when it holds no date."""
    day = birthday(value)
    if day is None:
        return
    line = card.labelled(line_name, label, day.isoformat(), {})
    if day.year == NO_YEAR:
        line.params["X-APPLE-OMIT-YEAR"] = [str(NO_YEAR)]


def _address(card: _Card, label: str, parts: dict[str, str]) -> None:
    """An ADR, its country code and district beside it as Apple writes them; nothing when no part is known."""
    if not _address_line(parts):
        return
    part = {key: printable(text) for key, text in parts.items()}
    value = vobject.vcard.Address(street=part.get("street", ""), city=part.get("city", ""),
                                  region=part.get("state", ""), code=part.get("zip", ""),
                                  country=part.get("country", ""))
    line = card.labelled("adr", label, value, _PLACE_TYPES)
    for key, name in _ADDRESS_EXTRAS:
        if part.get(key):
            card.beside(line, name, part[key])


def _account(card: _Card, label: str, parts: dict[str, str]) -> None:
    """An instant-message account as IMPP: the service's URI scheme, the service named as Apple does."""
    username, service = printable(parts.get("username", "")), printable(parts.get("service", ""))
    if not username:
        return
    line = card.labelled("impp", label, f"{_IM_SCHEMES.get(service.casefold(), 'x-apple')}:{username}", _PLACE_TYPES)
    if service:
        line.params["X-SERVICE-TYPE"] = _param(service)


def _profile(card: _Card, label: str, parts: dict[str, str]) -> None:
    """A social profile as Apple writes it: its page (else x-apple:user), the service as TYPE, the user."""
    part = {key: printable(text) for key, text in parts.items()}
    user = part.get("username", "")
    page = part.get("url") or (f"x-apple:{user}" if user else "")
    if not page:
        return
    line = card.labelled("x-socialprofile", label, page, {})
    for key, param in (("service", "TYPE"), ("username", "X-USER"), ("identifier", "X-USERID")):
        if part.get(key):
            line.params[param] = _param(part[key])


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
    _day(card, "bday", "", person.birthday)
    for label, number in person.phones:
        card.labelled("tel", label, printable(number), _TEL_TYPES)
    for label, address in person.emails:
        card.labelled("email", label, printable(address), _EMAIL_TYPES)
    for label, parts in person.addresses:
        _address(card, label, parts)
    for label, page in person.urls:
        card.labelled("url", label, printable(page), _PLACE_TYPES)
    for label, value in person.dates:
        _day(card, "x-abdate", label, value)
    for label, name in person.related_names:
        card.labelled("x-abrelatednames", label, printable(name), {})
    for label, parts in person.instant_messages:
        _account(card, label, parts)
    for label, parts in person.social_profiles:
        _profile(card, label, parts)
    if person.note:
        card.add("note", printable(person.note))
    photo = _photo(person.photo)
    if photo is not None:
        line = card.add("photo", photo[0])
        line.encoding_param, line.type_param = "b", photo[1]
    return card.card.serialize()


def _entries(entries: list[tuple[str, str]]) -> str:
    """Values of one kind in one cell, each after its label as the phone words it ("Work fax: ...")."""
    return "; ".join(f"{printable(_LABEL_WORDS.get(label.casefold(), label))}: {printable(value)}" if label
                     else printable(value) for label, value in entries)


def _address_line(parts: dict[str, str]) -> str:
    """An address on one line, street first; the country code when the country is not named."""
    part = {key: ", ".join(filter(None, map(printable, text.splitlines()))) for key, text in parts.items()}
    if not part.get("country") and part.get("countrycode"):
        part["country"] = part["countrycode"].upper()
    return ", ".join(part[key] for key in _ADDRESS_PARTS if part.get(key))


def _day_text(value: str) -> str:
    """A date as ISO 8601 writes it, "--06-12" without a year; "" when the value holds no date."""
    day = birthday(value)
    if day is None:
        return ""
    return f"--{day:%m-%d}" if day.year == NO_YEAR else day.isoformat()


def _account_text(parts: dict[str, str]) -> str:
    """ "jdoe (Skype)", "jdoe (linkedin) https://...": the user, the service, the page; "" without user or page."""
    user, page, service = parts.get("username", ""), parts.get("url", ""), parts.get("service", "")
    if not (user or page):
        return ""
    return " ".join(filter(None, (user, f"({service})" if service else "", page)))


def _shown(entries: list[tuple[str, _Value]], text: Callable[[_Value], str]) -> str:
    """Values that need putting into words (an address, a date, an account) in one cell; those that say nothing
    (no date, no user) left out."""
    return _entries([(label, words) for label, words in ((label, text(value)) for label, value in entries) if words])


def _row(person: Person) -> list[str]:
    """The contact's CSV row, in the order of :data:`CSV_HEADER`."""
    return [full_name(person), printable(person.organization), _entries(person.phones), _entries(person.emails),
            _shown(person.addresses, _address_line), _entries(person.urls), _shown(person.dates, _day_text),
            _entries(person.related_names), _shown(person.instant_messages, _account_text),
            _shown(person.social_profiles, _account_text)]


def contacts_csv(people: list[Person]) -> bytes:
    """Everyone as CSV rows: name, company, then each kind of value in a column."""
    return csv_bytes(CSV_HEADER, (_row(person) for person in people))


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

"""The phone's address book: people, their numbers and addresses, and who a handle belongs to.

``AddressBook.sqlitedb`` has kept the same tables from iOS 4 to iOS 17: ``ABPerson`` (one row
per contact) and ``ABMultiValue`` (one row per value of a contact, ``record_id`` its ROWID;
labels in ``ABMultiValueLabel``). ``property`` says what a value is: 3 phone number,
4 e-mail address, 12 date (seconds since 2001, as text), 22 web page, 23 related name,
all in ``value``; 5 postal address, 13 instant-message account, 46 social profile have no
``value`` but parts in ``ABMultiValueEntry`` (``parent_id`` = the value's ``UID``, ``key`` =
the ROWID of an ``ABMultiValueEntryKey`` row naming the part: "Street", "City", "State",
"ZIP", "Country", "CountryCode", "SubLocality", "service", "username", "url"...). Photos are
in ``AddressBookImages.sqlitedb`` (``ABFullSizeImage``, else ``ABThumbnailImage``). Columns
added over the years are read when present; a book without the entry tables has no parts.
Messages, WhatsApp and calls use :func:`Directory.name_for` to show a person's name rather
than a number.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field

from backupfs.readable.base import Backup
from backupfs.readable.values import columns_of, text_of

DOMAIN = "HomeDomain"
ADDRESS_BOOK = "Library/AddressBook/AddressBook.sqlitedb"
IMAGES = "Library/AddressBook/AddressBookImages.sqlitedb"
_PHONE, _EMAIL, _ADDRESS, _DATE, _IM, _URL, _RELATED, _SOCIAL = 3, 4, 5, 12, 13, 22, 23, 46
_SINGLE = {_PHONE: "phones", _EMAIL: "emails", _DATE: "dates", _URL: "urls", _RELATED: "related_names"}
_IN_PARTS = {_ADDRESS: "addresses", _IM: "instant_messages", _SOCIAL: "social_profiles"}
_NAME_COLUMNS = ("Prefix", "First", "Middle", "Last", "Suffix", "Nickname", "Organization", "Department", "JobTitle", "Note", "Birthday")


@dataclass
class Person:
    """One contact."""

    row: int
    prefix: str = ""
    first: str = ""
    middle: str = ""
    last: str = ""
    suffix: str = ""
    nickname: str = ""
    organization: str = ""
    department: str = ""
    job_title: str = ""
    note: str = ""
    birthday: str = ""  # as the database keeps it (seconds since 2001, as text), "" when none
    phones: list[tuple[str, str]] = field(default_factory=list)  # (label, number)
    emails: list[tuple[str, str]] = field(default_factory=list)  # (label, address)
    urls: list[tuple[str, str]] = field(default_factory=list)  # (label, web page)
    dates: list[tuple[str, str]] = field(default_factory=list)  # (label, seconds since 2001 as text, like birthday)
    related_names: list[tuple[str, str]] = field(default_factory=list)  # (label, name)
    # (label, parts): each part by its key in lower case ("street", "city", "countrycode"; "service", "username")
    addresses: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    instant_messages: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    social_profiles: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    photo: bytes | None = None  # JPEG

    @property
    def display_name(self) -> str:
        """As the phone shows the contact: its name, else its company, else its first number or address."""
        name = " ".join(part for part in (self.first, self.middle, self.last) if part)
        return name or self.organization or self.nickname or next(
            (value for _, value in self.phones + self.emails), f"Contact {self.row}"
        )


def read_people(backup: Backup, with_photos: bool = False) -> list[Person] | None:
    """Every contact, in the database's order; None when the backup has no address book.

    Raises ``sqlite3.Error`` when the database cannot be read.
    """
    conn = backup.database(DOMAIN, ADDRESS_BOOK)
    if conn is None:
        return None
    try:
        columns = columns_of(conn, "ABPerson")
        if not columns:
            raise sqlite3.DatabaseError("AddressBook.sqlitedb has no ABPerson table")
        wanted = [c for c in _NAME_COLUMNS if c.upper() in columns]
        people: dict[int, Person] = {}
        for row in conn.execute(f"SELECT ROWID, {', '.join(wanted)} FROM ABPerson ORDER BY ROWID"):
            values = {column.lower(): text_of(value) for column, value in zip(wanted, row[1:])}
            values["job_title"] = values.pop("jobtitle", "")
            people[row[0]] = Person(row[0], **values)
        labels, parts = _labels(conn), _parts(conn)
        kinds = ", ".join(str(prop) for prop in (*_SINGLE, *_IN_PARTS))
        for uid, record, prop, label, value in conn.execute(
            f"SELECT UID, record_id, property, label, value FROM ABMultiValue WHERE property IN ({kinds}) ORDER BY UID"
        ):
            person = people.get(record)
            if person is None:
                continue
            if prop in _IN_PARTS and uid in parts:
                getattr(person, _IN_PARTS[prop]).append((labels.get(label, ""), parts[uid]))
            elif prop in _SINGLE and value is not None:
                getattr(person, _SINGLE[prop]).append((labels.get(label, ""), text_of(value)))
    finally:
        conn.close()
    if with_photos:
        _add_photos(backup, people)
    return list(people.values())


def _labels(conn: sqlite3.Connection) -> dict[int, str]:
    try:
        rows = conn.execute("SELECT ROWID, value FROM ABMultiValueLabel").fetchall()
    except sqlite3.Error:
        return {}
    # Stored as "_$!<Mobile>!$_" for the built-in labels, plain text for the user's own.
    return {rowid: re.sub(r"^_\$!<(.*)>!\$_$", r"\1", text_of(value)) for rowid, value in rows}


def _parts(conn: sqlite3.Connection) -> dict[int, dict[str, str]]:
    """The parts of each address, account and profile, by its ``ABMultiValue`` UID; a part without a
    value or a known key is left out (a damaged row costs only that part). Empty without the entry tables."""
    if not columns_of(conn, "ABMultiValueEntry") or not columns_of(conn, "ABMultiValueEntryKey"):
        return {}
    parts: dict[int, dict[str, str]] = {}
    for parent, key, value in conn.execute(
        "SELECT entry.parent_id, name.value, entry.value FROM ABMultiValueEntry AS entry "
        "JOIN ABMultiValueEntryKey AS name ON name.ROWID = entry.key ORDER BY entry.parent_id, entry.key"
    ):
        if key is not None and text_of(value).strip():
            parts.setdefault(parent, {})[text_of(key).casefold()] = text_of(value)
    return parts


def _add_photos(backup: Backup, people: dict[int, Person]) -> None:
    conn = backup.database(DOMAIN, IMAGES)
    if conn is None:
        return
    try:
        for table in ("ABThumbnailImage", "ABFullSizeImage"):  # a full-size image wins when both exist
            try:
                for record, data in conn.execute(f"SELECT record_id, data FROM {table}"):
                    if record in people and isinstance(data, bytes) and data:
                        people[record].photo = data
            except sqlite3.Error:
                continue
    finally:
        conn.close()


def phone_key(number: str) -> str:
    """A phone number reduced to what identifies it across formats: its last nine digits."""
    digits = re.sub(r"\D", "", number)
    return digits[-9:] if len(digits) >= 9 else digits


class Directory:
    """Who a message handle (a phone number or an e-mail address) belongs to."""

    def __init__(self, people: list[Person] | None) -> None:
        self._names: dict[str, str] = {}
        for person in people or []:
            for _, number in person.phones:
                if phone_key(number):
                    self._names.setdefault(phone_key(number), person.display_name)
            for _, address in person.emails:
                self._names.setdefault(address.strip().casefold(), person.display_name)

    @classmethod
    def of(cls, backup: Backup) -> Directory:
        """The backup's address book as a directory; empty when it is missing or cannot be read."""
        try:
            return cls(read_people(backup))
        except sqlite3.Error:
            return cls(None)

    def name_for(self, handle: str | None) -> str | None:
        """The contact's name for ``handle``, or None when the address book does not know it."""
        if not handle:
            return None
        if "@" in handle:
            return self._names.get(handle.strip().casefold())
        key = phone_key(handle)
        return self._names.get(key) if key else None

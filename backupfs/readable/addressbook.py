"""The phone's address book: people, their numbers and addresses, and who a handle belongs to.

``AddressBook.sqlitedb`` has kept the same two tables from iOS 4 to iOS 17: ``ABPerson``
(one row per contact) and ``ABMultiValue`` (their phone numbers, property 3, and e-mail
addresses, property 4; labels in ``ABMultiValueLabel``). Photos are in
``AddressBookImages.sqlitedb`` (``ABFullSizeImage``, else ``ABThumbnailImage``). Columns
added over the years are read when present. Messages, WhatsApp and calls use
:func:`Directory.name_for` to show a person's name rather than a number.
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
_PHONE, _EMAIL = 3, 4
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
        labels = _labels(conn)
        for record, prop, label, value in conn.execute(
            "SELECT record_id, property, label, value FROM ABMultiValue WHERE property IN (3, 4) ORDER BY UID"
        ):
            person = people.get(record)
            if person is None or value is None:
                continue
            entry = (labels.get(label, ""), text_of(value))
            (person.phones if prop == _PHONE else person.emails).append(entry)
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

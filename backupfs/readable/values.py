"""Values as the phone's databases hold them, and as the readable folder shows them: one way for every renderer.

A column of a damaged or unexpected database may hold any type (text where a number is
due, a BLOB of garbage, NULL): every helper here takes whatever comes and gives a value
to show or None, never an exception. Dates come as seconds since 1970 (Unix) or since
2001 (Apple's epoch, Core Data and most iOS databases) and are shown in the computer's
local time zone, as the phone's owner most likely lived them. Spreadsheets get one CSV
form, file dates one rule.
"""

from __future__ import annotations

import csv
import io
import math
import re
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from urllib.parse import unquote

APPLE_EPOCH = 978_307_200  # 2001-01-01T00:00:00Z in Unix seconds
# No phone call, message or recording predates 1990 or postdates 2100: a date outside is shown as unknown.
EARLIEST, LATEST = 631_152_000, 4_102_444_800
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A number or a phone number ("+1 (555) 010-0199", "-12.5"): no letter, so no function or reference a
# spreadsheet could run; it stays as it is, readable, rather than behind a quote.
_PLAIN_NUMBER = re.compile(r"[+-][\d\s().-]*")
_EVERY_TABLE_HAS = frozenset({"ROWID"})  # not listed by PRAGMA table_info, yet always there


# --- values of a column -----------------------------------------------------------------------

def text_of(value: object) -> str:
    """A column value as text, whatever type the row holds: NULL is "", bytes that are not UTF-8
    keep what can be read, NUL characters (a damaged row's padding) are dropped."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).replace("\x00", "")


def optional_text(value: object) -> str | None:
    """:func:`text_of` without surrounding white space; None when nothing is left."""
    return text_of(value).strip() or None


def printable(text: str) -> str:
    """Text without the control characters a damaged row may hold (vCard, iCalendar and CSV
    readers reject them), line breaks as "\\n", without surrounding white space."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def number_of(value: object) -> float | None:
    """A column value as a finite number, None when it is not one (NULL, text, a BLOB of garbage)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, bytes)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def int_of(value: object) -> int | None:
    """A column value as an integer (a row id, a flag, a count), None when it is not a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = number_of(value)
    return None if number is None else int(number)


# --- dates ----------------------------------------------------------------------------------------

def unix_time(value: object, epoch: int = 0, earliest: float = EARLIEST) -> float | None:
    """Unix seconds of a date counted in seconds from ``epoch`` (0 for Unix, :data:`APPLE_EPOCH`);
    None when absent (NULL, 0: Core Data's empty date) or outside ``earliest`` to 2100."""
    number = number_of(value)
    if not number:
        return None
    unix = number + epoch
    return unix if earliest <= unix <= LATEST else None


def local_time(unix: float | None) -> datetime | None:
    """The moment in the computer's time zone, None when unknown."""
    return None if unix is None else datetime.fromtimestamp(unix).astimezone()


def stamp(unix: float | None, pattern: str = "%Y-%m-%d %H:%M:%S", unknown: str = "") -> str:
    """A date as text for a list or a file name; ``unknown`` when there is none."""
    moment = local_time(unix)
    return unknown if moment is None else moment.strftime(pattern)


def date_span(unixes: Iterable[float | None]) -> str:
    """ "14 Mar 2023 – 02 Apr 2024" from the first to the last known date, one date when they share a day,
    "" when none is known: what a conversation's subtitle says of its time."""
    known = [unix for unix in unixes if unix is not None]
    if not known:
        return ""
    return " – ".join(dict.fromkeys(stamp(unix, "%d %b %Y") for unix in (min(known), max(known))))


def mtime_of(unix: float | None) -> int | None:
    """A moment as a file's date (whole Unix seconds); None when unknown or before 1970, which file systems
    do not all show."""
    return None if unix is None or unix < 0 else int(unix)


def newest(unixes: Iterable[float | None]) -> int | None:
    """The latest known of the moments, as a file's date: a list is as new as its newest entry."""
    return mtime_of(max((unix for unix in unixes if unix is not None), default=None))


def clock(seconds: object) -> str:
    """A duration as H:MM:SS, which spreadsheets read as a time; "" when unknown."""
    number = number_of(seconds)
    if number is None or number < 0:
        return ""
    whole = round(number)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


# --- words ------------------------------------------------------------------------------------------

def plural(count: int, word: str) -> str:
    """ "1 call", "1,204 calls"."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def readable_link(link: str) -> str:
    """A relative URL as a person reads it in plain text ("JR Pass.pdf", not "JR%20Pass.pdf");
    pages keep the encoded URL, which a browser needs."""
    return unquote(link)


# --- schemas ----------------------------------------------------------------------------------------

def columns_of(conn: sqlite3.Connection, table: str) -> set[str]:
    """The table's column names in upper case; empty when it does not exist. Raises on a damaged
    database. Works whatever the connection's text factory (bytes, for a lenient read). Only the
    names are read: renderers ask for several tables of dozens of columns on every file."""
    return {text_of(name).upper() for (name,) in conn.execute("SELECT name FROM pragma_table_info(?)", (table,))}


def column_or_null(columns: set[str], *names: str, alias: str = "") -> str:
    """An SQL expression for a SELECT: the first non-NULL of ``names`` the table has (``columns``, upper
    case), NULL when it has none. Later and earlier schemas read alike, and a value that moved between
    numbered columns (``ZTITLE1``, ``ZTITLE2``) is found wherever it is."""
    present = [f"{alias}.{name}" if alias else name for name in names
               if name.upper() in columns or name.upper() in _EVERY_TABLE_HAS]
    if not present:
        return "NULL"
    return present[0] if len(present) == 1 else f"COALESCE({', '.join(present)})"


def select_list(columns: set[str], names: Iterable[str], alias: str = "") -> str:
    """ "a, b, NULL": each of ``names`` for a SELECT, NULL for those this generation lacks."""
    return ", ".join(column_or_null(columns, name, alias=alias) for name in names)


# --- spreadsheets -----------------------------------------------------------------------------------

def cell(text: str) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula ("=", "@", "+A1") gets a quote first,
    or the spreadsheet would compute it (a crafted contact name or page title could run a formula). A
    number or phone number ("+44 7700 900123") stays as it is: without a letter it can run nothing."""
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return f"'{text}"
    return text


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """A CSV file as spreadsheets open it: UTF-8 with a byte-order mark, so Excel shows accents and emoji,
    and every cell guarded by :func:`cell`."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([cell(value) for value in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


# --- order ------------------------------------------------------------------------------------------

def newest_first(unix: float | None) -> tuple[bool, float]:
    """Sort key of every list the folder shows (calls, voicemails, recordings, history): newest first,
    undated last."""
    return unix is None, -(unix or 0)


def oldest_first(unix: float | None) -> tuple[bool, float]:
    """Sort key of the order in which file names are given (:func:`backupfs.readable.base.unique_paths`):
    of two files of one name, the older keeps the plain one and a later one gets " 2", as a name
    once seen stays; undated last."""
    return unix is None, unix or 0

"""Calendar: each calendar of the phone as an .ics file, and each reminder list of iOS 12 and earlier.

``Calendar.sqlitedb`` (HomeDomain ``Library/Calendar/``) holds ``Calendar`` (one row per
calendar or reminder list: ``title``, ``color``) and ``CalendarItem`` (``summary``,
``description``, ``start_date``, ``end_date``, ``all_day``, ``calendar_id``, ``location_id``,
``start_tz``, ``url``, ``status``, ``UUID``...), with ``Location`` (``title``, ``address``,
``latitude``, ``longitude``), ``Recurrence`` (``owner_id``, ``frequency`` 1 daily to 4 yearly,
``interval``, ``count``, ``end_date``, and the days in ``specifier``: "D=0MO,0WE", "D=-1FR")
and ``ExceptionDate`` (``owner_id``, ``date``: a deleted occurrence). An edited occurrence is
an item of its own whose ``orig_item_id`` is the series and ``orig_date`` the occurrence it
replaces. Dates are seconds since 2001-01-01 UTC. A timed event is a moment, shown in its
zone (``start_tz``); "_float" marks a floating time or an all-day event, whose wall-clock
time is written as if it were UTC, an all-day event ending on the last second of its last day.

Columns are looked up by name (``PRAGMA table_info``). Two generations are tested:

* iOS 10 to 12: ``CalendarItem.entity_type`` tells events (2) from reminders (3); a reminder
  has ``due_date``, ``due_tz``, ``due_all_day``, ``completion_date`` and ``priority``, and
  belongs to a reminder list, a ``Calendar`` row (the default one titled
  "DEFAULT_TASK_CALENDAR_NAME");
* iOS 13 and later: the same tables with more columns (``conference_url``, ``junk_status``,
  ``symbolic_color_name``...), holding events only: reminders moved to the Reminders app's
  own database, not read here. A video-call link in ``conference_url`` becomes the event's URL.

A database without ``entity_type`` holds events only; without ``Location``, ``Recurrence`` or
``ExceptionDate``, events come without those details. ``Calendar`` and ``CalendarItem`` are
required.

Produces ``<calendar>.ics`` per calendar holding events (VEVENT) and
``Reminders/<list>.ics`` per list holding reminders (VTODO), written with :mod:`icalendar`,
which folds and escapes as RFC 5545 requires and adds the VTIMEZONE definitions that
importers need to place a recurring event right across daylight-saving changes.
"""

from __future__ import annotations

import math
import re
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

import icalendar

from backupfs.readable.base import Backup, Plan, Planned, safe_name, unique_paths
from backupfs.readable.values import (
    columns_of,
    int_of,
    number_of,
    plural,
    printable,
    select_list,
    text_of,
)

DOMAIN = "HomeDomain"
PATH = "Library/Calendar/Calendar.sqlitedb"
EVENT, REMINDER = 2, 3
FLOATING = "_float"
OTHER_CALENDAR = "Other events"  # for events whose calendar row is gone
REMINDERS_FOLDER = "Reminders"
PRODID = "-//backupfs//Calendar from an iPhone backup//EN"

_EPOCH = datetime(2001, 1, 1, tzinfo=timezone.utc)
_EARLIEST, _LATEST = -3.2e9, 6.4e9  # about 1900 to 2200: beyond, a value is damage, not a date
_ZONES_UNTIL = date(2038, 1, 1)  # recurring events go on: time zones are defined at least this far
_DEFAULT_TITLES = {"DEFAULT_TASK_CALENDAR_NAME": "Reminders", "DEFAULT_CALENDAR_NAME": "Calendar"}
_FREQUENCIES = {1: "DAILY", 2: "WEEKLY", 3: "MONTHLY", 4: "YEARLY"}
_STATUSES = {1: "CONFIRMED", 2: "TENTATIVE", 3: "CANCELLED"}
_DAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$")
_ITEM_COLUMNS = (
    "ROWID", "calendar_id", "entity_type", "summary", "description", "start_date", "start_tz", "end_date", "all_day",
    "location_id", "url", "conference_url", "UUID", "status", "orig_item_id", "orig_date", "creation_date",
    "last_modified", "due_date", "due_tz", "due_all_day", "completion_date", "priority",
)


# --- values as damaged databases hold them ---------------------------------------------------

def _text(value: object) -> str | None:
    """A value as text without the control characters iCalendar forbids; None when empty."""
    return printable(text_of(value)) or None


def _seconds(value: object) -> float | None:
    """A date column (seconds since 2001); None when absent or absurd."""
    seconds = number_of(value)
    return seconds if seconds is not None and _EARLIEST < seconds < _LATEST else None


@lru_cache(maxsize=256)
def _zone(name: str | None) -> tzinfo | None:
    """The zone of ``start_tz``: None for a floating time, UTC when the name is missing or unknown
    (the stored moment is still right, only its zone is lost)."""
    if name == FLOATING:
        return None
    if not name or name.upper() in ("UTC", "GMT"):
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        return timezone.utc


def _moment(seconds: float, zone: tzinfo | None) -> datetime:
    """The moment in its zone, or as naive wall-clock time when floating."""
    utc = _EPOCH + timedelta(seconds=seconds)
    return utc.replace(tzinfo=None) if zone is None else utc.astimezone(zone)


def _utc(seconds: float | None) -> datetime | None:
    return None if seconds is None else _EPOCH + timedelta(seconds=seconds)


# --- what the database holds -----------------------------------------------------------------

@dataclass(frozen=True)
class Item:
    """One CalendarItem row, its values checked: an event, or a reminder when ``kind`` is 3."""

    row: int
    calendar: int | None
    kind: int
    summary: str | None
    description: str | None
    start: float | None
    start_tz: str | None
    end: float | None
    all_day: bool
    location: int | None
    url: str | None
    uid: str | None
    status: int | None
    series: int | None  # the series whose occurrence this edited event replaces
    replaces: float | None
    created: float | None
    modified: float | None
    due: float | None
    due_tz: str | None
    due_all_day: bool
    completed: float | None
    priority: int | None

    @classmethod
    def of(cls, row: Sequence[object]) -> Item | None:
        """The item of a row (in ``_ITEM_COLUMNS`` order); None when it is neither an event with a start nor a reminder."""
        v = dict(zip(_ITEM_COLUMNS, row))
        kind = REMINDER if int_of(v["entity_type"]) == REMINDER else EVENT
        rowid, start = int_of(v["ROWID"]), _seconds(v["start_date"])
        if rowid is None or (kind == EVENT and start is None):
            return None
        series = int_of(v["orig_item_id"])
        return cls(
            rowid, int_of(v["calendar_id"]), kind, _text(v["summary"]), _text(v["description"]), start,
            _text(v["start_tz"]), _seconds(v["end_date"]), bool(int_of(v["all_day"])), int_of(v["location_id"]),
            _text(v["url"]) or _text(v["conference_url"]), _text(v["UUID"]), int_of(v["status"]),
            series if series and series > 0 else None, _seconds(v["orig_date"]), _seconds(v["creation_date"]),
            _seconds(v["last_modified"]), _seconds(v["due_date"]), _text(v["due_tz"]), bool(int_of(v["due_all_day"])),
            _seconds(v["completion_date"]), int_of(v["priority"]),
        )

    @property
    def stamp(self) -> float | None:
        return self.modified or self.created


@dataclass(frozen=True)
class Place:
    title: str | None
    address: str | None
    geo: tuple[float, float] | None

    @property
    def text(self) -> str | None:
        """Title and address on one line, as calendar apps show a location."""
        if self.title and self.address and not self.address.startswith(self.title):
            return f"{self.title}, {self.address}"
        return self.address or self.title


@dataclass(frozen=True)
class Repeat:
    frequency: str
    interval: int
    count: int
    until: float | None
    days: tuple[str, ...]


@dataclass
class Details:
    """Locations, recurrences and deleted occurrences of some items, from the optional tables."""

    places: dict[int, Place] = field(default_factory=dict)
    repeats: dict[int, Repeat] = field(default_factory=dict)
    deleted: dict[int, list[float]] = field(default_factory=dict)


class CalendarDatabase:
    """Calendar.sqlitedb. Raises ``sqlite3.Error`` when it cannot be queried, ValueError when it
    lacks the Calendar or CalendarItem table."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.item_columns = columns_of(conn, "CalendarItem")
        self.calendar_columns = columns_of(conn, "Calendar")
        if not self.item_columns or not self.calendar_columns:
            raise ValueError("Calendar.sqlitedb lacks the Calendar or CalendarItem table")

    def calendars(self) -> dict[int, tuple[str, str | None]]:
        """Calendar ROWID -> (title as the phone shows it, colour)."""
        found = {}
        sql = f"SELECT {select_list(self.calendar_columns, ('ROWID', 'title', 'color'))} FROM Calendar"
        for rowid, title, color in self.conn.execute(sql):
            if isinstance(rowid, int):
                name = _text(title) or f"Calendar {rowid}"
                found[rowid] = (_DEFAULT_TITLES.get(name, name), _text(color))
        return found

    def items(self) -> list[Item]:
        sql = f"SELECT {select_list(self.item_columns, _ITEM_COLUMNS)} FROM CalendarItem ORDER BY ROWID"
        return [item for item in map(Item.of, self.conn.execute(sql)) if item is not None]

    def details(self, items: Iterable[Item]) -> Details:
        rows = {item.row for item in items}
        wanted_places = {item.location for item in items if item.location is not None}
        details = Details()
        for rowid, title, address, latitude, longitude in self._rows(
                "Location", ("ROWID", "title", "address", "latitude", "longitude")):
            if rowid in wanted_places:
                details.places[rowid] = Place(_text(title), _text(address), _geo(latitude, longitude))
        for owner, frequency, interval, count, until, specifier in self._rows(
                "Recurrence", ("owner_id", "frequency", "interval", "count", "end_date", "specifier")):
            repeat = _repeat(frequency, interval, count, until, specifier)
            if owner in rows and repeat is not None:
                details.repeats.setdefault(owner, repeat)  # one rule per event, as RFC 5545 advises
        for owner, moment in self._rows("ExceptionDate", ("owner_id", "date")):
            seconds = _seconds(moment)
            if owner in rows and seconds is not None:
                details.deleted.setdefault(owner, []).append(seconds)
        return details

    def _rows(self, table: str, wanted: Sequence[str]) -> list[tuple]:
        columns = columns_of(self.conn, table)
        if not columns:
            return []
        return self.conn.execute(f"SELECT {select_list(columns, wanted)} FROM {table}").fetchall()


def _geo(latitude: object, longitude: object) -> tuple[float, float] | None:
    """Coordinates when real: the phone writes 0, 0 for a place it never located."""
    try:
        lat, lon = float(latitude), float(longitude)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180 or lat == lon == 0:
        return None
    return lat, lon


def _repeat(frequency: object, interval: object, count: object, until: object, specifier: object) -> Repeat | None:
    name = _FREQUENCIES.get(int_of(frequency) or 0)
    if name is None:
        return None
    days = []
    for part in (_text(specifier) or "").split(";"):
        key, _, values = part.partition("=")
        if key.strip() == "D":  # the days; the other keys of the specifier are not read
            for value in values.split(","):
                match = _DAY.match(value.strip())
                if match:
                    number = int(match.group(1) or 0)
                    days.append(f"{number}{match.group(2)}" if number else match.group(2))
    return Repeat(name, max(1, int_of(interval) or 1), max(0, int_of(count) or 0), _seconds(until), tuple(days))


# --- iCalendar -------------------------------------------------------------------------------

def _start(item: Item, seconds: float) -> date | datetime:
    """DTSTART (and the values that must match it: EXDATE, RECURRENCE-ID) of an event."""
    moment = _moment(seconds, _zone(item.start_tz))
    return moment.date() if item.all_day else moment


def _end(item: Item, start: date | datetime) -> date | datetime | None:
    """DTEND; None when unknown or before the start. An all-day event lasts as many whole days as
    its stored span rounds to: the phone ends it on the last second of its last day (or, when
    synced from elsewhere, at the next midnight, perhaps in a zone with a daylight-saving change)."""
    assert item.start is not None
    if item.end is None:
        return start + timedelta(days=1) if item.all_day else None
    if isinstance(start, datetime):
        moment = _moment(item.end, _zone(item.start_tz))
        return moment if moment >= start else None
    return start + timedelta(days=max(1, round((item.end - item.start) / 86_400)))


def _until(repeat: Repeat, start: date | datetime) -> date | datetime | None:
    """UNTIL, of the same kind as DTSTART as RFC 5545 requires: a date, a UTC time, or a floating
    time. The phone keeps the end of an all-day or floating series as wall-clock time, as if UTC."""
    if repeat.until is None:
        return None
    if not isinstance(start, datetime):
        return _moment(repeat.until, None).date()
    if start.tzinfo is None:
        return _moment(repeat.until, None)
    return _utc(repeat.until)


def _rrule(repeat: Repeat, start: date | datetime) -> dict[str, object]:
    rule: dict[str, object] = {"FREQ": repeat.frequency}
    until = _until(repeat, start)
    if repeat.count:
        rule["COUNT"] = repeat.count
    elif until is not None:
        rule["UNTIL"] = until
    if repeat.interval > 1:
        rule["INTERVAL"] = repeat.interval
    if repeat.days:
        rule["BYDAY"] = list(repeat.days)
    return rule


def _uid(item: Item, calendar: str) -> str:
    """The item's own UUID; else one derived from what identifies the row, the same on every read."""
    seed = f"backupfs/{calendar}/{item.row}/{item.start}/{item.due}/{item.summary}"
    return item.uid or f"{str(uuid.uuid5(uuid.NAMESPACE_URL, seed)).upper()}@backupfs"


def _common(component: icalendar.cal.Component, item: Item, uid: str) -> None:
    """UID, DTSTAMP, CREATED, LAST-MODIFIED, SUMMARY and DESCRIPTION, shared by events and reminders."""
    component.add("uid", uid)
    component.add("dtstamp", _utc(item.stamp or item.start or item.due or 0.0))
    if item.created is not None:
        component.add("created", _utc(item.created))
    if item.modified is not None:
        component.add("last-modified", _utc(item.modified))
    if item.summary:
        component.add("summary", item.summary)
    if item.description:
        component.add("description", item.description)


def event(item: Item, details: Details, uids: dict[int, str], series: dict[int, Item]) -> icalendar.Event:
    """The VEVENT of an event item; an edited occurrence carries its series' UID and RECURRENCE-ID."""
    assert item.start is not None
    component = icalendar.Event()
    master = series.get(item.series) if item.series is not None else None
    _common(component, item, uids[master.row] if master is not None else uids[item.row])
    start = _start(item, item.start)
    component.add("dtstart", start)
    end = _end(item, start)
    if end is not None:
        component.add("dtend", end)
    if master is not None and item.replaces is not None:
        component.add("recurrence-id", _start(master, item.replaces))
    place = details.places.get(item.location) if item.location is not None else None
    if place is not None and place.text:
        component.add("location", place.text)
        if place.geo is not None:
            component.add("geo", place.geo)
    if item.url:
        component.add("url", item.url)
    if item.status in _STATUSES:
        component.add("status", _STATUSES[item.status])
    repeat = details.repeats.get(item.row)
    if repeat is not None and master is None:
        component.add("rrule", _rrule(repeat, start))
        deleted = sorted(details.deleted.get(item.row, []))
        if deleted:
            component.add("exdate", [_start(item, seconds) for seconds in deleted])
    return component


def todo(item: Item, uid: str) -> icalendar.Todo:
    """The VTODO of a reminder: due date, completion, priority."""
    component = icalendar.Todo()
    _common(component, item, uid)
    if item.due is not None:
        due = _moment(item.due, _zone(item.due_tz))
        component.add("due", due.date() if item.due_all_day else due)
    if item.completed is not None:
        component.add("completed", _utc(item.completed))
    component.add("status", "COMPLETED" if item.completed is not None else "NEEDS-ACTION")
    if item.priority is not None and 1 <= item.priority <= 9:
        component.add("priority", item.priority)
    return component


def _sort_key(item: Item) -> tuple[float, int]:
    return (item.start if item.start is not None else item.due if item.due is not None else math.inf, item.row)


def ics(title: str, color: str | None, items: list[Item], details: Details) -> bytes:
    """One calendar or reminder list as an .ics file."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", title)
    if color and _COLOR.match(color):
        calendar.add("x-apple-calendar-color", color)
    uids = {item.row: _uid(item, title) for item in items}
    series = {item.row: item for item in items}
    for item in sorted(items, key=_sort_key):
        component = event(item, details, uids, series) if item.kind == EVENT else todo(item, uids[item.row])
        calendar.add_component(component)
    first, last = _zone_span(items)
    calendar.add_missing_timezones(first_date=first, last_date=last)
    return calendar.to_ical()


def _zone_span(items: list[Item]) -> tuple[date, date]:
    """The days the VTIMEZONE definitions must cover: from the day before the earliest start or due
    date (earlier would only lengthen them) to at least 2038, and past the latest one."""
    moments = [seconds for item in items for seconds in (item.start, item.due) if seconds is not None] or [0.0]
    first = (_EPOCH + timedelta(seconds=min(moments))).date() - timedelta(days=1)
    last = (_EPOCH + timedelta(seconds=max(moments))).date() + timedelta(days=366)
    return first, max(last, _ZONES_UNTIL)


# --- the renderer ----------------------------------------------------------------------------

def _open(backup: Backup) -> CalendarDatabase | None:
    conn = backup.database(DOMAIN, PATH)
    if conn is None:
        return None
    conn.text_factory = bytes  # a text value that is not UTF-8 must not fail the whole query
    try:
        return CalendarDatabase(conn)
    except BaseException:
        conn.close()
        raise


def _key(kind: int, calendar: int | None) -> str:
    return f"{'events' if kind == EVENT else 'reminders'}|{'' if calendar is None else calendar}"


class CalendarRenderer:
    """The ``Calendar`` folder: ``<calendar>.ics`` per calendar, ``Reminders/<list>.ics`` per reminder list."""

    folder = "Calendar"

    def plan(self, backup: Backup) -> Plan | None:
        database = _open(backup)
        if database is None:
            return None
        try:
            calendars, items = database.calendars(), database.items()
        finally:
            database.conn.close()
        groups: dict[tuple[int, int | None], list[Item]] = {}
        for item in items:
            groups.setdefault((item.kind, item.calendar if item.calendar in calendars else None), []).append(item)
        if not groups:
            return None

        def title(group: tuple[int, int | None]) -> str:
            return calendars[group[1]][0] if group[1] is not None else OTHER_CALENDAR

        order = sorted(groups, key=lambda g: (g[0], title(g).casefold(), g[1] if g[1] is not None else -1))
        names = [f"{REMINDERS_FOLDER + '/' if kind == REMINDER else ''}{safe_name(title((kind, c)))}.ics"
                 for kind, c in order]
        files = []
        for group, path in zip(order, unique_paths(names)):
            stamps = [item.stamp for item in groups[group] if item.stamp is not None]
            mtime = int(max(stamps) + _EPOCH.timestamp()) if stamps else None
            files.append(Planned(path, key=_key(*group), mtime=mtime))
        return Plan(files, _summary(groups))

    def render(self, backup: Backup, key: str) -> bytes:
        kind_name, _, calendar_text = key.partition("|")
        kind = EVENT if kind_name == "events" else REMINDER
        calendar = int(calendar_text) if calendar_text else None
        database = _open(backup)
        if database is None:
            raise KeyError("this backup has no calendar database")
        try:
            calendars = database.calendars()
            items = [item for item in database.items() if item.kind == kind and
                     (item.calendar if item.calendar in calendars else None) == calendar]
            details = database.details(items)
        finally:
            database.conn.close()
        if not items:
            raise KeyError(f"no items for {key!r} in Calendar.sqlitedb")
        title, color = calendars[calendar] if calendar is not None else (OTHER_CALENDAR, None)
        return ics(title, color, items, details)


def _summary(groups: dict[tuple[int, int | None], list[Item]]) -> str:
    """"4 calendars, 1,204 events, 37 reminders", leaving out what there is none of."""
    events = [len(items) for (kind, _), items in groups.items() if kind == EVENT]
    reminders = sum(len(items) for (kind, _), items in groups.items() if kind == REMINDER)
    parts = [plural(len(events), "calendar"), plural(sum(events), "event")] if events else []
    return ", ".join(parts + ([plural(reminders, "reminder")] if reminders else []))


CALENDAR = CalendarRenderer()

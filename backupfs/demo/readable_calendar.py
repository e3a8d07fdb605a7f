"""Calendar databases as real phones write them, with the events and reminders put in, for tests and the demo.

``Calendar.sqlitedb`` (HomeDomain ``Library/Calendar/``): ``Calendar`` (one row per calendar
or reminder list), ``CalendarItem`` (events, and on iOS 12 and earlier reminders too), and
beside them ``Location``, ``Recurrence``, ``ExceptionDate`` and ``Alarm``. Every date is a
double, seconds since 2001-01-01 UTC. A timed event is a moment with its zone in
``start_tz``; an all-day or "floating" event has ``start_tz`` "_float" and its wall-clock
time written as if it were UTC, an all-day event ending on the last second of its last day.
A recurrence's ``frequency`` is 1 daily, 2 weekly, 3 monthly, 4 yearly; its ``specifier``
holds the days ("D=0MO,0WE": Mondays and Wednesdays; "D=-1FR": the last Friday). An edited
occurrence is an item of its own, ``orig_item_id`` naming the series and ``orig_date`` the
occurrence it replaces; a deleted one is an ``ExceptionDate`` row.

Two generations, each a :class:`CalendarFixture` (the SQL and what was put in):

* :func:`calendar_ios10`: iOS 10 to 12 columns; events (``entity_type`` 2) and reminders
  (``entity_type`` 3, with ``due_date``, ``due_all_day``, ``completion_date``, ``priority``) in
  reminder lists, among them the default list the phone titles "DEFAULT_TASK_CALENDAR_NAME";
* :func:`calendar_ios13`: iOS 13 and later, more columns (``conference_url``,
  ``junk_status``, ``symbolic_color_name``...), events only: reminders moved to the
  Reminders app's own database.

They hold timed events in several zones, all-day and multi-day events, floating events,
recurrences (daily, weekly on some days, every third month on the last Friday, yearly; an
all-day one with an end date) with deleted and edited occurrences, an untitled event, a title
whose bytes are not UTF-8, an event whose calendar is gone, a row with no date, emoji and a
long description.
Deterministic: same call, same bytes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from backupfs.demo.readable_contacts import apple_seconds
from backupfs.demo.sqlbuild import database_bytes, insert, not_utf8
from backupfs.demo.writer import PayloadSpec

DOMAIN = "HomeDomain"
PATH = "Library/Calendar/Calendar.sqlitedb"
EVENT, REMINDER = 2, 3
DAILY, WEEKLY, MONTHLY, YEARLY = 1, 2, 3, 4
DEFAULT_REMINDERS_TITLE = "DEFAULT_TASK_CALENDAR_NAME"  # the phone shows it as "Reminders"
ORPHAN_CALENDAR = "Other events"  # where a reader puts events whose calendar row is gone


# --- what is put in --------------------------------------------------------------------------

@dataclass(frozen=True)
class SampleEvent:
    """One event as shown. ``start``/``end``: an aware datetime (timed), a naive one (floating) or
    a date (all day; ``end`` is then the day after the last). ``rrule`` is what the RRULE must say."""

    calendar: str
    summary: str | None
    start: datetime | date
    end: datetime | date
    zone: str = "_float"
    place: str | None = None
    address: str | None = None
    description: str | None = None
    url: str | None = None
    status: int = 0
    rrule: dict[str, object] | None = None
    # (frequency, interval, count, until, specifier); an all-day or floating series ends in wall-clock time
    recurrence: tuple[int, int, int, datetime | None, str | None] | None = None
    deleted: tuple[datetime, ...] = ()  # ExceptionDate rows
    edits: int | None = None  # the index (in the fixture's events) of the series whose occurrence this replaces
    replaces: datetime | None = None  # that occurrence's start

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, datetime)


@dataclass(frozen=True)
class SampleReminder:
    """One reminder as shown; ``due`` a date (no time), an aware datetime, or None."""

    list: str
    summary: str
    due: datetime | date | None = None
    completed: datetime | None = None
    priority: int = 0
    notes: str | None = None


@dataclass(frozen=True)
class CalendarFixture:
    """``sql`` builds Calendar.sqlitedb; ``calendars`` and ``lists`` are the titles a reader shows,
    of the calendars holding events and of the lists holding reminders."""

    sql: str
    events: tuple[SampleEvent, ...]
    reminders: tuple[SampleReminder, ...]
    calendars: tuple[str, ...]
    lists: tuple[str, ...]

    def payloads(self) -> list[PayloadSpec]:
        """The database, as the demo backup holds it: it names no other file."""
        return [PayloadSpec(DOMAIN, PATH, database_bytes(self.sql))]


def _uuid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"backupfs-calendar/{seed}")).upper()


def _stored(moment: datetime | date) -> float:
    """The value the phone keeps: a moment as is, a floating time or a day as if it were UTC."""
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return apple_seconds(moment)


def _stored_end(event: SampleEvent) -> float:
    return _stored(event.end) - (1 if event.all_day else 0)  # an all-day event ends on its last second


# --- the databases ---------------------------------------------------------------------------

_ITEM_IOS10 = (
    "ROWID INTEGER PRIMARY KEY AUTOINCREMENT, summary TEXT, location_id INTEGER, description TEXT, "
    "start_date REAL, start_tz TEXT, end_date REAL, all_day INTEGER, calendar_id INTEGER, orig_item_id INTEGER, "
    "orig_date REAL, organizer_id INTEGER, self_attendee_id INTEGER, status INTEGER, invitation_status INTEGER, "
    "availability INTEGER, privacy_level INTEGER, url TEXT, last_modified REAL, sequence_num INTEGER, "
    "birthday_id INTEGER, modified_properties INTEGER, external_tracking_status INTEGER, external_id TEXT, "
    "external_mod_tag TEXT, unique_identifier TEXT, external_schedule_id TEXT, external_rep BLOB, "
    "response_comment TEXT, hidden INTEGER, has_recurrences INTEGER, has_attendees INTEGER, UUID TEXT, "
    "entity_type INTEGER, priority INTEGER, due_date REAL, due_tz TEXT, due_all_day INTEGER, completion_date REAL, "
    "creation_date REAL, conference TEXT, display_order INTEGER, created_by_id INTEGER, modified_by_id INTEGER, "
    "shared_item_created_date REAL, shared_item_created_tz TEXT, shared_item_modified_date REAL, "
    "shared_item_modified_tz TEXT, invitation_changed_properties INTEGER, default_alarm_removed INTEGER, "
    "phantom_master INTEGER, participation_status_modified_date REAL, calendar_scale TEXT, travel_time INTEGER, "
    "travel_advisory_behavior INTEGER, start_location_id INTEGER"
)
_ITEM_IOS13_MORE = (
    ", suppress_notification_for_changes INTEGER, action_string TEXT, conference_url TEXT, "
    "conference_url_detected TEXT, junk_status INTEGER, location_prediction_state INTEGER, image_ids TEXT"
)
_CALENDAR_IOS10 = (
    "ROWID INTEGER PRIMARY KEY AUTOINCREMENT, store_id INTEGER, title TEXT, flags INTEGER, color TEXT, type TEXT, "
    "supported_entity_types INTEGER, external_id TEXT, external_mod_tag TEXT, external_id_tag TEXT, "
    "external_rep BLOB, display_order INTEGER, UUID TEXT, shared_owner_name TEXT, shared_owner_address TEXT, "
    "sharing_status INTEGER, sharing_invitation_response INTEGER, published_URL TEXT, is_published INTEGER, "
    "invitation_status INTEGER, sync_token TEXT, self_identity_id INTEGER, self_identity_email TEXT, "
    "owner_identity_id INTEGER, owner_identity_email TEXT, notes TEXT, bulk_requests BLOB, "
    "subcal_account_id TEXT, push_key TEXT, digest BLOB, refresh_date REAL, subscription_id INTEGER, "
    "last_sync_title TEXT, last_sync_color TEXT, pubsub_account_id TEXT, locale TEXT"
)
_CALENDAR_IOS13_MORE = (
    ", symbolic_color_name TEXT, color_display_only INTEGER, self_identity_phone TEXT, owner_identity_phone TEXT, "
    "max_attendees INTEGER, last_sync_error_code INTEGER"
)
_OTHER_TABLES = """
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE Store (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, default_alarm_offset INTEGER, type INTEGER,
    constraint_path TEXT, disabled INTEGER, external_id TEXT, persistent_id TEXT, flags INTEGER, UUID TEXT);
CREATE TABLE Location (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT, address TEXT, latitude REAL,
    longitude REAL, reference_frame INTEGER, radius REAL, item_owner_id INTEGER, alarm_owner_id INTEGER,
    routing TEXT{location_more});
CREATE TABLE Recurrence (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, frequency INTEGER, interval INTEGER,
    week_start INTEGER, count INTEGER, cached_end_date REAL, cached_end_date_tz TEXT, end_date REAL,
    specifier TEXT, by_month_months INTEGER, owner_id INTEGER, external_id TEXT, UUID TEXT);
CREATE TABLE ExceptionDate (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, date REAL, owner_id INTEGER);
CREATE TABLE Alarm (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, trigger_date REAL, trigger_interval INTEGER,
    type INTEGER, calendaritem_owner_id INTEGER, external_id TEXT, UUID TEXT);
CREATE INDEX CalendarItemCalendarId ON CalendarItem(calendar_id);
CREATE INDEX RecurrenceOwnerId ON Recurrence(owner_id);
"""
_COORDINATES = {"Cabinet dentaire Okafor": (48.8556, 2.3585), "Le Petit Zinc": (48.8546, 2.3331),
                "Lincoln Elementary School": (39.7990, -89.6440)}


class _Writer:
    """Collects the INSERT statements; ``generation`` is 10 or 13."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.rows: list[str] = []
        self.row = 0

    def calendar(self, rowid: int, title: str, color: str, store: int = 1, kind: str = "local") -> None:
        extra = {"symbolic_color_name": "custom", "color_display_only": 0} if self.generation >= 13 else {}
        self.rows.append(insert("Calendar", ROWID=rowid, store_id=store, title=title, flags=0, color=color,
                                    type=kind, display_order=rowid, UUID=_uuid(f"calendar-{title}"), **extra))

    def _item(self, values: dict[str, object]) -> int:
        self.row += 1
        base: dict[str, object] = {
            "ROWID": self.row, "orig_item_id": 0, "orig_date": 0.0, "status": 0, "invitation_status": 0,
            "availability": 0, "privacy_level": 0, "hidden": 0, "has_recurrences": 0, "has_attendees": 0,
            "UUID": _uuid(f"item-{self.generation}-{self.row}"), "sequence_num": 0, "phantom_master": 0,
        }
        if self.generation >= 13:
            base["junk_status"] = 0
        self.rows.append(insert("CalendarItem", **{**base, **values}))
        return self.row

    def event(self, event: SampleEvent, calendar_id: int, masters: dict[int, int]) -> None:
        stamp = _stored(event.start) - 86_400 * 9
        values: dict[str, object] = {
            "summary": event.summary, "description": event.description, "start_date": _stored(event.start),
            "start_tz": event.zone, "end_date": _stored_end(event), "all_day": int(event.all_day),
            "calendar_id": calendar_id, "url": event.url, "status": event.status, "entity_type": EVENT,
            "creation_date": stamp, "last_modified": stamp + 3_600,
            "has_recurrences": int(event.recurrence is not None),
        }
        if event.url is not None and self.generation >= 13:
            values["url"], values["conference_url"] = None, event.url
        if event.edits is not None and event.replaces is not None:
            values |= {"orig_item_id": masters[event.edits], "orig_date": _stored(event.replaces)}
        rowid = self._item(values)
        masters[len(masters)] = rowid
        self._details(event, rowid)

    def _details(self, event: SampleEvent, rowid: int) -> None:
        if event.place is not None:
            latitude, longitude = _COORDINATES.get(event.place, (None, None))
            self.rows.append(insert("Location", ROWID=rowid, title=event.place, address=event.address,
                                        latitude=latitude, longitude=longitude, item_owner_id=rowid))
            self.rows.append(f"UPDATE CalendarItem SET location_id = {rowid} WHERE ROWID = {rowid};")
        if event.recurrence is not None:
            frequency, interval, count, until, specifier = event.recurrence
            self.rows.append(insert(
                "Recurrence", frequency=frequency, interval=interval, week_start=0, count=count,
                end_date=None if until is None else _stored(until), specifier=specifier, owner_id=rowid,
                UUID=_uuid(f"recurrence-{self.generation}-{rowid}")))
        for deleted in event.deleted:
            self.rows.append(insert("ExceptionDate", date=_stored(deleted), owner_id=rowid))
        if not event.all_day:
            self.rows.append(insert("Alarm", trigger_interval=-900, type=0, calendaritem_owner_id=rowid,
                                        UUID=_uuid(f"alarm-{self.generation}-{rowid}")))

    def reminder(self, reminder: SampleReminder, calendar_id: int) -> None:
        due = reminder.due
        timed = isinstance(due, datetime)
        zone = getattr(due, "tzinfo", None)
        self._item({
            "summary": reminder.summary, "description": reminder.notes, "calendar_id": calendar_id,
            "entity_type": REMINDER, "priority": reminder.priority,
            "due_date": None if due is None else _stored(due),
            "due_tz": None if due is None else str(zone) if zone is not None else "_float",
            "due_all_day": int(due is not None and not timed),
            "completion_date": None if reminder.completed is None else _stored(reminder.completed),
            "creation_date": 509_000_000.0 + self.row * 1_000.0, "last_modified": 511_000_000.0 + self.row * 1_000.0,
        })

    def broken(self, calendar_id: int) -> None:
        """A row whose dates were lost: a reader skips it."""
        self._item({"summary": "Lost row", "calendar_id": calendar_id, "entity_type": EVENT, "start_date": None})


def _schema(generation: int) -> str:
    newer = generation >= 13
    return "\n".join([
        f"CREATE TABLE CalendarItem ({_ITEM_IOS10}{_ITEM_IOS13_MORE if newer else ''});",
        f"CREATE TABLE Calendar ({_CALENDAR_IOS10}{_CALENDAR_IOS13_MORE if newer else ''});",
        _OTHER_TABLES.replace("{location_more}", ", map_kit_handle BLOB, derived_from_event INTEGER" if newer else ""),
        insert("_SqliteDatabaseProperties", key="_ClientVersion", value="16" if not newer else "21"),
        insert("Store", ROWID=1, name="Default", type=0, disabled=0, UUID=_uuid(f"store-local-{generation}")),
        insert("Store", ROWID=2, name="iCloud", type=2, disabled=0, UUID=_uuid(f"store-icloud-{generation}")),
    ])


def _fixture(generation: int, calendars: list[tuple[int, str, str, str | None]], events: list[tuple[int, SampleEvent]],
             reminders: list[tuple[int, SampleReminder]], broken_in: int) -> CalendarFixture:
    """``calendars``: (ROWID, title as stored, color, type); ``events``/``reminders``: (calendar ROWID, item)."""
    writer = _Writer(generation)
    for rowid, title, color, kind in calendars:
        writer.calendar(rowid, title, color, store=1 if rowid % 2 else 2, kind=kind or "local")
    masters: dict[int, int] = {}
    for calendar_id, event in events:
        writer.event(event, calendar_id, masters)
    for calendar_id, reminder in reminders:
        writer.reminder(reminder, calendar_id)
    writer.broken(broken_in)
    return CalendarFixture("\n".join([_schema(generation), *writer.rows]), tuple(e for _, e in events),
                           tuple(r for _, r in reminders), tuple(sorted({e.calendar for _, e in events})),
                           tuple(sorted({r.list for _, r in reminders})))


# --- iOS 10 to 12 ----------------------------------------------------------------------------

PARIS, LONDON, LISBON = ZoneInfo("Europe/Paris"), ZoneInfo("Europe/London"), ZoneInfo("Europe/Lisbon")
NEW_YORK, TOKYO, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo"), ZoneInfo("Europe/Berlin")
UTC = timezone.utc

_REVIEW_NOTES = (
    "Agenda:\n1. Numbers for Q1, Q2; forecast\n2. Hiring, two roles (backend, design)\n"
    "3. Office move — see the floor plan 🏢\n\nDial-in: +44 20 7946 0000, PIN 4821#"
)


def _ios10_events() -> list[tuple[int, SampleEvent]]:
    yoga_start = datetime(2017, 3, 6, 18, 30, tzinfo=PARIS)
    return [
        (1, SampleEvent("Home", "Dentist — Dr. Okafor", datetime(2017, 3, 14, 9, 30, tzinfo=PARIS),
                        datetime(2017, 3, 14, 10, 15, tzinfo=PARIS), "Europe/Paris", "Cabinet dentaire Okafor",
                        "12 Rue de Rivoli, 75004 Paris, France", description="Bring the X-rays.")),
        (2, SampleEvent("Work", "Team offsite 🏔️", date(2017, 4, 3), date(2017, 4, 5), place="Chamonix")),
        (1, SampleEvent("Home", "Yoga 🧘", yoga_start, yoga_start + timedelta(hours=1), "Europe/Paris", "Studio Zen",
                        recurrence=(WEEKLY, 1, 0, datetime(2017, 6, 30, 23, 59, 59, tzinfo=PARIS), "D=0MO,0WE"),
                        rrule={"FREQ": "WEEKLY", "BYDAY": ["MO", "WE"],
                               "UNTIL": datetime(2017, 6, 30, 21, 59, 59, tzinfo=UTC)},
                        deleted=(datetime(2017, 3, 15, 18, 30, tzinfo=PARIS),))),
        (1, SampleEvent("Home", "Yoga 🧘 (Thursday this week)", datetime(2017, 3, 23, 18, 30, tzinfo=PARIS),
                        datetime(2017, 3, 23, 19, 30, tzinfo=PARIS), "Europe/Paris", "Studio Zen", edits=2,
                        replaces=datetime(2017, 3, 20, 18, 30, tzinfo=PARIS))),
        (2, SampleEvent("Work", "Quarterly review; budget, plans", datetime(2017, 3, 31, 14, 0, tzinfo=LONDON),
                        datetime(2017, 3, 31, 15, 30, tzinfo=LONDON), "Europe/London", description=_REVIEW_NOTES,
                        recurrence=(MONTHLY, 3, 4, None, "D=-1FR"),
                        rrule={"FREQ": "MONTHLY", "INTERVAL": 3, "COUNT": 4, "BYDAY": ["-1FR"]})),
        (1, SampleEvent("Home", "Call Mum ☎️", datetime(2017, 3, 19, 11, 0), datetime(2017, 3, 19, 11, 30))),
        (2, SampleEvent("Work", None, datetime(2017, 3, 21, 8, 0, tzinfo=UTC), datetime(2017, 3, 21, 8, 45, tzinfo=UTC),
                        "UTC")),
        (2, SampleEvent("Work", "Caf\ufffd avec Sam", datetime(2017, 3, 22, 12, 30, tzinfo=PARIS),
                        datetime(2017, 3, 22, 13, 30, tzinfo=PARIS), "Europe/Paris", "Le Petit Zinc",
                        "11 Rue Saint-Benoît, 75006 Paris, France", status=1)),
        (6, SampleEvent("Family: Dupont/Martin", "Flight AF1234 to Lisbon ✈️", datetime(2017, 5, 2, 7, 5, tzinfo=PARIS),
                        datetime(2017, 5, 2, 8, 50, tzinfo=LISBON), "Europe/Paris",
                        "Paris-Charles de Gaulle, Terminal 2E", url="https://www.airfrance.example/AF1234")),
        (6, SampleEvent("Family: Dupont/Martin", "Anniversaire de Léa 🎂", date(2017, 6, 12), date(2017, 6, 13),
                        recurrence=(YEARLY, 1, 0, None, None), rrule={"FREQ": "YEARLY"})),
        (99, SampleEvent(ORPHAN_CALENDAR, "Old sync leftover", datetime(2016, 12, 1, 10, 0, tzinfo=PARIS),
                         datetime(2016, 12, 1, 11, 0, tzinfo=PARIS), "Europe/Paris")),
    ]


def calendar_ios10() -> CalendarFixture:
    """An iOS 10 Calendar.sqlitedb: three calendars of events (and one whose row is gone), two reminder lists."""
    calendars = [(1, "Home", "#1BADF8", None), (2, "Work", "#CC73E1", "caldav"),
                 (3, DEFAULT_REMINDERS_TITLE, "#FF9500", None), (4, "Groceries 🛒", "#63DA38", "caldav"),
                 (5, "Birthdays", "#8E8E93", "birthday"), (6, "Family: Dupont/Martin", "#FFCC00", "caldav")]
    reminders = [
        (3, SampleReminder("Reminders", "Buy milk 🥛", due=date(2017, 3, 18))),
        (3, SampleReminder("Reminders", "Call the bank about the mortgage", due=datetime(2017, 3, 20, 10, 0, tzinfo=PARIS),
                           completed=datetime(2017, 3, 20, 9, 42, tzinfo=UTC), priority=1)),
        (3, SampleReminder("Reminders", "Renew passport", priority=5,
                           notes="Photos: 2 × 35×45 mm\nFill in the form online first; bring the old one.")),
        (4, SampleReminder("Groceries 🛒", "Tomatoes 🍅")),
        (4, SampleReminder("Groceries 🛒", "Olive oil", completed=datetime(2017, 3, 17, 17, 5, tzinfo=UTC), priority=9)),
    ]
    fixture = _fixture(10, calendars, _ios10_events(), reminders, broken_in=1)
    latin1 = not_utf8("Café avec Sam".encode("latin-1"))  # damaged text: not UTF-8
    patched = fixture.sql + f"\nUPDATE CalendarItem SET summary = {latin1} WHERE summary = 'Caf\ufffd avec Sam';"
    return CalendarFixture(patched, fixture.events, fixture.reminders, fixture.calendars, fixture.lists)


# --- iOS 13 and later ------------------------------------------------------------------------

_ROADMAP_NOTES = (
    "Goals for the session 🎯\n\n"
    + "We walk through every item of the Q4 roadmap, one team at a time, and agree on owners, dates; risks. " * 10
    + "\n\nPre-read: the roadmap doc (link in the invite), last quarter's retro, and the hiring plan.\n"
    "Ünïcödé check: 東京, Αθήνα, Москва, 🚀🚀🚀"
)


def _ios13_events() -> list[tuple[int, SampleEvent]]:
    standup = datetime(2022, 10, 3, 9, 15, tzinfo=TOKYO)
    sync = datetime(2022, 10, 4, 16, 0, tzinfo=BERLIN)
    return [
        (1, SampleEvent("Calendar", "Parent–teacher meeting", datetime(2022, 10, 5, 17, 0, tzinfo=NEW_YORK),
                        datetime(2022, 10, 5, 17, 30, tzinfo=NEW_YORK), "America/New_York",
                        "Lincoln Elementary School", "123 Main St, Springfield, IL 62701, United States")),
        (2, SampleEvent("Work", "Stand-up", standup, standup + timedelta(minutes=15), "Asia/Tokyo",
                        url="https://meet.example.com/abc-defg-hij", recurrence=(DAILY, 1, 10, None, None),
                        rrule={"FREQ": "DAILY", "COUNT": 10})),
        (2, SampleEvent("Work", "Design review — Q4 roadmap", datetime(2022, 10, 6, 15, 0, tzinfo=BERLIN),
                        datetime(2022, 10, 6, 16, 30, tzinfo=BERLIN), "Europe/Berlin", "Room 4.01 \"Ada\"",
                        description=_ROADMAP_NOTES)),
        (2, SampleEvent("Work", "1:1 with Jonas", sync, sync + timedelta(minutes=30), "Europe/Berlin",
                        recurrence=(WEEKLY, 2, 0, datetime(2022, 12, 31, 23, 59, 59, tzinfo=BERLIN), "D=0TU,0TH"),
                        rrule={"FREQ": "WEEKLY", "INTERVAL": 2, "BYDAY": ["TU", "TH"],
                               "UNTIL": datetime(2022, 12, 31, 22, 59, 59, tzinfo=UTC)},
                        deleted=(datetime(2022, 10, 18, 16, 0, tzinfo=BERLIN),))),
        (3, SampleEvent("US Holidays", "Thanksgiving Day", date(2022, 11, 24), date(2022, 11, 25))),
        (3, SampleEvent("US Holidays", "Christmas Day", date(2022, 12, 25), date(2022, 12, 26),
                        recurrence=(YEARLY, 1, 0, None, None), rrule={"FREQ": "YEARLY"})),
        (4, SampleEvent("Family 👨‍👩‍👧", "Summer holiday in Crete 🏖️", date(2023, 7, 15), date(2023, 7, 30),
                        place="Chania, Crete, Greece")),
        (4, SampleEvent("Family 👨‍👩‍👧", "Dinner with Emma", datetime(2022, 10, 8, 19, 30, tzinfo=PARIS),
                        datetime(2022, 10, 8, 22, 0, tzinfo=PARIS), "Europe/Paris", "Le Petit Zinc",
                        "11 Rue Saint-Benoît, 75006 Paris, France", status=2)),
        (4, SampleEvent("Family 👨‍👩‍👧", "Grandpa Joe's birthday", date(1948, 5, 3), date(1948, 5, 4),
                        recurrence=(YEARLY, 1, 0, None, None), rrule={"FREQ": "YEARLY"})),
        (1, SampleEvent("Calendar", "Bin day 🗑️", date(2022, 10, 4), date(2022, 10, 5),
                        recurrence=(WEEKLY, 1, 0, datetime(2022, 12, 27, 23, 59, 59), None),
                        rrule={"FREQ": "WEEKLY", "UNTIL": date(2022, 12, 27)})),
        (1, SampleEvent("Calendar", "Pick up dry cleaning", datetime(2022, 10, 7, 17, 45), datetime(2022, 10, 7, 18, 0))),
        (1, SampleEvent("Calendar", "Gym", datetime(2022, 10, 6, 7, 0, tzinfo=NEW_YORK),
                        datetime(2022, 10, 6, 8, 0, tzinfo=NEW_YORK), "America/New_York", status=3)),
    ]


def calendar_ios13() -> CalendarFixture:
    """An iOS 16 Calendar.sqlitedb (the iOS 13+ shape): four calendars of events, no reminders."""
    calendars = [(1, "Calendar", "#34AADC", "caldav"), (2, "Work", "#FF2968", "caldav"),
                 (3, "US Holidays", "#CC73E1", "subscribed"), (4, "Family 👨‍👩‍👧", "#FFCC00", "caldav"),
                 (5, "Siri Suggestions", "#8E8E93", None)]
    return _fixture(13, calendars, _ios13_events(), [], broken_in=2)

"""The Calendar folder: every event and reminder of both Calendar.sqlitedb generations, as iCalendar files."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from dateutil.rrule import rrulestr

from backupfs.demo import samples
from backupfs.demo.readable_calendar import (
    DOMAIN,
    PATH,
    CalendarFixture,
    calendar_ios10,
    calendar_ios13,
)
from backupfs.demo.sqlbuild import database_bytes
from backupfs.readable.base import Plan, safe_name
from backupfs.readable.calendar import CALENDAR
from tests.readable.conftest import FixtureBackup
from tests.readable.helpers import garbage_pages, page_size, truncated

GENERATIONS = {"ios10": calendar_ios10, "ios13": calendar_ios13}
STATUSES = {0: None, 1: "CONFIRMED", 2: "TENTATIVE", 3: "CANCELLED"}
PARIS, TOKYO, BERLIN = ZoneInfo("Europe/Paris"), ZoneInfo("Asia/Tokyo"), ZoneInfo("Europe/Berlin")


def _install(backup: FixtureBackup, fixture: CalendarFixture, more_sql: str = "") -> FixtureBackup:
    backup.add_database(DOMAIN, PATH, fixture.sql + more_sql)
    return backup


def _plan(backup: FixtureBackup) -> Plan:
    plan = CALENDAR.plan(backup)
    assert plan is not None
    return plan


def _files(backup: FixtureBackup) -> dict[str, icalendar.Calendar]:
    """Every planned file, parsed by a real iCalendar reader."""
    return {f.path: icalendar.Calendar.from_ical(CALENDAR.render(backup, f.key)) for f in _plan(backup).files}


def _events_file(title: str) -> str:
    return f"{safe_name(title)}.ics"


def _list_file(title: str) -> str:
    return f"Reminders/{safe_name(title)}.ics"


def _by_summary(calendar: icalendar.Calendar, kind: str) -> dict[str | None, icalendar.cal.Component]:
    components = calendar.walk(kind)
    found = {str(c["SUMMARY"]) if "SUMMARY" in c else None: c for c in components}
    assert len(found) == len(components), "the fixtures' summaries are unique"
    return found


def _rrule(component: icalendar.cal.Component) -> dict[str, object] | None:
    """The RRULE as the fixtures write it: one value per part, BYDAY as a list."""
    if "RRULE" not in component:
        return None
    return {key: values if key == "BYDAY" else values[0] for key, values in component["RRULE"].items()}


def _exdates(component: icalendar.cal.Component) -> list[datetime | date]:
    value = component.get("EXDATE")
    lists = value if isinstance(value, list) else [value] if value is not None else []
    return [item.dt for dates in lists for item in dates.dts]


def _assert_same_moment(found: date | datetime, expected: date | datetime) -> None:
    """Same day for an all-day value; same moment and same kind (floating or zoned) for a time."""
    assert type(found) is type(expected), (found, expected)
    if isinstance(expected, datetime):
        assert isinstance(found, datetime) and (found.tzinfo is None) == (expected.tzinfo is None), (found, expected)
    assert found == expected


# --- the plan --------------------------------------------------------------------------------

@pytest.mark.parametrize("generation", GENERATIONS)
def test_plan_has_a_file_per_calendar_and_per_reminder_list(backup: FixtureBackup, generation: str) -> None:
    fixture = GENERATIONS[generation]()
    plan = _plan(_install(backup, fixture))
    expected = {_events_file(title) for title in fixture.calendars} | {_list_file(title) for title in fixture.lists}
    assert {f.path for f in plan.files} == expected
    assert "Family_ Dupont_Martin.ics" in expected or generation == "ios13"  # ":" and "/" cannot be in a name
    reminders = f", {len(fixture.reminders)} reminders" if fixture.reminders else ""
    assert plan.summary == f"{len(fixture.calendars)} calendars, {len(fixture.events)} events{reminders}"
    assert all(f.mtime is not None and f.mtime > 1_400_000_000 for f in plan.files)


def test_ios13_has_no_reminders_and_ios10_shows_the_default_list_by_its_name(backup: FixtureBackup) -> None:
    assert calendar_ios13().reminders == ()
    assert "Reminders/Reminders.ics" in {f.path for f in _plan(_install(backup, calendar_ios10())).files}


def test_calendars_with_the_same_name_get_numbered_files(backup: FixtureBackup) -> None:
    more = ("INSERT INTO Calendar (ROWID, title, color) VALUES (7, 'work', '#000000');"
            "INSERT INTO CalendarItem (summary, start_date, end_date, start_tz, calendar_id, entity_type) "
            "VALUES ('Second work calendar', 600000000.0, 600003600.0, 'UTC', 7, 2);")
    files = _files(_install(backup, calendar_ios13(), more))
    assert "Work.ics" in files and "work 2.ics" in files
    assert list(_by_summary(files["work 2.ics"], "VEVENT")) == ["Second work calendar"]


# --- events ----------------------------------------------------------------------------------

@pytest.mark.parametrize("generation", GENERATIONS)
def test_every_event_is_in_its_calendar_file_and_nothing_else_is(backup: FixtureBackup, generation: str) -> None:
    fixture = GENERATIONS[generation]()
    files = _files(_install(backup, fixture))
    for title in fixture.calendars:
        calendar = files[_events_file(title)]
        assert str(calendar["X-WR-CALNAME"]) == title and str(calendar["VERSION"]) == "2.0"
        summaries = set(_by_summary(calendar, "VEVENT"))
        assert summaries == {event.summary for event in fixture.events if event.calendar == title}
    assert not any("Lost row" in f.to_ical().decode() for f in files.values())  # a row with no date


@pytest.mark.parametrize("generation", GENERATIONS)
def test_every_event_keeps_its_times_place_notes_link_status_and_rule(backup: FixtureBackup, generation: str) -> None:
    fixture = GENERATIONS[generation]()
    files = _files(_install(backup, fixture))
    for event in fixture.events:
        component = _by_summary(files[_events_file(event.calendar)], "VEVENT")[event.summary]
        _assert_same_moment(component.decoded("DTSTART"), event.start)
        _assert_same_moment(component.decoded("DTEND"), event.end)
        if isinstance(event.start, datetime) and event.zone not in ("_float", "UTC"):
            assert component["DTSTART"].params["TZID"] == event.zone
        location = str(component.get("LOCATION", "")) or None
        expected = ", ".join(part for part in (event.place, event.address) if part) or None
        assert location == expected
        assert (str(component["DESCRIPTION"]) if "DESCRIPTION" in component else None) == event.description
        assert (str(component["URL"]) if "URL" in component else None) == event.url
        assert (str(component["STATUS"]) if "STATUS" in component else None) == STATUSES[event.status]
        assert _rrule(component) == event.rrule
        assert _exdates(component) == list(event.deleted)
        assert str(component["UID"]) and "DTSTAMP" in component


def test_an_event_with_coordinates_has_a_geo(backup: FixtureBackup) -> None:
    files = _files(_install(backup, calendar_ios10()))
    dentist = _by_summary(files["Home.ics"], "VEVENT")["Dentist — Dr. Okafor"]
    assert (dentist["GEO"].latitude, dentist["GEO"].longitude) == (48.8556, 2.3585)
    assert "GEO" not in _by_summary(files["Work.ics"], "VEVENT")["Team offsite 🏔️"]  # a place never located


def test_an_edited_occurrence_replaces_its_occurrence_of_the_series(backup: FixtureBackup) -> None:
    fixture = calendar_ios10()
    edited = next(event for event in fixture.events if event.edits is not None)
    series = fixture.events[edited.edits]  # type: ignore[index]
    events = _by_summary(_files(_install(backup, fixture))["Home.ics"], "VEVENT")
    master, moved = events[series.summary], events[edited.summary]
    assert str(moved["UID"]) == str(master["UID"])
    _assert_same_moment(moved.decoded("RECURRENCE-ID"), edited.replaces)  # type: ignore[arg-type]
    assert moved["RECURRENCE-ID"].params["TZID"] == "Europe/Paris" and "RRULE" not in moved
    assert len({str(e["UID"]) for e in events.values()}) == len(events) - 1  # only the edit shares a UID


def _occurrences(component: icalendar.cal.Component) -> list[datetime]:
    """The starts a calendar app computes from DTSTART, RRULE and EXDATE."""
    start = component.decoded("DTSTART")
    rule = rrulestr(component["RRULE"].to_ical().decode(), dtstart=start)
    deleted = set(_exdates(component))
    return [moment for moment in rule if moment not in deleted]


def test_recurring_events_repeat_on_the_right_days_at_the_same_wall_clock_time(backup: FixtureBackup) -> None:
    home = _by_summary(_files(_install(backup, calendar_ios10()))["Home.ics"], "VEVENT")
    yoga = _occurrences(home["Yoga 🧘"])
    assert {(m.weekday(), m.hour, m.minute) for m in yoga} == {(0, 18, 30), (2, 18, 30)}  # through the March change
    assert yoga[:3] == [datetime(2017, 3, 6, 18, 30, tzinfo=PARIS), datetime(2017, 3, 8, 18, 30, tzinfo=PARIS),
                        datetime(2017, 3, 13, 18, 30, tzinfo=PARIS)]
    assert datetime(2017, 3, 15, 18, 30, tzinfo=PARIS) not in yoga  # deleted
    assert yoga[-1] == datetime(2017, 6, 28, 18, 30, tzinfo=PARIS) and len(yoga) == 2 * 17 - 1


def test_monthly_daily_and_biweekly_rules(backup: FixtureBackup) -> None:
    work10 = _by_summary(_files(_install(backup, calendar_ios10()))["Work.ics"], "VEVENT")
    review = _occurrences(work10["Quarterly review; budget, plans"])
    assert [m.date() for m in review] == [date(2017, 3, 31), date(2017, 6, 30), date(2017, 9, 29), date(2017, 12, 29)]
    backup13 = FixtureBackup(backup.folder.parent / "ios13")
    work13 = _by_summary(_files(_install(backup13, calendar_ios13()))["Work.ics"], "VEVENT")
    standup = _occurrences(work13["Stand-up"])
    assert standup == [datetime(2022, 10, 3 + n, 9, 15, tzinfo=TOKYO) for n in range(10)]
    one_to_one = _occurrences(work13["1:1 with Jonas"])
    assert [m.date() for m in one_to_one[:5]] == [date(2022, 10, 4), date(2022, 10, 6), date(2022, 10, 20),
                                                  date(2022, 11, 1), date(2022, 11, 3)]  # 10-18 deleted
    assert one_to_one[-1].date() <= date(2022, 12, 31) and {m.hour for m in one_to_one} == {16}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_all_day_events_are_dates_ending_the_day_after_the_last(backup: FixtureBackup, generation: str) -> None:
    fixture = GENERATIONS[generation]()
    files = _files(_install(backup, fixture))
    all_day = [event for event in fixture.events if event.all_day]
    assert len(all_day) >= 2
    for event in all_day:
        component = _by_summary(files[_events_file(event.calendar)], "VEVENT")[event.summary]
        assert component["DTSTART"].params["VALUE"] == "DATE" and component["DTEND"].params["VALUE"] == "DATE"
        assert component.decoded("DTEND") - component.decoded("DTSTART") == event.end - event.start  # type: ignore[operator]


@pytest.mark.parametrize("generation", GENERATIONS)
def test_every_zone_used_is_defined_and_agrees_with_the_zone_database(backup: FixtureBackup, generation: str) -> None:
    fixture = GENERATIONS[generation]()
    for calendar in _files(_install(backup, fixture)).values():
        assert calendar.get_missing_tzids() == set()
        zones = {str(zone["TZID"]): zone for zone in calendar.walk("VTIMEZONE")}
        for component in calendar.walk("VEVENT") + calendar.walk("VTODO"):
            for name in ("DTSTART", "DTEND", "DUE", "RECURRENCE-ID"):
                moment = component.decoded(name) if name in component else None
                if isinstance(moment, datetime) and "TZID" in component[name].params:
                    zone = zones[component[name].params["TZID"]]
                    since = min(rule.decoded("DTSTART") for rule in zone.walk() if rule.name in ("STANDARD", "DAYLIGHT"))
                    assert since <= moment.replace(tzinfo=None), (component["SUMMARY"], name, "before the zone's rules")
                    defined = moment.replace(tzinfo=zone.to_tz())
                    assert defined.utcoffset() == moment.utcoffset(), (component["SUMMARY"], name)


def test_text_that_is_not_utf8_or_needs_escaping_survives(backup: FixtureBackup) -> None:
    data = CALENDAR.render(_install(backup, calendar_ios10()), "events|2")
    assert "SUMMARY:Caf\ufffd avec Sam" in data.decode()  # the damaged title, readable around the bad byte
    assert b"SUMMARY:Quarterly review\\; budget\\, plans" in data
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))


def test_rendering_is_the_same_every_time(backup: FixtureBackup) -> None:
    _install(backup, calendar_ios10())
    assert [CALENDAR.render(backup, f.key) for f in _plan(backup).files] == [
        CALENDAR.render(backup, f.key) for f in _plan(backup).files]


# --- reminders -------------------------------------------------------------------------------

def test_every_reminder_is_in_its_list_with_due_date_completion_priority_and_notes(backup: FixtureBackup) -> None:
    fixture = calendar_ios10()
    files = _files(_install(backup, fixture))
    for title in fixture.lists:
        assert set(_by_summary(files[_list_file(title)], "VTODO")) == {r.summary for r in fixture.reminders
                                                                        if r.list == title}
        assert not files[_list_file(title)].walk("VEVENT")
    for reminder in fixture.reminders:
        todo = _by_summary(files[_list_file(reminder.list)], "VTODO")[reminder.summary]
        if reminder.due is None:
            assert "DUE" not in todo
        else:
            _assert_same_moment(todo.decoded("DUE"), reminder.due)
        assert (todo.decoded("COMPLETED") if "COMPLETED" in todo else None) == reminder.completed
        assert str(todo["STATUS"]) == ("COMPLETED" if reminder.completed else "NEEDS-ACTION")
        assert todo.get("PRIORITY") == (reminder.priority or None)
        assert (str(todo["DESCRIPTION"]) if "DESCRIPTION" in todo else None) == reminder.notes


# --- the demo backup's calendar --------------------------------------------------------------

def test_the_demo_calendar_renders(backup: FixtureBackup) -> None:
    backup.add(DOMAIN, PATH, samples.calendar_db())
    plan = _plan(backup)
    assert [f.path for f in plan.files] == ["Home.ics", "Work.ics"] and plan.summary == "2 calendars, 4 events"
    files = _files(backup)
    events = _by_summary(files["Home.ics"], "VEVENT") | _by_summary(files["Work.ics"], "VEVENT")
    places = {"Dentist": "Rue de Rivoli 12", "Team offsite": "Lyon", "Dinner with Emma": "Le Petit Zinc",
              "Flight to Lisbon": "CDG Terminal 2E"}
    assert {summary: str(event["LOCATION"]) for summary, event in events.items()} == places
    for rowid, summary in enumerate(places, 1):
        start = datetime.fromtimestamp(1_700_100_000 + 86_400 * 3 * rowid, PARIS)
        event = events[summary]
        if summary == "Team offsite":  # all day: one day, though kept as a zoned moment
            assert (event.decoded("DTSTART"), event.decoded("DTEND")) == (start.date(), start.date() + timedelta(1))
        else:
            _assert_same_moment(event.decoded("DTSTART"), start)
            _assert_same_moment(event.decoded("DTEND"), start + timedelta(hours=1))


# --- absent, empty, damaged ------------------------------------------------------------------

def test_no_calendar_database_is_no_folder(backup: FixtureBackup) -> None:
    assert CALENDAR.plan(backup) is None
    with pytest.raises(KeyError):
        CALENDAR.render(backup, "events|1")


def test_a_calendar_database_without_items_is_no_folder(backup: FixtureBackup) -> None:
    assert CALENDAR.plan(_install(backup, calendar_ios10(), "DELETE FROM CalendarItem;")) is None


def test_without_the_detail_tables_events_come_without_details(backup: FixtureBackup) -> None:
    _install(backup, calendar_ios13(), "DROP TABLE Location; DROP TABLE Recurrence; DROP TABLE ExceptionDate;")
    events = [e for calendar in _files(backup).values() for e in calendar.walk("VEVENT")]
    assert len(events) == len(calendar_ios13().events)
    assert not any(name in event for event in events for name in ("LOCATION", "RRULE", "EXDATE"))


@pytest.mark.parametrize("drop", ["Calendar", "CalendarItem"])
def test_a_missing_required_table_raises(backup: FixtureBackup, drop: str) -> None:
    _install(backup, calendar_ios10(), f"DROP TABLE {drop};")
    with pytest.raises(ValueError, match="Calendar"):
        CALENDAR.plan(backup)


@pytest.mark.parametrize("key", ["events|77", "reminders|1", "nonsense", "events|x"])
def test_an_unknown_key_raises(backup: FixtureBackup, key: str) -> None:
    _install(backup, calendar_ios10())
    with pytest.raises((KeyError, ValueError)):
        CALENDAR.render(backup, key)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_a_truncated_database_raises(backup: FixtureBackup, generation: str) -> None:
    backup.add(DOMAIN, PATH, truncated(database_bytes(GENERATIONS[generation]().sql)))
    with pytest.raises(sqlite3.DatabaseError):
        CALENDAR.plan(backup)
    with pytest.raises(sqlite3.DatabaseError):
        CALENDAR.render(backup, "events|1")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_a_database_with_garbage_pages_raises(backup: FixtureBackup, generation: str) -> None:
    backup.add(DOMAIN, PATH, garbage_pages(database_bytes(GENERATIONS[generation]().sql)))
    with pytest.raises(sqlite3.DatabaseError):
        CALENDAR.plan(backup)


def test_garbage_in_the_detail_tables_fails_the_rendering(backup: FixtureBackup) -> None:
    """The items read, their details do not: the file is not written without them, silently."""
    data = database_bytes(calendar_ios10().sql)
    backup.add(DOMAIN, PATH, garbage_pages(data, kept=len(data) // page_size(data) // 2, seed=6))
    plan = _plan(backup)
    for planned in plan.files:
        with pytest.raises(sqlite3.DatabaseError):
            CALENDAR.render(backup, planned.key)  # type: ignore[arg-type]


# --- the fixtures ----------------------------------------------------------------------------

@pytest.mark.parametrize("generation", GENERATIONS)
def test_payloads_are_the_database_and_render_the_same(backup: FixtureBackup, generation: str,
                                                       tmp_path: Path) -> None:
    fixture = GENERATIONS[generation]()
    payloads = fixture.payloads()
    assert [(p.domain, p.relative_path) for p in payloads] == [(DOMAIN, PATH)]
    from_payloads = FixtureBackup(tmp_path / "from payloads")
    from_payloads.add(DOMAIN, PATH, payloads[0].content)  # type: ignore[arg-type]
    _install(backup, fixture)
    assert [CALENDAR.render(from_payloads, f.key) for f in _plan(from_payloads).files] == [
        CALENDAR.render(backup, f.key) for f in _plan(backup).files]


@pytest.mark.parametrize("generation", GENERATIONS)
def test_fixtures_are_deterministic_and_use_their_generation_schema(generation: str) -> None:
    first, second = GENERATIONS[generation](), GENERATIONS[generation]()
    assert first == second and first.payloads() == second.payloads()
    conn = sqlite3.connect(":memory:")
    conn.executescript(first.sql)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(CalendarItem)")}
    assert {"entity_type", "due_date", "completion_date"} <= columns
    assert ("conference_url" in columns) == (generation == "ios13")

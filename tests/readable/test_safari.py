"""Safari: every bookmark in an importable Bookmarks.html, in its folders; every visit in History.csv."""

from __future__ import annotations

import plistlib
import sqlite3
from html.parser import HTMLParser

import pytest

from backupfs.demo.readable_safari import (
    BOOKMARKS_DB,
    BOOKMARKS_PLIST,
    HISTORY_DB,
    HISTORY_PLIST,
    HOME,
    SAFARI,
    SafariSample,
    SampleBookmark,
    ios10_safari,
    ios16_safari,
    legacy_safari,
)
from backupfs.demo.sqlbuild import database_bytes
from backupfs.readable.base import Plan
from backupfs.readable.safari import SAFARI as RENDERER
from tests.readable.conftest import FixtureBackup
from tests.readable.helpers import (
    NOT_A_DATABASE,
    csv_rows,
    garbage_pages,
    stamp,
    truncated,
)

pytestmark = pytest.mark.usefixtures("utc")  # times are shown in local time: expected rows are exact in UTC

GENERATIONS = {"iOS 10": ios10_safari, "iOS 16": ios16_safari, "iOS 7": legacy_safari}
DATABASES = {"iOS 10": ios10_safari, "iOS 16": ios16_safari}


def install(backup: FixtureBackup, sample: SafariSample) -> FixtureBackup:
    for domain, path, sql in sample.databases:
        backup.add_database(domain, path, sql)
    for domain, path, data in sample.plists:
        backup.add(domain, path, data)
    return backup


def plan_of(backup: FixtureBackup) -> Plan:
    plan = RENDERER.plan(backup)
    assert plan is not None
    return plan


def render(backup: FixtureBackup, path: str) -> bytes:
    keys = {planned.path: planned.key for planned in plan_of(backup).files}
    key = keys[path]
    assert key is not None
    return RENDERER.render(backup, key)


class BookmarkFile(HTMLParser):
    """Reads a Netscape bookmark file as browsers import it: a <DL> opens the folder of the <H3> before it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(convert_charrefs=True)
        self.folders: list[str] = []
        self.opened = 0  # <DL> levels, the top one included
        self.bookmarks: list[SampleBookmark] = []
        self.toolbars: list[str] = []
        self._heading: str | None = None
        self._pending: str | None = None  # the last folder named, opened by the next <DL>
        self._link: dict[str, str | None] | None = None
        self._text = ""
        text = data.decode("utf-8")
        assert text.startswith("<!DOCTYPE NETSCAPE-Bookmark-file-1>\n")
        self.feed(text)
        self.close()
        assert self.opened == 0 and not self.folders, "unbalanced <DL>"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "dl":
            if self.opened:
                assert self._pending is not None, "a <DL> without its <H3>"
                self.folders.append(self._pending)
            self.opened += 1
            self._pending = None
        elif tag == "h3":
            self._heading, self._text = "", ""
            if dict(attrs).get("personal_toolbar_folder") == "true":
                self.toolbars.append("?")
        elif tag == "a":
            self._link, self._text = dict(attrs), ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "dl":
            self.opened -= 1
            if self.opened:
                self.folders.pop()
        elif tag == "h3":
            self._pending = self._text
            if self.toolbars and self.toolbars[-1] == "?":
                self.toolbars[-1] = self._text
            self._heading = None
        elif tag == "a" and self._link is not None:
            added = self._link.get("add_date")
            self.bookmarks.append(SampleBookmark(tuple(self.folders), self._text, self._link.get("href") or "",
                                                 None if added is None else int(added)))
            self._link = None

    def handle_data(self, data: str) -> None:
        self._text += data


# --- plan ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("generation", GENERATIONS)
def test_plan_lists_both_files_dated_by_their_newest_entry(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    plan = plan_of(install(backup, sample))
    assert plan.summary == sample.summary
    dates = {planned.path: planned.mtime for planned in plan.files}
    newest_bookmark = max(b.added for b in sample.bookmarks if b.added is not None)
    newest_visit = max(v.unix for v in sample.visits if v.unix is not None)
    assert dates == {"Bookmarks.html": newest_bookmark, "History.csv": int(newest_visit)}
    assert all(planned.same_as is None for planned in plan.files)


def test_only_bookmarks_give_only_the_bookmark_file(backup: FixtureBackup) -> None:
    sample = ios16_safari()
    backup.add_database(*sample.databases[0])
    plan = plan_of(backup)
    assert [p.path for p in plan.files] == ["Bookmarks.html"] and plan.summary == "9 bookmarks"


def test_only_history_gives_only_the_history_file(backup: FixtureBackup) -> None:
    sample = ios10_safari()
    backup.add_database(*sample.databases[1])
    plan = plan_of(backup)
    assert [p.path for p in plan.files] == ["History.csv"] and plan.summary == "7 history visits"


def test_nothing_of_safari_is_no_folder(backup: FixtureBackup) -> None:
    backup.add(HOME, "Library/Safari/SearchEngines.plist", plistlib.dumps({"Engines": []}))
    assert RENDERER.plan(backup) is None


def test_empty_folders_and_an_empty_history_are_no_folder(backup: FixtureBackup) -> None:
    bookmarks, history = ios16_safari().databases
    backup.add_database(*bookmarks[:2], bookmarks[2] + "DELETE FROM bookmarks WHERE type = 0;")
    backup.add_database(*history[:2], history[2] + "DELETE FROM history_visits; DELETE FROM history_items;")
    assert RENDERER.plan(backup) is None


# --- bookmarks -----------------------------------------------------------------------------------

@pytest.mark.parametrize("generation", GENERATIONS)
def test_every_bookmark_is_in_its_folder(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    parsed = BookmarkFile(render(install(backup, sample), "Bookmarks.html"))
    assert sorted(parsed.bookmarks, key=repr) == sorted(sample.bookmarks, key=repr)
    assert parsed.toolbars == ["Favorites"]


def test_folders_keep_their_order_and_deleted_bookmarks_are_gone(backup: FixtureBackup) -> None:
    html = render(install(backup, ios16_safari()), "Bookmarks.html").decode()
    order = ["Favorites", "Apple", "Wikipédia", "News &amp; &lt;Stuff&gt;", "BBC News", "Bookmarks Menu",
             "Reading List", "How to bake bread", "Recipes", "Desserts", "Tiramisù", "carbonara", "GitHub"]
    positions = [html.index(text) for text in order]
    assert positions == sorted(positions)
    assert "Old link" not in html and "example.com/gone" not in html


def test_a_chain_of_folders_too_deep_raises_rather_than_recursing(backup: FixtureBackup) -> None:
    rows = "".join(f"INSERT INTO bookmarks (id, parent, type, title, order_index) VALUES ({n}, {n - 1}, 1, 'F{n}', 0);"
                   for n in range(1, 500))
    backup.add_database(HOME, BOOKMARKS_DB, ios16_safari().databases[0][2].split("INSERT")[0] + rows
                        + "INSERT INTO bookmarks (id, parent, type, title, url, order_index) "
                          "VALUES (900, 499, 0, 'Deep', 'https://deep.example/', 0);")
    with pytest.raises(ValueError, match="deeper"):
        RENDERER.plan(backup)


def test_folders_that_are_their_own_ancestors_end(backup: FixtureBackup) -> None:
    sql = ios10_safari().databases[0][2] + (
        "INSERT INTO bookmarks (id, parent, type, title, order_index) VALUES (50, 51, 1, 'A', 0), (51, 50, 1, 'B', 0);"
        "INSERT INTO bookmarks (id, parent, type, title, url, order_index) VALUES (52, 50, 0, 'In a loop', 'x:', 0);")
    backup.add_database(HOME, BOOKMARKS_DB, sql)
    assert plan_of(backup).summary == "9 bookmarks"


# --- history -------------------------------------------------------------------------------------

@pytest.mark.parametrize("generation", GENERATIONS)
def test_history_lists_every_visit_newest_first(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    rows = csv_rows(render(install(backup, sample), "History.csv"))
    assert rows[0] == ["Time", "Title", "URL", "Visit count"]
    assert rows[1:] == [[stamp(v.unix), v.title, v.url, str(v.count)] for v in sample.visits]


def test_the_app_domain_history_of_ios_11_and_later_comes_first(backup: FixtureBackup) -> None:
    newer, older = ios16_safari().databases[1], ios10_safari().databases[1]
    backup.add_database(*newer)
    backup.add_database(*older[:2], older[2] + "DELETE FROM history_visits;")
    assert (newer[0], older[0]) == (SAFARI, HOME)
    assert len(csv_rows(render(backup, "History.csv"))) == 1 + len(ios16_safari().visits)


# --- damage --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("domain", "path"), [(HOME, BOOKMARKS_DB), (SAFARI, HISTORY_DB)])
def test_garbage_databases_raise(backup: FixtureBackup, domain: str, path: str) -> None:
    backup.add(domain, path, NOT_A_DATABASE)
    with pytest.raises(sqlite3.DatabaseError):
        RENDERER.plan(backup)


@pytest.mark.parametrize("generation", DATABASES)
@pytest.mark.parametrize("which", [0, 1])
def test_truncated_databases_raise(backup: FixtureBackup, generation: str, which: int) -> None:
    domain, path, sql = DATABASES[generation]().databases[which]
    backup.add(domain, path, truncated(database_bytes(sql)))
    with pytest.raises(sqlite3.DatabaseError):
        RENDERER.plan(backup)


@pytest.mark.parametrize("generation", DATABASES)
@pytest.mark.parametrize("which", [0, 1])
def test_garbage_pages_raise(backup: FixtureBackup, generation: str, which: int) -> None:
    domain, path, sql = DATABASES[generation]().databases[which]
    backup.add(domain, path, garbage_pages(database_bytes(sql)))
    with pytest.raises(sqlite3.DatabaseError):
        RENDERER.plan(backup)


@pytest.mark.parametrize(("table", "which"), [("bookmarks", 0), ("history_visits", 1), ("history_items", 1)])
def test_a_missing_table_raises(backup: FixtureBackup, table: str, which: int) -> None:
    domain, path, sql = ios16_safari().databases[which]
    backup.add_database(domain, path, sql + f"DROP TABLE {table};")
    with pytest.raises(ValueError, match=table):
        RENDERER.plan(backup)


@pytest.mark.parametrize("path", [HISTORY_PLIST, BOOKMARKS_PLIST])
@pytest.mark.parametrize("data", [b"bplist00 cut short", b"<?xml version=\"1.0\"?><plist><dict><key>", b"garbage",
                                  plistlib.dumps(["a list"])])
def test_damaged_plists_raise_value_error(backup: FixtureBackup, path: str, data: bytes) -> None:
    backup.add(HOME, path, data)
    with pytest.raises(ValueError):
        RENDERER.plan(backup)


def test_a_history_plist_without_its_list_raises(backup: FixtureBackup) -> None:
    backup.add(HOME, HISTORY_PLIST, plistlib.dumps({"WebHistoryFileVersion": 1}))
    with pytest.raises(ValueError, match="WebHistoryDates"):
        RENDERER.plan(backup)


def test_an_unknown_key_raises(backup: FixtureBackup) -> None:
    install(backup, ios16_safari())
    with pytest.raises(KeyError):
        RENDERER.render(backup, "safari:cookies")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_samples_are_deterministic(generation: str) -> None:
    first, second = GENERATIONS[generation](), GENERATIONS[generation]()
    assert first == second
    assert [spec.content for spec in first.payloads()] == [spec.content for spec in second.payloads()]

"""Sample Safari bookmarks and history for the readable Safari folder: three generations.

* :func:`ios10_safari`: HomeDomain ``Library/Safari/Bookmarks.db`` and, as iOS 8-10 kept it,
  HomeDomain ``Library/Safari/History.db`` (``history_items`` without ``status_code``);
* :func:`ios16_safari`: the same ``Bookmarks.db`` with the later columns (``icon``,
  ``syncable``, ``web_filter_status``...), and ``History.db`` in
  AppDomain-com.apple.mobilesafari (iOS 11+), with ``status_code`` and the tag tables;
* :func:`legacy_safari`: the plists of early iOS versions in HomeDomain, ``History.plist``
  (``WebHistoryDates``, up to iOS 7) and ``Bookmarks.plist`` (``WebBookmarkType`` trees).

Contents are varied: the Favorites bar, nested folders, the Reading List with the dates
items were added (a binary plist in ``extra_attributes``), a bookmark without a title, a
deleted one, one whose parent is gone, titles and URLs with ``& < > "``, accents and emoji,
visits without a title, several visits of a page, a page whose visits are gone. Each
sample lists every bookmark with the folders it must be shown in, and every history row
as ``History.csv`` must hold it, newest first.
"""

from __future__ import annotations

import plistlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

from backupfs.demo import samples
from backupfs.demo.sqlbuild import database_bytes, insert
from backupfs.demo.writer import PayloadSpec

HOME = "HomeDomain"
SAFARI = "AppDomain-com.apple.mobilesafari"
BOOKMARKS_DB = "Library/Safari/Bookmarks.db"
BOOKMARKS_PLIST = "Library/Safari/Bookmarks.plist"
HISTORY_DB = "Library/Safari/History.db"
HISTORY_PLIST = "Library/Safari/History.plist"
APPLE_EPOCH = samples.APPLE_EPOCH

_BOOKMARKS_COLUMNS = """id INTEGER PRIMARY KEY AUTOINCREMENT, special_id INTEGER DEFAULT 0, parent INTEGER,
    type INTEGER, title TEXT, url TEXT COLLATE NOCASE, num_children INTEGER DEFAULT 0, editable INTEGER DEFAULT 1,
    deletable INTEGER DEFAULT 1, hidden INTEGER DEFAULT 0, hidden_ancestor_count INTEGER DEFAULT 0,
    order_index INTEGER NOT NULL, external_uuid TEXT, read INTEGER DEFAULT NULL, last_modified REAL DEFAULT NULL,
    server_id TEXT, sync_key TEXT, sync_data BLOB, added INTEGER DEFAULT 1, deleted INTEGER DEFAULT 0,
    extra_attributes BLOB DEFAULT NULL"""
_BOOKMARKS_TABLES = """
CREATE TABLE bookmark_title_words (id INTEGER PRIMARY KEY, bookmark_id INTEGER NOT NULL REFERENCES bookmarks(id)
    ON DELETE CASCADE, word TEXT, word_index INTEGER);
CREATE TABLE generations (generation INTEGER);
CREATE TABLE sync_properties (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE folder_ancestors (id INTEGER PRIMARY KEY, folder_id INTEGER NOT NULL REFERENCES bookmarks(id)
    ON DELETE CASCADE, ancestor_id INTEGER NOT NULL REFERENCES bookmarks(id) ON DELETE CASCADE);
CREATE INDEX parent_index ON bookmarks (parent, order_index);
CREATE INDEX special_id_index ON bookmarks (special_id);
"""
IOS10_BOOKMARKS = f"""
CREATE TABLE bookmarks ({_BOOKMARKS_COLUMNS}, UNIQUE(external_uuid));
{_BOOKMARKS_TABLES}"""
IOS16_BOOKMARKS = f"""
CREATE TABLE bookmarks ({_BOOKMARKS_COLUMNS}, local_attributes BLOB DEFAULT NULL, fetched_icon BOOL DEFAULT 0,
    icon BLOB DEFAULT NULL, dav_generation INTEGER DEFAULT 0, locally_added BOOL DEFAULT 0,
    archive_status INTEGER DEFAULT 0, syncable BOOL DEFAULT 1, web_filter_status INTEGER DEFAULT 0,
    modified_attributes UNSIGNED BIG INT DEFAULT 0, UNIQUE(external_uuid));
{_BOOKMARKS_TABLES}"""

_HISTORY_ITEMS = """id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL UNIQUE, domain_expansion TEXT NULL,
    visit_count INTEGER NOT NULL, daily_visit_counts BLOB NOT NULL, weekly_visit_counts BLOB NULL,
    autocomplete_triggers BLOB NULL, should_recompute_derived_visit_counts INTEGER NOT NULL,
    visit_count_score INTEGER NOT NULL"""
_HISTORY_TABLES = """
CREATE TABLE history_visits (id INTEGER PRIMARY KEY AUTOINCREMENT, history_item INTEGER NOT NULL
    REFERENCES history_items(id) ON DELETE CASCADE, visit_time REAL NOT NULL, title TEXT NULL,
    load_successful BOOLEAN NOT NULL DEFAULT 1, http_non_get BOOLEAN NOT NULL DEFAULT 0,
    synthesized BOOLEAN NOT NULL DEFAULT 0, redirect_source INTEGER NULL UNIQUE REFERENCES history_visits(id)
    ON DELETE CASCADE, redirect_destination INTEGER NULL UNIQUE REFERENCES history_visits(id) ON DELETE CASCADE,
    origin INTEGER NOT NULL DEFAULT 0, generation INTEGER NOT NULL DEFAULT 0, attributes INTEGER NOT NULL DEFAULT 0,
    score INTEGER NOT NULL DEFAULT 0);
CREATE TABLE history_tombstones (id INTEGER PRIMARY KEY AUTOINCREMENT, start_time REAL NOT NULL,
    end_time REAL NOT NULL, url TEXT, generation INTEGER NOT NULL DEFAULT 0);
CREATE TABLE metadata (key TEXT NOT NULL UNIQUE, value);
CREATE TABLE history_client_versions (client_version INTEGER PRIMARY KEY, last_seen REAL NOT NULL);
CREATE TABLE history_event_listeners (listener_name TEXT PRIMARY KEY NOT NULL UNIQUE, last_seen REAL NOT NULL);
CREATE TABLE history_events (id INTEGER PRIMARY KEY AUTOINCREMENT, event_type TEXT NOT NULL,
    event_time REAL NOT NULL, pending_listeners TEXT NOT NULL, value BLOB NULL);
CREATE INDEX history_item_idx ON history_visits (history_item);
CREATE INDEX history_visits__last_visit ON history_visits (history_item, visit_time DESC, synthesized ASC);
CREATE INDEX history_visits__origin ON history_visits (origin, generation);
"""
IOS10_HISTORY = f"CREATE TABLE history_items ({_HISTORY_ITEMS});{_HISTORY_TABLES}"
IOS16_HISTORY = f"""CREATE TABLE history_items ({_HISTORY_ITEMS}, status_code INTEGER NOT NULL DEFAULT 0);
{_HISTORY_TABLES}
CREATE TABLE history_tags (id INTEGER PRIMARY KEY AUTOINCREMENT, type INTEGER NOT NULL, level INTEGER NOT NULL,
    identifier TEXT NOT NULL UNIQUE, title TEXT NOT NULL, modification_timestamp REAL NOT NULL,
    item_count INTEGER NOT NULL DEFAULT 0);
CREATE TABLE history_items_to_tags (history_item INTEGER NOT NULL REFERENCES history_items(id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES history_tags(id) ON DELETE CASCADE, timestamp REAL NOT NULL,
    UNIQUE(history_item, tag_id));
"""


@dataclass(frozen=True)
class SampleBookmark:
    """A bookmark as Bookmarks.html must show it."""

    folders: tuple[str, ...]  # the folders it is in, from the top ("Favorites", "News & <Stuff>")
    title: str  # the link text: the title, else the URL
    url: str
    added: int | None  # ADD_DATE, Unix seconds


@dataclass(frozen=True)
class SampleVisit:
    """A row of History.csv."""

    unix: float | None
    title: str
    url: str
    count: int


@dataclass(frozen=True)
class SafariSample:
    """Safari's files of one generation (databases as SQL, plists as bytes) and what must be shown of them."""

    generation: str
    databases: tuple[tuple[str, str, str], ...]  # (domain, relativePath, SQL)
    plists: tuple[tuple[str, str, bytes], ...]  # (domain, relativePath, bytes)
    bookmarks: tuple[SampleBookmark, ...]
    visits: tuple[SampleVisit, ...]  # newest first, undated last

    @property
    def summary(self) -> str:
        return f"{len(self.bookmarks)} bookmarks, {len(self.visits)} history visits"

    def payloads(self) -> list[PayloadSpec]:
        """The databases and plists, ready for a sample backup."""
        return [*(PayloadSpec(domain, path, database_bytes(sql)) for domain, path, sql in self.databases),
                *(PayloadSpec(domain, path, data) for domain, path, data in self.plists)]


def _unix(year: int, month: int, day: int, hour: int, minute: int, second: float = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc).timestamp() + second


# --- bookmarks -----------------------------------------------------------------------------------

@dataclass
class _Bookmarks:
    """Writes the rows of a Bookmarks.db and records each bookmark as it must be shown."""

    rows: list[str] = field(default_factory=list)
    shown: list[SampleBookmark] = field(default_factory=list)
    places: dict[int, tuple[str, ...]] = field(default_factory=lambda: {0: ()})  # folder id -> its folders shown
    orders: dict[int | None, int] = field(default_factory=dict)  # next order_index among each parent's children

    def _row(self, parent: int | None, kind: int, title: str | None, url: str | None, **extra: object) -> int:
        rowid = len(self.rows)
        order = self.orders.get(parent, 0)
        self.orders[parent] = order + 1
        self.rows.append(insert("bookmarks", **{
            "id": rowid, "parent": parent, "type": kind, "title": title, "url": url, "order_index": order,
            "external_uuid": f"{0xB00C0000 + rowid:08X}-5E1A-4C3B-8D2E-{0x1F0E2D3C4B5A + rowid:012X}", **extra}))
        return rowid

    def folder(self, parent: int | None, title: str, shown: str | None = None, **extra: object) -> int:
        rowid = self._row(parent, 1, title, None, **extra)
        self.places[rowid] = self.places.get(parent or 0, ()) + ((shown or title),)
        return rowid

    def bookmark(self, parent: int, title: str | None, url: str, *, modified: float | None = None,
                 read_later: datetime | None = None, deleted: bool = False, shown_in: int | None = None) -> None:
        """One bookmark; ``read_later`` makes it a Reading List item added then; ``shown_in`` the folder it appears in."""
        extra = None if read_later is None else plistlib.dumps(
            {"com.apple.ReadingList": {"DateAdded": read_later, "PreviewText": "A preview…"},
             "com.apple.ReadingList.ServerID": f"rl-{len(self.rows)}"}, fmt=plistlib.FMT_BINARY)
        self._row(parent, 0, title, url, deleted=int(deleted), extra_attributes=extra,
                  last_modified=None if modified is None else modified - APPLE_EPOCH)
        if not deleted:
            added = read_later.replace(tzinfo=timezone.utc).timestamp() if read_later else modified
            self.shown.append(SampleBookmark(self.places[parent if shown_in is None else shown_in], title or url, url,
                                             None if added is None else int(added)))


def _bookmarks(schema: str, icons: bool) -> tuple[str, tuple[SampleBookmark, ...]]:
    """A Bookmarks.db: Favorites with a folder, Reading List, a user folder nested twice, loose and odd rows."""
    tree = _Bookmarks()
    root = tree.folder(None, "Root", special_id=0)
    tree.places[root] = ()
    favorites = tree.folder(root, "BookmarksBar", "Favorites", special_id=1)
    menu = tree.folder(root, "BookmarksMenu", "Bookmarks Menu", special_id=2, hidden=1)
    reading = tree.folder(root, "com.apple.ReadingList", "Reading List", special_id=3)
    tree.bookmark(favorites, "Apple", "https://www.apple.com/", modified=_unix(2016, 9, 13, 8, 0))
    tree.bookmark(favorites, "Wikipédia — l'encyclopédie libre", "https://fr.wikipedia.org/wiki/Accueil")
    news = tree.folder(favorites, "News & <Stuff>")
    tree.bookmark(news, "BBC News", "https://www.bbc.co.uk/news?edition=uk&x=<1>", modified=_unix(2017, 1, 2, 9, 30))
    tree.bookmark(menu, "Old link", "http://example.com/gone", deleted=True)
    tree.bookmark(reading, "How to bake bread 🍞", "https://example.com/bread",
                  read_later=datetime(2017, 3, 4, 19, 45, 10))
    tree.bookmark(reading, None, "https://example.org/untitled?a=1&b=2", read_later=datetime(2017, 3, 5, 7, 1))
    recipes = tree.folder(root, "Recipes 🍝")
    desserts = tree.folder(recipes, "Desserts")
    tree.bookmark(desserts, "Tiramisù", "https://example.it/tiramisu")
    tree.bookmark(recipes, 'The "best" carbonara', 'https://example.com/search?q="carbonara"',
                  modified=_unix(2017, 5, 6, 20, 15))
    tree.bookmark(root, "GitHub", "https://github.com/")
    tree.rows.append(insert("bookmarks", id=99, parent=4242, type=0, title="Lost parent",
                            url="https://example.net/orphan", order_index=0))
    tree.shown.append(SampleBookmark((), "Lost parent", "https://example.net/orphan", None))
    if icons:
        tree.rows.append("UPDATE bookmarks SET fetched_icon = 1, icon = X'89504E47', syncable = 1 WHERE type = 0;")
    return schema + "\n".join(tree.rows), tuple(tree.shown)


# --- history -------------------------------------------------------------------------------------

# (URL, [(visit time, title)], visit_count as the database keeps it); a page without visits is listed undated.
_PAGES: tuple[tuple[str, tuple[tuple[float, str | None], ...], int], ...] = (
    ("https://www.apple.com/", ((_unix(2017, 5, 1, 8, 0, 0.25), "Apple"), (_unix(2017, 5, 3, 18, 5), "Apple")), 2),
    ("https://fr.wikipedia.org/wiki/Cr%C3%A8me_br%C3%BBl%C3%A9e",
     ((_unix(2017, 5, 2, 21, 10, 0.5), "Crème brûlée — Wikipédia"),), 1),
    ("https://example.com/search?q=a,b&c=\"d\"", ((_unix(2017, 5, 2, 21, 12), 'Search: "a, b"\nand more'),), 3),
    ("https://example.org/no-title", ((_unix(2017, 5, 4, 6, 30), None),), 1),
    ("https://emoji.example/🎉", ((_unix(2017, 5, 4, 7, 0), "Party 🎉"),), 1),
    ("https://example.net/visits-gone", (), 4),
)


def _history(schema: str) -> tuple[str, tuple[SampleVisit, ...]]:
    rows, visits = [], []
    for item, (url, seen, count) in enumerate(_PAGES, 1):
        rows.append(insert("history_items", id=item, url=url, domain_expansion=url.split("/")[2].split(".")[-2],
                           visit_count=count, daily_visit_counts=count.to_bytes(4, "little"),
                           should_recompute_derived_visit_counts=0, visit_count_score=100 * count))
        for when, title in seen:
            rows.append(insert("history_visits", history_item=item, visit_time=when - APPLE_EPOCH, title=title,
                               origin=0, generation=1))
            visits.append(SampleVisit(when, title or "", url, count))
        if not seen:
            visits.append(SampleVisit(None, "", url, count))
    rows.append(insert("metadata", key="version", value=12))
    return schema + "\n".join(rows), _newest_first(visits)


def _newest_first(visits: list[SampleVisit]) -> tuple[SampleVisit, ...]:
    return tuple(sorted(visits, key=lambda visit: (visit.unix is None, -(visit.unix or 0))))


# --- the generations -----------------------------------------------------------------------------

def ios10_safari() -> SafariSample:
    """iOS 10: Bookmarks.db and History.db, both in HomeDomain."""
    bookmarks_sql, bookmarks = _bookmarks(IOS10_BOOKMARKS, icons=False)
    history_sql, visits = _history(IOS10_HISTORY)
    return SafariSample("iOS 10", ((HOME, BOOKMARKS_DB, bookmarks_sql), (HOME, HISTORY_DB, history_sql)), (),
                        bookmarks, visits)


def ios16_safari() -> SafariSample:
    """iOS 16: Bookmarks.db in HomeDomain, History.db in Safari's app domain."""
    bookmarks_sql, bookmarks = _bookmarks(IOS16_BOOKMARKS, icons=True)
    history_sql, visits = _history(IOS16_HISTORY)
    return SafariSample("iOS 16", ((HOME, BOOKMARKS_DB, bookmarks_sql), (SAFARI, HISTORY_DB, history_sql)), (),
                        bookmarks, visits)


def _leaf(title: str | None, url: str, read_later: datetime | None = None) -> dict:
    leaf: dict[str, object] = {"WebBookmarkType": "WebBookmarkTypeLeaf", "URLString": url,
                               "WebBookmarkUUID": f"LEAF-{len(url)}-{len(title or '')}"}
    if title is not None:
        leaf["URIDictionary"] = {"title": title}
    if read_later is not None:
        leaf["ReadingList"] = {"DateAdded": read_later, "PreviewText": "A preview…"}
    return leaf


def _list(title: str, children: list[dict]) -> dict:
    return {"WebBookmarkType": "WebBookmarkTypeList", "Title": title, "Children": children,
            "WebBookmarkUUID": f"LIST-{title}"}


def legacy_safari() -> SafariSample:
    """Early iOS versions: History.plist and Bookmarks.plist in HomeDomain."""
    saved = datetime(2013, 2, 3, 10, 20, 30)
    tree = _list("", [
        _list("BookmarksBar", [_leaf("Apple", "http://www.apple.com/"),
                               _list("News & <Stuff>", [_leaf("BBC News", "http://www.bbc.co.uk/news?a=1&b=2")])]),
        {"WebBookmarkType": "WebBookmarkTypeProxy", "Title": "History", "WebBookmarkIdentifier": "History"},
        _list("com.apple.ReadingList", [_leaf("Later 📚", "http://example.com/later", saved)]),
        _leaf(None, "http://example.com/no-title"),
    ])
    bookmarks = (SampleBookmark(("Favorites",), "Apple", "http://www.apple.com/", None),
                 SampleBookmark(("Favorites", "News & <Stuff>"), "BBC News", "http://www.bbc.co.uk/news?a=1&b=2", None),
                 SampleBookmark(("Reading List",), "Later 📚", "http://example.com/later",
                                int(saved.replace(tzinfo=timezone.utc).timestamp())),
                 SampleBookmark((), "http://example.com/no-title", "http://example.com/no-title", None))
    entries, visits = [], []
    for url, seen, count in _PAGES:
        if not seen:
            continue
        when, title = max(seen, key=lambda visit: visit[0])
        entry: dict[str, object] = {"": url, "lastVisitedDate": f"{when - APPLE_EPOCH:.1f}", "visitCount": count,
                                    "D": [count]}
        if title is not None:
            entry["title"] = title
        entries.append(entry)
        visits.append(SampleVisit(round(when - APPLE_EPOCH, 1) + APPLE_EPOCH, title or "", url, count))
    history = {"WebHistoryDates": entries, "WebHistoryFileVersion": 1}
    return SafariSample("iOS 7", (), ((HOME, HISTORY_PLIST, plistlib.dumps(history, fmt=plistlib.FMT_BINARY)),
                                      (HOME, BOOKMARKS_PLIST, plistlib.dumps(tree, fmt=plistlib.FMT_BINARY))),
                        bookmarks, _newest_first(visits))

"""Safari: bookmarks as a file every browser imports, and the browsing history as a spreadsheet.

**Bookmarks.** HomeDomain ``Library/Safari/Bookmarks.db`` (iOS 3 onwards), table
``bookmarks``: ``id``, ``parent``, ``type`` (0 a bookmark, 1 a folder), ``title``, ``url``,
``order_index`` (the place among its siblings); ``deleted`` (set on rows waiting to be
synced away) and ``last_modified`` (seconds since 2001-01-01) where the generation has
them, and ``extra_attributes``, a binary plist whose ``com.apple.ReadingList`` entry holds
``DateAdded`` for Reading List items. The root is id 0; its folders include
``BookmarksBar`` (shown as Favorites), ``BookmarksMenu`` and ``com.apple.ReadingList``
(the Reading List). Rows whose parent is missing are kept, at the top. The first iOS
versions kept the same tree in ``Library/Safari/Bookmarks.plist`` (``WebBookmarkType`` ``WebBookmarkTypeList``
with ``Title`` and ``Children``, or ``WebBookmarkTypeLeaf`` with ``URLString`` and
``URIDictionary.title``), read when the database is absent. Produced: ``Bookmarks.html``
in the Netscape bookmark file format (``<!DOCTYPE NETSCAPE-Bookmark-file-1>``, folders as
nested ``<DL>`` under an ``<H3>``, bookmarks as ``<A HREF ADD_DATE>``).

**History.** ``Library/Safari/History.db``, in AppDomain-com.apple.mobilesafari from iOS 11
and in HomeDomain on iOS 8-10 (both tried, newest place first): ``history_items`` (``id``,
``url``, ``visit_count``) and ``history_visits`` (``history_item``, ``visit_time`` in
seconds since 2001-01-01, ``title``); an item whose visits are gone is still listed,
undated. iOS 7 and earlier kept HomeDomain ``Library/Safari/History.plist``, whose
``WebHistoryDates`` list holds one dict per page: ``""`` (the URL), ``title``,
``lastVisitedDate`` (seconds since 2001-01-01, as a string) and ``visitCount``. Produced:
``History.csv`` (time, title, URL, visit count of the page), newest first.
"""

from __future__ import annotations

import plistlib
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from xml.parsers.expat import ExpatError

from backupfs.readable.base import Backup, Plan, Planned
from backupfs.readable.html import escape
from backupfs.readable.values import (
    APPLE_EPOCH,
    columns_of,
    csv_bytes,
    mtime_of,
    newest_first,
    number_of,
    plural,
    select_list,
    stamp,
    text_of,
    unix_time,
)

HOME = "HomeDomain"
SAFARI_DOMAIN = "AppDomain-com.apple.mobilesafari"
BOOKMARKS_DB = "Library/Safari/Bookmarks.db"
BOOKMARKS_PLIST = "Library/Safari/Bookmarks.plist"
HISTORY_DB = "Library/Safari/History.db"
HISTORY_PLIST = "Library/Safari/History.plist"
HISTORY_DATABASES = ((SAFARI_DOMAIN, HISTORY_DB), (HOME, HISTORY_DB))  # iOS 11+ first, then iOS 8-10
BOOKMARKS_FILE, HISTORY_FILE = "Bookmarks.html", "History.csv"
HISTORY_HEADER = ("Time", "Title", "URL", "Visit count")
READING_LIST = "com.apple.ReadingList"
TOOLBAR = "BookmarksBar"
_SHOWN_TITLES = {TOOLBAR: "Favorites", "BookmarksMenu": "Bookmarks Menu", READING_LIST: "Reading List"}
_ROOT, _FOLDER = 0, 1
_MAX_DEPTH = 64  # no one nests folders deeper; a deeper tree is a damaged one, read without recursing forever
# Every visit with its page, then pages whose visits are gone: what History.csv lists, one row each.
_HISTORY_ROWS = ("SELECT v.visit_time, {title}, i.url, i.visit_count FROM history_visits v "
                 "LEFT JOIN history_items i ON i.id = v.history_item "
                 "UNION ALL SELECT NULL, NULL, url, visit_count FROM history_items WHERE id NOT IN "
                 "(SELECT history_item FROM history_visits WHERE history_item IS NOT NULL)")


@dataclass(frozen=True)
class Bookmark:
    title: str
    url: str
    added: float | None  # Unix seconds


@dataclass
class Folder:
    title: str
    children: list[Bookmark | Folder] = field(default_factory=list)
    toolbar: bool = False

    def count(self) -> int:
        """The bookmarks in this folder and below."""
        return sum(child.count() if isinstance(child, Folder) else 1 for child in self.children)

    def newest(self) -> float | None:
        """The latest date a bookmark below was added or changed."""
        dates = [child.newest() if isinstance(child, Folder) else child.added for child in self.children]
        return max((date for date in dates if date is not None), default=None)


@dataclass(frozen=True)
class Visit:
    unix: float | None
    title: str
    url: str
    count: str  # visits of the page, as the database counts them


# --- values --------------------------------------------------------------------------------------

def load_plist(data: bytes, what: str) -> dict:
    """A plist that must hold a dictionary; ValueError when it is damaged or of another shape."""
    try:
        loaded = plistlib.loads(data)
    except (ValueError, ExpatError) as error:  # plistlib's InvalidFileException is a ValueError
        raise ValueError(f"{what} is not a readable plist") from error
    if isinstance(loaded, dict):
        return loaded
    raise ValueError(f"{what} does not hold a dictionary")  # not TypeError: the contract's damaged-data error


def _reading_list_date(attributes: object) -> float | None:
    """Unix seconds of ``DateAdded`` in a Reading List item's attributes (a dict, or a plist as bytes)."""
    if isinstance(attributes, bytes):
        try:
            attributes = load_plist(attributes, "extra_attributes")
        except ValueError:  # one item's damaged attributes cost its date, not the list
            return None
    entry = attributes.get(READING_LIST) if isinstance(attributes, dict) else None
    added = entry.get("DateAdded") if isinstance(entry, dict) else None
    return added.replace(tzinfo=timezone.utc).timestamp() if isinstance(added, datetime) else None


def _shown_title(title: str) -> str:
    return _SHOWN_TITLES.get(title, title)


# --- bookmarks ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Row:
    id: int
    folder: bool
    title: str
    url: str
    order: float
    added: float | None


def _bookmark_rows(conn: sqlite3.Connection) -> list[tuple[object, _Row]]:
    """(parent, row) of every bookmark and folder not deleted, root excluded."""
    columns = columns_of(conn, "bookmarks")
    if not {"ID", "PARENT", "TYPE"} <= columns:
        raise ValueError("Bookmarks.db has no bookmarks table with id, parent and type")
    select = select_list(columns, ("title", "url", "order_index", "last_modified", "extra_attributes"))
    where = " WHERE coalesce(deleted, 0) = 0" if "DELETED" in columns else ""
    rows = []
    for id_, parent, kind, title, url, order, modified, extra in conn.execute(
            f"SELECT id, parent, type, {select} FROM bookmarks{where}"):
        if isinstance(id_, int) and id_ != _ROOT:
            added = _reading_list_date(extra) or unix_time(modified, APPLE_EPOCH)
            rows.append((parent, _Row(id_, number_of(kind) == _FOLDER, text_of(title), text_of(url),
                                      number_of(order) or 0, added)))
    return rows


def _tree(rows: list[tuple[object, _Row]]) -> Folder:
    """The folder tree of the rows; a row whose parent is not a folder of the table hangs from the root."""
    folders = {row.id for _, row in rows if row.folder}
    children: dict[object, list[_Row]] = {}
    for parent, row in rows:
        children.setdefault(parent if parent in folders else _ROOT, []).append(row)
    root = Folder("Bookmarks")
    pending: list[tuple[object, Folder, int]] = [(_ROOT, root, 0)]
    seen: set[object] = {_ROOT}
    while pending:  # a stack rather than recursion: a damaged tree cannot exhaust Python's
        folder_id, folder, depth = pending.pop()
        if depth > _MAX_DEPTH:
            raise ValueError(f"bookmark folders nest deeper than {_MAX_DEPTH} levels")
        for row in sorted(children.get(folder_id, []), key=lambda r: (r.order, r.id)):
            if not row.folder:
                folder.children.append(Bookmark(row.title, row.url, row.added))
            elif row.id not in seen:
                seen.add(row.id)
                child = Folder(_shown_title(row.title), toolbar=row.title == TOOLBAR)
                folder.children.append(child)
                pending.append((row.id, child, depth + 1))
    return root


def _plist_tree(node: dict, depth: int = 0) -> Folder:
    """The tree of a legacy ``Bookmarks.plist`` list node."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"bookmark folders nest deeper than {_MAX_DEPTH} levels")
    title = text_of(node.get("Title"))
    folder = Folder(_shown_title(title) or "Bookmarks", toolbar=title == TOOLBAR)
    for child in node.get("Children") or []:
        if not isinstance(child, dict):
            continue
        kind = child.get("WebBookmarkType")
        if kind == "WebBookmarkTypeList":
            folder.children.append(_plist_tree(child, depth + 1))
        elif kind == "WebBookmarkTypeLeaf":
            names = child.get("URIDictionary")
            title = text_of(names.get("title")) if isinstance(names, dict) else ""
            folder.children.append(Bookmark(title, text_of(child.get("URLString")),
                                            _reading_list_date({READING_LIST: child.get("ReadingList")})))
    return folder


def read_bookmarks(backup: Backup) -> Folder | None:
    """The bookmark tree; None when the backup holds neither Bookmarks.db nor Bookmarks.plist."""
    conn = backup.database(HOME, BOOKMARKS_DB)
    if conn is not None:
        with closing(conn):
            return _tree(_bookmark_rows(conn))
    data = backup.read(HOME, BOOKMARKS_PLIST)
    return None if data is None else _plist_tree(load_plist(data, "Bookmarks.plist"))


def _html_items(folder: Folder, indent: str) -> list[str]:
    lines = [f"{indent}<DL><p>"]
    for child in folder.children:
        if isinstance(child, Folder):
            toolbar = ' PERSONAL_TOOLBAR_FOLDER="true"' if child.toolbar else ""
            lines.append(f"{indent}    <DT><H3{toolbar}>{escape(child.title)}</H3>")
            lines += _html_items(child, indent + "    ")
        else:
            added = "" if child.added is None else f' ADD_DATE="{int(child.added)}"'
            lines.append(f'{indent}    <DT><A HREF="{escape(child.url)}"{added}>{escape(child.title or child.url)}</A>')
    lines.append(f"{indent}</DL><p>")
    return lines


def bookmarks_html(root: Folder) -> bytes:
    """The tree as a Netscape bookmark file, the format every browser's "Import bookmarks" reads."""
    head = ["<!DOCTYPE NETSCAPE-Bookmark-file-1>",
            '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">',
            "<TITLE>Bookmarks</TITLE>", "<H1>Bookmarks</H1>"]
    return ("\n".join(head + _html_items(root, "")) + "\n").encode("utf-8")


# --- history -----------------------------------------------------------------------------------

def _open_history(backup: Backup) -> sqlite3.Connection | None:
    return next((conn for conn in (backup.database(*place) for place in HISTORY_DATABASES) if conn is not None), None)


def _history_query(conn: sqlite3.Connection) -> str:
    """The rows of History.csv for this database; ValueError when its tables are not Safari's."""
    items, visits = columns_of(conn, "history_items"), columns_of(conn, "history_visits")
    if not {"ID", "URL"} <= items or not {"HISTORY_ITEM", "VISIT_TIME"} <= visits:
        raise ValueError("History.db has no history_items and history_visits tables")
    return _HISTORY_ROWS.format(title="v.title" if "TITLE" in visits else "NULL")


def _plist_visits(data: bytes) -> list[Visit]:
    entries = load_plist(data, "History.plist").get("WebHistoryDates")
    if isinstance(entries, list):
        return [Visit(unix_time(entry.get("lastVisitedDate"), APPLE_EPOCH), text_of(entry.get("title")),
                      text_of(entry.get("")), text_of(entry.get("visitCount")))
                for entry in entries if isinstance(entry, dict)]
    raise ValueError("History.plist has no WebHistoryDates list")


def _visit_stats(backup: Backup) -> tuple[int, float | None] | None:
    """(number of rows, newest visit) of the history, read cheaply; None when there is no history."""
    conn = _open_history(backup)
    if conn is not None:
        with closing(conn):
            count, newest = conn.execute(f"SELECT count(*), max(visit_time) FROM ({_history_query(conn)})").fetchone()
        return count, unix_time(newest, APPLE_EPOCH)
    data = backup.read(HOME, HISTORY_PLIST)
    if data is None:
        return None
    visits = _plist_visits(data)
    return len(visits), max((visit.unix for visit in visits if visit.unix is not None), default=None)


def read_history(backup: Backup) -> list[Visit] | None:
    """Every visit, newest first (undated ones last); None when the backup holds no history."""
    conn = _open_history(backup)
    if conn is not None:
        with closing(conn):
            visits = [Visit(unix_time(when, APPLE_EPOCH), text_of(title), text_of(url), text_of(count))
                      for when, title, url, count in conn.execute(_history_query(conn))]
    else:
        data = backup.read(HOME, HISTORY_PLIST)
        if data is None:
            return None
        visits = _plist_visits(data)
    return sorted(visits, key=lambda visit: newest_first(visit.unix))


# --- the renderer ------------------------------------------------------------------------------

class SafariRenderer:
    """Safari's bookmarks (``Bookmarks.html``) and history (``History.csv``)."""

    folder = "Safari"

    def plan(self, backup: Backup) -> Plan | None:
        files, parts = [], []
        bookmarks = read_bookmarks(backup)
        if bookmarks is not None and bookmarks.count():
            files.append(Planned(BOOKMARKS_FILE, key="safari:bookmarks", mtime=mtime_of(bookmarks.newest())))
            parts.append(plural(bookmarks.count(), "bookmark"))
        stats = _visit_stats(backup)
        if stats is not None and stats[0]:
            files.append(Planned(HISTORY_FILE, key="safari:history", mtime=mtime_of(stats[1])))
            parts.append(plural(stats[0], "history visit"))
        return Plan(files, ", ".join(parts)) if files else None

    def render(self, backup: Backup, key: str) -> bytes:
        if key == "safari:bookmarks":
            bookmarks = read_bookmarks(backup)
            if bookmarks is None:
                raise KeyError("the backup no longer holds Safari bookmarks")
            return bookmarks_html(bookmarks)
        if key == "safari:history":
            visits = read_history(backup)
            if visits is None:
                raise KeyError("the backup no longer holds Safari history")
            return csv_bytes(HISTORY_HEADER, [(stamp(v.unix), v.title, v.url, v.count) for v in visits])
        raise KeyError(key)


SAFARI = SafariRenderer()

"""Photos: every photo and video of the camera roll under its original name, by date and by album.

The library is CameraRollDomain ``Media/PhotoData/Photos.sqlite``, a Core Data store whose
asset table is told apart by the tables the database holds:

* iOS 14-17: ``ZASSET``;
* iOS 9-13: ``ZGENERICASSET``, with mostly the same columns.

Either holds, per asset, ``ZDIRECTORY`` and ``ZFILENAME`` (the file is CameraRollDomain
``Media/<ZDIRECTORY>/<ZFILENAME>``: ``DCIM/100APPLE`` + ``IMG_0001.JPG``, or
``PhotoData/CPLAssets/group412`` + ``<UUID>.HEIC`` for iCloud Photos), ``ZDATECREATED``
(seconds since 2001-01-01) and ``ZTRASHEDSTATE`` (1: in Recently Deleted). The name the
photo had when taken or imported is ``ZADDITIONALASSETATTRIBUTES.ZORIGINALFILENAME``, whose
``ZASSET`` points to the asset. Albums are ``ZGENERICALBUM`` rows (``ZTITLE``; ``ZKIND`` 2
is an album the user made; ``ZTRASHEDSTATE``), tied to their assets by a join table whose
name and columns carry Core Data entity numbers that change between iOS versions
(``Z_26ASSETS`` with ``Z_26ALBUMS`` and ``Z_34ASSETS`` on iOS 12, ``Z_28ASSETS`` with
``Z_28ALBUMS`` and ``Z_3ASSETS`` on iOS 16): it is found by its columns. Older
simplified libraries without album tables read as having no albums.

Produced, each a file of the backup shown as it is (the same bytes, never a copy), dated
by when the photo was taken: ``<YYYY>/<MM Month>/<original name>`` (``Unknown date/`` when
the library has no date), ``Albums/<title>/<original name>`` for each user album, and
``Recently Deleted/<original name>`` for trashed assets, which albums no longer show.
Assets whose file the backup does not hold are left out and counted in the summary.
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass

from backupfs.naming.harvest import CAMERA_ROLL, _split_name
from backupfs.readable.base import Backup, Plan, Planned, safe_name, unique_paths
from backupfs.readable.values import (
    APPLE_EPOCH,
    column_or_null,
    columns_of,
    local_time,
    mtime_of,
    number_of,
    oldest_first,
    plural,
    select_list,
    text_of,
    unix_time,
)

PHOTOS_DB = "Media/PhotoData/Photos.sqlite"
ASSET_TABLES = ("ZASSET", "ZGENERICASSET")  # newest generation first
_USER_ALBUM = 2  # ZGENERICALBUM.ZKIND of an album the user made
_TRASHED = 1
_SCANNED = -2_208_988_800  # 1900: scanned and re-dated photos go back far, no earlier date is believed
UNKNOWN_DATE = "Unknown date"
ALBUMS = "Albums"
RECENTLY_DELETED = "Recently Deleted"
_JOIN_TABLE = re.compile(r"Z_(\d+)ASSETS")


@dataclass(frozen=True)
class Asset:
    """One photo or video of the library, and where the backup holds its file."""

    pk: int
    unix: float | None
    name: str  # the file name to show, extension included
    trashed: bool
    file: str | None  # relative path in CameraRollDomain, None when the backup lacks it


@dataclass(frozen=True)
class Library:
    """What the folder shows: the assets, and the user albums with the Z_PKs of their assets."""

    assets: list[Asset]
    albums: list[tuple[str, list[int]]]


def _asset_table(conn: sqlite3.Connection) -> tuple[str, set[str]]:
    """The asset table of this generation and its columns; ValueError when there is none."""
    for table in ASSET_TABLES:
        columns = columns_of(conn, table)
        if {"ZDIRECTORY", "ZFILENAME"} <= columns:
            return table, columns
    raise ValueError("Photos.sqlite has no ZASSET or ZGENERICASSET table with ZDIRECTORY and ZFILENAME")


def _original_names(conn: sqlite3.Connection) -> dict[int, str]:
    """ZORIGINALFILENAME by asset Z_PK; empty when the table or its columns are absent."""
    if not {"ZASSET", "ZORIGINALFILENAME"} <= columns_of(conn, "ZADDITIONALASSETATTRIBUTES"):
        return {}
    names: dict[int, str] = {}
    for asset, name in conn.execute("SELECT ZASSET, ZORIGINALFILENAME FROM ZADDITIONALASSETATTRIBUTES"):
        if isinstance(asset, int) and text_of(name).strip():
            names.setdefault(asset, text_of(name).strip())
    return names


def _stored_path(directory: object, filename: object) -> str | None:
    """CameraRollDomain path of an asset's file: ``Media/<ZDIRECTORY>/<ZFILENAME>``; None without a file name."""
    name = text_of(filename).strip("/")
    if not name:
        return None
    parts = [part for part in text_of(directory).split("/") if part]
    return "/".join(["Media", *parts, name])


def _shown_name(original: str, stored: str, pk: int) -> str:
    """The name the photo was taken or imported under, with the extension of the file the backup holds.

    The shown file is the stored one, so its extension must say what its bytes are; the
    stem survives any length or character (:func:`safe_name` cuts it, not the extension).
    """
    stem, original_extension = _split_name(original or stored)
    extension = safe_name(_split_name(stored)[1] or original_extension, "")
    name = safe_name(stem, f"Photo {pk}")
    return f"{name}.{extension}" if extension else name


def _assets(backup: Backup, conn: sqlite3.Connection) -> list[Asset]:
    table, columns = _asset_table(conn)
    originals = _original_names(conn)
    select = select_list(columns, ("ZDATECREATED", "ZTRASHEDSTATE"))
    assets = []
    for pk, directory, filename, created, trashed in conn.execute(
            f"SELECT Z_PK, ZDIRECTORY, ZFILENAME, {select} FROM {table} ORDER BY Z_PK"):
        if not isinstance(pk, int):
            continue
        path = _stored_path(directory, filename)
        held = path is not None and backup.has(CAMERA_ROLL, path)
        name = _shown_name(originals.get(pk, ""), path.rsplit("/", 1)[-1] if path else "", pk)
        taken = unix_time(created, APPLE_EPOCH, earliest=_SCANNED)
        assets.append(Asset(pk, taken, name, number_of(trashed) == _TRASHED, path if held else None))
    return sorted(assets, key=_chronological)


def _chronological(asset: Asset) -> tuple[tuple[bool, float], int]:
    """Oldest first, undated last: the order names are given in, so the older photo keeps the plain name."""
    return oldest_first(asset.unix), asset.pk


def _join_table(conn: sqlite3.Connection) -> tuple[str, str, str] | None:
    """(table, album column, asset column) of the album-asset join table, found by its columns."""
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        match = _JOIN_TABLE.fullmatch(str(table).upper())
        if match is None:
            continue
        columns = columns_of(conn, table)
        album = f"Z_{match.group(1)}ALBUMS"
        asset = next((c for c in sorted(columns) if re.fullmatch(r"Z_\d+ASSETS", c)), None)
        if album in columns and asset is not None:
            return table, album, asset
    return None


def _albums(conn: sqlite3.Connection) -> list[tuple[str, list[int]]]:
    """User albums not in the trash, by title, with their assets' Z_PKs; none when the tables are absent."""
    columns = columns_of(conn, "ZGENERICALBUM")
    join = _join_table(conn)
    if not {"ZKIND", "ZTITLE"} <= columns or join is None:
        return []
    table, album_column, asset_column = join
    members: dict[int, list[int]] = defaultdict(list)
    for album, asset in conn.execute(f'SELECT "{album_column}", "{asset_column}" FROM "{table}"'):
        if isinstance(album, int) and isinstance(asset, int):
            members[album].append(asset)
    trashed = column_or_null(columns, "ZTRASHEDSTATE")
    rows = conn.execute(f"SELECT Z_PK, ZTITLE FROM ZGENERICALBUM WHERE ZKIND = {_USER_ALBUM} "
                        f"AND coalesce({trashed}, 0) != {_TRASHED} ORDER BY Z_PK").fetchall()
    return [(text_of(title).strip(), members.get(pk, [])) for pk, title in rows]


def read_library(backup: Backup) -> Library | None:
    """The library's assets and albums; None when the backup holds no Photos.sqlite."""
    conn = backup.database(CAMERA_ROLL, PHOTOS_DB)
    if conn is None:
        return None
    with closing(conn):
        return Library(_assets(backup, conn), _albums(conn))


def _date_folder(unix: float | None) -> str:
    """ "2023/07 July", or "Unknown date"."""
    moment = local_time(unix)
    return UNKNOWN_DATE if moment is None else moment.strftime("%Y/%m %B")


def _files(library: Library) -> list[tuple[str, Asset]]:
    """(path in the folder, asset) of every file shown, before names are made unique."""
    held = {asset.pk: asset for asset in library.assets if asset.file is not None}
    files = [(f"{RECENTLY_DELETED if asset.trashed else _date_folder(asset.unix)}/{asset.name}", asset)
             for asset in held.values()]
    shown = [(title, [held[pk] for pk in pks if pk in held and not held[pk].trashed])
             for title, pks in library.albums]
    shown = [(title, assets) for title, assets in shown if assets]
    folders = unique_paths(f"{ALBUMS}/{safe_name(title, 'Untitled album')}" for title, _ in shown)
    for folder, (_, assets) in zip(folders, shown, strict=True):
        files += [(f"{folder}/{asset.name}", asset) for asset in sorted(assets, key=_chronological)]
    return files


def _summary(library: Library, albums: int) -> str:
    """ "1,204 photos and videos, 3 albums; 12 not in the backup"."""
    count = len(library.assets)
    text = f"{count:,} {'photo or video' if count == 1 else 'photos and videos'}, {plural(albums, 'album')}"
    missing = sum(asset.file is None for asset in library.assets)
    return f"{text}; {missing:,} not in the backup" if missing else text


class PhotosRenderer:
    """The camera roll, shown as its own files under the names and dates the Photos app shows."""

    folder = "Photos"

    def plan(self, backup: Backup) -> Plan | None:
        library = read_library(backup)
        if library is None or not library.assets:
            return None
        files = _files(library)
        paths = unique_paths(path for path, _ in files)
        planned = [Planned(path, same_as=(CAMERA_ROLL, asset.file),
                           mtime=mtime_of(asset.unix))
                   for path, (_, asset) in zip(paths, files, strict=True) if asset.file is not None]
        albums = len({path.split("/")[1] for path in paths if path.startswith(f"{ALBUMS}/")})
        return Plan(planned, _summary(library, albums))

    def render(self, backup: Backup, key: str) -> bytes:
        """Every file of this folder is a file of the backup: nothing is rendered."""
        raise KeyError(key)


PHOTOS = PhotosRenderer()

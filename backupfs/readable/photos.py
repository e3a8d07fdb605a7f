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

Two more files may belong to an asset, both named after its stored file and listed
nowhere in the library: a Live Photo's motion half, ``<stem>.MOV`` beside a still
(``ZKIND`` 0) in its folder, and the edit the Photos app rendered when ``ZHASADJUSTMENTS``
is 1, CameraRollDomain ``Media/PhotoData/Mutations/<ZDIRECTORY>/<stem>/Adjustments/``
``FullSizeRender.jpg`` (``.heic`` on recent phones, ``.mov`` for a video, ``ZKIND`` 1).
``ZHIDDEN`` 1 marks a photo the user hid from the library.

Produced, each a file of the backup shown as it is (the same bytes, never a copy), dated
by when the photo was taken: ``<YYYY>/<MM Month>/<original name>`` (``Unknown date/`` when
the library has no date), ``Albums/<title>/<original name>`` for each user album,
``Hidden/<original name>`` for hidden assets, which neither dates nor albums show, and
``Recently Deleted/<original name>`` for trashed ones (hidden or not), which albums no
longer show. Beside an original, under its shown stem: its Live Photo video
(``IMG_4521.MOV``) and its edit (``IMG_4521 (edited).jpg``), when the backup holds them.
Assets whose original the backup does not hold are left out and counted in the summary.
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass

from backupfs.naming.harvest import CAMERA_ROLL, _split_name, photo_directory
from backupfs.readable.base import Backup, Plan, Planned, safe_name, unique_paths
from backupfs.readable.values import (
    APPLE_EPOCH,
    column_or_null,
    columns_of,
    int_of,
    local_time,
    mtime_of,
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
_HIDDEN = 1
_ADJUSTED = 1  # ZHASADJUSTMENTS of an edited asset
_VIDEO = 1  # ZKIND of a video; 0 is a photo
_LIVE_VIDEO = "MOV"  # extension of a Live Photo's motion half, beside the still
# The rendered edit, by the kind of asset: a still's is a JPEG (HEIF on iOS 17), a video's a movie.
_RENDERS = {False: ("FullSizeRender.jpg", "FullSizeRender.heic"), True: ("FullSizeRender.mov",)}
MUTATIONS = "Media/PhotoData/Mutations"
_SCANNED = -2_208_988_800  # 1900: scanned and re-dated photos go back far, no earlier date is believed
UNKNOWN_DATE = "Unknown date"
ALBUMS = "Albums"
RECENTLY_DELETED = "Recently Deleted"
HIDDEN = "Hidden"
EDITED = " (edited)"
_JOIN_TABLE = re.compile(r"Z_(\d+)ASSETS")


@dataclass(frozen=True)
class Asset:
    """One photo or video of the library, and where the backup holds its files."""

    pk: int
    unix: float | None
    stem: str  # the name to show, without extension
    extension: str  # of the stored original; "" when it has none
    trashed: bool
    hidden: bool
    file: str | None  # relative path in CameraRollDomain, None when the backup lacks it
    live: str | None = None  # the Live Photo's video, when the backup holds it
    edited: str | None = None  # the rendered edit, when the asset has one and the backup holds it

    def shown(self) -> list[tuple[str, str, str]]:
        """(suffix after the stem, extension, CameraRollDomain path) of each file shown for the asset:
        the original, then its Live Photo video and its edit; nothing when the backup lacks the original."""
        if self.file is None:
            return []
        files = [("", self.extension, self.file)]
        if self.live is not None:
            files.append(("", _split_name(self.live)[1], self.live))
        if self.edited is not None:
            files.append((EDITED, _split_name(self.edited)[1], self.edited))
        return files


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
    """CameraRollDomain path of an asset's file: ``Media/<ZDIRECTORY>/<ZFILENAME>`` (a very old library's
    full device path in ZDIRECTORY cut to what follows ``/Media/``); None without a file name."""
    name = text_of(filename).strip("/")
    if not name:
        return None
    folder = photo_directory(text_of(directory))  # as the harvester that named the file reads it
    return "/".join(part for part in ("Media", folder, name) if part)


def _shown_name(original: str, stored: str, pk: int) -> tuple[str, str]:
    """(stem, extension): the name the photo was taken or imported under, with the extension of the file
    the backup holds.

    The shown file is the stored one, so its extension must say what its bytes are; the
    stem survives any length or character (:func:`safe_name` cuts it, not the extension).
    """
    stem, original_extension = _split_name(original or stored)
    return safe_name(stem, f"Photo {pk}"), safe_name(_split_name(stored)[1] or original_extension, "")


def _live_video(path: str) -> str:
    """Where a still's Live Photo video would be: ``IMG_0001.MOV`` beside ``IMG_0001.HEIC``."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/{_split_name(name)[0]}.{_LIVE_VIDEO}"


def _renders(path: str, video: bool) -> list[str]:
    """Where the Photos app keeps the edit of the original at ``path`` (``Media/<ZDIRECTORY>/<file>``)."""
    folder, _, name = path.removeprefix("Media/").rpartition("/")
    adjustments = "/".join(part for part in (MUTATIONS, folder, _split_name(name)[0], "Adjustments") if part)
    return [f"{adjustments}/{render}" for render in _RENDERS[video]]


def _held(backup: Backup, paths: list[str]) -> str | None:
    """The first of ``paths`` the backup holds."""
    return next((path for path in paths if backup.has(CAMERA_ROLL, path)), None)


def _companions(backup: Backup, original: str, video: bool, adjusted: bool,
                listed: set[str | None]) -> tuple[str | None, str | None]:
    """(Live Photo video, rendered edit) of the original at ``original``, each None unless the backup holds it.

    The library lists neither: a still's video is guessed beside it (unless the library lists
    that file as an asset of its own), an edit is looked for only when the asset says it has one.
    """
    live = None if video or _live_video(original) in listed else _held(backup, [_live_video(original)])
    return live, _held(backup, _renders(original, video)) if adjusted else None


def _assets(backup: Backup, conn: sqlite3.Connection) -> list[Asset]:
    table, columns = _asset_table(conn)
    originals = _original_names(conn)
    select = select_list(columns, ("ZDATECREATED", "ZTRASHEDSTATE", "ZHIDDEN", "ZKIND", "ZHASADJUSTMENTS"))
    rows = [row for row in conn.execute(f"SELECT Z_PK, ZDIRECTORY, ZFILENAME, {select} FROM {table} ORDER BY Z_PK")
            if isinstance(row[0], int)]
    paths = [_stored_path(directory, filename) for _, directory, filename, *_ in rows]
    listed = set(paths)
    assets = []
    for (pk, _, _, created, trashed, hidden, kind, adjusted), path in zip(rows, paths, strict=True):
        held = path if path is not None and backup.has(CAMERA_ROLL, path) else None
        stem, extension = _shown_name(originals.get(pk, ""), path.rsplit("/", 1)[-1] if path else "", pk)
        live, edited = (None, None) if held is None else _companions(
            backup, held, int_of(kind) == _VIDEO, int_of(adjusted) == _ADJUSTED, listed)
        assets.append(Asset(pk, unix_time(created, APPLE_EPOCH, earliest=_SCANNED), stem, extension,
                            int_of(trashed) == _TRASHED, int_of(hidden) == _HIDDEN, held, live, edited))
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


def _home(asset: Asset) -> str:
    """The folder an asset is shown in besides its albums: the trash first, as the Photos app lists a
    trashed hidden photo in Recently Deleted, then Hidden, then the month it was taken."""
    if asset.trashed:
        return RECENTLY_DELETED
    return HIDDEN if asset.hidden else _date_folder(asset.unix)


def _placements(library: Library) -> list[tuple[str, Asset]]:
    """(folder, asset) of every asset shown, once in its own folder and once in each of its albums."""
    held = {asset.pk: asset for asset in library.assets if asset.file is not None}
    placements = [(_home(asset), asset) for asset in held.values()]
    shown = [(title, [held[pk] for pk in pks if pk in held and not (held[pk].trashed or held[pk].hidden)])
             for title, pks in library.albums]
    shown = [(title, assets) for title, assets in shown if assets]
    folders = unique_paths(f"{ALBUMS}/{safe_name(title, 'Untitled album')}" for title, _ in shown)
    for folder, (_, assets) in zip(folders, shown, strict=True):
        placements += [(folder, asset) for asset in sorted(assets, key=_chronological)]
    return placements


def _leaf(stem: str, number: int, suffix: str, extension: str) -> str:
    """ "IMG_0007 2 (edited).jpg": the number that makes a name unique goes before the suffix."""
    numbered = stem if number == 1 else f"{stem} {number}"
    return f"{numbered}{suffix}.{extension}" if extension else f"{numbered}{suffix}"


def _files(library: Library) -> list[tuple[str, str, Asset]]:
    """(path in the folder, CameraRollDomain path, asset) of every file shown.

    Names are made unique as :func:`unique_paths` does (" 2" before the extension, case
    ignored), but per asset: a still, its Live Photo video and its edit keep one stem
    ("IMG_0007 2.JPG", "IMG_0007 2.MOV"), so they still read as one photo."""
    seen: set[str] = set()
    files = []
    for folder, asset in _placements(library):
        shown = asset.shown()
        number = 1
        while any(f"{folder}/{_leaf(asset.stem, number, suffix, extension)}".casefold() in seen
                  for suffix, extension, _ in shown):
            number += 1
        for suffix, extension, path in shown:
            name = f"{folder}/{_leaf(asset.stem, number, suffix, extension)}"
            seen.add(name.casefold())
            files.append((name, path, asset))
    return files


def _summary(library: Library, albums: int) -> str:
    """ "1,204 photos and videos (12 live), 3 albums; 12 not in the backup"."""
    count = len(library.assets)
    live = sum(asset.live is not None for asset in library.assets)
    text = f"{count:,} {'photo or video' if count == 1 else 'photos and videos'}"
    text += f" ({live:,} live), " if live else ", "
    text += plural(albums, "album")
    missing = sum(asset.file is None for asset in library.assets)
    return f"{text}; {missing:,} not in the backup" if missing else text


class PhotosRenderer:
    """The camera roll, shown as its own files under the names and dates the Photos app shows."""

    folder = "Photos"

    def plan(self, backup: Backup) -> Plan | None:
        library = read_library(backup)
        if library is None or not library.assets:
            return None
        planned = [Planned(path, same_as=(CAMERA_ROLL, file), mtime=mtime_of(asset.unix))
                   for path, file, asset in _files(library)]
        albums = len({p.path.split("/")[1] for p in planned if p.path.startswith(f"{ALBUMS}/")})
        return Plan(planned, _summary(library, albums))

    def render(self, backup: Backup, key: str) -> bytes:
        """Every file of this folder is a file of the backup: nothing is rendered."""
        raise KeyError(key)


PHOTOS = PhotosRenderer()

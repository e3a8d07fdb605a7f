"""Read the databases of a backup for the files they name.

Many payloads have names no catalog can guess (a message attachment's GUID folder, an
iCloud photo's UUID), yet the app's own database lists them. Each harvester reads one
such database and yields raw ``(domain, relativePath)`` candidates; the caller keeps only
those whose SHA1 is a payload's file name, so yielding a plausible variant that does not
exist costs one hash and can never show a wrong name.

Databases come from damaged backups: every query may fail (missing table or column,
corrupt page) and every value may be NULL, a number or bytes that are not UTF-8. Each
query is guarded on its own, so one bad table never hides what the others name, and
text is read as bytes (``CAST(... AS BLOB)``) then decoded with surrogate escapes, which
``records.file_id`` turns back into the device's exact bytes.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)

Candidate = tuple[str, str]  # (domain, relativePath)

CAMERA_ROLL = "CameraRollDomain"
HOME = "HomeDomain"
MEDIA = "MediaDomain"
NOTES = "AppDomainGroup-group.com.apple.notes"
WHATSAPP_SHARED = "AppDomainGroup-group.net.whatsapp.WhatsApp.shared"
# Since iOS 15 Voice Memos keeps its recordings in an app group, not in MediaDomain.
VOICE_MEMOS_SHARED = "AppDomainGroup-group.com.apple.VoiceMemos.shared"

# Prefixes under which the device stores the mobile user's home in absolute paths.
_HOME_PREFIXES = ("~/", "/private/var/mobile/", "/var/mobile/")


@dataclass(frozen=True)
class Harvester:
    """A database that names other files, and how to read the names out of it."""

    name: str
    sources: tuple[Candidate, ...]
    harvest: Callable[[sqlite3.Connection], Iterator[Candidate]]


def _text(value: object) -> str | None:
    """A column value as text; bytes that are not UTF-8 keep their exact form as surrogates."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    text = str(value).strip("\x00")
    return text or None


def _rows(conn: sqlite3.Connection, sql: str, params: Iterable[object] = ()) -> Iterator[tuple]:
    """The rows of one query, as many as can be read: a failure ends this query only."""
    try:
        cursor = conn.execute(sql, tuple(params))
        while True:
            batch = cursor.fetchmany(1000)
            if not batch:
                return
            yield from batch
    except sqlite3.Error as exc:
        log.debug("query skipped (%s): %s", exc, sql)


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in _rows(conn, "SELECT * FROM pragma_table_info(?)", (table,))]


def _text_rows(conn: sqlite3.Connection, table: str, columns: Iterable[str]) -> Iterator[tuple[str | None, ...]]:
    """Rows of ``columns`` of ``table`` as text; columns the table lacks read as NULL."""
    present = {column.upper() for column in _columns(conn, table)}
    if not present:
        return
    selected = ", ".join(f'CAST("{c}" AS BLOB)' if c.upper() in present else "NULL" for c in columns)
    for row in _rows(conn, f'SELECT {selected} FROM "{table}"'):
        yield tuple(_text(value) for value in row)


def _home_relative(path: str) -> str | None:
    """``~/Library/X`` or ``/var/mobile/Library/X`` -> ``Library/X`` (None if not in home)."""
    for prefix in _HOME_PREFIXES:
        if path.startswith(prefix):
            return path[len(prefix):].lstrip("/") or None
    return None


def _split_name(filename: str) -> tuple[str, str]:
    """(stem, extension without the dot); no extension gives ``(filename, "")``."""
    stem, dot, ext = filename.rpartition(".")
    return (stem, ext) if dot and stem else (filename, "")


# --- Photos ----------------------------------------------------------------------------------

_IMAGE_EXTS = {"heic", "heif", "jpg", "jpeg", "png", "dng", "tif", "tiff", "gif", "webp"}


def photo_directory(directory: str) -> str:
    """ZDIRECTORY relative to ``Media/``; very old libraries may hold a full device path."""
    if "/Media/" in directory:
        directory = directory.split("/Media/", 1)[1]
    return directory.strip("/")


def photo_candidates(directory: str, filename: str) -> Iterator[Candidate]:
    """An original under ``Media/<directory>/`` and every file Photos derives from it.

    Thumbnails, metadata, edits and the Live Photo video are named after the original, so
    any proven original (from Photos.sqlite, the index, the catalog or the camera-roll
    generator) yields them too.
    """
    stem, ext = _split_name(filename)
    yield CAMERA_ROLL, f"Media/{directory}/{filename}"
    if ext.lower() in _IMAGE_EXTS:
        yield CAMERA_ROLL, f"Media/{directory}/{stem}.MOV"  # Live Photo companion
        yield CAMERA_ROLL, f"Media/{directory}/{stem}.AAE"  # edits beside the original (iOS 8-12)
    for size in ("5003", "5005"):
        yield CAMERA_ROLL, f"Media/PhotoData/Thumbnails/V2/{directory}/{filename}/{size}.JPG"
    for suffix in ("JPG", "THM", "AAE", "medium.MOV"):
        yield CAMERA_ROLL, f"Media/PhotoData/Metadata/{directory}/{stem}.{suffix}"
    adjustments = f"Media/PhotoData/Mutations/{directory}/{stem}/Adjustments"
    for name in ("Adjustments.plist", "FullSizeRender.jpg", "FullSizeRender.heic", "FullSizeRender.mov"):
        yield CAMERA_ROLL, f"{adjustments}/{name}"


def harvest_photos(conn: sqlite3.Connection) -> Iterator[Candidate]:
    """Originals the library lists, with their derived files."""
    for table in ("ZASSET", "ZGENERICASSET"):
        for directory, filename in _text_rows(conn, table, ("ZDIRECTORY", "ZFILENAME")):
            if directory is None or filename is None or "/" in filename:
                continue
            yield from photo_candidates(photo_directory(directory), filename)


# --- Messages --------------------------------------------------------------------------------

def harvest_sms(conn: sqlite3.Connection) -> Iterator[Candidate]:
    """Message attachments: ``~/Library/SMS/Attachments/...`` lives in MediaDomain."""
    for (filename,) in _text_rows(conn, "attachment", ("filename",)):
        if filename is None:
            continue
        relative = _home_relative(filename)
        if relative is None:
            continue
        yield MEDIA, relative
        yield HOME, relative


# --- Notes -----------------------------------------------------------------------------------

def _notes_accounts(conn: sqlite3.Connection) -> dict[str, str]:
    """Account ``Z_PK`` -> account identifier (the folder name under ``Accounts/``)."""
    accounts: dict[str, str] = {}
    entities = {_text(ent) for (ent,) in _rows(conn, "SELECT Z_ENT FROM Z_PRIMARYKEY WHERE Z_NAME = 'ICAccount'")}
    columns = {c.upper() for c in _columns(conn, "ZICCLOUDSYNCINGOBJECT")}
    if "ZACCOUNTTYPE" in columns:
        sql = "SELECT Z_PK, Z_ENT, CAST(ZIDENTIFIER AS BLOB), ZACCOUNTTYPE FROM ZICCLOUDSYNCINGOBJECT"
    else:
        sql = "SELECT Z_PK, Z_ENT, CAST(ZIDENTIFIER AS BLOB), NULL FROM ZICCLOUDSYNCINGOBJECT"
    for pk, ent, identifier, account_type in _rows(conn, sql):
        identifier = _text(identifier)
        if identifier is not None and (account_type is not None or _text(ent) in entities):
            accounts[str(_text(pk))] = identifier
    return accounts


def harvest_notes(conn: sqlite3.Connection) -> Iterator[Candidate]:
    """Note attachments: ``Accounts/<account id>/Media/<media id>/[<generation>/]<file name>``.

    Which ``ZACCOUNTn`` column points at the account changes with the iOS version, so all
    of them are tried; a media row whose account cannot be resolved is tried under every
    account (plus the local one).
    """
    accounts = _notes_accounts(conn)
    all_accounts = sorted(set(accounts.values()) | {"LocalAccount"})
    columns = _columns(conn, "ZICCLOUDSYNCINGOBJECT")
    account_columns = [c for c in columns if c.upper().startswith("ZACCOUNT") and c.upper()[8:].isdigit()]
    generation_columns = [c for c in columns if c.upper().startswith("ZGENERATION")]
    wanted = ("ZIDENTIFIER", "ZFILENAME", *account_columns, *generation_columns)
    for row in _text_rows(conn, "ZICCLOUDSYNCINGOBJECT", wanted):
        identifier, filename = row[0], row[1]
        if identifier is None or filename is None or "/" in filename:
            continue
        owners = [accounts[pk] for pk in row[2:2 + len(account_columns)] if pk in accounts]
        generations = [g for g in row[2 + len(account_columns):] if g is not None and "/" not in g]
        media_dirs = [f"Media/{identifier}"] + [f"Media/{identifier}/{g}" for g in generations]
        for account in dict.fromkeys(owners or all_accounts):
            for media_dir in media_dirs:
                yield NOTES, f"Accounts/{account}/{media_dir}/{filename}"
        for media_dir in media_dirs:  # iOS 9-10 kept media at the top of the group container
            yield NOTES, f"{media_dir}/{filename}"


# --- WhatsApp --------------------------------------------------------------------------------

def _whatsapp_paths(value: str) -> Iterator[str]:
    if "/Message/" in value:  # an absolute device path to the shared container
        value = value.split("/Message/", 1)[1]
    value = value.lstrip("/")
    if value:
        yield f"Message/{value}"
        yield value  # profile pictures and a few others sit at the container's top


def harvest_whatsapp(conn: sqlite3.Connection) -> Iterator[Candidate]:
    """Chat media, their thumbnails and profile pictures, under ``Message/`` in the shared group."""
    sources = (("ZWAMEDIAITEM", ("ZMEDIALOCALPATH", "ZTHUMBNAILLOCALPATH", "ZXMPPTHUMBPATH")),
               ("ZWAPROFILEPICTUREITEM", ("ZPATH",)))
    for table, columns in sources:
        for row in _text_rows(conn, table, columns):
            for value in row:
                if value is not None:
                    for path in _whatsapp_paths(value):
                        yield WHATSAPP_SHARED, path


# --- Voice memos and voicemail ---------------------------------------------------------------

def harvest_voice_memos(conn: sqlite3.Connection) -> Iterator[Candidate]:
    """Recordings: ZPATH is a bare file name or an absolute device path.

    The same database layout is used by MediaDomain (up to iOS 14) and the Voice Memos
    app group (iOS 15+); both places are yielded, the hash tells which one holds it.
    """
    for table in ("ZRECORDING", "ZCLOUDRECORDING"):
        for (path,) in _text_rows(conn, table, ("ZPATH",)):
            if path is None:
                continue
            if "/Media/" in path:
                media_relative = "Media/" + path.split("/Media/", 1)[1].lstrip("/")
            elif path.startswith("/"):
                media_relative = f"Media/Recordings/{path.rsplit('/', 1)[1]}"
            else:
                media_relative = f"Media/Recordings/{path}"
            yield MEDIA, media_relative
            name = media_relative.rsplit("/", 1)[1]
            if name:
                yield VOICE_MEMOS_SHARED, f"Recordings/{name}"


def harvest_voicemail(conn: sqlite3.Connection) -> Iterator[Candidate]:
    """Each voicemail row's audio is ``Library/Voicemail/<ROWID>.amr``."""
    for (rowid,) in _rows(conn, "SELECT ROWID FROM voicemail"):
        if isinstance(rowid, int) and rowid >= 0:
            yield HOME, f"Library/Voicemail/{rowid}.amr"


HARVESTERS: tuple[Harvester, ...] = (
    Harvester("photos", ((CAMERA_ROLL, "Media/PhotoData/Photos.sqlite"),), harvest_photos),
    Harvester("sms", ((HOME, "Library/SMS/sms.db"),), harvest_sms),
    Harvester("notes", ((NOTES, "NoteStore.sqlite"),), harvest_notes),
    Harvester("whatsapp", ((WHATSAPP_SHARED, "ChatStorage.sqlite"),), harvest_whatsapp),
    Harvester("voicememos", ((MEDIA, "Media/Recordings/Recordings.db"),
                             (MEDIA, "Media/Recordings/CloudRecordings.db"),
                             (VOICE_MEMOS_SHARED, "Recordings/CloudRecordings.db")), harvest_voice_memos),
    Harvester("voicemail", ((HOME, "Library/Voicemail/voicemail.db"),), harvest_voicemail),
)

_BY_SOURCE: dict[Candidate, Harvester] = {source: h for h in HARVESTERS for source in h.sources}


def harvester_for(domain: str, relative_path: str) -> Harvester | None:
    """The harvester that reads ``domain``/``relative_path``, if that file names others."""
    return _BY_SOURCE.get((domain, relative_path))

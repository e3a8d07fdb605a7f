"""Voice Memos: every recording the backup holds, named by its date and title, and a list of them all.

The app's Core Data store moved over the years; the first one the backup holds is read,
newest place first:

* iOS 15 and later: AppDomainGroup-group.com.apple.VoiceMemos.shared
  ``Recordings/CloudRecordings.db``, table ``ZCLOUDRECORDING``: ``ZENCRYPTEDTITLE`` (the
  title the user sees, plain text despite its name), ``ZCUSTOMLABEL`` (the first label,
  often the place or "New Recording 3"), ``ZDATE`` (seconds since 2001-01-01), ``ZDURATION``
  (seconds), ``ZPATH`` relative ("20231114 101523.m4a") to ``Recordings/`` of that domain;
* iOS 12-14: the same table in MediaDomain ``Media/Recordings/CloudRecordings.db``;
* iOS 11 and earlier: MediaDomain ``Media/Recordings/Recordings.db``, table ``ZRECORDING``
  with ``ZCUSTOMLABEL`` only (no ``ZENCRYPTEDTITLE``), ``ZDATE``, ``ZDURATION`` and ``ZPATH``,
  an absolute device path ("/var/mobile/Media/Recordings/20171114 101523.m4a").

The table is chosen by what the database holds (``ZCLOUDRECORDING``, else ``ZRECORDING``),
the title column by the columns present, and each ``ZPATH`` is looked for in both places.
Produced: each recording present as it is, named ``<YYYY-MM-DD> <title>.m4a`` (the title, else
the custom label, else the time of day), dated by its recording date, and
``Voice Memos.csv`` listing every recording, newest first, those missing from the backup included. Of
two recordings of the same name, the older keeps the plain name.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass

from backupfs.naming.harvest import MEDIA, VOICE_MEMOS_SHARED, _home_relative
from backupfs.readable.base import Backup, Plan, Planned, safe_name, unique_paths
from backupfs.readable.values import (
    APPLE_EPOCH,
    clock,
    columns_of,
    csv_bytes,
    mtime_of,
    newest,
    newest_first,
    oldest_first,
    plural,
    select_list,
    stamp,
    text_of,
    unix_time,
)

DATABASES = ((VOICE_MEMOS_SHARED, "Recordings/CloudRecordings.db"), (MEDIA, "Media/Recordings/CloudRecordings.db"),
             (MEDIA, "Media/Recordings/Recordings.db"))
LIST_NAME = "Voice Memos.csv"
HEADER = ("Date", "Title", "Duration", "File")


@dataclass(frozen=True)
class Recording:
    """One recording of the database, and where the backup holds its audio."""

    pk: int
    unix: float | None
    title: str
    duration: object
    audio: tuple[str, str] | None  # (domain, relativePath), None when the backup lacks it


def _candidates(path: str) -> list[tuple[str, str]]:
    """Where the audio of a ZPATH may be: its own place for a device path, then by name in either store."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    home = _home_relative(path)
    found = [(MEDIA, home)] if home else []
    return found + [(VOICE_MEMOS_SHARED, f"Recordings/{name}"), (MEDIA, f"Media/Recordings/{name}")]


def _audio(backup: Backup, path: str) -> tuple[str, str] | None:
    if not path.strip("/"):
        return None
    return next((place for place in _candidates(path) if backup.has(*place)), None)


def _rows(conn: sqlite3.Connection) -> list[tuple]:
    """(Z_PK, title, label, date, duration, path) of every recording, whichever generation the database is."""
    table = next((name for name in ("ZCLOUDRECORDING", "ZRECORDING") if columns_of(conn, name)), None)
    if table is None:
        raise ValueError("the Voice Memos database has neither ZCLOUDRECORDING nor ZRECORDING")
    columns = columns_of(conn, table)
    if "ZPATH" not in columns:
        raise ValueError(f"the Voice Memos table {table} has no ZPATH column")
    select = select_list(columns, ("ZENCRYPTEDTITLE", "ZCUSTOMLABEL", "ZDATE", "ZDURATION"))
    return conn.execute(f"SELECT Z_PK, {select}, ZPATH FROM {table}").fetchall()


def read_recordings(backup: Backup) -> list[Recording] | None:
    """Every recording, newest first (undated ones last); None when the backup holds no Voice Memos database."""
    opened = next((conn for conn in (backup.database(*place) for place in DATABASES) if conn is not None), None)
    if opened is None:
        return None
    with closing(opened):
        rows = _rows(opened)
    recordings = []
    for pk, title, label, date, duration, path in rows:
        unix = unix_time(date, APPLE_EPOCH)
        name = text_of(title).strip() or text_of(label).strip() or stamp(unix, "%H.%M.%S")
        recordings.append(Recording(pk, unix, name, duration, _audio(backup, text_of(path))))
    return sorted(recordings, key=lambda recording: (newest_first(recording.unix), recording.pk))


def _file_names(recordings: list[Recording]) -> dict[int, str]:
    """Each present recording's name in the folder, by Z_PK: "2023-11-14 Kitchen ideas.m4a"; the older of
    two of one name keeps the plain name."""
    present = sorted(((recording, audio) for recording in recordings if (audio := recording.audio) is not None),
                     key=lambda pair: (oldest_first(pair[0].unix), pair[0].pk))
    leaves = [_leaf(recording, relative) for recording, (_, relative) in present]
    return {recording.pk: path for (recording, _), path in zip(present, unique_paths([LIST_NAME, *leaves])[1:])}


def _leaf(recording: Recording, relative: str) -> str:
    """The file name of one recording: its day and title, and the extension of its audio."""
    stem, dot, extension = relative.rpartition("/")[2].rpartition(".")
    label = " ".join(part for part in (stamp(recording.unix, "%Y-%m-%d"), recording.title) if part)
    return f"{safe_name(label, f'Recording {recording.pk}')}.{extension.lower() if dot and stem else 'm4a'}"


class VoiceMemosRenderer:
    """Voice memos: each recording under a human name, and ``Voice Memos.csv``."""

    folder = "Voice Memos"

    def plan(self, backup: Backup) -> Plan | None:
        recordings = read_recordings(backup)
        if not recordings:
            return None
        names = _file_names(recordings)
        files = [Planned(LIST_NAME, key="recordings:csv", mtime=newest(r.unix for r in recordings))]
        files += [Planned(names[r.pk], same_as=r.audio, mtime=mtime_of(r.unix))
                  for r in recordings if r.audio is not None]
        return Plan(files, plural(len(recordings), "recording"))

    def render(self, backup: Backup, key: str) -> bytes:
        if key != "recordings:csv":
            raise KeyError(key)
        recordings = read_recordings(backup)
        if recordings is None:
            raise KeyError("the backup no longer holds a Voice Memos database")
        names = _file_names(recordings)
        return csv_bytes(HEADER, [(stamp(r.unix), r.title, clock(r.duration), names.get(r.pk, "not in the backup"))
                                  for r in recordings])


VOICE_MEMOS = VoiceMemosRenderer()

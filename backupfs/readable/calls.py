"""Calls and voicemail: the phone's call log as a spreadsheet and a page, each voicemail as its audio.

**Calls.** Two databases, told apart by the tables they hold:

* iOS 8 and later: HomeDomain ``Library/CallHistoryDB/CallHistory.storedata``, a Core Data
  store whose ``ZCALLRECORD`` has one row per call: ``ZADDRESS`` (the number or FaceTime
  address, text or a UTF-8 BLOB), ``ZNAME``, ``ZDATE`` (seconds since 2001-01-01),
  ``ZDURATION`` (seconds), ``ZORIGINATED`` (1 outgoing), ``ZANSWERED``, ``ZCALLTYPE`` (1 phone,
  8 FaceTime video, 16 FaceTime audio). iOS 8-9 have no ``ZSERVICE_PROVIDER``; from iOS 10
  it names the app that placed the call (``com.apple.Telephony``, ``com.apple.FaceTime``, or
  a CallKit app such as ``net.whatsapp.WhatsApp``, whose calls the phone logs there too).
* iOS 7 and earlier: ``Library/CallHistory/call_history.db`` (in WirelessDomain; some
  tools place it in HomeDomain, both are tried), table ``call``: ``ROWID``, ``address``,
  ``date`` (Unix seconds), ``duration``, ``flags`` (bit 0 set: outgoing; bit 4 set: FaceTime).

When both exist (a phone upgraded from iOS 7 migrates its calls), the newer one is read.
Produced: ``Calls/Calls.csv`` (date, direction, name, number, duration, type) and
``Calls/Calls.html`` (the same as a table), newest first. A call neither placed nor
answered is "missed"; names come from the address book, else from the call log itself.

**Voicemail.** HomeDomain ``Library/Voicemail/voicemail.db``, table ``voicemail``, stable
since iOS 3: ``ROWID``, ``remote_uid``, ``date`` (Unix seconds), ``sender``,
``callback_num``, ``duration``, ``expiration``, ``flags``, and from iOS 4 ``trashed_date``
(seconds since 2001-01-01, 0 when not deleted). The audio of row N is
``Library/Voicemail/N.amr``. Produced: ``Voicemail/Voicemail.csv`` listing every voicemail,
and each audio the backup holds shown as it is, named ``<YYYY-MM-DD HH.MM> <caller>.amr``.

Times are shown in the computer's local time zone, as the phone's owner most likely lived them.
Lists are newest first; of two audio files of the same name, the older keeps the plain name.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass

from backupfs.readable.addressbook import Directory
from backupfs.readable.base import Backup, Plan, Planned, safe_name, unique_paths
from backupfs.readable.html import escape, page
from backupfs.readable.values import (
    APPLE_EPOCH,
    clock,
    columns_of,
    csv_bytes,
    mtime_of,
    newest,
    newest_first,
    number_of,
    oldest_first,
    plural,
    select_list,
    stamp,
    text_of,
    unix_time,
)

HOME = "HomeDomain"
WIRELESS = "WirelessDomain"
CALL_HISTORY = "Library/CallHistoryDB/CallHistory.storedata"
LEGACY_CALL_HISTORY = "Library/CallHistory/call_history.db"
LEGACY_DOMAINS = (WIRELESS, HOME)  # where call_history.db has been found, most likely first
VOICEMAIL_DB = "Library/Voicemail/voicemail.db"
_FACETIME_VIDEO, _FACETIME_AUDIO = 8, 16
_LEGACY_OUTGOING, _LEGACY_FACETIME = 0x1, 0x10
# CallKit apps seen in call logs, by the bundle id iOS records as ZSERVICE_PROVIDER.
_PROVIDERS = {"com.apple.Telephony": "Phone", "com.apple.FaceTime": "FaceTime", "net.whatsapp.WhatsApp": "WhatsApp",
              "ph.telegra.Telegraph": "Telegram", "org.whispersystems.signal": "Signal", "com.skype.skype": "Skype",
              "com.viber": "Viber", "com.facebook.Messenger": "Messenger"}
CALL_HEADER = ("Date", "Direction", "Name", "Number", "Duration", "Type")
VOICEMAIL_HEADER = ("Date", "Name", "Number", "Duration", "Deleted on", "Audio file")


# --- calls -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """One call of the log, as shown."""

    unix: float | None
    direction: str  # "incoming", "outgoing" or "missed"
    number: str
    logged_name: str  # the name the call log itself kept, when any
    duration: object
    kind: str  # "Phone", "FaceTime Video", "WhatsApp"...


def _direction(outgoing: bool, answered: object, duration: object) -> str:
    if outgoing:
        return "outgoing"
    flag = number_of(answered)
    if flag is None:  # older rows without the column: a call that lasted was answered
        flag = number_of(duration) or 0
    return "incoming" if flag else "missed"


def _kind(call_type: object, provider: str) -> str:
    kind = number_of(call_type)
    if kind == _FACETIME_VIDEO:
        return "FaceTime Video"
    if kind == _FACETIME_AUDIO:
        return "FaceTime Audio"
    return _PROVIDERS.get(provider, provider or "Phone")


def _core_data_calls(conn: sqlite3.Connection) -> list[Call]:
    """iOS 8 and later: ZCALLRECORD; ZSERVICE_PROVIDER from iOS 10."""
    columns = columns_of(conn, "ZCALLRECORD")
    if "ZDATE" not in columns:
        raise ValueError("CallHistory.storedata has no ZCALLRECORD table with a ZDATE column")
    wanted = ("ZADDRESS", "ZNAME", "ZDURATION", "ZORIGINATED", "ZANSWERED", "ZCALLTYPE", "ZSERVICE_PROVIDER")
    select = select_list(columns, wanted)
    calls = []
    for date, address, name, duration, originated, answered, call_type, provider in conn.execute(
            f"SELECT ZDATE, {select} FROM ZCALLRECORD"):
        calls.append(Call(unix_time(date, APPLE_EPOCH), _direction(bool(number_of(originated)), answered, duration),
                          text_of(address), text_of(name), duration, _kind(call_type, text_of(provider))))
    return calls


def _legacy_calls(conn: sqlite3.Connection) -> list[Call]:
    """iOS 7 and earlier: table ``call``, flags bit 0 for outgoing, bit 4 for FaceTime."""
    columns = columns_of(conn, "call")
    if "DATE" not in columns:
        raise ValueError("call_history.db has no call table with a date column")
    select = select_list(columns, ("address", "duration", "flags", "name"))
    calls = []
    for date, address, duration, flags, name in conn.execute(f"SELECT date, {select} FROM call"):
        bits = int(number_of(flags) or 0)
        kind = "FaceTime" if bits & _LEGACY_FACETIME else "Phone"
        calls.append(Call(unix_time(date), _direction(bool(bits & _LEGACY_OUTGOING), None, duration),
                          text_of(address), text_of(name), duration, kind))
    return calls


def _open_calls(backup: Backup) -> tuple[sqlite3.Connection, bool] | None:
    """The call log database and whether it is the iOS 8+ one; None when the backup holds neither."""
    conn = backup.database(HOME, CALL_HISTORY)
    if conn is not None:
        return conn, True
    for domain in LEGACY_DOMAINS:
        conn = backup.database(domain, LEGACY_CALL_HISTORY)
        if conn is not None:
            return conn, False
    return None


def read_calls(backup: Backup) -> list[Call] | None:
    """Every call, newest first (undated ones last); None when the backup has no call log."""
    opened = _open_calls(backup)
    if opened is None:
        return None
    conn, current = opened
    with closing(conn):
        calls = _core_data_calls(conn) if current else _legacy_calls(conn)
    return sorted(calls, key=lambda call: newest_first(call.unix))


def _call_rows(calls: list[Call], directory: Directory) -> list[tuple[str, ...]]:
    return [(stamp(call.unix), call.direction, directory.name_for(call.number) or call.logged_name, call.number,
             clock(call.duration), call.kind) for call in calls]


def _table(header: Sequence[str], rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "\n".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


class CallsRenderer:
    """The call log, as ``Calls.csv`` and ``Calls.html``."""

    folder = "Calls"

    def plan(self, backup: Backup) -> Plan | None:
        calls = read_calls(backup)
        if not calls:
            return None
        mtime = newest(call.unix for call in calls)
        return Plan([Planned("Calls.csv", key="calls:csv", mtime=mtime),
                     Planned("Calls.html", key="calls:html", mtime=mtime)], plural(len(calls), "call"))

    def render(self, backup: Backup, key: str) -> bytes:
        if key not in ("calls:csv", "calls:html"):
            raise KeyError(key)
        calls = read_calls(backup)
        if calls is None:
            raise KeyError("the backup no longer holds a call log")
        rows = _call_rows(calls, Directory.of(backup))
        if key == "calls:csv":
            return csv_bytes(CALL_HEADER, rows)
        return page("Calls", _table(CALL_HEADER, rows), f"{plural(len(rows), 'call')}, newest first")


# --- voicemail -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Voicemail:
    """One voicemail row, and the audio file the backup holds for it."""

    rowid: int
    unix: float | None
    number: str
    duration: object
    trashed: float | None
    audio: str | None  # relative path in HomeDomain, None when the backup lacks it


def read_voicemail(backup: Backup) -> list[Voicemail] | None:
    """Every voicemail, newest first; None when the backup has no voicemail database."""
    conn = backup.database(HOME, VOICEMAIL_DB)
    if conn is None:
        return None
    with closing(conn):
        columns = columns_of(conn, "voicemail")
        if "DATE" not in columns:
            raise ValueError("voicemail.db has no voicemail table with a date column")
        select = select_list(columns, ("sender", "callback_num", "duration", "trashed_date"))
        rows = conn.execute(f"SELECT ROWID, date, {select} FROM voicemail").fetchall()
    found = []
    for rowid, date, sender, callback, duration, trashed in rows:
        audio = f"Library/Voicemail/{rowid}.amr"
        found.append(Voicemail(rowid, unix_time(date), text_of(sender) or text_of(callback), duration,
                               unix_time(trashed, APPLE_EPOCH), audio if backup.has(HOME, audio) else None))
    return sorted(found, key=lambda voicemail: (newest_first(voicemail.unix), voicemail.rowid))


def _audio_names(voicemails: list[Voicemail], directory: Directory) -> dict[int, str]:
    """Each present audio's file name in the folder, by ROWID: date, time and caller; the older of two
    of one name keeps the plain name."""
    present = sorted((v for v in voicemails if v.audio is not None), key=lambda v: (oldest_first(v.unix), v.rowid))
    leaves = [safe_name(f"{stamp(v.unix, '%Y-%m-%d %H.%M', 'Undated')} {_caller(v, directory)}", "Voicemail")
              + ".amr" for v in present]
    paths = unique_paths(["Voicemail.csv", *leaves])[1:]
    return {v.rowid: path for v, path in zip(present, paths)}


def _caller(voicemail: Voicemail, directory: Directory) -> str:
    return directory.name_for(voicemail.number) or voicemail.number or "Unknown caller"


class VoicemailRenderer:
    """Voicemails: ``Voicemail.csv`` and each audio under a name that says when and who."""

    folder = "Voicemail"

    def plan(self, backup: Backup) -> Plan | None:
        voicemails = read_voicemail(backup)
        if not voicemails:
            return None
        names = _audio_names(voicemails, Directory.of(backup))
        files = [Planned("Voicemail.csv", key="voicemail:csv", mtime=newest(v.unix for v in voicemails))]
        files += [Planned(names[v.rowid], same_as=(HOME, v.audio), mtime=mtime_of(v.unix))
                  for v in voicemails if v.audio is not None]
        return Plan(files, plural(len(voicemails), "voicemail"))

    def render(self, backup: Backup, key: str) -> bytes:
        if key != "voicemail:csv":
            raise KeyError(key)
        voicemails = read_voicemail(backup)
        if voicemails is None:
            raise KeyError("the backup no longer holds voicemail.db")
        directory = Directory.of(backup)
        names = _audio_names(voicemails, directory)
        return csv_bytes(VOICEMAIL_HEADER, [
            (stamp(v.unix), directory.name_for(v.number) or "", v.number, clock(v.duration), stamp(v.trashed),
             names.get(v.rowid, "not in the backup")) for v in voicemails])


CALLS = CallsRenderer()
VOICEMAIL = VoicemailRenderer()

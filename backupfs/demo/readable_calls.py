"""Sample call logs, voicemail and voice memos for the readable folder, with their audio.

Each database follows the real layout of its generation (table and column names, Core
Data bookkeeping tables, date encodings):

* calls: :func:`call_history` builds ``CallHistory.storedata`` (``ZCALLRECORD``, dates in
  seconds since 2001-01-01; iOS 10-17 with ``ZSERVICE_PROVIDER``, or iOS 8-9 without it),
  :func:`legacy_call_history` the iOS <= 7 ``call_history.db`` (table ``call``, Unix dates,
  ``flags`` bit 0 outgoing and bit 4 FaceTime);
* voicemail: :func:`voicemail` builds ``voicemail.db`` (Unix dates; ``trashed_date``, counted
  from 2001, from iOS 4 on, or the iOS 3 table without it) and the ``<ROWID>.amr`` files;
* voice memos: :func:`legacy_recordings` builds the iOS <= 11 ``Recordings.db``
  (``ZRECORDING``, absolute ``ZPATH``), :func:`cloud_recordings` the iOS 15+
  ``CloudRecordings.db`` (``ZCLOUDRECORDING`` with ``ZENCRYPTEDTITLE``, relative ``ZPATH``).

Contents are deterministic and varied: people of the demo address book
(:func:`backupfs.demo.samples.address_book`) and strangers, unicode and emoji, FaceTime and
app calls, missed calls, an address kept as a BLOB, NULLs, deleted voicemails, audio missing
from the backup, titles no file name may hold. Each builder returns the SQL, the files, and
the records a reader must show, with the names it must show them under.
"""

from __future__ import annotations

from dataclasses import dataclass

from backupfs.demo import samples
from backupfs.demo.sqlbuild import database_bytes, insert
from backupfs.demo.writer import PayloadSpec

HOME, WIRELESS, MEDIA = "HomeDomain", "WirelessDomain", "MediaDomain"
VOICE_MEMOS_SHARED = "AppDomainGroup-group.com.apple.VoiceMemos.shared"
CALL_HISTORY = "Library/CallHistoryDB/CallHistory.storedata"
LEGACY_CALL_HISTORY = "Library/CallHistory/call_history.db"
VOICEMAIL_DB = "Library/Voicemail/voicemail.db"
RECORDINGS_DB = "Media/Recordings/Recordings.db"
CLOUD_RECORDINGS_DB = "Recordings/CloudRecordings.db"
APPLE_EPOCH = samples.APPLE_EPOCH


@dataclass(frozen=True)
class SampleCall:
    """A call a reader must list."""

    unix: float | None
    direction: str  # "incoming", "outgoing" or "missed"
    name: str  # the name to show ("" when nobody knows it)
    number: str
    duration: str  # as H:MM:SS, "" when unknown
    kind: str


@dataclass(frozen=True)
class SampleVoicemail:
    """A voicemail a reader must list, and show as audio when ``audio`` is held."""

    unix: float
    caller: str  # the name, else the number, else "Unknown caller"
    number: str
    duration: str
    deleted: float | None  # Unix time it was deleted
    audio: str | None  # relative path in HomeDomain of the audio the backup holds


@dataclass(frozen=True)
class SampleRecording:
    """A voice memo a reader must list, and show as audio when ``audio`` is held."""

    unix: float
    title: str  # "" when the recording has none (the reader names it by its time)
    duration: str
    audio: tuple[str, str] | None  # (domain, relativePath) the backup holds


@dataclass(frozen=True)
class DatabaseSample:
    """A database as SQL, the files it names that the backup holds, and what must be shown."""

    domain: str
    path: str
    sql: str
    files: dict[tuple[str, str], bytes]
    records: tuple[SampleCall, ...] | tuple[SampleVoicemail, ...] | tuple[SampleRecording, ...]

    def payloads(self) -> list[PayloadSpec]:
        """The database and its files, ready for a sample backup."""
        return [PayloadSpec(self.domain, self.path, database_bytes(self.sql)),
                *(PayloadSpec(domain, path, data) for (domain, path), data in self.files.items())]


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


_CORE_DATA = """
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
CREATE TABLE Z_MODELCACHE (Z_CONTENT BLOB);
"""


# --- calls -----------------------------------------------------------------------------------

_CALL_RECORD = """
CREATE TABLE ZCALLRECORD ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZANSWERED INTEGER,
    ZCALL_CATEGORY INTEGER, ZCALLTYPE INTEGER, ZDISCONNECTED_CAUSE INTEGER, ZFACE_TIME_DATA BLOB,
    ZHANDLE_TYPE INTEGER, ZNUMBER_AVAILABILITY INTEGER, ZORIGINATED INTEGER, ZREAD INTEGER, ZDATE TIMESTAMP,
    ZDURATION FLOAT, ZADDRESS VARCHAR, ZISO_COUNTRY_CODE VARCHAR, ZLOCATION VARCHAR, ZNAME VARCHAR,
    {provider}ZUNIQUE_ID VARCHAR );
CREATE INDEX ZCALLRECORD_ZDATE_INDEX ON ZCALLRECORD (ZDATE);
"""
_PHONE, _FACETIME_VIDEO, _FACETIME_AUDIO = 1, 8, 16
_TELEPHONY, _FACETIME, _WHATSAPP = "com.apple.Telephony", "com.apple.FaceTime", "net.whatsapp.WhatsApp"
# (address, ZNAME, minutes after the first call, duration, originated, answered, ZCALLTYPE, provider, name shown, type)
_CALLS: tuple[tuple[object, str | None, int | None, float | None, int, int, int, str, str, str], ...] = (
    ("+15550100123", None, 0, 312.0, 1, 1, _PHONE, _TELEPHONY, "Emma Laurent", "Phone"),
    ("+15550100456", None, 95, 47.5, 0, 1, _PHONE, _TELEPHONY, "Alex Martin", "Phone"),
    ("+15550100999", None, 240, 0.0, 0, 0, _PHONE, _TELEPHONY, "Dr. Priya Shah", "Phone"),
    ("+15550100123", None, 1_500, 1_204.0, 1, 1, _FACETIME_VIDEO, _FACETIME, "Emma Laurent", "FaceTime Video"),
    ("emma.laurent@example.com", None, 1_720, 95.0, 0, 1, _FACETIME_AUDIO, _FACETIME, "Emma Laurent",
     "FaceTime Audio"),
    (b"+33612345678", "Boulangerie Paul – Bastille", 2_890, 33.0, 1, 1, _PHONE, _TELEPHONY,
     "Boulangerie Paul – Bastille", "Phone"),
    (None, None, 3_010, None, 0, 0, _PHONE, _TELEPHONY, "", "Phone"),
    ("+447700900123", "Anna Müller 🌻", 4_410, 61.0, 0, 1, _PHONE, _WHATSAPP, "Anna Müller 🌻", "WhatsApp"),
    ("+15550100789", "Sam (old number)", 5_800, 0.0, 1, 0, _PHONE, _TELEPHONY, "Sam Okafor", "Phone"),
    ("+15550100456", None, 7_230, 3_725.0, 0, 1, _PHONE, _TELEPHONY, "Alex Martin", "Phone"),
    ("+15550100999", None, None, 18.0, 1, 1, _PHONE, _TELEPHONY, "Dr. Priya Shah", "Phone"),
    ("+15550100999", None, 8_650, 18.0, 1, 1, _PHONE, _TELEPHONY, "Dr. Priya Shah", "Phone"),
)


def call_history(service_provider: bool = True) -> DatabaseSample:
    """``CallHistory.storedata``: iOS 10-17 with ZSERVICE_PROVIDER, iOS 8-9 (``service_provider=False``) without.

    Without the column, an app's call reads as a phone call.
    """
    base = 721_641_600.0  # 2023-11-14 08:00 UTC
    statements = [insert("Z_PRIMARYKEY", Z_ENT=2, Z_NAME="CallRecord", Z_SUPER=0, Z_MAX=len(_CALLS)),
                  insert("Z_METADATA", Z_VERSION=1, Z_UUID="7E1C4B2A-3D5F-4A6B-8C9D-0E1F2A3B4C5D", Z_PLIST=None)]
    records = []
    for pk, (address, name, minutes, duration, originated, answered, call_type, provider, shown, kind) in enumerate(
            _CALLS, 1):
        date = None if minutes is None else base + 60 * minutes
        row: dict[str, object] = {
            "Z_PK": pk, "Z_ENT": 2, "Z_OPT": 1, "ZANSWERED": answered, "ZCALL_CATEGORY": 1 + (call_type == 8),
            "ZCALLTYPE": call_type, "ZHANDLE_TYPE": 3 if isinstance(address, str) and "@" in address else 2,
            "ZORIGINATED": originated, "ZREAD": 1, "ZDATE": date, "ZDURATION": duration, "ZADDRESS": address,
            "ZISO_COUNTRY_CODE": "us", "ZNAME": name, "ZUNIQUE_ID": f"5A0C{pk:04d}-1B2C-4D3E-8F40-A1B2C3D4E5F6"}
        if service_provider:
            row["ZSERVICE_PROVIDER"] = provider
        statements.append(insert("ZCALLRECORD", **row))
        number = address.decode() if isinstance(address, bytes) else address or ""
        direction = "outgoing" if originated else "incoming" if answered else "missed"
        records.append(SampleCall(None if date is None else date + APPLE_EPOCH, direction, shown, number,
                                  _clock(duration), kind if service_provider or kind != "WhatsApp" else "Phone"))
    schema = _CORE_DATA + _CALL_RECORD.format(provider="ZSERVICE_PROVIDER VARCHAR, " if service_provider else "")
    return DatabaseSample(HOME, CALL_HISTORY, "\n".join([schema.strip(), *statements]) + "\n", {}, tuple(records))


_LEGACY_CALL = """
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE call (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, address TEXT, date INTEGER, duration INTEGER,
    flags INTEGER, id INTEGER, name TEXT, country_code TEXT, network_code TEXT, read INTEGER, assisted INTEGER,
    face_time_data BLOB, originalAddress TEXT);
CREATE INDEX date_index on call(date);
"""
# (address, Unix date, duration, flags, address-book id or -1, name shown, direction, type)
_LEGACY_CALLS = (
    ("+15550100123", 1_370_000_000, 125, 5, 1, "Emma Laurent", "outgoing", "Phone"),
    ("+15550100456", 1_370_003_600, 60, 4, 2, "Alex Martin", "incoming", "Phone"),
    ("+15550100789", 1_370_090_000, 0, 4, 3, "Sam Okafor", "missed", "Phone"),
    ("emma.laurent@example.com", 1_370_180_000, 300, 21, 1, "Emma Laurent", "outgoing", "FaceTime"),
    ("0612345678", 1_370_270_000, 33, 4, -1, "", "incoming", "Phone"),
    ("+15550100999", 1_370_360_000, 0, 20, 4, "Dr. Priya Shah", "missed", "FaceTime"),
)


def legacy_call_history() -> DatabaseSample:
    """``call_history.db`` of iOS 7 and earlier, in WirelessDomain."""
    statements = [insert("_SqliteDatabaseProperties", key="_ClientVersion", value="2")]
    records = []
    for address, date, duration, flags, person, shown, direction, kind in _LEGACY_CALLS:
        statements.append(insert("call", address=address, date=date, duration=duration, flags=flags, id=person,
                                 name=None, country_code="310", network_code="410", read=1, assisted=0,
                                 originalAddress=address))
        records.append(SampleCall(float(date), direction, shown, address, _clock(duration), kind))
    return DatabaseSample(WIRELESS, LEGACY_CALL_HISTORY, "\n".join([_LEGACY_CALL.strip(), *statements]) + "\n", {},
                          tuple(records))


# --- voicemail ---------------------------------------------------------------------------------

_VOICEMAIL = """
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE voicemail (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, remote_uid INTEGER, date INTEGER, token TEXT,
    sender TEXT, callback_num TEXT, duration INTEGER, expiration INTEGER, {trashed}flags INTEGER);
CREATE INDEX date_index on voicemail(date);
CREATE INDEX remote_uid_index on voicemail(remote_uid);
"""
# (Unix date, sender, callback_num, duration, trashed: seconds since 2001 or 0, audio held, caller shown)
_VOICEMAILS = (
    (1_699_800_000, "+15550100456", "+15550100456", 14, 0, True, "Alex Martin"),
    (1_699_900_000, "+15550100999", "+15550100999", 31, 0, True, "Dr. Priya Shah"),
    (1_700_000_000, "+447700900123", "+447700900123", 52, 721_700_000, True, "+447700900123"),
    (1_700_100_000, None, "+33612345678", 8, 0, False, "+33612345678"),
    (1_700_200_000, None, None, 20, 0, True, "Unknown caller"),
    (1_699_800_030, "+15550100456", "+15550100456", 5, 0, True, "Alex Martin"),
)


def voicemail(trashed_date: bool = True) -> DatabaseSample:
    """``voicemail.db`` and its audio; ``trashed_date=False`` gives the iOS 3 table, without deletions."""
    statements = [insert("_SqliteDatabaseProperties", key="_ClientVersion", value="11")]
    records, files = [], {}
    for rowid, (date, sender, callback, duration, trashed, held, caller) in enumerate(_VOICEMAILS, 1):
        row: dict[str, object] = {"ROWID": rowid, "remote_uid": 100 + rowid, "date": date, "token": "Complete",
                                  "sender": sender, "callback_num": callback, "duration": duration,
                                  "expiration": date + 30 * 86_400, "flags": 11 if trashed else 3}
        if trashed_date:
            row["trashed_date"] = trashed
        statements.append(insert("voicemail", **row))
        audio = f"Library/Voicemail/{rowid}.amr"
        if held:
            files[HOME, audio] = samples.amr(10 * duration)
        records.append(SampleVoicemail(float(date), caller, sender or callback or "", _clock(duration),
                                       float(trashed + APPLE_EPOCH) if trashed and trashed_date else None,
                                       audio if held else None))
    schema = _VOICEMAIL.format(trashed="trashed_date INTEGER, " if trashed_date else "")
    return DatabaseSample(HOME, VOICEMAIL_DB, "\n".join([schema.strip(), *statements]) + "\n", files, tuple(records))


# --- voice memos -------------------------------------------------------------------------------

_RECORDING = _CORE_DATA + """
CREATE TABLE ZRECORDING ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZDATE TIMESTAMP,
    ZDURATION FLOAT, ZCUSTOMLABEL VARCHAR, ZPATH VARCHAR, ZUNIQUEID VARCHAR );
"""
_CLOUD_RECORDING = _CORE_DATA + """
CREATE TABLE ZFOLDER ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCOUNTOFRECORDINGS INTEGER,
    ZRANK INTEGER, ZENCRYPTEDNAME VARCHAR, ZUUID VARCHAR );
CREATE TABLE ZCLOUDRECORDING ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZFLAGS INTEGER,
    ZSHAREDFLAGS INTEGER, ZFOLDER INTEGER, ZDATE TIMESTAMP, ZDURATION FLOAT, ZEVICTIONDATE TIMESTAMP,
    ZLOCALDURATION FLOAT, ZAUDIODIGEST BLOB, ZAUDIOFUTURE BLOB, ZAUDIOFUTUREUUID VARCHAR, ZCUSTOMLABEL VARCHAR,
    ZCUSTOMLABELFORSORTING BLOB, ZENCRYPTEDTITLE VARCHAR, ZPATH VARCHAR, ZUNIQUEID VARCHAR );
CREATE INDEX ZCLOUDRECORDING_ZFOLDER_INDEX ON ZCLOUDRECORDING (ZFOLDER);
"""
# (seconds since 2001, ZCUSTOMLABEL, ZPATH's file name or None, duration, audio held)
_LEGACY_MEMOS = (
    (532_347_323.0, "Kitchen renovation ideas 🛠", "20171114 101523.m4a", 94.2, True),
    (532_895_402.0, None, "20171120 183002.m4a", 12.0, True),
    (533_124_000.0, "Lecture: Thermodynamics 3/12", "20171123 100000.m4a", 3_012.5, True),
    (533_300_000.0, "Song idea", "20171125 105320.m4a", 40.0, False),
)
# (seconds since 2001, ZENCRYPTEDTITLE, ZCUSTOMLABEL, ZPATH or None, duration, audio held); like the app,
# files are named by their recording time (UTC here, the device's clock on a phone)
_CLOUD_MEMOS = (
    (721_736_123.0, "Chanson pour Léa 🎸", "Rue de Rivoli 12", "20231115 101523.m4a", 187.3, True),
    (721_822_000.0, None, "Rue Oberkampf", "20231116 100640.m4a", 63.0, True),
    (721_908_000.0, "Interview — Mme Dubois", "New Recording 3", "20231117 100000.m4a", 1_820.0, True),
    (721_909_000.0, None, None, "20231117 101640.m4a", 9.5, True),
    (721_910_000.0, "Idea", "New Recording 5", "20231117 103320.m4a", 21.0, True),
    (721_911_000.0, "Idea", "New Recording 6", "20231117 105000.m4a", 17.0, True),
    (721_995_000.0, "Meeting notes", "New Recording 7", "20231118 101000.m4a", 900.0, False),
    (722_000_000.0, "Broken", "New Recording 8", None, 5.0, False),
    (722_005_000.0, 'Q&A: "why?" / <draft> *final*', "New Recording 9", "20231118 125640.m4a", 33.0, True),
)


def legacy_recordings() -> DatabaseSample:
    """``Recordings.db`` of iOS 11 and earlier (MediaDomain), ``ZPATH`` a device path."""
    statements = [insert("Z_PRIMARYKEY", Z_ENT=1, Z_NAME="Recording", Z_SUPER=0, Z_MAX=len(_LEGACY_MEMOS))]
    records, files = [], {}
    for pk, (date, label, name, duration, held) in enumerate(_LEGACY_MEMOS, 1):
        statements.append(insert("ZRECORDING", Z_PK=pk, Z_ENT=1, Z_OPT=2, ZDATE=date, ZDURATION=duration,
                                 ZCUSTOMLABEL=label, ZPATH=f"/var/mobile/Media/Recordings/{name}",
                                 ZUNIQUEID=f"{name[:8]}-{pk:04d}"))
        audio = (MEDIA, f"Media/Recordings/{name}")
        if held:
            files[audio] = samples.m4a(seed=pk)
        records.append(SampleRecording(date + APPLE_EPOCH, label or "", _clock(duration), audio if held else None))
    return DatabaseSample(MEDIA, RECORDINGS_DB, "\n".join([_RECORDING.strip(), *statements]) + "\n", files,
                          tuple(records))


def cloud_recordings() -> DatabaseSample:
    """``CloudRecordings.db`` of iOS 15 and later, in the Voice Memos app group; ``ZPATH`` a bare file name."""
    statements = [insert("Z_PRIMARYKEY", Z_ENT=1, Z_NAME="CloudRecording", Z_SUPER=0, Z_MAX=len(_CLOUD_MEMOS)),
                  insert("Z_PRIMARYKEY", Z_ENT=2, Z_NAME="Folder", Z_SUPER=0, Z_MAX=0)]
    records, files = [], {}
    for pk, (date, title, label, name, duration, held) in enumerate(_CLOUD_MEMOS, 1):
        statements.append(insert("ZCLOUDRECORDING", Z_PK=pk, Z_ENT=1, Z_OPT=3, ZFLAGS=0, ZSHAREDFLAGS=0, ZDATE=date,
                                 ZDURATION=duration, ZLOCALDURATION=duration, ZCUSTOMLABEL=label,
                                 ZENCRYPTEDTITLE=title, ZPATH=name,
                                 ZUNIQUEID=f"8B7A{pk:04d}-C6D5-4E4F-9A0B-1C2D3E4F5A6B"))
        audio = (VOICE_MEMOS_SHARED, f"Recordings/{name}")
        if held:
            files[audio] = samples.m4a(seed=10 + pk)
        records.append(SampleRecording(date + APPLE_EPOCH, title or label or "", _clock(duration),
                                       audio if held else None))
    return DatabaseSample(VOICE_MEMOS_SHARED, CLOUD_RECORDINGS_DB,
                          "\n".join([_CLOUD_RECORDING.strip(), *statements]) + "\n", files, tuple(records))

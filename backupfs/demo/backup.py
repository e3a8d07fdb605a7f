"""The sample broken backup behind ``backupfs demo``.

A newcomer has no damaged iPhone backup at hand, yet the point of backupfs only shows on
one: so this builds a small iOS 17 backup whose Manifest.db is gone, shaped like the real
thing. Its files cover every way a name comes back: well-known paths (sms.db, the address
book), names found inside other files (SMS attachments named by sms.db, photos named by
Photos.sqlite, WhatsApp media named by ChatStorage.sqlite, voicemail by voicemail.db), app
containers found through the bundle ids of Info.plist, camera-roll names found by trying
DCIM numbers, and app-private files no source can name, which land in ``other-data``.
sms.db is in WAL mode with its newest messages only in ``sms.db-wal``, as on a phone.
"""

from __future__ import annotations

import logging
import random
import uuid
from pathlib import Path

from backupfs.demo import samples
from backupfs.demo.writer import PayloadSpec, default_plists, write_backup

log = logging.getLogger(__name__)

DEVICE_NAME = "Demo iPhone"
DEMO_UDID = "00008110-001E4D2C3A5B6F70"
BUNDLE_IDS = ("net.whatsapp.WhatsApp", "com.burbn.instagram", "com.spotify.client", "com.toyopagroup.picaboo")
_SEED = 20231114
_FIRST_MTIME = 1_699_000_000

HOME = "HomeDomain"
CAMERA = "CameraRollDomain"
MEDIA = "MediaDomain"
NOTES = "AppDomainGroup-group.com.apple.notes"
WHATSAPP = "AppDomain-net.whatsapp.WhatsApp"
WHATSAPP_SHARED = "AppDomainGroup-group.net.whatsapp.WhatsApp.shared"
INSTAGRAM = "AppDomain-com.burbn.instagram"
SPOTIFY = "AppDomain-com.spotify.client"
SNAPCHAT = "AppDomain-com.toyopagroup.picaboo"


def build_demo_backup(root: Path) -> Path:
    """Write the demo backup into ``root`` (hashed layout, plists, no index) and return it."""
    info, manifest, status = default_plists(device_name=DEVICE_NAME, ios="17.1", udid=DEMO_UDID,
                                            bundle_ids=BUNDLE_IDS)
    specs = demo_specs()
    write_backup(root, specs, layout="hashed", index="none", info=info, manifest_plist=manifest, status=status)
    log.info("wrote the demo backup (%d files) to %s", len(specs), root)
    return root


def demo_specs() -> list[PayloadSpec]:
    """Every payload of the demo, in a fixed order with fixed content."""
    rng = random.Random(_SEED)
    specs = _system_files() + _camera_roll() + _messages() + _apps(rng) + _unnameable(rng)
    for number, spec in enumerate(specs):
        spec.mtime = _FIRST_MTIME + 3_607 * number
    return specs


def _system_files() -> list[PayloadSpec]:
    voicemail = samples.sqlite_db({"voicemail": [
        {"remote_uid": 101, "date": 1_699_800_000, "token": "Complete", "sender": "+15550100456",
         "callback_num": "+15550100456", "duration": 14, "expiration": 1_702_392_000, "trashed_date": 0, "flags": 3},
        {"remote_uid": 102, "date": 1_699_900_000, "token": "Complete", "sender": "+15550100999",
         "callback_num": "+15550100999", "duration": 31, "expiration": 1_702_492_000, "trashed_date": 0, "flags": 1},
    ]})
    bookmarks = samples.sqlite_db({"bookmarks": [
        {"id": 1, "parent": 0, "type": 1, "title": "Favorites", "url": None},
        {"id": 2, "parent": 1, "type": 0, "title": "Wikipedia", "url": "https://en.wikipedia.org/"},
        {"id": 3, "parent": 1, "type": 0, "title": "Weather", "url": "https://weather.example.com/paris"},
    ]})
    keychain = {
        "genp": [{"agrp": "apple", "svce": b"AirPort", "acct": b"Home-WiFi", "v_Data": bytes(range(48))}],
        "inet": [{"agrp": "com.apple.cfnetwork", "srvr": b"mail.example.com", "acct": b"emma", "v_Data": bytes(32)}],
        "cert": [], "keys": [],
    }
    return [
        PayloadSpec(HOME, "Library/AddressBook/AddressBook.sqlitedb", samples.address_book()),
        PayloadSpec(HOME, "Library/AddressBook/AddressBookImages.sqlitedb",
                    samples.sqlite_db({"ABThumbnailImage": [{"record_id": 1, "format": 0, "data": samples.jpeg(32, 32, 4)}]})),
        PayloadSpec(HOME, "Library/Calendar/Calendar.sqlitedb", samples.calendar_db()),
        PayloadSpec(HOME, "Library/CallHistoryDB/CallHistory.storedata", samples.call_history()),
        PayloadSpec(HOME, "Library/Safari/Bookmarks.db", bookmarks),
        PayloadSpec(HOME, "Library/Voicemail/voicemail.db", voicemail),
        PayloadSpec(HOME, "Library/Voicemail/1.amr", samples.amr(60)),
        PayloadSpec(HOME, "Library/Voicemail/2.amr", samples.amr(140)),
        PayloadSpec(HOME, "Library/Preferences/com.apple.springboard.plist",
                    samples.binary_plist({"SBHomeScreenIconColumns": 4, "SBShowBatteryPercentage": True,
                                          "SBSearchDisabledDomains": ["com.apple.Maps"]})),
        PayloadSpec(HOME, "Library/Preferences/com.apple.Preferences.plist",
                    samples.binary_plist({"kKeyboardClickSound": False, "UIDisableLegacyTextView": True})),
        PayloadSpec(HOME, "Library/Preferences/com.apple.MobileSMS.plist",
                    samples.xml_plist({"KeepMessageForDays": 0, "ReadReceiptsEnabled": True,
                                       "SMSRelayDevices": ["Emma's MacBook Air"]})),
        PayloadSpec(HOME, "Library/Preferences/com.apple.weather.plist",
                    samples.binary_plist({"Cities": ["Paris", "Lisbon"], "Celsius": True})),
        PayloadSpec(NOTES, "NoteStore.sqlite", samples.notes_store(_NOTES_MEDIA)),
        *[PayloadSpec(NOTES, samples.notes_media_path(media_id, name), samples.jpeg(96, 128, 6))
          for media_id, name in _NOTES_MEDIA],
        PayloadSpec("KeychainDomain", "keychain-backup.plist", samples.binary_plist(keychain)),
    ]


_NOTES_MEDIA = (("4B1F0A2E-8C3D-4E5F-9A6B-7C8D9E0F1A2B", "Scan 14 Nov 2023.jpeg"),)

# (file name, in Photos.sqlite?) for Media/DCIM/100APPLE: the last two are named only by
# trying DCIM numbers, since Photos.sqlite does not list them.
_DCIM = (("IMG_0001.HEIC", True), ("IMG_0002.HEIC", True), ("IMG_0003.JPG", True), ("IMG_0004.MOV", True),
         ("IMG_0005.HEIC", True), ("IMG_0006.PNG", True), ("IMG_0007.MOV", False), ("IMG_0008.HEIC", False))
_ICLOUD_PHOTO = ("PhotoData/CPLAssets/group159", "7A3E5F21-94C2-4B8D-A1E6-0F2C3D4B5A69.JPG")


def _camera_roll() -> list[PayloadSpec]:
    assets = [("DCIM/100APPLE", name) for name, listed in _DCIM if listed] + [_ICLOUD_PHOTO]
    specs = [PayloadSpec(CAMERA, "Media/PhotoData/Photos.sqlite", samples.photos_sqlite(assets))]
    for number, (name, _) in enumerate(_DCIM, 1):
        specs.append(PayloadSpec(CAMERA, f"Media/DCIM/100APPLE/{name}", _media_for(name, number)))
    specs += [
        PayloadSpec(CAMERA, f"Media/{_ICLOUD_PHOTO[0]}/{_ICLOUD_PHOTO[1]}", samples.jpeg(160, 120, 9)),
        PayloadSpec(CAMERA, "Media/PhotoData/Thumbnails/V2/DCIM/100APPLE/IMG_0001.HEIC/5003.JPG",
                    samples.jpeg(40, 30, 1)),
    ]
    return specs


def _media_for(name: str, seed: int) -> bytes:
    ext = name.rsplit(".", 1)[-1].lower()
    if ext == "heic":
        return samples.heic(seed=seed)
    if ext == "mov":
        return samples.mov(seed=seed)
    if ext == "png":
        return samples.png(48, 96, seed)
    if ext == "caf":
        return samples.caf()
    return samples.jpeg(128, 96, seed)


_SMS_ATTACHMENTS = ("IMG_4021.HEIC", "IMG_4022.jpeg", "Audio Message.caf", "IMG_4023.MOV")


def _messages() -> list[PayloadSpec]:
    """sms.db in WAL mode; its last attachment (IMG_4023.MOV) is named only in sms.db-wal."""
    filenames = [samples.sms_attachment_filename(str(uuid.uuid5(uuid.NAMESPACE_OID, f"demo-{name}")).upper(), name)
                 for name in _SMS_ATTACHMENTS]
    main, wal = samples.sms_db(filenames, wal=True)
    specs = [
        PayloadSpec(HOME, "Library/SMS/sms.db", main),
        PayloadSpec(HOME, "Library/SMS/sms.db-wal", wal),
        PayloadSpec(HOME, "Library/SMS/sms.db-shm", samples.shm()),
    ]
    for number, filename in enumerate(filenames, 1):
        specs.append(PayloadSpec(MEDIA, filename.removeprefix("~/"), _media_for(filename, 20 + number)))
    return specs


_WHATSAPP_MEDIA = ("Media/447700900123@s.whatsapp.net/4/1/41b0c2e8-5d7a-4f3e-9c21-8a6b0d4e1f37.jpg",
                   "Media/447700900123@s.whatsapp.net/9/c/9c3e71aa-0b2d-4c8e-a5f4-6d1e2b3c4a50.mp4")


def _apps(rng: random.Random) -> list[PayloadSpec]:
    chat_storage = samples.sqlite_db({
        "ZWACHATSESSION": [{"Z_PK": 1, "ZCONTACTJID": "447700900123@s.whatsapp.net", "ZPARTNERNAME": "Sam"}],
        "ZWAMESSAGE": [{"Z_PK": n, "ZCHATSESSION": 1, "ZISFROMME": n % 2, "ZMESSAGEDATE": 721_000_000.0 + 60 * n,
                        "ZTEXT": text, "ZMEDIAITEM": media}
                       for n, (text, media) in enumerate((("Look at this view!", 1), (None, 2), ("Amazing", None)), 1)],
        "ZWAMEDIAITEM": [{"Z_PK": n, "ZMESSAGE": n, "ZMEDIALOCALPATH": path, "ZFILESIZE": 120_000 * n}
                         for n, path in enumerate(_WHATSAPP_MEDIA, 1)],
    })
    history = samples.sqlite_db({
        "history_items": [{"id": 1, "url": "https://en.wikipedia.org/wiki/Lisbon", "domain_expansion": "en.wikipedia",
                           "visit_count": 3}],
        "history_visits": [{"id": 1, "history_item": 1, "visit_time": 721_000_000.0, "title": "Lisbon - Wikipedia"}],
    })
    return [
        PayloadSpec(WHATSAPP, "Library/Preferences/net.whatsapp.WhatsApp.plist",
                    samples.binary_plist({"OwnJabberID": "33612345678@s.whatsapp.net", "LastBackupDate": 1_699_800_000,
                                          "ReadReceipts": True})),
        PayloadSpec(WHATSAPP_SHARED, "ChatStorage.sqlite", chat_storage),
        PayloadSpec(WHATSAPP_SHARED, f"Message/{_WHATSAPP_MEDIA[0]}", samples.jpeg(120, 90, 11)),
        PayloadSpec(WHATSAPP_SHARED, f"Message/{_WHATSAPP_MEDIA[1]}", samples.mp4(seed=12)),
        PayloadSpec(INSTAGRAM, "Library/Preferences/com.burbn.instagram.plist",
                    samples.binary_plist({"last-logged-in-user": "emma.l", "app-launch-count": rng.randrange(100, 900)})),
        PayloadSpec(SPOTIFY, "Library/Preferences/com.spotify.client.plist",
                    samples.binary_plist({"offline.enabled": True, "audio.quality": "high"})),
        PayloadSpec("AppDomain-com.apple.mobilesafari", "Library/Safari/History.db", history),
    ]


def _unnameable(rng: random.Random) -> list[PayloadSpec]:
    """App-private files with random names: no catalog, index or database knows them."""
    def name() -> str:
        return samples.random_name(rng)

    return [
        PayloadSpec(INSTAGRAM, f"Documents/cache/{name()}.bin", samples.jpeg(80, 80, 13)),
        PayloadSpec(INSTAGRAM, f"Library/Caches/images/{name()}", samples.jpeg(64, 64, 14)),
        PayloadSpec(INSTAGRAM, f"Library/Caches/images/{name()}.png", samples.png(24, 24, 15)),
        PayloadSpec(INSTAGRAM, f"tmp/upload-{name()}.mov", samples.mov(seed=16)),
        PayloadSpec(INSTAGRAM, f"Library/Application Support/store-{name()}/{name()}.db", samples.sqlite_db()),
        PayloadSpec(INSTAGRAM, f"Documents/feed/state-{name()}.json",
                    samples.json_bytes({"feed": [{"id": rng.randrange(10**12), "seen": True} for _ in range(3)]})),
        PayloadSpec(WHATSAPP, f"Library/Logs/session-{name()}.log", samples.text(rng, lines=30)),
        PayloadSpec(WHATSAPP, f"Documents/blob/{name()}", rng.randbytes(6_144)),
        PayloadSpec(WHATSAPP, f"Library/Caches/prefetch/{name()}.heic", samples.heic(seed=17)),
        PayloadSpec(SPOTIFY, f"Library/Caches/persistent/{name()}/{name()}", rng.randbytes(16_384)),
        PayloadSpec(SPOTIFY, f"Documents/offline/{name()}.m4a", samples.m4a(seed=18)),
        PayloadSpec(SNAPCHAT, f"Documents/snaps/{name()}.mp4", samples.mp4(seed=19)),
        PayloadSpec(SNAPCHAT, f"Library/Caches/{name()}/{name()}.plist",
                    samples.binary_plist({"token": rng.randbytes(16), "expires": 1_700_500_000})),
        PayloadSpec(SNAPCHAT, f"Documents/tickets/{name()}.pdf", samples.pdf("Concert ticket - Row F, Seat 12")),
        PayloadSpec(SNAPCHAT, f"Documents/export/{name()}.zip", samples.zip_bytes()),
        PayloadSpec(SNAPCHAT, f"Library/Caches/gifs/{name()}", samples.gif()),
        PayloadSpec(SNAPCHAT, f"Documents/contacts/share-{name()}.vcf", samples.vcard("Sam", "Okafor", "+1 (555) 010-0789")),
    ]

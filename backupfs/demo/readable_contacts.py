"""Address books as real phones write them, with the people put in, for tests and the demo backup.

``AddressBook.sqlitedb`` (HomeDomain ``Library/AddressBook/``) keeps one row per contact in
``ABPerson`` and their values in ``ABMultiValue``: phone numbers (property 3), e-mail
addresses (4), dates (12), web pages (22) and related names (23) in its ``value``; postal
addresses (5), instant-message accounts (13) and social profiles (46) with a NULL ``value``
and their parts in ``ABMultiValueEntry`` (``parent_id`` = the value's ``UID``, ``key`` = the
ROWID of the ``ABMultiValueEntryKey`` row naming the part: "Street", "City", "State", "ZIP",
"Country", "CountryCode", "SubLocality", "SubAdministrativeArea"; "service", "username",
"url", "identifier"). ``label`` is the ROWID of an ``ABMultiValueLabel`` row:
"_$!<Mobile>!$_" for the built-in labels, plain text ("iPhone", or the user's own)
otherwise. ``Birthday`` and dates are text: a double, seconds since 2001-01-01 (noon UTC
when typed in, local midnight when synced from elsewhere); a date without a year is kept
in 1604. Photos are in ``AddressBookImages.sqlitedb``:
``ABFullSizeImage`` and ``ABThumbnailImage``, ``record_id`` = the person's ROWID, ``data`` = JPEG.

Two generations, each an :class:`AddressBookFixture` (the SQL of both databases and the
people put in):

* :func:`address_book_ios9`: the iOS 9 ``ABPerson`` columns (``PhonemeData``,
  ``AlternateBirthday`` and ``MapsData`` last), full-size photos;
* :func:`address_book_ios16`: the iOS 16 columns, about fifteen more (``FirstPronunciation``,
  ``PreviousFamilyName``, ``ImageType``, ``MemojiMetadata``, ``Wallpaper``...), one person
  with only a thumbnail.

Both hold people in several scripts with emoji, a company-only and a number-only contact,
custom labels, a long note, NULLs, addresses (one with only a city and a country code,
one on two lines), web pages, dates (one without a year), related names, accounts and
profiles, and rows a reader must skip (a number with no value, a number whose person is
gone, an address without parts, parts whose value is NULL, whose key is unknown or whose
value is gone, a date that is not one, an account without a user). Deterministic: same call, same bytes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone

from backupfs.demo import samples
from backupfs.demo.sqlbuild import database_bytes, insert
from backupfs.demo.writer import PayloadSpec

DOMAIN = "HomeDomain"
ADDRESS_BOOK = "Library/AddressBook/AddressBook.sqlitedb"
IMAGES = "Library/AddressBook/AddressBookImages.sqlitedb"
APPLE_EPOCH = 978_307_200  # 2001-01-01T00:00:00Z in Unix seconds
PHONE, EMAIL, ADDRESS, DATE, IM, URL, RELATED, SOCIAL = 3, 4, 5, 12, 13, 22, 23, 46

MOBILE, HOME, WORK, MAIN = "_$!<Mobile>!$_", "_$!<Home>!$_", "_$!<Work>!$_", "_$!<Main>!$_"
HOME_FAX, WORK_FAX, PAGER, OTHER = "_$!<HomeFAX>!$_", "_$!<WorkFAX>!$_", "_$!<Pager>!$_", "_$!<Other>!$_"
IPHONE, HOME_PAGE, ANNIVERSARY = "iPhone", "_$!<HomePage>!$_", "_$!<Anniversary>!$_"
SPOUSE, MOTHER, BROTHER = "_$!<Spouse>!$_", "_$!<Mother>!$_", "_$!<Brother>!$_"

Parts = tuple[tuple[str, str], ...]  # (ABMultiValueEntryKey value, part), as stored


# --- helpers shared with the calendar builder ------------------------------------------------

def apple_seconds(moment: datetime) -> float:
    """A moment as the phone's databases keep it: seconds since 2001-01-01 UTC."""
    return moment.timestamp() - APPLE_EPOCH


def _guid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"backupfs-contacts/{seed}")).upper()


# --- what is put in --------------------------------------------------------------------------

@dataclass(frozen=True)
class SampleContact:
    """One contact as the phone shows it; its values are (label as stored, value or parts)."""

    first: str | None = None
    last: str | None = None
    middle: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    nickname: str | None = None
    organization: str | None = None
    department: str | None = None
    job_title: str | None = None
    note: str | None = None
    birthday: date | None = None  # year 1604: no year
    birthday_at_noon: bool = True  # False: kept at local midnight in Paris (23:00 UTC the day before)
    phones: tuple[tuple[str | None, str], ...] = ()
    emails: tuple[tuple[str | None, str], ...] = ()
    addresses: tuple[tuple[str | None, Parts], ...] = ()
    urls: tuple[tuple[str | None, str], ...] = ()
    dates: tuple[tuple[str | None, date], ...] = ()  # kept at noon UTC
    related_names: tuple[tuple[str | None, str], ...] = ()
    instant_messages: tuple[tuple[str | None, Parts], ...] = ()
    social_profiles: tuple[tuple[str | None, Parts], ...] = ()
    photo: bytes | None = None
    thumbnail_only: bool = False

    @property
    def is_company(self) -> bool:
        return not (self.first or self.middle or self.last) and bool(self.organization)


@dataclass(frozen=True)
class AddressBookFixture:
    """``sql`` builds AddressBook.sqlitedb, ``images_sql`` AddressBookImages.sqlitedb."""

    sql: str
    images_sql: str
    people: tuple[SampleContact, ...]

    def payloads(self) -> list[PayloadSpec]:
        """Both databases, as the demo backup holds them (the photos are inside the images one)."""
        return [PayloadSpec(DOMAIN, ADDRESS_BOOK, database_bytes(self.sql)),
                PayloadSpec(DOMAIN, IMAGES, database_bytes(self.images_sql))]


_LONG_NOTE = (
    "Met at the Lyon conference, 2019 🎤.\n"
    "Allergies: peanuts; shellfish, mild.\n"
    "Kids: Léa (2012) and Hugo (2015) — both love 🦕 dinosaurs.\n"
    + "Prefers calls after 18:00, never on Sundays. " * 12
    + "\nAddress for cards: see the postal address, not the old one in Rue de la Paix."
)


def _people(generation: int) -> tuple[SampleContact, ...]:
    # The district of a Beijing address: kept by iOS 10 and later (the iOS 9 book has no such key).
    district = (("SubLocality", "朝阳区"),) if generation >= 16 else ()
    people = [
        SampleContact(first="Émilie", last="Laurent-Dubois", nickname="Mimi", note=_LONG_NOTE,
                      birthday=date(1988, 7, 14), phones=((MOBILE, "+33 6 12 34 56 78"), (IPHONE, "+33 7 98 76 54 32")),
                      emails=((HOME, "emilie.laurent@example.fr"),), photo=samples.jpeg(96, 96, seed=1),
                      addresses=((HOME, (("Street", "12 Rue des Lilas"), ("City", "Lyon"), ("ZIP", "69003"),
                                         ("Country", "France"), ("CountryCode", "fr"))),
                                 ("Chalet ⛷️", (("Street", "Chemin des Praz 4\nChalet « Les Sapins »"),
                                               ("City", "Chamonix-Mont-Blanc"), ("State", "Haute-Savoie"),
                                               ("ZIP", "74400"), ("Country", "France"), ("CountryCode", "fr")))),
                      urls=((HOME_PAGE, "https://emilie.example.fr"),
                            (WORK, "https://atelier-lilas.example.fr/équipe?x=1,2;y")),
                      dates=((ANNIVERSARY, date(2014, 6, 21)), ("First met 💞", date(1604, 9, 3))),
                      related_names=((SPOUSE, "Julien Dubois"), (MOTHER, "Anne Laurent"), ("Marraine", "Céline Roux")),
                      instant_messages=((HOME, (("service", "Skype"), ("username", "emilie.laurent"))),),
                      social_profiles=((None, (("service", "twitter"), ("username", "mimi_lyon"),
                                               ("url", "https://twitter.com/mimi_lyon"))),)),
        SampleContact(first="小明", last="王", organization="北京科技有限公司", job_title="工程师",
                      phones=((WORK, "+86 10 6552 9988"),), emails=((WORK, "wang.xiaoming@example.cn"),),
                      addresses=((WORK, (("Street", "建国门外大街1号"), *district, ("City", "北京"), ("State", "北京市"),
                                         ("ZIP", "100004"), ("Country", "中国"), ("CountryCode", "cn"))),),
                      related_names=((None, "王芳"),), dates=((OTHER, date(2019, 2, 5)),),
                      social_profiles=((None, (("service", "sinaweibo"), ("username", "王小明_BJ"),
                                               ("url", "https://weibo.com/u/1234567890"))),)),
        SampleContact(prefix="Dr.", first="Priya", last="Shah", suffix="MD", organization="St Mary's Clinic",
                      department="Cardiology", job_title="Cardiologist", birthday=date(1604, 3, 15),
                      phones=((MAIN, "+44 20 7946 0018"), (WORK_FAX, "+44 20 7946 0019"), (PAGER, "+44 7700 900461")),
                      emails=((WORK, "p.shah@stmarys.example.org"), (OTHER, "priya.shah@example.com")),
                      addresses=((WORK, (("Street", "Praed Street"), ("City", "London"), ("ZIP", "W2 1NY"),
                                         ("Country", "United Kingdom"), ("CountryCode", "gb"))),),
                      urls=((None, "https://stmarys.example.org/cardiology"),),
                      instant_messages=((WORK, (("service", "Jabber"), ("username", "priya@chat.example.org"))),),
                      social_profiles=((None, (("service", "linkedin"), ("username", "priyashah-md"),
                                               ("identifier", "8f3c2a1b"))),)),
        SampleContact(organization="Müller, Schmidt & Partner; GmbH", phones=((MAIN, "+49 30 901820"),),
                      emails=((WORK, "kontakt@mueller-schmidt.example.de"),),
                      addresses=((WORK, (("Street", "Friedrichstraße 123"), ("City", "Berlin"), ("ZIP", "10117"),
                                         ("Country", "Deutschland"), ("CountryCode", "de"))),),
                      urls=((WORK, "https://mueller-schmidt.example.de"),)),
        SampleContact(phones=((None, "+1 (555) 010-0199"),)),
        SampleContact(nickname="Grandma 👵", phones=((HOME, "01632 960 001"), (HOME_FAX, "01632 960 002")),
                      addresses=((HOME, (("City", "Bath"), ("CountryCode", "gb"))),),  # only what she gave
                      related_names=(("Grandson 👦", "Seán"),)),
        SampleContact(first="Seán", last="O'Brien", middle="Patrick", phones=(("Cabin 🏡", "+353 91 555 0142"),),
                      emails=(("Band 🎸", "sean@obrien.example.ie"), (HOME, "sob@example.ie")),
                      birthday=date(1979, 2, 28), birthday_at_noon=False,
                      related_names=((BROTHER, "Ciarán O'Brien"),),
                      instant_messages=(("Gaming 🎮", (("service", "GaduGadu"), ("username", "sean o'brien"))),
                                        (None, (("service", "ICQ"), ("username", "123456789")))),
                      social_profiles=((None, (("service", "facebook"), ("username", "sean.obrien"),
                                               ("url", "https://www.facebook.com/sean.obrien"),
                                               ("identifier", "100004123456789"))),)),
        SampleContact(first="Ana", last="García", emails=((None, "ana.garcia@example.es"),)),
    ]
    if generation >= 16:
        people += [
            SampleContact(first="Kofi", last="Mensah", job_title="Product designer", organization="Studio 🌍 Accra",
                          phones=((MOBILE, "+233 24 555 0107"),), photo=samples.jpeg(48, 48, seed=3),
                          thumbnail_only=True, birthday=date(2001, 1, 1),
                          addresses=((WORK, (("Street", "14 Oxford Street"), ("SubLocality", "Osu"), ("City", "Accra"),
                                             ("SubAdministrativeArea", "Accra Metropolitan"),
                                             ("State", "Greater Accra"), ("Country", "Ghana"), ("CountryCode", "gh"))),),
                          urls=((None, "https://studio-accra.example.com.gh"),),
                          social_profiles=((None, (("service", "instagram"), ("username", "kofi.designs"))),)),
            SampleContact(first="Дмитрий", last="Иванов", phones=((MOBILE, "+7 912 555-01-23"), (OTHER, "+7 495 555-0100")),
                          emails=((HOME, "d.ivanov@example.ru"),),
                          addresses=((HOME, (("Street", "ул. Тверская, д. 7, кв. 12"), ("City", "Москва"),
                                             ("ZIP", "125009"), ("Country", "Россия"), ("CountryCode", "ru"))),),
                          dates=((ANNIVERSARY, date(2010, 8, 14)),),
                          instant_messages=((OTHER, (("service", "Yahoo"), ("username", "dima_ivanov"))),)),
        ]
    return tuple(people)


# --- the databases ---------------------------------------------------------------------------

_PERSON_IOS9 = (
    "ROWID INTEGER PRIMARY KEY AUTOINCREMENT, First TEXT, Last TEXT, Middle TEXT, FirstPhonetic TEXT, "
    "MiddlePhonetic TEXT, LastPhonetic TEXT, Organization TEXT, Department TEXT, Note TEXT, Kind INTEGER, "
    "Birthday TEXT, JobTitle TEXT, Nickname TEXT, Prefix TEXT, Suffix TEXT, FirstSort TEXT, LastSort TEXT, "
    "CreationDate INTEGER, ModificationDate INTEGER, CompositeNameFallback TEXT, ExternalIdentifier TEXT, "
    "ExternalModificationTag TEXT, ExternalUUID TEXT, StoreID INTEGER, DisplayName TEXT, "
    "ExternalRepresentation BLOB, FirstSortSection TEXT, LastSortSection TEXT, "
    "FirstSortLanguageIndex INTEGER DEFAULT 2147483647, LastSortLanguageIndex INTEGER DEFAULT 2147483647, "
    "PersonLink INTEGER DEFAULT -1, ImageURI TEXT, IsPreferredName INTEGER DEFAULT 1, guid TEXT, "
    "PhonemeData TEXT, AlternateBirthday TEXT, MapsData TEXT"
)
_PERSON_IOS16_MORE = (
    ", FirstPronunciation TEXT, MiddlePronunciation TEXT, LastPronunciation TEXT, OrganizationPhonetic TEXT, "
    "OrganizationPronunciation TEXT, PreviousFamilyName TEXT, PreferredLikenessSource TEXT, "
    "PreferredPersonaIdentifier TEXT, PreferredChannel TEXT, DowntimeWhitelist TEXT, ImageType TEXT, "
    "ImageHash BLOB, MemojiMetadata BLOB, Wallpaper BLOB, WallpaperMetadata BLOB, DisplayFlags INTEGER DEFAULT 0, "
    "SensitiveContentConfiguration BLOB"
)
_OTHER_TABLES = """
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE ABStore (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, Name TEXT, Guid TEXT, Enabled INTEGER, Type INTEGER,
    ConstraintsPath TEXT, ExternalModificationTag TEXT, ExternalSyncTag TEXT, AccountID INTEGER);
CREATE TABLE ABMultiValue (UID INTEGER PRIMARY KEY, record_id INTEGER, property INTEGER, identifier INTEGER,
    label INTEGER, value TEXT, guid TEXT, UNIQUE(guid));
CREATE TABLE ABMultiValueLabel (value TEXT, UNIQUE(value));
CREATE TABLE ABMultiValueEntry (parent_id INTEGER, key INTEGER, value TEXT, UNIQUE(parent_id, key));
CREATE TABLE ABMultiValueEntryKey (value TEXT, UNIQUE(value));
CREATE TABLE ABGroup (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, Name TEXT, StoreID INTEGER, guid TEXT);
CREATE TABLE ABGroupMembers (UID INTEGER PRIMARY KEY, group_id INTEGER, member_type INTEGER, member_id INTEGER,
    UNIQUE(group_id, member_type, member_id));
CREATE INDEX ABMultiValueRecordIDIndex ON ABMultiValue(record_id);
"""
_IMAGES_SCHEMA = """
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE ABThumbnailImage (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, record_id INTEGER, format INTEGER,
    derived_from_format INTEGER, data BLOB, UNIQUE(record_id, format));
CREATE TABLE ABFullSizeImage (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, record_id INTEGER, crop_x INTEGER,
    crop_y INTEGER, crop_width INTEGER, crop_height INTEGER, data BLOB, UNIQUE(record_id));
"""


def _day_seconds(day: date, at_noon: bool = True) -> float:
    """A date as the book keeps it: noon UTC of the day, or midnight in Paris (an hour before, UTC, in winter)."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return apple_seconds(midnight) + (43_200 if at_noon else -3_600)


def _birthday(person: SampleContact) -> float | None:
    """The Birthday value, None when the person has none."""
    return None if person.birthday is None else _day_seconds(person.birthday, person.birthday_at_noon)


class _Writer:
    """Collects the INSERT statements of both databases; labels get ROWIDs in order of first use."""

    def __init__(self) -> None:
        self.rows: list[str] = []
        self.images: list[str] = []
        self.labels: dict[str, int] = {}
        self.keys: dict[str, int] = {}
        self.value_uid = 0

    def label(self, text: str | None) -> int | None:
        if text is None:
            return None
        if text not in self.labels:
            self.labels[text] = len(self.labels) + 1
            self.rows.append(insert("ABMultiValueLabel", value=text))
        return self.labels[text]

    def key(self, name: str) -> int:
        """The ROWID of the ABMultiValueEntryKey row naming a part, added on first use."""
        if name not in self.keys:
            self.keys[name] = len(self.keys) + 1
            self.rows.append(insert("ABMultiValueEntryKey", value=name))
        return self.keys[name]

    def value(self, record: int, prop: int, identifier: int, label: str | None, value: object) -> int:
        self.value_uid += 1
        self.rows.append(insert("ABMultiValue", UID=self.value_uid, record_id=record, property=prop,
                                    identifier=identifier, label=self.label(label), value=value,
                                    guid=_guid(f"value-{self.value_uid}")))
        return self.value_uid

    def person(self, rowid: int, person: SampleContact, generation: int) -> None:
        created = apple_seconds(datetime(2015 + rowid % 7, 1 + rowid, 3, 9, rowid, tzinfo=timezone.utc))
        extra = {"PreferredChannel": "", "DisplayFlags": 0} if generation >= 16 else {}
        self.rows.append(insert(
            "ABPerson", ROWID=rowid, First=person.first, Last=person.last, Middle=person.middle,
            Organization=person.organization, Department=person.department, Note=person.note,
            Kind=1 if person.is_company else 0, Birthday=_birthday(person), JobTitle=person.job_title,
            Nickname=person.nickname, Prefix=person.prefix, Suffix=person.suffix,
            FirstSort=(person.first or person.organization or "").upper() or None, LastSort=(person.last or "").upper(),
            CreationDate=int(created), ModificationDate=int(created) + 86_400 * rowid, StoreID=0,
            guid=_guid(f"person-{rowid}") + ":ABPerson", **extra))
        for identifier, (label, number) in enumerate(person.phones):
            self.value(rowid, PHONE, identifier, label, number)
        for identifier, (label, address) in enumerate(person.emails):
            self.value(rowid, EMAIL, identifier, label, address)
        for prop, values in ((ADDRESS, person.addresses), (IM, person.instant_messages),
                             (SOCIAL, person.social_profiles)):
            for identifier, (label, parts) in enumerate(values):
                self.parts(self.value(rowid, prop, identifier, label, None), parts)
        for identifier, (label, page) in enumerate(person.urls):
            self.value(rowid, URL, identifier, label, page)
        for identifier, (label, day) in enumerate(person.dates):
            self.value(rowid, DATE, identifier, label, str(_day_seconds(day)))
        for identifier, (label, name) in enumerate(person.related_names):
            self.value(rowid, RELATED, identifier, label, name)
        if person.photo is not None:
            self.photo(rowid, person)

    def photo(self, rowid: int, person: SampleContact) -> None:
        # The thumbnail is the same picture, smaller; here the bytes are the same, as readers only pass them on.
        self.images.append(insert("ABThumbnailImage", record_id=rowid, format=5, derived_from_format=0,
                                      data=person.photo))
        if not person.thumbnail_only:
            self.images.append(insert("ABFullSizeImage", record_id=rowid, crop_x=0, crop_y=0, crop_width=96,
                                          crop_height=96, data=person.photo))

    def parts(self, uid: int, parts: Parts) -> None:
        """The parts of an address, account or profile (whose ABMultiValue row has no value)."""
        for name, text in parts:
            self.rows.append(insert("ABMultiValueEntry", parent_id=uid, key=self.key(name), value=text))

    def damage(self, people: tuple[SampleContact, ...]) -> None:
        """Rows a reader must skip, each costing nothing else."""
        self.value(2, PHONE, 1, MOBILE, None)  # a number whose value was lost
        self.value(len(people) + 40, PHONE, 0, MOBILE, "+1 555 0100 404")  # its person was deleted
        self.value(8, ADDRESS, 0, HOME, None)  # an address whose parts are all gone
        self.value(8, URL, 0, HOME_PAGE, None)  # a web page with no value
        self.value(8, DATE, 0, ANNIVERSARY, "not a date")
        self.parts(self.value(8, IM, 0, HOME, None), (("service", "Skype"),))  # an account without a user
        self.parts(self.value_uid + 50, (("Street", "1 Deleted Lane"), ("City", "Nowhere")))  # its value is gone
        self.rows += [insert("ABMultiValueEntry", parent_id=1 + len(people[0].phones + people[0].emails),
                             key=self.key("State"), value=None),  # Émilie's home address: a NULL part
                      insert("ABMultiValueEntry", parent_id=1 + len(people[0].phones + people[0].emails),
                             key=999, value="Lost key street")]  # a part whose key is not known


def _address_book(generation: int) -> AddressBookFixture:
    people = _people(generation)
    writer = _Writer()
    for rowid, person in enumerate(people, 1):
        writer.person(rowid, person, generation)
    writer.damage(people)
    schema = f"CREATE TABLE ABPerson ({_PERSON_IOS9}{_PERSON_IOS16_MORE if generation >= 16 else ''}, UNIQUE(guid));"
    head = [schema, _OTHER_TABLES,
            insert("_SqliteDatabaseProperties", key="__ABVersion", value=str(generation * 100)),
            insert("ABGroup", Name="Family", StoreID=0, guid=_guid("group-family")),
            insert("ABGroupMembers", group_id=1, member_type=0, member_id=6)]
    images = [_IMAGES_SCHEMA, insert("_SqliteDatabaseProperties", key="__ABVersion", value=str(generation * 100))]
    return AddressBookFixture("\n".join(head + writer.rows), "\n".join(images + writer.images), people)


def address_book_ios9() -> AddressBookFixture:
    """An iOS 9 address book: eight people, full-size photos."""
    return _address_book(9)


def address_book_ios16() -> AddressBookFixture:
    """An iOS 16 address book: the iOS 9 people and two more, one with only a thumbnail photo."""
    return _address_book(16)

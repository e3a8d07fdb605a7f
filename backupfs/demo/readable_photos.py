"""Sample ``Photos.sqlite`` libraries for the readable Photos folder: two schema generations.

:func:`ios12_photos` follows the iOS 9-13 layout (assets in ``ZGENERICASSET``, albums
joined through ``Z_26ASSETS`` with ``Z_26ALBUMS`` and ``Z_34ASSETS``), :func:`ios16_photos`
the iOS 14-17 one (``ZASSET``, ``Z_28ASSETS`` with ``Z_28ALBUMS`` and ``Z_3ASSETS``, iCloud
Photos originals under ``PhotoData/CPLAssets``). Both are Core Data stores with their
``Z_PRIMARYKEY`` and ``Z_METADATA`` tables and real image and video bytes, and hold what a
library holds in life: original names that differ from the stored ones (another extension,
characters no file name may hold, decomposed accents), a name twice in one month, photos
without a date or dated before 1970, trashed photos, photos the backup lacks, user
albums (one titled like a Windows device, two that differ only in case, one empty, one
trashed) and albums the user did not make. They also hold the files the library does
not list: Live Photos (``ZKINDSUBTYPE`` 2) with their video beside the still, or
without it, and edits (``ZHASADJUSTMENTS`` 1) rendered under ``PhotoData/Mutations``
with their ``Adjustments.plist``, or missing, or left behind by a reverted edit; and
hidden photos (``ZHIDDEN``), one of them also trashed. Each sample lists every asset with
the paths the folder must show it under (dates in UTC), and the summary line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from backupfs.demo import samples
from backupfs.demo.sqlbuild import database_bytes, insert
from backupfs.demo.writer import PayloadSpec

DOMAIN = "CameraRollDomain"
DATABASE = "Media/PhotoData/Photos.sqlite"
MUTATIONS = "Media/PhotoData/Mutations"
_UTI = {"HEIC": "public.heic", "JPG": "public.jpeg", "PNG": "public.png", "MOV": "com.apple.quicktime-movie"}
_LIVE_SUBTYPE = 2  # ZKINDSUBTYPE of a Live Photo
_PLAYBACK = {"still": 1, "live": 3, "video": 4}  # ZPLAYBACKSTYLE

_CORE_DATA = """
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
CREATE TABLE Z_MODELCACHE (Z_CONTENT BLOB);
"""
# Columns both generations share; each adds its own.
_ASSET_COLUMNS = """Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZAVALANCHEPICKTYPE INTEGER,
    ZCLOUDDELETESTATE INTEGER, ZCLOUDLOCALSTATE INTEGER, ZCLOUDPLACEHOLDERKIND INTEGER, ZCOMPLETE INTEGER,
    ZDEPTHTYPE INTEGER, ZFAVORITE INTEGER, ZHASADJUSTMENTS INTEGER, ZHDRTYPE INTEGER, ZHEIGHT INTEGER,
    ZHIDDEN INTEGER, ZKIND INTEGER, ZKINDSUBTYPE INTEGER, ZORIENTATION INTEGER, ZPLAYBACKSTYLE INTEGER,
    ZSAVEDASSETTYPE INTEGER, ZTRASHEDSTATE INTEGER, ZWIDTH INTEGER, ZADDITIONALATTRIBUTES INTEGER,
    ZMOMENT INTEGER, ZADDEDDATE TIMESTAMP, ZDATECREATED TIMESTAMP, ZDURATION FLOAT, ZLATITUDE FLOAT,
    ZLONGITUDE FLOAT, ZMODIFICATIONDATE TIMESTAMP, ZSORTTOKEN FLOAT, ZTRASHEDDATE TIMESTAMP,
    ZAVALANCHEUUID VARCHAR, ZCLOUDASSETGUID VARCHAR, ZDIRECTORY VARCHAR, ZFILENAME VARCHAR,
    ZMEDIAGROUPUUID VARCHAR, ZORIGINALCOLORSPACE VARCHAR, ZUNIFORMTYPEIDENTIFIER VARCHAR, ZUUID VARCHAR,
    ZIMAGEREQUESTHINTS BLOB, ZLOCATIONDATA BLOB"""
_ALBUM_COLUMNS = """Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCLOUDDELETESTATE INTEGER,
    ZCLOUDLOCALSTATE INTEGER, ZCUSTOMSORTASCENDING INTEGER, ZCUSTOMSORTKEY INTEGER, ZISPINNED INTEGER,
    ZISPROTOTYPE INTEGER, ZKIND INTEGER, ZPENDINGITEMSCOUNT INTEGER, ZPENDINGITEMSTYPE INTEGER,
    ZTRASHEDSTATE INTEGER, ZCUSTOMKEYASSET INTEGER, ZKEYASSET INTEGER, ZPARENTFOLDER INTEGER,
    ZCREATIONDATE TIMESTAMP, ZENDDATE TIMESTAMP, ZSTARTDATE TIMESTAMP, ZTRASHEDDATE TIMESTAMP,
    ZCLOUDGUID VARCHAR, ZTITLE VARCHAR, ZUUID VARCHAR, ZCLOUDMETADATA BLOB"""
_ATTRIBUTE_COLUMNS = """Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZALLOWEDFORANALYSIS INTEGER,
    ZCAMERACAPTUREDEVICE INTEGER, ZEMBEDDEDTHUMBNAILHEIGHT INTEGER, ZEMBEDDEDTHUMBNAILLENGTH INTEGER,
    ZEMBEDDEDTHUMBNAILOFFSET INTEGER, ZEMBEDDEDTHUMBNAILWIDTH INTEGER, ZORIGINALFILESIZE INTEGER,
    ZORIGINALHEIGHT INTEGER, ZORIGINALORIENTATION INTEGER, ZORIGINALWIDTH INTEGER, ZTIMEZONEOFFSET INTEGER,
    ZASSET INTEGER, ZCREATORBUNDLEID VARCHAR, ZEXIFTIMESTAMPSTRING VARCHAR, ZIMPORTEDBYBUNDLEIDENTIFIER VARCHAR,
    ZORIGINALFILENAME VARCHAR, ZTIMEZONENAME VARCHAR, ZTITLE VARCHAR, ZREVERSELOCATIONDATA BLOB"""

IOS12_SCHEMA = _CORE_DATA + f"""
CREATE TABLE ZGENERICASSET ({_ASSET_COLUMNS}, ZCLOUDBATCHPUBLISHDATE TIMESTAMP, ZCLOUDSERVERPUBLISHDATE TIMESTAMP,
    ZCLOUDCOLLECTIONGUID VARCHAR, ZCLOUDOWNERHASHEDPERSONID VARCHAR);
CREATE TABLE ZGENERICALBUM ({_ALBUM_COLUMNS}, ZCACHEDCOUNT INTEGER, ZCACHEDPHOTOSCOUNT INTEGER,
    ZCACHEDVIDEOSCOUNT INTEGER);
CREATE TABLE ZADDITIONALASSETATTRIBUTES ({_ATTRIBUTE_COLUMNS});
CREATE TABLE Z_26ASSETS (Z_26ALBUMS INTEGER, Z_34ASSETS INTEGER, Z_FOK_34ASSETS INTEGER,
    PRIMARY KEY (Z_26ALBUMS, Z_34ASSETS));
CREATE TABLE Z_1KEYWORDS (Z_1ASSETATTRIBUTES INTEGER, Z_38KEYWORDS INTEGER, PRIMARY KEY (Z_1ASSETATTRIBUTES, Z_38KEYWORDS));
CREATE INDEX ZGENERICASSET_ZDIRECTORY_ZFILENAME ON ZGENERICASSET (ZDIRECTORY, ZFILENAME);
CREATE INDEX Z_26ASSETS_Z_34ASSETS_INDEX ON Z_26ASSETS (Z_34ASSETS, Z_26ALBUMS);
"""
IOS16_SCHEMA = _CORE_DATA + f"""
CREATE TABLE ZASSET ({_ASSET_COLUMNS}, ZACTIVELIBRARYSCOPEPARTICIPATIONSTATE INTEGER, ZAVALANCHEKIND INTEGER,
    ZDUPLICATEASSETVISIBILITYSTATE INTEGER, ZISMAGICCARPET INTEGER, ZLIBRARYSCOPESHARESTATE INTEGER,
    ZSEARCHINDEXREBUILDSTATE INTEGER, ZSYNDICATIONSTATE INTEGER, ZVISIBILITYSTATE INTEGER, ZCOMPUTEDATTRIBUTES INTEGER,
    ZEXTENDEDATTRIBUTES INTEGER, ZIMPORTSESSION INTEGER, ZLIBRARYSCOPE INTEGER, ZMASTER INTEGER,
    ZMEDIAANALYSISATTRIBUTES INTEGER, ZOVERALLAESTHETICSCORE FLOAT);
CREATE TABLE ZGENERICALBUM ({_ALBUM_COLUMNS}, ZCACHEDCOUNT INTEGER, ZCACHEDPHOTOSCOUNT INTEGER,
    ZCACHEDVIDEOSCOUNT INTEGER, ZIMPORTSESSIONID VARCHAR, ZPROJECTDOCUMENTTYPE VARCHAR, ZSEARCHINDEXREBUILDSTATE INTEGER,
    ZPRIVACYSTATE INTEGER, ZCUSTOMQUERYPARAMETERS BLOB);
CREATE TABLE ZADDITIONALASSETATTRIBUTES ({_ATTRIBUTE_COLUMNS}, ZDATECREATEDSOURCE INTEGER, ZORIGINALRESOURCECHOICE INTEGER,
    ZSPATIALOVERCAPTUREGROUPIDENTIFIER VARCHAR, ZORIGINALSTABLEHASH VARCHAR);
CREATE TABLE Z_28ASSETS (Z_28ALBUMS INTEGER, Z_3ASSETS INTEGER, Z_FOK_3ASSETS INTEGER,
    PRIMARY KEY (Z_28ALBUMS, Z_3ASSETS));
CREATE TABLE Z_3MEMORIESBEINGCURATEDASSETS (Z_3CURATEDASSETS INTEGER, Z_44MEMORIESBEINGCURATEDASSETS INTEGER,
    PRIMARY KEY (Z_3CURATEDASSETS, Z_44MEMORIESBEINGCURATEDASSETS));
CREATE INDEX ZASSET_ZDIRECTORY_ZFILENAME ON ZASSET (ZDIRECTORY, ZFILENAME);
CREATE INDEX Z_28ASSETS_Z_3ASSETS_INDEX ON Z_28ASSETS (Z_3ASSETS, Z_28ALBUMS);
"""


@dataclass(frozen=True)
class _Generation:
    """Where one generation keeps what differs: table names and Core Data entity numbers."""

    name: str
    schema: str
    asset_table: str
    entities: tuple[tuple[int, str, int], ...]  # (Z_ENT, Z_NAME, Z_SUPER)
    asset_entity: int
    album_entity: int  # of a user album; the join table is Z_<n>ASSETS
    other_album_entities: dict[int, int]  # ZKIND -> Z_ENT of albums the user did not make


IOS12 = _Generation("iOS 12", IOS12_SCHEMA, "ZGENERICASSET",
                    ((1, "AdditionalAssetAttributes", 0), (25, "GenericAlbum", 0), (26, "Album", 25),
                     (27, "CloudSharedAlbum", 25), (29, "Folder", 25), (33, "GenericAsset", 0), (34, "Asset", 33)),
                    34, 26, {1505: 27, 4000: 29})
IOS16 = _Generation("iOS 16", IOS16_SCHEMA, "ZASSET",
                    ((1, "AdditionalAssetAttributes", 0), (3, "Asset", 0), (27, "GenericAlbum", 0), (28, "Album", 27),
                     (29, "CloudSharedAlbum", 27), (31, "Folder", 27)),
                    3, 28, {1505: 29, 4000: 31})


@dataclass(frozen=True)
class SampleAsset:
    """One asset: its file, and the paths the Photos folder must show it under (none when the backup lacks it)."""

    directory: str | None
    filename: str | None
    original: str | None  # ZORIGINALFILENAME; None: no ZADDITIONALASSETATTRIBUTES row
    created: float | None  # Unix seconds; None: ZDATECREATED NULL; APPLE_EPOCH: 0, Core Data's empty date
    data: bytes | None  # the file's bytes; None: the backup lacks it
    shown: tuple[str, ...] = ()
    trashed: bool = False
    video: bool = False
    hidden: bool = False
    live: bool = False  # a Live Photo
    motion: bytes | None = None  # its video, beside the still; None: the backup lacks it
    adjusted: bool = False  # ZHASADJUSTMENTS: the asset has an edit
    render: tuple[str, bytes] | None = None  # (FullSizeRender.<ext>, bytes) of the edit, when the backup holds it
    companions: tuple[tuple[str, str], ...] = ()  # (path in the folder, relative path) of the video and the edit

    @property
    def relative_path(self) -> str:
        return f"Media/{self.directory}/{self.filename}"

    @property
    def stem(self) -> str:
        return str(self.filename).rpartition(".")[0]

    @property
    def motion_path(self) -> str:
        return f"Media/{self.directory}/{self.stem}.MOV"

    @property
    def adjustments(self) -> str:
        """The folder of the edit: ``Mutations/<ZDIRECTORY>/<stem>/Adjustments``."""
        return f"{MUTATIONS}/{self.directory}/{self.stem}/Adjustments"

    @property
    def files(self) -> dict[str, bytes]:
        """Relative path -> bytes of the original, its Live Photo video, its edit and the edit's recipe,
        those the backup holds."""
        files = {self.relative_path: self.data}
        if self.motion is not None:
            files[self.motion_path] = self.motion
        if self.render is not None:
            files[f"{self.adjustments}/{self.render[0]}"] = self.render[1]
            files[f"{self.adjustments}/Adjustments.plist"] = _adjustments_plist(self.render[0])
        return {path: data for path, data in files.items() if data is not None}

    @property
    def mtime(self) -> int | None:
        """The date the folder must give the file: when it was taken, unknown before 1970."""
        if self.created is None or self.created == samples.APPLE_EPOCH or self.created < 0:
            return None
        return int(self.created)


@dataclass(frozen=True)
class SampleAlbum:
    title: str | None
    members: tuple[int, ...]  # indices into the sample's assets, in the album's order
    kind: int = 2
    trashed: bool = False


@dataclass(frozen=True)
class PhotosSample:
    """A ``Photos.sqlite`` as SQL, the files it names, and what the Photos folder must show."""

    generation: str
    sql: str
    assets: tuple[SampleAsset, ...]
    summary: str

    @property
    def files(self) -> dict[str, bytes]:
        """CameraRollDomain relative path -> bytes of every file of an asset the backup holds."""
        return {path: data for asset in self.assets for path, data in asset.files.items()}

    def payloads(self) -> list[PayloadSpec]:
        """The database and the photos and videos, ready for a sample backup."""
        return [PayloadSpec(DOMAIN, DATABASE, database_bytes(self.sql)),
                *(PayloadSpec(DOMAIN, path, data) for path, data in self.files.items())]


def _unix(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc).timestamp()


def _uuid(seed: int) -> str:
    return f"{0x5A3C0000 + seed:08X}-1D2E-4F3A-9B8C-{0x7D6E5F4A3B2C + seed:012X}"


def _adjustments_plist(render: str) -> bytes:
    """The edit's recipe, as the Photos app writes it beside the render (the renderer shows the render only)."""
    return samples.binary_plist({
        "adjustmentBaseVersion": 0, "adjustmentData": f"crop+light:{render}".encode(),
        "adjustmentEditorBundleID": "com.apple.mobileslideshow", "adjustmentFormatIdentifier": "com.apple.photo",
        "adjustmentFormatVersion": "1.6", "adjustmentRenderTypes": 0,
        "adjustmentTimestamp": datetime(2023, 11, 2, 9, 30)})  # plistlib writes naive dates as UTC


def _playback(asset: SampleAsset) -> int:
    return _PLAYBACK["video" if asset.video else "live" if asset.live else "still"]


def _sql(generation: _Generation, assets: tuple[SampleAsset, ...], albums: tuple[SampleAlbum, ...]) -> str:
    """The database: Core Data bookkeeping, then each asset with its attributes, each album with its members."""
    counts = {generation.asset_entity: len(assets), generation.album_entity: len(albums), 1: len(assets)}
    rows = [insert("Z_PRIMARYKEY", Z_ENT=ent, Z_NAME=name, Z_SUPER=parent, Z_MAX=counts.get(ent, 0))
            for ent, name, parent in generation.entities]
    rows.append(insert("Z_METADATA", Z_VERSION=1, Z_UUID=_uuid(0), Z_PLIST=None))
    for pk, asset in enumerate(assets, 1):
        created = None if asset.created is None else asset.created - samples.APPLE_EPOCH
        rows.append(insert(generation.asset_table, Z_PK=pk, Z_ENT=generation.asset_entity, Z_OPT=3, ZCOMPLETE=1,
                           ZFAVORITE=int(pk % 3 == 0), ZHIDDEN=int(asset.hidden), ZKIND=int(asset.video),
                           ZKINDSUBTYPE=_LIVE_SUBTYPE if asset.live else 0, ZPLAYBACKSTYLE=_playback(asset),
                           ZHASADJUSTMENTS=int(asset.adjusted),
                           ZHEIGHT=3024, ZWIDTH=4032, ZORIENTATION=1, ZSAVEDASSETTYPE=3,
                           ZTRASHEDSTATE=int(asset.trashed), ZCLOUDLOCALSTATE=int(asset.data is not None),
                           ZADDITIONALATTRIBUTES=pk, ZDATECREATED=created, ZADDEDDATE=700_000_000.0 + pk,
                           ZMODIFICATIONDATE=700_000_000.0 + pk,
                           ZTRASHEDDATE=720_000_000.0 if asset.trashed else None,
                           ZDURATION=4.2 if asset.video else 0.0, ZLATITUDE=-180.0, ZLONGITUDE=-180.0,
                           ZDIRECTORY=asset.directory, ZFILENAME=asset.filename,
                           ZUNIFORMTYPEIDENTIFIER=_UTI.get(str(asset.filename).rpartition(".")[2], "public.data"),
                           ZMEDIAGROUPUUID=_uuid(500 + pk) if asset.live else None, ZUUID=_uuid(pk)))
        if asset.original is not None:
            rows.append(insert("ZADDITIONALASSETATTRIBUTES", Z_PK=pk, Z_ENT=1, Z_OPT=2, ZASSET=pk,
                               ZORIGINALFILENAME=asset.original, ZORIGINALFILESIZE=len(asset.data or b""),
                               ZTIMEZONENAME="GMT+0200", ZTIMEZONEOFFSET=7200))
    join = f"Z_{generation.album_entity}ASSETS"
    for pk, album in enumerate(albums, 1):
        rows.append(insert("ZGENERICALBUM", Z_PK=pk,
                           Z_ENT=generation.other_album_entities.get(album.kind, generation.album_entity), Z_OPT=1,
                           ZKIND=album.kind, ZTRASHEDSTATE=int(album.trashed), ZTITLE=album.title,
                           ZUUID=_uuid(1000 + pk), ZCACHEDCOUNT=len(album.members)))
        rows += [insert(join, **{f"Z_{generation.album_entity}ALBUMS": pk,
                               f"Z_{generation.asset_entity}ASSETS": member + 1,
                               f"Z_FOK_{generation.asset_entity}ASSETS": 1024 * (order + 1)})
                 for order, member in enumerate(album.members)]
    return "\n".join([generation.schema.strip(), *rows]) + "\n"


def _summary(assets: tuple[SampleAsset, ...], albums: int) -> str:
    missing = sum(asset.data is None for asset in assets)
    live = sum(asset.data is not None and asset.motion is not None for asset in assets)
    return f"{len(assets)} photos and videos ({live} live), {albums} albums; {missing} not in the backup"


def ios12_photos() -> PhotosSample:
    """An iOS 12 library: ZGENERICASSET, albums through Z_26ASSETS."""
    vacation, receipts, reserved = "Vacances d'été 🏖️", "Work/Receipts: 2018", "con"
    dcim, dcim1 = "Media/DCIM/100APPLE", "Media/DCIM/101APPLE"
    edits = f"{MUTATIONS}/DCIM/100APPLE"
    assets = (
        SampleAsset("DCIM/100APPLE", "IMG_0001.JPG", "IMG_0001.JPG", _unix(2018, 7, 14, 10, 30), samples.jpeg(seed=1),
                    ("2018/07 July/IMG_0001.JPG", f"Albums/{vacation}/IMG_0001.JPG"),
                    adjusted=True, render=("FullSizeRender.jpg", samples.jpeg(seed=101)),
                    companions=(("2018/07 July/IMG_0001 (edited).jpg",
                                 f"{edits}/IMG_0001/Adjustments/FullSizeRender.jpg"),
                                (f"Albums/{vacation}/IMG_0001 (edited).jpg",
                                 f"{edits}/IMG_0001/Adjustments/FullSizeRender.jpg"))),
        SampleAsset("DCIM/100APPLE", "IMG_0002.MOV", "IMG_0002.MOV", _unix(2018, 7, 15), samples.mov(seed=2),
                    ("2018/07 July/IMG_0002.MOV", f"Albums/{vacation}/IMG_0002.MOV"), video=True,
                    adjusted=True, render=("FullSizeRender.mov", samples.mov(seed=102)),
                    companions=(("2018/07 July/IMG_0002 (edited).mov",
                                 f"{edits}/IMG_0002/Adjustments/FullSizeRender.mov"),
                                (f"Albums/{vacation}/IMG_0002 (edited).mov",
                                 f"{edits}/IMG_0002/Adjustments/FullSizeRender.mov"))),
        SampleAsset("DCIM/100APPLE", "IMG_0003.PNG", None, _unix(2018, 8, 2), samples.png(seed=3),
                    ("2018/08 August/IMG_0003.PNG", "Albums/_con/IMG_0003.PNG")),
        SampleAsset("DCIM/100APPLE", "IMG_0004.JPG", "IMG_0004.JPG", _unix(2018, 8, 3), samples.jpeg(seed=4),
                    ("Recently Deleted/IMG_0004.JPG",), trashed=True),
        SampleAsset("DCIM/100APPLE", "IMG_0005.JPG", "IMG_0005.JPG", _unix(2018, 8, 4), None),
        SampleAsset("DCIM/100APPLE", "IMG_0006.JPG", "IMG_0006.JPG", None, samples.jpeg(seed=6),
                    ("Unknown date/IMG_0006.JPG",), live=True, motion=samples.mov(seed=106),
                    companions=(("Unknown date/IMG_0006.MOV", f"{dcim}/IMG_0006.MOV"),)),
        SampleAsset("DCIM/100APPLE", "IMG_0007.JPG", "IMG_0007.JPG", _unix(2018, 9, 1, 9), samples.jpeg(seed=7),
                    ("2018/09 September/IMG_0007.JPG",)),
        SampleAsset("DCIM/101APPLE", "IMG_0007.JPG", "IMG_0007.JPG", _unix(2018, 9, 1, 18), samples.jpeg(seed=8),
                    ("2018/09 September/IMG_0007 2.JPG", "Albums/Work_Receipts_ 2018/IMG_0007.JPG"),
                    live=True, motion=samples.mov(seed=108),
                    companions=(("2018/09 September/IMG_0007 2.MOV", f"{dcim1}/IMG_0007.MOV"),
                                ("Albums/Work_Receipts_ 2018/IMG_0007.MOV", f"{dcim1}/IMG_0007.MOV"))),
        SampleAsset("DCIM/101APPLE", "IMG_0008.JPG", "Scan: grandma's kitchen?.jpeg", _unix(1965, 5, 2),
                    samples.jpeg(seed=9), ("1965/05 May/Scan_ grandma's kitchen_.JPG",)),
        SampleAsset("DCIM/101APPLE", "IMG_0009.JPG", "IMG_0009.JPG", _unix(1987, 6, 20), samples.jpeg(seed=10),
                    ("1987/06 June/IMG_0009.JPG",)),
        SampleAsset("DCIM/101APPLE", "IMG_0010.HEIC", "IMG_0010.HEIC", _unix(2018, 7, 20, 19, 45),
                    samples.heic(seed=11), ("2018/07 July/IMG_0010.HEIC", f"Albums/{vacation}/IMG_0010.HEIC"),
                    live=True, motion=samples.mov(seed=111),
                    companions=(("2018/07 July/IMG_0010.MOV", f"{dcim1}/IMG_0010.MOV"),
                                (f"Albums/{vacation}/IMG_0010.MOV", f"{dcim1}/IMG_0010.MOV"))),
        SampleAsset("DCIM/101APPLE", "IMG_0011.HEIC", "IMG_0011.HEIC", _unix(2018, 7, 21), samples.heic(seed=12),
                    ("2018/07 July/IMG_0011.HEIC",), live=True),
        SampleAsset("DCIM/101APPLE", "IMG_0012.JPG", "IMG_0012.JPG", _unix(2018, 10, 1), samples.jpeg(seed=13),
                    ("Hidden/IMG_0012.JPG",), hidden=True, live=True, motion=samples.mov(seed=113),
                    companions=(("Hidden/IMG_0012.MOV", f"{dcim1}/IMG_0012.MOV"),)),
        SampleAsset("DCIM/101APPLE", "IMG_0013.JPG", "IMG_0013.JPG", _unix(2018, 10, 2), samples.jpeg(seed=14),
                    ("Recently Deleted/IMG_0013.JPG",), trashed=True, hidden=True,
                    adjusted=True, render=("FullSizeRender.jpg", samples.jpeg(seed=114)),
                    companions=(("Recently Deleted/IMG_0013 (edited).jpg",
                                 f"{MUTATIONS}/DCIM/101APPLE/IMG_0013/Adjustments/FullSizeRender.jpg"),)),
        SampleAsset("DCIM/101APPLE", "IMG_0014.JPG", "IMG_0014.JPG", _unix(2018, 10, 3), samples.jpeg(seed=15),
                    ("2018/10 October/IMG_0014.JPG",), render=("FullSizeRender.jpg", samples.jpeg(seed=115))),
        SampleAsset("DCIM/101APPLE", "IMG_0015.JPG", "IMG_0015.JPG", _unix(2018, 10, 4), samples.jpeg(seed=16),
                    ("2018/10 October/IMG_0015.JPG",), adjusted=True),
        SampleAsset("DCIM/101APPLE", "IMG_0016.MOV", "IMG_0016.MOV", _unix(2018, 10, 5), samples.mov(seed=17),
                    ("2018/10 October/IMG_0016.MOV",), video=True),
        SampleAsset("DCIM/101APPLE", "IMG_0016.JPG", "IMG_0016.JPG", _unix(2018, 10, 6), samples.jpeg(seed=18),
                    ("2018/10 October/IMG_0016.JPG",)),
    )
    albums = (SampleAlbum(None, (), kind=4000), SampleAlbum(vacation, (0, 1, 3, 4, 13, 10)),
              SampleAlbum(receipts, (7, 12)), SampleAlbum("Old trip", (0,), trashed=True),
              SampleAlbum("Family", (6,), kind=1505), SampleAlbum("Empty", ()), SampleAlbum(reserved, (2,)))
    return PhotosSample(IOS12.name, _sql(IOS12, assets, albums), assets, _summary(assets, 3))


def ios16_photos() -> PhotosSample:
    """An iOS 16 library: ZASSET, albums through Z_28ASSETS, iCloud Photos originals in CPLAssets."""
    summer, best = "Summer 2023 ☀️", "Best of"
    cloud = _uuid(77)
    cloud_motion = f"Media/PhotoData/CPLAssets/group412/{cloud}.MOV"
    cloud_edit = f"{MUTATIONS}/PhotoData/CPLAssets/group412/{cloud}/Adjustments/FullSizeRender.jpg"
    edits = f"{MUTATIONS}/DCIM/100APPLE"
    assets = (
        SampleAsset("PhotoData/CPLAssets/group412", f"{cloud}.HEIC", "IMG_4521.HEIC", _unix(2023, 7, 8, 14, 20),
                    samples.heic(seed=21), ("2023/07 July/IMG_4521.HEIC", f"Albums/{summer}/IMG_4521.HEIC",
                                            f"Albums/{best}/IMG_4521.HEIC"),
                    live=True, motion=samples.mov(seed=121),
                    adjusted=True, render=("FullSizeRender.jpg", samples.jpeg(seed=121)),
                    companions=tuple((f"{folder}/IMG_4521{name}", target) for folder in
                                     ("2023/07 July", f"Albums/{summer}", f"Albums/{best}")
                                     for name, target in ((".MOV", cloud_motion), (" (edited).jpg", cloud_edit)))),
        SampleAsset("DCIM/100APPLE", "IMG_4522.MOV", "IMG_4522.MOV", _unix(2023, 7, 8, 14, 21), samples.mov(seed=22),
                    ("2023/07 July/IMG_4522.MOV", f"Albums/{summer}/IMG_4522.MOV", "Albums/best of 2/IMG_4522.MOV"),
                    video=True),
        SampleAsset("DCIM/100APPLE", "IMG_4600.PNG", "meme.webp", _unix(2023, 8, 11), samples.png(seed=23),
                    ("2023/08 August/meme.PNG",)),
        SampleAsset("PhotoData/CPLAssets/group18", f"{_uuid(78)}.JPG", "IMG_4601.JPG", _unix(2023, 8, 12), None),
        SampleAsset("DCIM/100APPLE", "IMG_4602.HEIC", "Anniversaire 🎂 de Le\u0301a.HEIC", _unix(2023, 9, 3),
                    samples.heic(seed=24), ("2023/09 September/Anniversaire 🎂 de Léa.HEIC",),
                    adjusted=True, render=("FullSizeRender.heic", samples.heic(seed=124)),
                    companions=(("2023/09 September/Anniversaire 🎂 de Léa (edited).heic",
                                 f"{edits}/IMG_4602/Adjustments/FullSizeRender.heic"),)),
        SampleAsset("DCIM/100APPLE", "IMG_4603.JPG", "IMG_4603.JPG", _unix(2023, 9, 4), samples.jpeg(seed=25),
                    ("Recently Deleted/IMG_4603.JPG",), trashed=True),
        SampleAsset("DCIM/100APPLE", "IMG_4610.JPG", "IMG_4610.JPG", _unix(2023, 10, 1, 8), samples.jpeg(seed=26),
                    ("2023/10 October/IMG_4610.JPG", f"Albums/{best}/IMG_4610.JPG")),
        SampleAsset("DCIM/100APPLE", "IMG_4611.JPG", "img_4610.jpg", _unix(2023, 10, 1, 9), samples.jpeg(seed=27),
                    ("2023/10 October/img_4610 2.JPG",),
                    adjusted=True, render=("FullSizeRender.jpg", samples.jpeg(seed=127)),
                    companions=(("2023/10 October/img_4610 2 (edited).jpg",
                                 f"{edits}/IMG_4611/Adjustments/FullSizeRender.jpg"),)),
        SampleAsset("DCIM/100APPLE", "IMG_4612.JPG", None, samples.APPLE_EPOCH, samples.jpeg(seed=28),
                    ("Unknown date/IMG_4612.JPG",)),
        SampleAsset(None, None, None, _unix(2023, 10, 2), None),
        SampleAsset("DCIM/100APPLE", "IMG_4620.HEIC", "IMG_4620.HEIC", _unix(2023, 10, 5), samples.heic(seed=29),
                    ("2023/10 October/IMG_4620.HEIC",), live=True),
        SampleAsset("DCIM/100APPLE", "IMG_4621.HEIC", "IMG_4621.HEIC", _unix(2023, 10, 6), samples.heic(seed=30),
                    ("Hidden/IMG_4621.HEIC",), hidden=True, live=True, motion=samples.mov(seed=130),
                    companions=(("Hidden/IMG_4621.MOV", "Media/DCIM/100APPLE/IMG_4621.MOV"),)),
        SampleAsset("DCIM/100APPLE", "IMG_4622.JPG", "IMG_4622.JPG", _unix(2023, 10, 7), samples.jpeg(seed=31),
                    ("Recently Deleted/IMG_4622.JPG",), trashed=True, hidden=True),
        SampleAsset("DCIM/100APPLE", "IMG_4623.JPG", "IMG_4623.JPG", _unix(2023, 10, 8), samples.jpeg(seed=32),
                    ("2023/10 October/IMG_4623.JPG",), adjusted=True),
    )
    albums = (SampleAlbum(None, (), kind=4000), SampleAlbum(summer, (0, 1, 3, 5, 12)), SampleAlbum(best, (6, 0, 11)),
              SampleAlbum("best of", (1,)), SampleAlbum("Old", (2,), trashed=True),
              SampleAlbum("Shared with Sam", (4,), kind=1505))
    return PhotosSample(IOS16.name, _sql(IOS16, assets, albums), assets, _summary(assets, 3))

"""Turn device file paths into the (domain, relativePath) names a backup gives them.

A backup names each file ``SHA1(domain-relativePath)``, where the domain stands for a
fixed folder of the device. Public tables disagree about some of those roots, and every
candidate is later proven (or discarded) by its hash, so this module deliberately errs on
the side of yielding too many candidates rather than too few.

App containers are folders named by a per-device UUID, while their domain is named by a
bundle id (``AppDomain-<bundle id>``); :func:`infer_container_ids` guesses that id from
the names of the files the container holds.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

VAR = "/private/var"
MOBILE = f"{VAR}/mobile"

# Listing path styles (see the filepath-lists SOURCES.md).
STYLE_ABSOLUTE = "absolute"  # "/private/var/mobile/..."
STYLE_ROOT_RELATIVE = "root-relative"  # "private/var/mobile/..." (relative to "/")
STYLE_FILESYSTEM = "filesystem"  # "filesystem1/..." = "/", "filesystem2/..." = "/private/var/..."
STYLES = (STYLE_ABSOLUTE, STYLE_ROOT_RELATIVE, STYLE_FILESYSTEM)

# Container kinds: (device folder holding one UUID folder per container, domain prefix).
CONTAINER_ROOTS: tuple[tuple[str, str], ...] = (
    (f"{MOBILE}/Containers/Data/Application", "AppDomain"),
    (f"{MOBILE}/Containers/Shared/AppGroup", "AppDomainGroup"),
    (f"{MOBILE}/Containers/Data/PluginKitPlugin", "AppDomainPlugin"),
    (f"{VAR}/containers/Data/System", "SysContainerDomain"),
    (f"{VAR}/containers/Shared/SystemGroup", "SysSharedContainerDomain"),
)

# Fixed roots: device folder -> domain whose relative paths start there. Every root
# that contains a path is tried, nested ones included.
_FIXED_ROOTS: tuple[tuple[str, str], ...] = (
    (f"{VAR}/root", "RootDomain"),
    (f"{VAR}/wireless", "WirelessDomain"),
    (f"{VAR}/preferences", "SystemPreferencesDomain"),
    (f"{VAR}/db", "DatabaseDomain"),
    (f"{VAR}/Keychains", "KeychainDomain"),
    (f"{VAR}/protected/trustd/private", "KeychainDomain"),
    (f"{VAR}/protected", "ProtectedDomain"),
    (f"{VAR}/Managed Preferences", "ManagedPreferencesDomain"),
    (f"{VAR}/installd", "InstallDomain"),
    (f"{VAR}/MobileDevice", "MobileDeviceDomain"),
    (f"{VAR}/networkd", "NetworkDomain"),
    (f"{VAR}/mobile/Media/Books", "BooksDomain"),
)

# Parts of the mobile home that belong to a domain other than HomeDomain (relative paths
# still start at /private/var/mobile). HomeDomain is tried for them as well.
# HealthDomain is also tried one level lower, see _LIBRARY_SUBDOMAINS.
_MOBILE_SUBDOMAINS: tuple[tuple[str, str], ...] = (
    ("Media/DCIM/", "CameraRollDomain"),
    ("Media/PhotoData/", "CameraRollDomain"),
    ("Media/", "MediaDomain"),
    ("Library/SMS/Attachments/", "MediaDomain"),
    ("Library/Keyboard/", "KeyboardDomain"),
    ("Library/Health/", "HealthDomain"),
    ("Library/homed/", "HomeKitDomain"),
    ("Library/Ringtones/", "TonesDomain"),
    ("Media/iTunes_Control/Ringtones/", "TonesDomain"),
    ("Media/Books/", "BooksDomain"),
)

# Parts of /private/var/mobile/Library whose domain's relative paths start below
# Library (HealthDomain: "Health/healthdb.sqlite").
_LIBRARY_SUBDOMAINS: tuple[tuple[str, str], ...] = (("Health/", "HealthDomain"),)

# Device areas iOS never backs up and no domain stands for: skipping them keeps the
# catalog small without losing a name.
_NOT_BACKED_UP = (f"{MOBILE}/Containers/", f"{VAR}/containers/", f"{MOBILE}/tmp/")

# Never backed up inside a container (Apple: "tmp ... is not backed up").
_CONTAINER_SKIP = ("tmp/",)

_BUNDLE_ID = re.compile(r"^[a-z][a-z0-9-]*(\.[A-Za-z0-9_-]+)+$")
_TEAM_GROUP_ID = re.compile(r"^[A-Z0-9]{10}\.[A-Za-z0-9_.-]+$")
_SCENE_ID = re.compile(r"^sceneID:(.+)-(?:default|[0-9A-Fa-f]{8}-[0-9A-Fa-f-]{27})$")
_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")

# Names that look like bundle ids but belong to libraries found in many unrelated apps.
_SHARED_NAMES = frozenset(
    {
        "com.apple.AdSupport",
        "com.apple.EmojiCache",
        "com.apple.itunescloud",
        "com.apple.dyld",
        "com.apple.WebKit.GPU",
        "com.apple.WebKit.Networking",
        "com.apple.WebKit.WebContent",
        "com.apple.UIKit",
        "com.apple.CoreData",
        "com.apple.imessage.bag",
        "com.apple.nsurlsessiond",
        "com.crashlytics",
        "com.crashlytics.data",
        "com.firebase.FIRInstallations",
        "com.google.gmp.measurement",
        "com.google.gmp.measurement.monitor",
        "com.google.Primes.CrashCollectible",
        "com.applovin.sdk.shared",
        "com.bugsnag.Bugsnag",
        "io.sentry",
    }
)

# Files that identify a system container whose id no file name spells out.
_SIGNATURES: tuple[tuple[str, str, str], ...] = (
    ("SysSharedContainerDomain", "Library/ConfigurationProfiles/", "systemgroup.com.apple.configurationprofiles"),
    ("AppDomainGroup", "NoteStore.sqlite", "group.com.apple.notes"),
    ("AppDomainGroup", "ChatStorage.sqlite", "group.net.whatsapp.WhatsApp.shared"),
    ("AppDomainGroup", "telegram-data/", "group.ph.telegra.Telegraph"),
    ("AppDomainGroup", "com.viber/", "group.viber.share.container"),
)

# Weight of each kind of evidence that a name inside a container is the container's id.
_W_SNAPSHOT = 10.0  # Library/SplashBoard/Snapshots/<id> - {DEFAULT GROUP}/
_W_SAVED_STATE = 8.0  # Library/Saved Application State/<id>.savedState/
_W_SIGNATURE = 8.0
_W_GROUP_PREFS = 10.0  # Library/Preferences/group.<...>.plist in an app group
_W_PREFS = 4.0  # Library/Preferences/<id>.plist
_W_HTTP = 4.0  # Library/HTTPStorages/<id>/
_W_COOKIES = 3.0  # Library/Cookies/<id>.binarycookies
_W_FOLDER = 1.5  # Library/Caches/<id>/, Library/Application Support/<id>/, Library/WebKit/<id>/
_MIN_SCORE = 3.0


@dataclass(frozen=True, slots=True)
class ContainerPath:
    """A device path split at its container: ``root`` is the UUID folder."""

    prefix: str
    root: str
    inner: str


def detect_listing_style(sample_paths: Iterable[str]) -> str:
    """Guess a listing's path style from its first rows, so the builder needs no flags."""
    for raw in sample_paths:
        if raw.startswith(("filesystem1/", "filesystem2/")):
            return STYLE_FILESYSTEM
        if raw.startswith("/"):
            return STYLE_ABSOLUTE
        if raw.startswith(("private/", "var/", "System/", "usr/", "Library/", "Applications/")):
            return STYLE_ROOT_RELATIVE
    return STYLE_ROOT_RELATIVE


def normalise_listing_path(raw: str, style: str) -> str | None:
    """The absolute device path a listing row stands for, or None if it names none.

    ``/var`` is folded into ``/private/var`` so both spellings map to the same domains.
    Rows outside the device file system (``extra/...`` in filesystem-style listings)
    give None.
    """
    raw = raw.strip("\r\n")
    if not raw:
        return None
    if style == STYLE_FILESYSTEM:
        head, _, rest = raw.partition("/")
        if head == "filesystem1":
            path = "/" + rest
        elif head == "filesystem2":
            path = f"{VAR}/{rest}" if rest else VAR
        else:
            return None
    elif style == STYLE_ABSOLUTE:
        if not raw.startswith("/"):
            return None
        path = raw
    elif style == STYLE_ROOT_RELATIVE:
        path = "/" + raw.lstrip("/")
    else:
        raise ValueError(f"unknown listing path style {style!r}; expected one of {', '.join(STYLES)}")
    path = re.sub(r"/{2,}", "/", path).rstrip("/") or "/"
    if path == "/var" or path.startswith("/var/"):
        path = "/private" + path
    return path


def split_container(device_path: str) -> ContainerPath | None:
    """Split a path inside an app/system container into kind, UUID folder and inner path."""
    for folder, prefix in CONTAINER_ROOTS:
        if device_path.startswith(folder + "/"):
            uuid, sep, inner = device_path[len(folder) + 1 :].partition("/")
            if not sep or not inner or not uuid:
                return None
            return ContainerPath(prefix, f"{folder}/{uuid}", inner)
    return None


def candidates_for_device_path(
    device_path: str, container_ids: Mapping[str, Sequence[str]] | None = None
) -> Iterator[tuple[str, str]]:
    """Every plausible ``(domain, relativePath)`` for one absolute device path.

    Paths inside an app or system container yield only when ``container_ids`` (from
    :func:`infer_container_ids`) knows the container's id. Duplicates are not yielded.
    """
    seen: set[tuple[str, str]] = set()
    for candidate in _candidates(device_path, container_ids or {}):
        if candidate[1] and candidate not in seen:
            seen.add(candidate)
            yield candidate


def _candidates(device_path: str, container_ids: Mapping[str, Sequence[str]]) -> Iterator[tuple[str, str]]:
    container = split_container(device_path)
    if container is not None:
        if container.inner.startswith(_CONTAINER_SKIP):
            return
        for bundle_id in container_ids.get(container.root, ()):
            yield f"{container.prefix}-{bundle_id}", container.inner
        return
    if device_path.startswith(_NOT_BACKED_UP):
        return
    for folder, domain in _FIXED_ROOTS:
        if device_path.startswith(folder + "/"):
            yield domain, device_path[len(folder) + 1 :]
    if device_path.startswith(MOBILE + "/"):
        relative = device_path[len(MOBILE) + 1 :]
        yield "HomeDomain", relative
        for start, domain in _MOBILE_SUBDOMAINS:
            if relative.startswith(start):
                yield domain, relative
        below_library = relative.removeprefix("Library/")
        for start, domain in _LIBRARY_SUBDOMAINS:
            if relative.startswith("Library/") and below_library.startswith(start):
                yield domain, below_library


def infer_container_ids(device_paths: Iterable[str]) -> dict[str, list[str]]:
    """Guess the bundle/group id of each container from the names of its files.

    Evidence is weighed (a SplashBoard snapshot folder named by the id counts more than
    a preferences file) and discounted by how many containers of the same device show
    the same name, which filters out SDKs that every app embeds. Returns container root
    -> ids, best first; containers without convincing evidence are left out.
    """
    evidence: dict[str, Counter[str]] = defaultdict(Counter)
    prefixes: dict[str, str] = {}
    for path in device_paths:
        container = split_container(path)
        if container is None:
            continue
        prefixes[container.root] = container.prefix
        for name, weight in _evidence(container.prefix, container.inner):
            evidence[container.root][name] = max(evidence[container.root][name], weight)

    spread: Counter[str] = Counter()
    for names in evidence.values():
        spread.update(names.keys())

    result: dict[str, list[str]] = {}
    for root, names in sorted(evidence.items()):
        scores = {name: weight / math.sqrt(spread[name]) for name, weight in names.items()}
        scores = {name: score for name, score in scores.items() if score >= _MIN_SCORE}
        if not scores:
            continue
        best = max(scores.values())
        result[root] = sorted((n for n, s in scores.items() if s == best), key=lambda n: (-names[n], n))[:2]
    return result


def _evidence(prefix: str, inner: str) -> Iterator[tuple[str, float]]:
    """(candidate id, weight) pairs that one file name inside a container gives."""
    for kind, start, bundle_id in _SIGNATURES:
        if kind == prefix and (inner == start or inner.startswith(start)):
            yield bundle_id, _W_SIGNATURE
    parts = inner.split("/")
    if len(parts) < 3 or parts[0] != "Library":
        return
    folder, name = parts[1], parts[2]
    if folder == "SplashBoard" and len(parts) > 3 and name == "Snapshots":
        snapshot = parts[3]
        scene = _SCENE_ID.match(snapshot)
        if scene:
            snapshot = scene.group(1)
        yield from _scored(prefix, snapshot.split(" - ", 1)[0], _W_SNAPSHOT)
    elif folder == "Saved Application State" and name.endswith(".savedState"):
        yield from _scored(prefix, name[: -len(".savedState")], _W_SAVED_STATE)
    elif folder == "Preferences" and len(parts) == 3 and name.endswith(".plist"):
        stem = name[: -len(".plist")]
        if prefix == "AppDomainGroup":
            if stem.startswith("group.") or _TEAM_GROUP_ID.match(stem):
                yield stem, _W_GROUP_PREFS
        else:
            yield from _scored(prefix, stem, _W_PREFS)
    elif folder == "HTTPStorages":
        yield from _scored(prefix, name.removesuffix(".binarycookies"), _W_HTTP)
    elif folder == "Cookies" and name.endswith(".binarycookies"):
        yield from _scored(prefix, name[: -len(".binarycookies")], _W_COOKIES)
    elif folder in ("Caches", "Application Support", "WebKit") and len(parts) > 3:
        yield from _scored(prefix, name, _W_FOLDER)


def _scored(prefix: str, name: str, weight: float) -> Iterator[tuple[str, float]]:
    if prefix != "AppDomain" and prefix != "AppDomainPlugin":
        # Group ids are only trusted from group-style preference names; system container
        # ids follow no naming rule that file names reveal, so only signatures count.
        return
    if name in _SHARED_NAMES or not _BUNDLE_ID.match(name) or name.startswith("group."):
        return
    yield name, weight


def is_uuid_like(part: str) -> bool:
    """True for a UUID folder name: such paths are specific to one device."""
    return bool(_UUID.match(part))

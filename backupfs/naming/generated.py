"""Camera roll names generated from the DCIM naming pattern, for backups without Photos.sqlite.

When the index and Photos.sqlite are both gone, the photos and videos are still the
files users care about most. Their names follow a narrow pattern
(``Media/DCIM/1NNAPPLE/IMG_NNNN.EXT``), so they can be enumerated and each candidate
proven by its SHA1, exactly like any other candidate name.

Folder ``1NNAPPLE`` tends to hold counter values ``NN000..NN999``; the four-digit IMG
counter wraps after 9999, so the folder holds ``IMG_`` numbers ``(NN*1000 .. NN*1000+999)
mod 10000``. Devices do not keep to that exactly (a folder can start part-way), so a
margin of numbers on both sides of each folder's window is tried as well. Hashing costs
about a microsecond or two per candidate, which is what bounds the set: upper-case
extensions only, as iOS writes them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator

from backupfs.naming.harvest import photo_candidates

log = logging.getLogger(__name__)

Candidate = tuple[str, str]
"""``(domain, relativePath)``."""

DOMAIN = "CameraRollDomain"
FIRST_FOLDER = 100
LAST_FOLDER = 199
DEFAULT_MARGIN = 300
"""Extra counter values tried below and above each folder's nominal thousand."""
EMPTY_FOLDERS_BEFORE_STOP = 10
"""Folders in a row without a single original after which enumeration stops."""

# Folders of originals whose derived files (thumbnails, metadata, edits) Photos names after them.
_ORIGINAL_FOLDERS = ("Media/DCIM/", "Media/PhotoData/CPLAssets/")
PHOTO_TREE_TRIAL = 5000

_COUNTER_MODULUS = 10_000
_PER_FOLDER = 1_000

# Originals, the edited renders iOS stores next to them, and the adjustment sidecars.
_ORIGINAL_EXTENSIONS = ("HEIC", "JPG", "JPEG", "MOV", "PNG", "WEBP")
_EDITED_EXTENSIONS = ("HEIC", "JPG", "MOV")
_SIDECAR_EXTENSIONS = ("AAE",)


def _file_names(number: int) -> tuple[list[str], list[str]]:
    """File names tried for one IMG counter value: originals, then the names that need one."""
    digits = f"{number:04d}"
    return (
        [f"IMG_{digits}.{ext}" for ext in _ORIGINAL_EXTENSIONS],
        [f"IMG_E{digits}.{ext}" for ext in _EDITED_EXTENSIONS] + [f"IMG_{digits}.{ext}" for ext in _SIDECAR_EXTENSIONS],
    )


def _folder_numbers(folder: int, margin: int) -> list[int]:
    """IMG counter values a ``<folder>APPLE`` folder is likely to hold, in a fixed order.

    The window is clamped to one full counter cycle so no value is listed twice; the
    counter runs 0001..9999, so 0000 is never produced.
    """
    start = (folder - FIRST_FOLDER) * _PER_FOLDER - margin
    width = min(_PER_FOLDER + 2 * margin, _COUNTER_MODULUS)
    numbers = ((start + offset) % _COUNTER_MODULUS for offset in range(width))
    return [n for n in numbers if n != 0]


def _groups(max_folder: int, margin: int) -> Iterator[tuple[str, list[int]]]:
    """``(folder path with trailing slash, counter values)`` for every folder tried."""
    if not FIRST_FOLDER <= max_folder <= 999:
        raise ValueError(f"max_folder must be between {FIRST_FOLDER} and 999, not {max_folder}")
    if margin < 0:
        raise ValueError(f"margin must not be negative, not {margin}")
    for folder in range(FIRST_FOLDER, max_folder + 1):
        yield f"Media/DCIM/{folder}APPLE/", _folder_numbers(folder, margin)


def camera_roll_candidates(
    max_folder: int = LAST_FOLDER, margin: int = DEFAULT_MARGIN
) -> Iterator[Candidate]:
    """Every generated camera roll name, in a fixed order (folder, number, extension)."""
    names_by_number: dict[int, list[str]] = {}
    for folder_path, numbers in _groups(max_folder, margin):
        for number in numbers:
            names = names_by_number.get(number)
            if names is None:
                originals, dependants = _file_names(number)
                names = names_by_number[number] = originals + dependants
            for name in names:
                yield DOMAIN, folder_path + name


def match_generated(
    payload_ids: set[str],
    already_named: set[str],
    max_folder: int = LAST_FOLDER,
    margin: int = DEFAULT_MARGIN,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Candidate]:
    """``{file_id: (domain, path)}`` for generated names whose SHA1 is an unnamed payload.

    ``progress(folders_tried, folders_in_all)`` is told of each folder tried.

    Hashing bounds the cost, so it is spent where photos are: each folder's window is
    tried with the original extensions only, the edited render and sidecar names only
    for numbers whose original was found (iOS never writes them alone), and the folders
    stop after :data:`EMPTY_FOLDERS_BEFORE_STOP` in a row hold nothing (iOS fills
    ``1NNAPPLE`` folders in order). Hashes are built from a per-folder SHA1 state of the
    shared ``domain-folder/`` prefix plus pre-encoded file names, because per-candidate
    string work would cost as much as the hashing. The result is deterministic. Ids are
    compared as lower-case hex, the form payload file names take.
    """
    wanted = payload_ids - already_named
    found: dict[str, Candidate] = {}
    if not wanted:
        return found
    encoded: dict[int, tuple[list[bytes], list[bytes]]] = {}
    tried = empty_run = 0
    folders = max_folder - FIRST_FOLDER + 1
    for done, (folder_path, numbers) in enumerate(_groups(max_folder, margin), 1):
        prefix_state = hashlib.sha1(f"{DOMAIN}-{folder_path}".encode("ascii"))

        def matches(names: list[bytes]) -> bool:
            hit = False
            for name in names:
                state = prefix_state.copy()
                state.update(name)
                digest = state.hexdigest()
                if digest in wanted and digest not in found:
                    found[digest] = (DOMAIN, folder_path + name.decode("ascii"))
                    hit = True
            return hit

        hits = []
        for number in numbers:
            if number not in encoded:
                encoded[number] = tuple([n.encode("ascii") for n in group] for group in _file_names(number))
            if matches(encoded[number][0]):
                hits.append(number)
        for number in hits:
            matches(encoded[number][1])
        tried += len(numbers) * len(_ORIGINAL_EXTENSIONS) + len(hits) * (len(_EDITED_EXTENSIONS) + 1)
        empty_run = 0 if hits else empty_run + 1
        if progress is not None:
            progress(done, folders)
        if empty_run == EMPTY_FOLDERS_BEFORE_STOP:
            break
    log.debug("camera roll: %d of %d generated names matched a payload", len(found), tried)
    return found


def match_photo_trees(originals: Iterable[Candidate], wanted: set[str]) -> dict[str, Candidate]:
    """``{file_id: (domain, path)}`` for the files Photos derives from each named original.

    Without Photos.sqlite, a camera-roll original named by the generator (or the catalog,
    or a partial index) still brings its thumbnails, metadata and edits with it. A kind of
    derived file (a thumbnail size, the edits folder...) that none of the first
    :data:`PHOTO_TREE_TRIAL` originals has is not tried for the others: a library without
    them would otherwise cost a dozen hashes per photo for nothing.
    """
    found: dict[str, Candidate] = {}
    hits: dict[str, int] = {}
    given_up: set[str] = set()
    tried = 0
    for domain, path in originals:
        if domain != DOMAIN or not path.startswith(_ORIGINAL_FOLDERS):
            continue
        directory, _, filename = path.removeprefix("Media/").rpartition("/")
        stem = filename.rpartition(".")[0] or filename
        tried += 1
        for candidate in photo_candidates(directory, filename):
            kind = candidate[1].replace(directory, "<dir>", 1).replace(stem, "<stem>")
            if kind in given_up:
                continue
            fid = hashlib.sha1(f"{candidate[0]}-{candidate[1]}".encode("utf-8", "surrogateescape")).hexdigest()
            hits.setdefault(kind, 0)
            if fid in wanted:
                hits[kind] += 1
                found.setdefault(fid, candidate)
        if tried == PHOTO_TREE_TRIAL:
            given_up = {kind for kind, count in hits.items() if count == 0}
            log.debug("photo trees: no %s in the first %d originals", ", ".join(sorted(given_up)), tried)
    return found

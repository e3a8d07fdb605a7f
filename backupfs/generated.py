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
from collections.abc import Iterator

log = logging.getLogger(__name__)

Candidate = tuple[str, str]
"""``(domain, relativePath)``."""

DOMAIN = "CameraRollDomain"
FIRST_FOLDER = 100
LAST_FOLDER = 199
DEFAULT_MARGIN = 300
"""Extra counter values tried below and above each folder's nominal thousand."""

_COUNTER_MODULUS = 10_000
_PER_FOLDER = 1_000

# Originals, the edited renders iOS stores next to them, and the adjustment sidecars.
_ORIGINAL_EXTENSIONS = ("HEIC", "JPG", "JPEG", "MOV", "PNG", "WEBP")
_EDITED_EXTENSIONS = ("HEIC", "JPG", "MOV")
_SIDECAR_EXTENSIONS = ("AAE",)


def _file_names(number: int) -> list[str]:
    """Every file name tried for one IMG counter value."""
    digits = f"{number:04d}"
    return (
        [f"IMG_{digits}.{ext}" for ext in _ORIGINAL_EXTENSIONS]
        + [f"IMG_E{digits}.{ext}" for ext in _EDITED_EXTENSIONS]
        + [f"IMG_{digits}.{ext}" for ext in _SIDECAR_EXTENSIONS]
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
                names = names_by_number[number] = _file_names(number)
            for name in names:
                yield DOMAIN, folder_path + name


def match_generated(
    payload_ids: set[str],
    already_named: set[str],
    max_folder: int = LAST_FOLDER,
    margin: int = DEFAULT_MARGIN,
) -> dict[str, Candidate]:
    """``{file_id: (domain, path)}`` for generated names whose SHA1 is an unnamed payload.

    The enumeration is the same as :func:`camera_roll_candidates`, but hashes are built
    from a per-folder SHA1 state of the shared ``domain-folder/`` prefix plus pre-encoded
    file names, because per-candidate string work would cost as much as the hashing.
    The first candidate in enumeration order wins, so the result is deterministic.
    Ids are compared as lower-case hex, the form payload file names take.
    """
    wanted = payload_ids - already_named
    found: dict[str, Candidate] = {}
    if not wanted:
        return found
    encoded_by_number: dict[int, list[bytes]] = {}
    tried = 0
    for folder_path, numbers in _groups(max_folder, margin):
        prefix_state = hashlib.sha1(f"{DOMAIN}-{folder_path}".encode("ascii"))
        for number in numbers:
            encoded = encoded_by_number.get(number)
            if encoded is None:
                encoded = encoded_by_number[number] = [n.encode("ascii") for n in _file_names(number)]
            for name in encoded:
                state = prefix_state.copy()
                state.update(name)
                digest = state.hexdigest()
                if digest in wanted and digest not in found:
                    found[digest] = (DOMAIN, folder_path + name.decode("ascii"))
            tried += len(encoded)
    log.debug("camera roll: %d of %d generated names matched a payload", len(found), tried)
    return found

"""Generated camera roll names: the right ones are proven, nothing else is."""

from __future__ import annotations

import hashlib
import random

import pytest

from backupfs.naming.generated import (
    DOMAIN,
    EMPTY_FOLDERS_BEFORE_STOP,
    PHOTO_TREE_TRIAL,
    camera_roll_candidates,
    match_generated,
    match_photo_trees,
)
from backupfs.source.manifest.records import file_id

REAL_PATHS = [
    "Media/DCIM/100APPLE/IMG_0001.HEIC",
    "Media/DCIM/103APPLE/IMG_3999.MOV",
    "Media/DCIM/112APPLE/IMG_2042.JPG",  # folder 112 holds 12000.. which wraps to 2000..
    "Media/DCIM/105APPLE/IMG_5123.HEIC",
    "Media/DCIM/105APPLE/IMG_E5123.HEIC",  # edited render
    "Media/DCIM/105APPLE/IMG_5123.AAE",  # adjustment sidecar
    "Media/DCIM/101APPLE/IMG_0850.PNG",  # within the margin below folder 101's window
    "Media/DCIM/100APPLE/IMG_9950.JPG",  # margin below folder 100 wraps to the top
]


def _random_ids(count: int, seed: int) -> set[str]:
    rng = random.Random(seed)
    return {rng.randbytes(20).hex() for _ in range(count)}


def test_the_hash_matches_the_shared_file_id() -> None:
    # Guards against the fast prefix-state hashing drifting from the canonical rule.
    expected = hashlib.sha1(b"CameraRollDomain-Media/DCIM/100APPLE/IMG_0001.HEIC").hexdigest()
    assert file_id(DOMAIN, "Media/DCIM/100APPLE/IMG_0001.HEIC") == expected
    assert match_generated({expected}, set(), max_folder=100) == {expected: (DOMAIN, "Media/DCIM/100APPLE/IMG_0001.HEIC")}


def test_real_names_match_and_random_ids_do_not() -> None:
    real = {file_id(DOMAIN, path): (DOMAIN, path) for path in REAL_PATHS}
    noise = _random_ids(2000, seed=7)
    assert match_generated(set(real) | noise, set()) == real


def test_already_named_payloads_are_skipped() -> None:
    real = {file_id(DOMAIN, path): (DOMAIN, path) for path in REAL_PATHS}
    named = file_id(DOMAIN, REAL_PATHS[0])
    result = match_generated(set(real), {named}, max_folder=112)
    assert named not in result
    assert len(result) == len(REAL_PATHS) - 1


def test_names_outside_the_pattern_are_not_generated() -> None:
    outside = [
        "Media/DCIM/100APPLE/IMG_0001.heic",  # lower case is not tried
        "Media/DCIM/100APPLE/IMG_5000.JPG",  # far from folder 100's window
        "Media/DCIM/099APPLE/IMG_0001.JPG",
        "Media/DCIM/100APPLE/IMG_0000.JPG",  # the counter starts at 0001
        "Media/DCIM/100APPLE/IMG_E0001.PNG",
    ]
    assert match_generated({file_id(DOMAIN, path) for path in outside}, set(), max_folder=100) == {}


def test_edits_and_sidecars_are_only_tried_beside_their_original() -> None:
    # iOS writes IMG_E0042 and IMG_0042.AAE only next to IMG_0042; trying them alone would
    # double the hashing for names that never exist.
    alone = ["Media/DCIM/100APPLE/IMG_E0042.HEIC", "Media/DCIM/100APPLE/IMG_0042.AAE"]
    assert match_generated({file_id(DOMAIN, path) for path in alone}, set(), max_folder=100) == {}


def test_enumeration_stops_after_a_run_of_empty_folders() -> None:
    # Folder 1NN holds numbers NN000.. modulo 10000, so the 500th photo of each is NN500.
    near = f"Media/DCIM/{100 + EMPTY_FOLDERS_BEFORE_STOP}APPLE/IMG_{EMPTY_FOLDERS_BEFORE_STOP * 1000 % 10000 + 500:04d}.JPG"
    far = f"Media/DCIM/{101 + EMPTY_FOLDERS_BEFORE_STOP}APPLE/IMG_{(EMPTY_FOLDERS_BEFORE_STOP + 1) * 1000 % 10000 + 500:04d}.JPG"
    ids = {file_id(DOMAIN, "Media/DCIM/100APPLE/IMG_0001.JPG"), file_id(DOMAIN, near)}
    # Folders 101..(100 + N - 1) are empty: N - 1 in a row is not yet a stop.
    assert set(match_generated(ids, set()).values()) == {(DOMAIN, "Media/DCIM/100APPLE/IMG_0001.JPG"), (DOMAIN, near)}
    alone = {file_id(DOMAIN, "Media/DCIM/100APPLE/IMG_0001.JPG"), file_id(DOMAIN, far)}
    assert set(match_generated(alone, set()).values()) == {(DOMAIN, "Media/DCIM/100APPLE/IMG_0001.JPG")}


def test_photo_trees_come_from_any_named_original() -> None:
    originals = [
        (DOMAIN, "Media/DCIM/100APPLE/IMG_0001.HEIC"),
        (DOMAIN, "Media/PhotoData/CPLAssets/group12/4B1E7C1A-2F3D-4E5A-9B8C-1D2E3F4A5B6C.JPG"),
        ("HomeDomain", "Media/DCIM/100APPLE/IMG_0002.HEIC"),  # not the camera roll's domain
        (DOMAIN, "Media/PhotoData/Photos.sqlite"),  # not an original
    ]
    derived = [
        (DOMAIN, "Media/PhotoData/Thumbnails/V2/DCIM/100APPLE/IMG_0001.HEIC/5005.JPG"),
        (DOMAIN, "Media/PhotoData/Mutations/DCIM/100APPLE/IMG_0001/Adjustments/FullSizeRender.jpg"),
        (DOMAIN, "Media/PhotoData/Metadata/PhotoData/CPLAssets/group12/4B1E7C1A-2F3D-4E5A-9B8C-1D2E3F4A5B6C.JPG"),
    ]
    unrelated = [(DOMAIN, "Media/PhotoData/Thumbnails/V2/DCIM/100APPLE/IMG_0002.HEIC/5005.JPG"),
                 (DOMAIN, "Media/PhotoData/Metadata/PhotoData/Photos.JPG")]
    wanted = {file_id(*c) for c in derived + unrelated} | _random_ids(50, seed=1)
    assert set(match_photo_trees(originals, wanted).values()) == set(derived)


def test_kinds_of_derived_files_no_original_has_are_given_up_after_a_trial() -> None:
    originals = [(DOMAIN, f"Media/DCIM/{100 + n // 1000}APPLE/IMG_{n % 1000:04d}.JPG") for n in range(PHOTO_TREE_TRIAL + 10)]
    late = PHOTO_TREE_TRIAL + 5
    thumbnails = {file_id(DOMAIN, f"Media/PhotoData/Thumbnails/V2/DCIM/{100 + n // 1000}APPLE/IMG_{n % 1000:04d}.JPG/5005.JPG")
                  for n in (3, late)}
    edits = file_id(DOMAIN, f"Media/PhotoData/Mutations/DCIM/{100 + late // 1000}APPLE/IMG_{late % 1000:04d}/"
                    "Adjustments/Adjustments.plist")
    found = match_photo_trees(originals, thumbnails | {edits})
    assert set(found) == thumbnails  # thumbnails seen in the trial go on; edits seen only after it do not


def test_result_is_deterministic_and_in_enumeration_order() -> None:
    ids = {file_id(DOMAIN, path) for path in REAL_PATHS} | _random_ids(100, seed=3)
    first = match_generated(ids, set(), max_folder=112)
    second = match_generated(ids.copy(), set(), max_folder=112)
    assert list(first.items()) == list(second.items())
    position = {candidate: i for i, candidate in enumerate(camera_roll_candidates(max_folder=112))}
    assert [position[c] for c in first.values()] == sorted(position[c] for c in first.values())


def test_candidates_agree_with_matching_and_have_no_duplicates() -> None:
    candidates = list(camera_roll_candidates(max_folder=101, margin=10))
    assert len(candidates) == len(set(candidates))
    # Two folders of 1020 numbers (0000 excluded from folder 100) times ten names each.
    assert len(candidates) == (1019 + 1020) * 10
    ids = {file_id(*candidate) for candidate in candidates}
    assert set(match_generated(ids, set(), max_folder=101, margin=10).values()) == set(candidates)


def test_every_folder_up_to_199_is_generated() -> None:
    folders = {path.split("/")[2] for _, path in camera_roll_candidates(margin=0)}
    assert folders == {f"{n}APPLE" for n in range(100, 200)}


@pytest.mark.parametrize("kwargs", [{"max_folder": 99}, {"max_folder": 1000}, {"margin": -1}])
def test_bad_bounds_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        list(camera_roll_candidates(**kwargs))
    with pytest.raises(ValueError):
        match_generated({"0" * 40}, set(), **kwargs)

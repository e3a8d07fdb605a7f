"""Names made portable: each rule of the module docstring, then reversibility and uniqueness on real phones' names."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupfs.export.names import (
    NAME_MAX,
    family,
    original_name,
    portable_name,
    portable_names,
    portable_path,
    storable,
)
from backupfs.index.paths import safe_component

FILEPATH_LISTS = Path("/work/shared/data/filepath-lists")
PLATFORMS = ("linux", "win32", "darwin")
TAG = re.compile(r"~[0-9a-f]{8}")


def case_key(name: str, platform: str) -> str:
    """Names that Windows or macOS hold for one (a little more than they do: enough for a test)."""
    if platform == "linux":
        return name
    if platform == "darwin":
        name = unicodedata.normalize("NFD", name)
    folded = name.upper().casefold()
    return unicodedata.normalize("NFD", folded) if platform == "darwin" else folded


@pytest.mark.parametrize(("name", "written"), [
    ("a<b>c", "a%3Cb%3Ec"), ('say "hi"', "say %22hi%22"), ("a:b", "a%3Ab"), ("back\\slash", "back%5Cslash"),
    ("pipe|d", "pipe%7Cd"), ("what?", "what%3F"), ("star*", "star%2A"),
    ("notes.", "notes%2E"), ("trailing ", "trailing%20"), ("dots...", "dots..%2E"),
    ("caf\udce9.jpg", "caf%E9.jpg"), ("50%: off", "50%25%3A off"),
])
def test_windows_escapes_what_it_cannot_store(name: str, written: str) -> None:
    assert not storable(name, "win32")
    assert portable_name(name, "win32") == written
    assert storable(written, "win32") and original_name(written, "win32") == name


def test_windows_escapes_control_characters_which_the_mount_already_shows_escaped() -> None:
    assert portable_name("tab\tname\x7f", "win32") == "tab%09name\x7f"  # DEL is a name character there
    assert portable_name("tab%09name", "win32") == "tab%09name"  # as the mount shows it: kept


@pytest.mark.parametrize(("name", "written"), [
    ("CON", "CO%4E"), ("con", "co%6E"), ("CON.txt", "CO%4E.txt"), ("Nul.tar.gz", "Nu%6C.tar.gz"),
    ("nul .txt", "nu%6C .txt"), ("aux", "au%78"), ("PRN.log", "PR%4E.log"), ("lpt1", "lpt%31"), ("COM9.db", "COM%39.db"),
    ("COM¹", "COM%C2%B9"), ("conin$", "conin%24"), ("CON.", "CON%2E"),
])
def test_windows_device_names_get_their_last_character_escaped(name: str, written: str) -> None:
    assert portable_name(name, "win32") == written
    assert storable(written, "win32") and original_name(written, "win32") == name


@pytest.mark.parametrize("name", ["CONSOLE", "CON_1.txt", "COM10", "LPT", "xCON", "CO.N", "com"])
def test_names_that_only_look_like_devices_are_kept(name: str) -> None:
    assert portable_name(name, "win32") == name


def test_macos_escapes_colons_and_bytes_that_are_not_utf8_only() -> None:
    assert portable_name("a:b", "darwin") == "a%3Ab"
    assert portable_name("caf\udce9", "darwin") == "caf%E9"
    for kept in ('a<b>"c?*|\\', "CON.txt", "ends.", "ends ", "tab\tname"):
        assert portable_name(kept, "darwin") == kept


@pytest.mark.parametrize("name", [
    "a:b?.txt", "CON.txt", "ends with dot.", "a%3Ab", "caf\udce9-\udcff.jpg", "50%: off", "%2E%2E", 'a<b>"c|*\\',
    "x" * 255,
])
def test_linux_keeps_every_name_of_the_mount_byte_for_byte(name: str) -> None:
    assert portable_name(name, "linux") == name
    assert original_name(name, "linux") == name
    assert portable_names([name, name.upper()], "linux") == {name: name, name.upper(): name.upper()}


def test_only_slash_and_nul_are_escaped_on_linux_and_no_mount_name_holds_either() -> None:
    assert portable_name("a/b\0c", "linux") == "a%2Fb%00c"


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_a_name_that_reads_as_an_escape_is_escaped_itself(platform: str) -> None:
    assert portable_name("a:b", platform) == "a%3Ab"
    assert portable_name("a%3Ab", platform) == "a%253Ab"
    assert portable_name("a%253Ab", platform) == "a%25253Ab"
    assert portable_name("%61", platform) == "%2561"  # how "a" is written when it meets "A"
    for kept in ("https%3A%2F%2Fexample.com", "%2E%2E", "a%0Ab", "%6Fther-data", "100%", "a%3ab", "foo%20bar.jpg"):
        assert portable_name(kept, platform) == kept, kept  # its unescaping is no other name of the mount
        assert original_name(kept, platform) == kept


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_names_that_differ_only_in_case_are_told_apart(platform: str) -> None:
    written = portable_names(["IMG_1.JPG", "img_1.jpg", "Img_1.jpg", "other"], platform)
    assert written == {
        "IMG_1.JPG": "IMG_1.JPG", "img_1.jpg": "%69%6D%67_1.%6A%70%67", "Img_1.jpg": "%49%6D%67_1.%6A%70%67",
        "other": "other",
    }
    assert {original_name(w, platform) for w in written.values()} == set(written)
    crafted = portable_names(["a", "A", "%61"], platform)
    assert crafted == {"A": "A", "a": "%61", "%61": "%2561"}


def test_macos_tells_apart_two_normalisations_of_one_name() -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    written = portable_names([composed, decomposed], "darwin")  # the first in byte order keeps its name
    assert written[decomposed] == decomposed and written[composed] == "%63%61%66%C3%A9"
    assert original_name(written[composed], "darwin") == composed
    assert portable_names([composed, decomposed], "win32") == {composed: composed, decomposed: decomposed}
    assert portable_names(["I", "\u0131"], "win32") == {"I": "I", "\u0131": "%C4%B1"}  # Windows folds dotless i with I


def test_a_folder_crafted_to_meet_gets_a_tag_and_still_no_clash() -> None:
    written = portable_names(["J", "j", "%6a"], "win32")
    assert written["J"] == "J" and written["%6a"] == "%6a" and TAG.search(written["j"])
    assert len({case_key(w, "win32") for w in written.values()}) == 3


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_a_name_too_long_once_escaped_is_cut_and_tagged(platform: str) -> None:
    names = ["x" * 200 + ":" * 20 + ".jpeg", "x" * 200 + ":" * 21 + ".jpeg", "é" * 127 + ":"]
    written = [portable_name(name, platform) for name in names]
    assert all(len(w.encode()) <= NAME_MAX and TAG.search(w) and storable(w, platform) for w in written)
    assert written[0].endswith(".jpeg") and len(set(written)) == 3
    assert not re.search(r"%.?~", written[0] + written[1] + written[2])  # no escape cut in half


def test_a_link_target_is_mapped_name_by_name() -> None:
    assert portable_path("../SMS/a:b?.db", "win32") == "../SMS/a%3Ab%3F.db"
    assert portable_path("../SMS/a:b?.db", "linux") == "../SMS/a:b?.db"
    assert portable_path("./CON/x", "win32") == "./CO%4E/x"


def test_platform_families() -> None:
    assert [family(p) for p in ("win32", "cygwin", "darwin", "linux", "freebsd14")] == [
        "windows", "windows", "macos", "posix", "posix"]


# -- real names: every component of three real iPhones' file listings, as the mount would show them --


@pytest.fixture(scope="module")
def folders() -> dict[str, set[str]]:
    """Names of the mount by folder, from the listings in ../shared/data/filepath-lists."""
    found: dict[str, set[str]] = defaultdict(set)
    for listing in sorted(FILEPATH_LISTS.glob("*.csv.zip")):
        with zipfile.ZipFile(listing) as archive:
            (member,) = [name for name in archive.namelist() if name.endswith(".csv") and "/" not in name]
            with archive.open(member) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
                paths = {row[0].strip("/") for row in csv.reader(text) if row}
        seen: set[str] = set()
        for path in paths:
            while path and path not in seen:  # each folder once, up to the first one already seen
                seen.add(path)
                folder, _, name = path.rpartition("/")
                found[f"{listing.name}:{folder}"].add(safe_component(name))
                path = folder
    if not found:
        pytest.skip(f"no file listings in {FILEPATH_LISTS}")
    return found


@pytest.fixture(scope="module")
def names(folders: dict[str, set[str]]) -> set[str]:
    everything = set().union(*folders.values())
    assert len(everything) > 100_000
    return everything | {"a:b?.txt", "CON.txt", "nul .tar.gz", "ends.", "a%3Ab", "%61", "caf\udce9.jpg", "x" * 254 + ":"}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_real_names_are_storable_reversible_and_distinct(names: set[str], platform: str) -> None:
    written = {name: portable_name(name, platform) for name in names}
    if platform == "linux":
        assert all(w == n for n, w in written.items())
    assert all(storable(w, platform) and len(w.encode("utf-8", "surrogateescape")) <= NAME_MAX for w in written.values())
    assert all(original_name(w, platform) == n for n, w in written.items() if not TAG.search(w) or TAG.search(n))
    assert len(set(written.values())) == len(written)
    changed = sum(w != n for n, w in written.items())
    assert changed < len(names) / 100, f"{changed} of {len(names)} names changed for {platform}"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_real_folders_keep_every_name_apart(folders: dict[str, set[str]], platform: str) -> None:
    for folder, entries in folders.items():
        written = portable_names(entries, platform)
        assert len({case_key(w, platform) for w in written.values()}) == len(entries), folder
        for name, w in written.items():
            assert original_name(w, platform) == name or TAG.search(w), (folder, name, w)


TROUBLE = ["a", "A", "b", "é", "e\u0301", "ß", "S", "s", ":", "?", "%", "2", "3", "5", "6", "1", "F", "f", ".", " ",
           "C", "O", "N", "L", "P", "T", "\udce9", "~", "\\"]


@settings(max_examples=400, deadline=None)
@given(st.sets(st.lists(st.sampled_from(TROUBLE), min_size=1, max_size=7).map("".join), min_size=1, max_size=12),
       st.sampled_from(PLATFORMS))
def test_any_folder_of_troublesome_names_is_written_apart_and_reversibly(entries: set[str], platform: str) -> None:
    entries = {name for name in entries if name not in (".", "..")}
    written = portable_names(entries, platform)
    assert len({case_key(w, platform) for w in written.values()}) == len(entries)
    for name, w in written.items():
        assert storable(w, platform), (name, w)
        assert original_name(w, platform) == name or (TAG.search(w) and not TAG.search(name)), (name, w)

"""``extract``: the mount's tree written to a folder, with no FUSE anywhere, on real backups and real files."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import backupfs.export.extract as extract_module
from backupfs.content.mount_source import MountSource
from backupfs.demo.writer import PayloadSpec
from backupfs.errors import BackupfsError
from backupfs.export.extract import PARTIAL_SUFFIX, ExtractStats, extract
from backupfs.export.names import original_name, storable
from backupfs.index.build import build_index
from backupfs.readable.base import READABLE_FOLDER
from backupfs.source.discover import find_backups
from backupfs.source.manifest.records import Kind, file_id
from tests.backups import BAD_NAME, BuiltBackup, build, fingerprint, standard_specs
from tests.conftest import REPO, walk_outside_readable

BIG_DOMAIN = "AppDomain-com.example.big"
VIDEO_BYTES = 24 << 20


def source_of(backup: BuiltBackup, index_dir: Path) -> MountSource:
    return MountSource(build_index(find_backups(backup.root), index_dir, show_progress=False))


def files_under(top: Path, *, readable: bool = False) -> dict[str, Path]:
    """Every file and link below ``top`` by its path relative to it (the readable folder only when asked)."""
    walk = os.walk(top) if readable else walk_outside_readable(top)
    return {os.path.relpath(os.path.join(d, n), top): Path(d, n) for d, dirs, names in walk for n in names + [
        x for x in dirs if os.path.islink(os.path.join(d, x))]}


def shown(source: MountSource, path: str) -> bytes:
    """The bytes the mount shows at ``path``."""
    node = source.node(path)
    size = source.attributes(node)[4]
    return source.open(node).read(size, 0) if size else b""


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltBackup, MountSource]:
    """A phone of 3,000 small files, two 24 MiB videos and the standard specs: big enough to time."""
    rng = random.Random(11)
    specs = standard_specs() + [
        PayloadSpec(BIG_DOMAIN, f"Documents/f{n // 100:02d}/item{n:05d}.bin", rng.randbytes(rng.randint(500, 40_000)),
                    mtime=1_600_000_000 + n)
        for n in range(3000)
    ]
    specs += [PayloadSpec(BIG_DOMAIN, f"Media/video{n}.mov", rng.randbytes(VIDEO_BYTES)) for n in range(2)]
    top = tmp_path_factory.mktemp("big")
    backup = build(top / "backup", specs)
    return backup, source_of(backup, top / "index")


@pytest.fixture
def unnamed(tmp_path: Path) -> tuple[BuiltBackup, MountSource]:
    """The standard phone with no index: names proven by hash, the rest typed, and a readable folder."""
    backup = build(tmp_path / "backup", index="none")
    return backup, source_of(backup, tmp_path / "index")


@pytest.fixture
def umask_022() -> Iterator[None]:
    saved = os.umask(0o022)
    yield
    os.umask(saved)


def test_every_payload_is_written_once_with_its_bytes_and_time(tmp_path, unnamed, umask_022) -> None:
    backup, source = unnamed
    dest = tmp_path / "out"
    stats = extract(source, dest, progress=False)
    nodes = {node.path: node for node in source.index.walk()}
    seen: Counter[str] = Counter()
    for rel, path in files_under(dest).items():
        node = nodes[rel]  # on Linux every name is the mount's, byte for byte
        seen[node.file_id] += 1
        assert path.read_bytes() == shown(source, rel), rel
        assert os.stat(path).st_mtime_ns == os.stat(backup.root / node.source).st_mtime_ns, rel
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644, rel
    assert set(seen) == {file_id(s.domain, s.relative_path) for s in backup.files}
    assert set(seen.values()) == {1}
    for spec in backup.files:  # the bytes of the backup itself, but for the database shown merged with its -wal
        if not spec.relative_path.endswith(".db"):
            (rel,) = [r for r, p in files_under(dest).items() if nodes[r].file_id == file_id(spec.domain, spec.relative_path)]
            assert (dest / rel).read_bytes() == spec.content
    readable = {rel: path for rel, path in files_under(dest, readable=True).items() if rel.startswith(READABLE_FOLDER)}
    assert any(rel.endswith(".html") for rel in readable)
    for rel, path in readable.items():
        assert path.read_bytes() == shown(source, rel), rel
    for folder, _, _ in os.walk(dest):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o755
    assert not list(dest.rglob(f"*{PARTIAL_SUFFIX}"))
    assert stats.files_written == len(files_under(dest, readable=True)) and stats.files_skipped == 0
    assert stats.bytes_written == sum(p.stat().st_size for p in files_under(dest, readable=True).values())


def test_the_umask_keeps_private_copies_private(tmp_path, unnamed) -> None:
    saved = os.umask(0o077)
    try:
        extract(unnamed[1], tmp_path / "out", ["HomeDomain"], progress=False)
    finally:
        os.umask(saved)
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").rglob("*") if p.is_file()} == {0o600}
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").rglob("*") if p.is_dir()} == {0o700}


def test_a_rerun_writes_nothing_and_is_five_times_faster(tmp_path, big) -> None:
    backup, source = big
    before = fingerprint(backup.root)
    first = extract(source, tmp_path / "out", progress=False)
    again = extract(source, tmp_path / "out", progress=False)
    files = len(files_under(tmp_path / "out", readable=True))
    assert first.files_written == files > 3000 and first.bytes_written > 2 * VIDEO_BYTES
    assert (again.files_written, again.files_skipped, again.bytes_written) == (0, files, 0)
    assert first.seconds >= 5 * again.seconds, (first.seconds, again.seconds)
    print(f"first {first.seconds:.2f} s, rerun {again.seconds:.3f} s ({first.seconds / again.seconds:.0f}x)")
    for spec in backup.files:
        if spec.domain == BIG_DOMAIN:
            written = tmp_path / "out" / spec.domain / spec.relative_path
            assert written.read_bytes() == spec.content
            assert written.stat().st_mtime_ns == spec.mtime * 10**9
    assert fingerprint(backup.root) == before


def test_a_changed_copy_is_written_again_and_a_complete_one_is_not(tmp_path, big) -> None:
    backup, source = big
    dest = tmp_path / "out"
    extract(source, dest, [f"{BIG_DOMAIN}/Documents/f00"], progress=False)
    touched = dest / BIG_DOMAIN / "Documents/f00/item00001.bin"
    os.utime(touched, (0, 0))
    stats = extract(source, dest, [f"{BIG_DOMAIN}/Documents/f00"], progress=False)
    assert (stats.files_written, stats.files_skipped) == (1, 99)
    spec = next(s for s in backup.files if s.relative_path == "Documents/f00/item00001.bin")
    assert touched.read_bytes() == spec.content and touched.stat().st_mtime_ns == spec.mtime * 10**9


INTERRUPTED_RUN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import backupfs.export.extract as extract_module
    from backupfs.content.mount_source import MountSource
    from backupfs.index.build import build_index
    from backupfs.source.discover import find_backups

    source = MountSource(build_index(find_backups(sys.argv[1]), Path(sys.argv[2]), show_progress=False))
    opened = source.open

    class Slow:  # a slow disk: the run is still writing when it is interrupted
        def __init__(self, reader):
            self.reader = reader

        def read(self, size, offset):
            time.sleep(0.002)
            return self.reader.read(size, offset)

    source.open = lambda node: Slow(opened(node))
    extract_module._CHUNK = 1 << 16
    extract_module.extract(source, Path(sys.argv[3]), progress=True)
""")


@pytest.mark.parametrize("interrupt", [signal.SIGKILL, signal.SIGINT])
def test_an_interrupted_run_resumes_where_it_stopped(tmp_path, big, interrupt) -> None:
    backup, source = big
    dest = tmp_path / "out"
    videos = dest / BIG_DOMAIN / "Media"
    run = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_RUN, backup.root, source.index.path.parent, dest],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while not any(p.name.endswith(PARTIAL_SUFFIX) and p.stat().st_size > 1 << 20 for p in _entries(videos)):
        assert run.poll() is None and time.monotonic() < deadline, "the run ended before it could be interrupted"
        time.sleep(0.01)
    run.send_signal(interrupt)
    _, errors = run.communicate(timeout=60)
    assert run.returncode != 0
    assert "Extracting" in errors and "files" in errors  # the bar, shown as asked
    partial = {p: p.stat().st_size for p in dest.rglob(f"*{PARTIAL_SUFFIX}")}
    assert any(0 < size < VIDEO_BYTES for p, size in partial.items() if p.parent == videos)
    # A small file being written in place when the run stopped has its name but not yet its time: written again.
    complete_before = {
        rel for rel, path in files_under(dest, readable=True).items()
        if not rel.endswith(PARTIAL_SUFFIX)
        and abs(path.lstat().st_mtime_ns - source.attributes(source.node(rel))[7]) < 2 * 10**9
    }

    stats = extract(source, dest, progress=False)
    assert stats.files_resumed == len([size for size in partial.values() if size])
    assert stats.files_skipped == len(complete_before)
    total = sum(p.lstat().st_size for p in files_under(dest, readable=True).values())  # a link: its target's length
    assert stats.bytes_written == total - sum(partial.values()) - sum((dest / rel).lstat().st_size for rel in complete_before)
    assert not list(dest.rglob(f"*{PARTIAL_SUFFIX}"))
    for spec in backup.files:
        if spec.domain == BIG_DOMAIN:
            assert (dest / spec.domain / spec.relative_path).read_bytes() == spec.content, spec.relative_path


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []


def test_a_partial_file_is_continued_and_a_wrong_one_rewritten(tmp_path, big) -> None:
    backup, source = big
    dest = tmp_path / "out"
    video = next(s for s in backup.files if s.relative_path == "Media/video0.mov")
    other = next(s for s in backup.files if s.relative_path == "Media/video1.mov")
    media = dest / BIG_DOMAIN / "Media"
    media.mkdir(parents=True)
    (media / f"video0.mov{PARTIAL_SUFFIX}").write_bytes(video.content[: 10 << 20])
    (media / f"video1.mov{PARTIAL_SUFFIX}").write_bytes(b"not what the backup holds" * 1000)
    stats = extract(source, dest, [f"{BIG_DOMAIN}/Media"], progress=False)
    assert (stats.files_written, stats.files_resumed) == (2, 2)
    # video0 from its 10 MiB on; video1 from its bad prefix on, then once more from its first byte
    assert stats.bytes_written == (VIDEO_BYTES - (10 << 20)) + (VIDEO_BYTES - 25_000) + VIDEO_BYTES
    assert (media / "video0.mov").read_bytes() == video.content
    assert (media / "video1.mov").read_bytes() == other.content
    assert sorted(p.name for p in media.iterdir()) == ["video0.mov", "video1.mov"]


def test_a_file_that_differs_twice_stops_the_extract(tmp_path, big, monkeypatch) -> None:
    _, source = big
    monkeypatch.setattr(extract_module, "_hash_of", lambda handle, size: b"a failing disk")
    with pytest.raises(BackupfsError, match="differs from the backup after writing it twice"):
        extract(source, tmp_path / "out", [f"{BIG_DOMAIN}/Media/video0.mov"], progress=False)


def test_a_payload_the_backup_cannot_give_is_listed_and_the_rest_written(tmp_path) -> None:
    backup = build(tmp_path / "backup")
    source = source_of(backup, tmp_path / "index")
    gone = source.node("HomeDomain/Library/AddressBook/AddressBook.sqlitedb")
    (backup.root / gone.source).unlink()
    stats = extract(source, tmp_path / "out", ["HomeDomain"], progress=False)
    assert [path for path, _ in stats.failed] == [gone.path]
    assert not (tmp_path / "out" / gone.path).exists()
    assert not list((tmp_path / "out").rglob(f"*{PARTIAL_SUFFIX}"))
    assert (tmp_path / "out/HomeDomain/Library/Preferences/com.apple.Maps.plist").is_file()


def test_only_the_given_paths_are_written(tmp_path, big) -> None:
    _, source = big
    dest = tmp_path / "out"
    paths = ["CameraRollDomain/Media/DCIM/100APPLE", "/CameraRollDomain/Media/DCIM/", "HomeDomain/Library/SMS/sms.db"]
    stats = extract(source, dest, paths, progress=False)
    assert sorted(files_under(dest, readable=True)) == [
        "CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.HEIC", "CameraRollDomain/Media/DCIM/100APPLE/IMG_0002.JPG",
        "CameraRollDomain/Media/DCIM/100APPLE/IMG_0003.MOV", "CameraRollDomain/Media/DCIM/100APPLE/IMG_0004.PNG",
        "HomeDomain/Library/SMS/sms.db",
    ]
    assert stats.files_written == 5
    with pytest.raises(BackupfsError, match=r"^CameraRollDomain/Media/NOPE is not in the backup's tree") as refused:
        extract(source, tmp_path / "other", ["CameraRollDomain/Media/DCIM", "CameraRollDomain/Media/NOPE"])
    assert "\n" not in str(refused.value) and not (tmp_path / "other").exists()


def test_dest_may_be_a_link_the_user_made(tmp_path, big) -> None:
    _, source = big
    (tmp_path / "real").mkdir()
    (tmp_path / "dest").symlink_to(tmp_path / "real")
    extract(source, tmp_path / "dest", ["CameraRollDomain"], progress=False)
    assert (tmp_path / "real/CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.HEIC").is_file()


def test_a_symlink_is_written_as_a_symlink(tmp_path, big) -> None:
    _, source = big
    dest = tmp_path / "out"
    extract(source, dest, ["HomeDomain/Library/Preferences"], progress=False)
    link = dest / "HomeDomain/Library/Preferences/link-to-maps.plist"
    assert os.readlink(link) == "com.apple.Maps.plist"
    assert link.read_bytes() == (dest / "HomeDomain/Library/Preferences/com.apple.Maps.plist").read_bytes()
    assert extract(source, dest, ["HomeDomain/Library/Preferences"], progress=False).files_written == 0


def test_a_dest_inside_the_backup_is_refused(tmp_path, big) -> None:
    backup, source = big
    bucket = backup.payload_path(backup.files[0]).parent
    before = fingerprint(backup.root)
    (tmp_path / "link").symlink_to(bucket)
    for dest in (backup.root, backup.root / "extracted", bucket / "deeper", tmp_path / "link/x"):
        with pytest.raises(BackupfsError, match="is inside the backup") as refused:
            extract(source, dest, progress=False)
        assert "\n" not in str(refused.value)
    assert fingerprint(backup.root) == before


def test_a_dest_whose_folders_would_land_on_the_backup_is_refused(tmp_path) -> None:
    holder = tmp_path / "holder"
    backup = build(holder / "HomeDomain")  # a backup folder called like a folder of the tree
    source = source_of(backup, tmp_path / "index")
    before = fingerprint(backup.root)
    with pytest.raises(BackupfsError, match="holds the backup"):
        extract(source, holder, progress=False)
    extract(source, holder, ["CameraRollDomain"], progress=False)  # nothing of it lands on the backup
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "HomeDomain").symlink_to(backup.root)
    with pytest.raises(BackupfsError, match="holds the backup"):
        extract(source, dest, ["HomeDomain"], progress=False)
    (dest / "HomeDomain").unlink()
    (dest / "HomeDomain").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BackupfsError, match="exists and is not a folder"):
        extract(source, dest, ["HomeDomain"], progress=False)
    assert fingerprint(backup.root) == before


ODD_NAMES = {  # as the mount shows them -> as written for Windows
    "Documents/a:b?.txt": "Documents/a%3Ab%3F.txt",
    "Documents/CON.txt": "Documents/CO%4E.txt",
    "Documents/ends with dot.": "Documents/ends with dot%2E",
    "Documents/50%: off": "Documents/50%25%3A off",
    "Documents/IMG_1.JPG": "Documents/IMG_1.JPG",
    "Documents/img_1.jpg": "Documents/%69%6D%67_1.%6A%70%67",
    "Documents/a%3Ab": "Documents/a%253Ab",
    BAD_NAME: "Media/caf%E9-%FF.jpg",
}


@pytest.fixture
def odd(tmp_path: Path) -> tuple[BuiltBackup, MountSource]:
    specs = [PayloadSpec("HomeDomain", name, f"bytes of {name}".encode("utf-8", "surrogateescape")) for name in ODD_NAMES]
    specs.append(PayloadSpec("HomeDomain", "Documents/link", kind=Kind.SYMLINK, target="a:b?.txt"))
    backup = build(tmp_path / "backup", specs)
    return backup, source_of(backup, tmp_path / "index")


def test_names_windows_cannot_store_are_escaped_for_windows(tmp_path, odd) -> None:
    _, source = odd
    dest = tmp_path / "out"
    extract(source, dest, ["HomeDomain"], progress=False, platform="win32")
    written = files_under(dest / "HomeDomain")
    assert sorted(written) == sorted([*ODD_NAMES.values(), "Documents/link"])
    for name, escaped in ODD_NAMES.items():
        assert written[escaped].read_bytes() == f"bytes of {name}".encode("utf-8", "surrogateescape")
        assert "/".join(original_name(part, "win32") for part in escaped.split("/")) == name
    assert all(storable(part, "win32") for rel in written for part in rel.split("/"))
    assert not written["Documents/link"].is_symlink()  # as git writes a link where it cannot make one
    assert written["Documents/link"].read_bytes() == b"a%3Ab%3F.txt"
    again = extract(source, dest, ["HomeDomain"], progress=False, platform="win32")
    assert (again.files_written, again.files_skipped) == (0, len(written))


def test_names_are_kept_byte_for_byte_on_linux_and_escaped_for_macos(tmp_path, odd) -> None:
    _, source = odd
    extract(source, tmp_path / "linux", ["HomeDomain"], progress=False, platform="linux")
    assert sorted(files_under(tmp_path / "linux/HomeDomain")) == sorted([*ODD_NAMES, "Documents/link"])
    mac = tmp_path / "mac"
    extract(source, mac, ["HomeDomain"], progress=False, platform="darwin")
    written = files_under(mac / "HomeDomain")
    assert "Documents/a%3Ab?.txt" in written and "Documents/CON.txt" in written and "Media/caf%E9-%FF.jpg" in written
    assert "Documents/%69%6D%67_1.%6A%70%67" in written  # macOS does not tell case apart either
    assert os.readlink(written["Documents/link"]) == "a%3Ab?.txt"
    assert written["Documents/link"].read_bytes() == b"bytes of Documents/a:b?.txt"


FUSE_FREE_RUN = textwrap.dedent("""
    import json, sys
    if sys.argv[4] == "blocked":
        sys.modules["mfusepy"] = None  # any import of it fails
    from pathlib import Path
    from backupfs.content.mount_source import MountSource
    from backupfs.export.extract import extract
    from backupfs.index.build import build_index
    from backupfs.source.discover import find_backups

    stats = extract(MountSource(build_index(find_backups(sys.argv[1]), Path(sys.argv[2]), show_progress=False)),
                    Path(sys.argv[3]), progress=False)
    loaded = sorted(name for name, module in sys.modules.items()
                    if module is not None and (name == "mfusepy" or name.startswith("backupfs.fs")))
    try:
        import mfusepy  # noqa: F401
        fuse = "loads"
    except ImportError:
        fuse = "ImportError"
    except OSError:
        fuse = "OSError"
    print(json.dumps({"written": stats.files_written, "loaded": loaded, "fuse": fuse}))
""")


@pytest.mark.parametrize("how", ["blocked", "no libfuse"])
def test_it_runs_where_fuse_is_unavailable(tmp_path, unnamed, how) -> None:
    backup, _ = unnamed
    env = {**os.environ, "PYTHONPATH": str(REPO), "FUSE_LIBRARY_PATH": str(tmp_path / "no-such-libfuse.so.3")}
    result = subprocess.run(
        [sys.executable, "-c", FUSE_FREE_RUN, backup.root, tmp_path / "own-index", tmp_path / "out", how],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["loaded"] == [] and report["fuse"] in ("ImportError", "OSError")
    assert report["written"] == len(files_under(tmp_path / "out", readable=True)) > len(backup.files)


def test_stats_say_what_was_done(tmp_path, unnamed) -> None:
    stats = extract(unnamed[1], tmp_path / "out", ["CameraRollDomain"], progress=False)
    assert isinstance(stats, ExtractStats)
    assert (stats.files_written, stats.files_skipped, stats.files_resumed, stats.failed) == (4, 0, 0, [])
    assert stats.bytes_written == sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert stats.seconds > 0

"""The catalog: names of files seen on real iPhones, looked up by their payload hash.

A damaged backup keeps its payloads but may lose the index that names them. Each
payload is named ``SHA1(domain-relativePath)``, so a list of (domain, relativePath)
pairs known to exist on iPhones names every payload whose hash it contains.

The catalog holds a few hundred thousand pairs, so it is shipped as one compact binary
file that is memory-mapped rather than parsed: start-up costs a few milliseconds and no
dict is built. Layout (little-endian; written by ``contrib/build_catalog.py``):

    magic  b"BFSCAT\\x00\\x01"
    u32 count, block_size, block_count, bucket_bits, zdict_len, extra_len
    buckets  (2**bucket_bits + 1) x u32: index of the first key whose top bits are >= b
    keys     count x 8 bytes: first 8 bytes of each SHA1, sorted
    entries  count x u32: number of the pair in string-table order, per key
    offsets  (block_count + 1) x u32: start of each block within the blocks area
    zdict    zdict_len bytes: the zlib preset dictionary every block was compressed with
    blocks   block_count zlib streams, each ``block_size`` pairs "domain\\0path\\0..."
    extra    extra_len bytes: zlib-compressed JSON {"container_paths": {...}, ...}

Keys are truncated, so every hit is re-hashed in full before it is returned.
"""

from __future__ import annotations

import bisect
import json
import logging
import mmap
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

from backupfs.errors import BackupfsError
from backupfs.source.manifest.records import file_id

log = logging.getLogger(__name__)

MAGIC = b"BFSCAT\x00\x01"
HEADER = struct.Struct("<8sIIIIII")
BUCKET_BITS = 14
KEY_SIZE = 8
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "catalog.bin"

# Container path templates hold this where the container's own id goes
# (``Library/Preferences/{bundle_id}.plist``).
BUNDLE_ID_PLACEHOLDER = "{bundle_id}"
CONTAINER_PREFIXES = ("AppDomain", "AppDomainGroup", "AppDomainPlugin")


class CatalogError(BackupfsError):
    """The packaged name catalog is missing or damaged."""


class _Keys:
    """The sorted key array as a sequence, so ``bisect`` can search the mapping in place."""

    __slots__ = ("_buf", "_count", "_start")

    def __init__(self, buf: mmap.mmap | bytes, start: int, count: int) -> None:
        self._buf = buf
        self._start = start
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> bytes:
        offset = self._start + index * KEY_SIZE
        return self._buf[offset : offset + KEY_SIZE]


class Catalog:
    """Known (domain, relativePath) pairs, found by the payload name they hash to."""

    def __init__(self, buf: mmap.mmap | bytes, source: str) -> None:
        """Check the layout of ``buf`` (the whole catalog file); see :meth:`load`."""
        self._buf = buf
        self._source = source
        if len(buf) < HEADER.size:
            raise self._damaged("it is too short")
        magic, count, block_size, block_count, bucket_bits, zdict_len, extra_len = HEADER.unpack_from(buf, 0)
        if magic != MAGIC:
            raise self._damaged("it does not start with the catalog signature")
        if block_size == 0 or block_count != -(-count // block_size) or not 1 <= bucket_bits <= 24:
            raise self._damaged("its block table is inconsistent")
        self._count = count
        self._block_size = block_size
        self._bucket_shift = 64 - bucket_bits
        self._buckets_at = HEADER.size
        self._keys_at = self._buckets_at + ((1 << bucket_bits) + 1) * 4
        self._entries_at = self._keys_at + count * KEY_SIZE
        self._offsets_at = self._entries_at + count * 4
        zdict_at = self._offsets_at + (block_count + 1) * 4
        self._blocks_at = zdict_at + zdict_len
        if len(buf) < self._blocks_at:
            raise self._damaged("it is truncated")
        self._zdict = bytes(buf[zdict_at : self._blocks_at])
        blocks_len = struct.unpack_from("<I", buf, self._offsets_at + block_count * 4)[0]
        self._extra_at = self._blocks_at + blocks_len
        if len(buf) != self._extra_at + extra_len:
            raise self._damaged("its size does not match its header")
        self._keys = _Keys(buf, self._keys_at, count)
        self._container_paths: Mapping[str, tuple[str, ...]] | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> Catalog:
        """Map the catalog file (default: the one shipped with backupfs) read-only."""
        path = DEFAULT_PATH if path is None else Path(path)
        try:
            with open(path, "rb") as handle:
                size = handle.seek(0, 2)
                buf: mmap.mmap | bytes = (
                    mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
                )
        except OSError as exc:
            raise CatalogError(
                f"The name catalog {path} cannot be read ({exc.strerror or exc}); reinstall backupfs."
            ) from exc
        return cls(buf, str(path))

    def __len__(self) -> int:
        return self._count

    def lookup(self, file_id_hex: str) -> tuple[str, str] | None:
        """The (domain, relativePath) whose payload name is ``file_id_hex``, if known."""
        wanted = file_id_hex.strip().lower()
        if len(wanted) != 40:
            return None
        try:
            key = bytes.fromhex(wanted[: KEY_SIZE * 2])
        except ValueError:
            return None
        bucket = int.from_bytes(key, "big") >> self._bucket_shift
        low, high = struct.unpack_from("<II", self._buf, self._buckets_at + bucket * 4)
        if not low <= high <= self._count:
            raise self._damaged("its bucket table is inconsistent")
        index = bisect.bisect_left(self._keys, key, low, high)
        while index < self._count and self._keys[index] == key:
            pair = self._pair(struct.unpack_from("<I", self._buf, self._entries_at + index * 4)[0])
            if pair is not None and file_id(*pair) == wanted:
                return pair
            index += 1
        return None

    def match(self, file_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """``{file_id: (domain, relativePath)}`` for every id in ``file_ids`` the catalog names.

        Most payloads of a backup are not in the catalog; a transient set of the 8-byte
        keys rejects each of those with one probe, where :meth:`lookup` would bisect.
        """
        keys = self._buf[self._keys_at : self._entries_at]
        known = {keys[start : start + KEY_SIZE] for start in range(0, len(keys), KEY_SIZE)}
        found: dict[str, tuple[str, str]] = {}
        for fid in file_ids:
            try:
                key = bytes.fromhex(fid[: KEY_SIZE * 2])
            except ValueError:
                continue
            if key in known and (pair := self.lookup(fid)) is not None:
                found[fid] = pair
        return found

    @property
    def container_paths(self) -> Mapping[str, tuple[str, ...]]:
        """Relative paths common inside app containers, by domain prefix.

        Keys are ``AppDomain``, ``AppDomainGroup`` and ``AppDomainPlugin``; paths may
        contain :data:`BUNDLE_ID_PLACEHOLDER`. Parsed on first use only.
        """
        if self._container_paths is None:
            raw = self._extra().get("container_paths", {})
            self._container_paths = MappingProxyType(
                {prefix: tuple(raw.get(prefix, ())) for prefix in CONTAINER_PREFIXES}
            )
        return self._container_paths

    def _extra(self) -> dict[str, object]:
        try:
            data = json.loads(zlib.decompress(self._buf[self._extra_at :]))
        except (zlib.error, ValueError) as exc:
            raise self._damaged(f"its extra section is unreadable ({exc})") from exc
        if not isinstance(data, dict):
            raise self._damaged("its extra section is not a mapping")
        return data

    def _pair(self, number: int) -> tuple[str, str] | None:
        """Pair ``number`` in string-table order; None (and a log line) if its block is bad."""
        block, position = divmod(number, self._block_size)
        start, end = struct.unpack_from("<II", self._buf, self._offsets_at + block * 4)
        try:
            decompressor = zlib.decompressobj(zdict=self._zdict)
            raw = decompressor.decompress(self._buf[self._blocks_at + start : self._blocks_at + end])
            fields = raw.decode("utf-8", "surrogateescape").split("\0")
            return fields[2 * position], fields[2 * position + 1]
        except (zlib.error, IndexError) as exc:
            log.warning("name catalog %s: block %d is damaged (%s)", self._source, block, exc)
            return None

    def _damaged(self, why: str) -> CatalogError:
        return CatalogError(f"The name catalog {self._source} is damaged ({why}); reinstall backupfs.")


def app_domain_candidates(bundle_ids: Iterable[str], catalog: Catalog) -> Iterator[tuple[str, str]]:
    """Candidate names inside the containers of the apps a backup says it holds.

    Info.plist and Manifest.plist list app, group and plugin ids without saying which
    is which; every id is tried with all three container prefixes because a wrong
    guess costs only a hash.
    """
    seen: set[str] = set()
    for raw in bundle_ids:
        bundle_id = raw.strip() if isinstance(raw, str) else ""
        if not bundle_id or "/" in bundle_id or bundle_id in seen:
            continue
        seen.add(bundle_id)
        for prefix in CONTAINER_PREFIXES:
            domain = f"{prefix}-{bundle_id}"
            for template in catalog.container_paths.get(prefix, ()):
                yield domain, template.replace(BUNDLE_ID_PLACEHOLDER, bundle_id)


def write_catalog(
    path: Path,
    pairs: Iterable[tuple[str, str]],
    container_paths: Mapping[str, Iterable[str]],
    meta: Mapping[str, object] | None = None,
    block_size: int = 32,
) -> int:
    """Write a catalog file holding ``pairs``; returns how many distinct pairs it holds.

    Output depends only on the arguments (sorted, no timestamps), so rebuilding from the
    same listings gives the same bytes.
    """
    ordered = sorted({(domain, rel) for domain, rel in pairs if "\0" not in domain + rel and domain and rel})
    encoded = [f"{domain}\0{rel}".encode("utf-8", "surrogateescape") for domain, rel in ordered]
    zdict = _preset_dictionary(encoded)
    blocks: list[bytes] = []
    for start in range(0, len(encoded), block_size):
        compressor = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, zdict)
        blocks.append(compressor.compress(b"\0".join(encoded[start : start + block_size])) + compressor.flush())
    offsets = [0]
    for block in blocks:
        offsets.append(offsets[-1] + len(block))
    keyed = sorted((bytes.fromhex(file_id(domain, rel))[:KEY_SIZE], number) for number, (domain, rel) in enumerate(ordered))
    buckets = [0] * ((1 << BUCKET_BITS) + 1)
    for key, _ in keyed:
        buckets[(int.from_bytes(key, "big") >> (64 - BUCKET_BITS)) + 1] += 1
    for bucket in range(1, len(buckets)):
        buckets[bucket] += buckets[bucket - 1]
    extra = {"container_paths": {prefix: sorted(set(container_paths.get(prefix, ()))) for prefix in CONTAINER_PREFIXES}}
    extra.update(meta or {})
    extra_bytes = zlib.compress(json.dumps(extra, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogateescape"), 9)

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.write(HEADER.pack(MAGIC, len(ordered), block_size, len(blocks), BUCKET_BITS, len(zdict), len(extra_bytes)))
        out.write(struct.pack(f"<{len(buckets)}I", *buckets))
        out.write(b"".join(key for key, _ in keyed))
        out.write(struct.pack(f"<{len(keyed)}I", *(number for _, number in keyed)))
        out.write(struct.pack(f"<{len(offsets)}I", *offsets))
        out.write(zdict)
        out.writelines(blocks)
        out.write(extra_bytes)
    return len(ordered)


def _preset_dictionary(encoded: list[bytes], size: int = 16 * 1024) -> bytes:
    """An even sample of the string table: shared by all blocks, it lets tiny blocks compress."""
    if not encoded:
        return b""
    step = max(1, len(encoded) * 48 // size)
    sample = b"\0".join(encoded[::step])
    return sample[-size:]

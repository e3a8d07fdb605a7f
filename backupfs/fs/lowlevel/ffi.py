"""ctypes declarations of libfuse3's low-level API, for the libfuse versions 3.10 to 3.17 on Linux.

There are no headers at run time, so every structure here is written out from
libfuse's own ``fuse_lowlevel.h`` and ``fuse_common.h`` of each version, and from glibc's
``struct stat`` of each machine. What differs between versions is chosen from
``fuse_version()`` when the library is loaded (:class:`Libfuse`):

* ``fuse_file_info``'s flag bits: 3.15 and 3.16 put ``parallel_direct_writes`` in the
  middle of them (libfuse issue #1029), moving ``cache_readdir`` by one; 3.17 put it back
  at the end. Only ``flags`` (offset 0), the flag word (offset 4) and ``fh`` (offset 16,
  the same in every version) are used, so the flags are a plain ``uint32`` and masks.
* ``fuse_conn_info``: 3.17 adds the 64-bit ``capable_ext`` and ``want_ext``, which libfuse
  reconciles with the 32-bit ``want`` after ``init``; both are set alike here.
* ``fuse_session_new``: 3.17 tells the library which version the program was written for
  (``fuse_session_new_versioned``, ``_fuse_session_new_317`` in 3.17.0); the one loaded is
  named, since these declarations are of its own version.
* ``fuse_session_loop_mt``: from 3.12 it takes an opaque ``fuse_loop_config`` made by
  ``fuse_loop_cfg_create``; 3.10 and 3.11 take a two-member structure.

A listing's reply is a run of the kernel's own records (``struct fuse_direntplus`` of
``linux/fuse.h``, the same under every libfuse), packed here in Python (:func:`direntplus`):
``fuse_add_direntry_plus`` would cost a ctypes call and a filled ``fuse_entry_param`` per
entry, more than the rest of the work. The tests hold the two to the same bytes.

``struct fuse_lowlevel_ops`` is declared up to ``lseek``, its last member in 3.14 (whose
``fuse_session_new`` compares the size given with 0x160, 44 pointers) and present since
3.8; libfuse leaves the members past the size given (``tmpfile``, ``statx``) NULL, which
is what a read-only filesystem wants of them.
"""

from __future__ import annotations

import ctypes
import platform
import struct
import sys
from collections.abc import Sequence
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_double,
    c_int,
    c_int32,
    c_int64,
    c_long,
    c_size_t,
    c_uint,
    c_uint32,
    c_uint64,
    c_ulong,
    c_void_p,
)
from ctypes.util import find_library
from functools import cache
from typing import Any

OLDEST = (3, 10)
NEWEST = (3, 17)
"""The libfuse versions whose layouts are written here; a newer one is taken as 3.17 only when asked."""

ROOT_ID = 1  # FUSE_ROOT_ID: the node id of the mount's root
NANOSECONDS = 1_000_000_000

# fuse_common.h: capabilities in fuse_conn_info.want and .capable (and their 64-bit _ext forms in 3.17)
CAP_ASYNC_READ = 1 << 0
CAP_AUTO_INVAL_DATA = 1 << 12
CAP_READDIRPLUS = 1 << 13
CAP_READDIRPLUS_AUTO = 1 << 14
CAP_PARALLEL_DIROPS = 1 << 18
CAP_CACHE_SYMLINKS = 1 << 23

fuse_req_t = c_void_p
fuse_ino_t = c_uint64
off_t = c_int64
mode_t = c_uint32
dev_t = c_uint64


class LibfuseError(OSError):
    """libfuse3 cannot serve here: absent, of a version or machine these declarations do not know."""


# -- glibc's struct stat and struct statvfs ------------------------------------------------

MACHINE = platform.machine()

if MACHINE == "aarch64":  # the generic layout of the 64-bit architectures (asm-generic/stat.h)
    _STAT_FIELDS: list[tuple[str, Any]] = [
        ("st_dev", c_uint64), ("st_ino", c_uint64), ("st_mode", c_uint32), ("st_nlink", c_uint32),
        ("st_uid", c_uint32), ("st_gid", c_uint32), ("st_rdev", c_uint64), ("_pad1", c_uint64),
        ("st_size", c_int64), ("st_blksize", c_int32), ("_pad2", c_int32), ("st_blocks", c_int64),
        ("st_atime", c_long), ("st_atime_nsec", c_long), ("st_mtime", c_long), ("st_mtime_nsec", c_long),
        ("st_ctime", c_long), ("st_ctime_nsec", c_long), ("_reserved", c_int32 * 2),
    ]
else:  # x86_64; another machine is refused by Libfuse before any of this is used
    _STAT_FIELDS = [
        ("st_dev", c_uint64), ("st_ino", c_uint64), ("st_nlink", c_uint64), ("st_mode", c_uint32),
        ("st_uid", c_uint32), ("st_gid", c_uint32), ("_pad0", c_int32), ("st_rdev", c_uint64),
        ("st_size", c_int64), ("st_blksize", c_int64), ("st_blocks", c_int64),
        ("st_atime", c_long), ("st_atime_nsec", c_long), ("st_mtime", c_long), ("st_mtime_nsec", c_long),
        ("st_ctime", c_long), ("st_ctime_nsec", c_long), ("_reserved", c_long * 3),
    ]
MACHINES = ("x86_64", "aarch64")


class Stat(Structure):
    """glibc's ``struct stat`` of this machine (144 bytes on x86_64, 128 on aarch64)."""

    _fields_ = _STAT_FIELDS


class Statvfs(Structure):
    """glibc's ``struct statvfs`` of a 64-bit Linux."""

    _fields_ = [
        ("f_bsize", c_ulong), ("f_frsize", c_ulong), ("f_blocks", c_uint64), ("f_bfree", c_uint64),
        ("f_bavail", c_uint64), ("f_files", c_uint64), ("f_ffree", c_uint64), ("f_favail", c_uint64),
        ("f_fsid", c_ulong), ("f_flag", c_ulong), ("f_namemax", c_ulong), ("_spare", c_int * 6),
    ]


# -- libfuse's structures ------------------------------------------------------------------


class EntryParam(Structure):
    """``struct fuse_entry_param``: a node id, and the attributes and timeouts the kernel keeps for it."""

    _fields_ = [
        ("ino", fuse_ino_t), ("generation", c_uint64), ("attr", Stat),
        ("attr_timeout", c_double), ("entry_timeout", c_double),
    ]


class FileInfo(Structure):
    """``struct fuse_file_info`` of 3.10 to 3.16; its one-bit members are ``bits`` (see :func:`file_info_bits`)."""

    _fields_ = [
        ("flags", c_int32), ("bits", c_uint32), ("padding2", c_uint32), ("padding3", c_uint32),
        ("fh", c_uint64), ("lock_owner", c_uint64), ("poll_events", c_uint32),
    ]


class FileInfo317(Structure):
    """``struct fuse_file_info`` of 3.17: ``backing_id`` and ``compat_flags`` after ``poll_events``.

    libfuse allocates every ``fuse_file_info`` and this backend touches only ``flags``,
    the flag bits and ``fh``, so what follows ``poll_events`` is declared for the record.
    """

    _fields_ = [*FileInfo._fields_, ("backing_id", c_int32), ("compat_flags", c_uint64)]


def file_info_bits(version: tuple[int, int]) -> dict[str, int]:
    """The mask of each one-bit member of ``fuse_file_info`` in ``version``, in the order the header declares them."""
    names = ["writepage", "direct_io", "keep_cache"]
    if (3, 15) <= version < (3, 17):  # inserted here in 3.15, an ABI break undone in 3.17
        names.append("parallel_direct_writes")
    names += ["flush", "nonseekable", "flock_release", "cache_readdir"]
    if version >= (3, 11):
        names.append("noflush")
    if version >= (3, 17):
        names.append("parallel_direct_writes")
    return {name: 1 << bit for bit, name in enumerate(names)}


_CONN_HEAD = [
    ("proto_major", c_uint32), ("proto_minor", c_uint32), ("max_write", c_uint32), ("max_read", c_uint32),
    ("max_readahead", c_uint32), ("capable", c_uint32), ("want", c_uint32), ("max_background", c_uint32),
    ("congestion_threshold", c_uint32), ("time_gran", c_uint32),
]


class ConnInfo(Structure):
    """``struct fuse_conn_info`` of 3.10 to 3.16 (128 bytes)."""

    _fields_ = [*_CONN_HEAD, ("reserved", c_uint32 * 22)]


class ConnInfo317(Structure):
    """``struct fuse_conn_info`` of 3.17 (128 bytes): 64-bit capabilities after the 32-bit ones."""

    _fields_ = [
        *_CONN_HEAD, ("max_backing_stack_depth", c_uint32), ("flags", c_uint32),
        ("capable_ext", c_uint64), ("want_ext", c_uint64), ("request_timeout", ctypes.c_uint16),
        ("reserved", ctypes.c_uint16 * 31),
    ]


class Args(Structure):
    """``struct fuse_args``: argv as libfuse's option parser takes it (built by ``fuse_opt_add_arg``)."""

    _fields_ = [("argc", c_int), ("argv", POINTER(c_char_p)), ("allocated", c_int)]


class LibfuseVersion(Structure):
    """``struct libfuse_version`` (3.17): the version a program was written for."""

    _fields_ = [("major", c_uint32), ("minor", c_uint32), ("hotfix", c_uint32), ("padding", c_uint32)]


class LoopConfig32(Structure):
    """``struct fuse_loop_config`` of 3.2 to 3.11 (opaque from 3.12, made by ``fuse_loop_cfg_create``)."""

    _fields_ = [("clone_fd", c_int), ("max_idle_threads", c_uint)]


class ForgetData(Structure):
    """``struct fuse_forget_data``: one entry of a ``forget_multi``."""

    _fields_ = [("ino", fuse_ino_t), ("nlookup", c_uint64)]


# -- struct fuse_lowlevel_ops --------------------------------------------------------------
# Pointers to libfuse's structures are plain addresses (c_void_p), read with from_address
# where needed: a ctypes pointer object per request costs more than it gives.

_req = fuse_req_t
_ino = fuse_ino_t
_fi = c_void_p
LOWLEVEL_OPS: list[tuple[str, Any]] = [
    ("init", CFUNCTYPE(None, c_void_p, c_void_p)),
    ("destroy", CFUNCTYPE(None, c_void_p)),
    ("lookup", CFUNCTYPE(None, _req, _ino, c_char_p)),
    ("forget", CFUNCTYPE(None, _req, _ino, c_uint64)),
    ("getattr", CFUNCTYPE(None, _req, _ino, _fi)),
    ("setattr", CFUNCTYPE(None, _req, _ino, c_void_p, c_int, _fi)),
    ("readlink", CFUNCTYPE(None, _req, _ino)),
    ("mknod", CFUNCTYPE(None, _req, _ino, c_char_p, mode_t, dev_t)),
    ("mkdir", CFUNCTYPE(None, _req, _ino, c_char_p, mode_t)),
    ("unlink", CFUNCTYPE(None, _req, _ino, c_char_p)),
    ("rmdir", CFUNCTYPE(None, _req, _ino, c_char_p)),
    ("symlink", CFUNCTYPE(None, _req, c_char_p, _ino, c_char_p)),
    ("rename", CFUNCTYPE(None, _req, _ino, c_char_p, _ino, c_char_p, c_uint)),
    ("link", CFUNCTYPE(None, _req, _ino, _ino, c_char_p)),
    ("open", CFUNCTYPE(None, _req, _ino, _fi)),
    ("read", CFUNCTYPE(None, _req, _ino, c_size_t, off_t, _fi)),
    ("write", CFUNCTYPE(None, _req, _ino, c_void_p, c_size_t, off_t, _fi)),
    ("flush", CFUNCTYPE(None, _req, _ino, _fi)),
    ("release", CFUNCTYPE(None, _req, _ino, _fi)),
    ("fsync", CFUNCTYPE(None, _req, _ino, c_int, _fi)),
    ("opendir", CFUNCTYPE(None, _req, _ino, _fi)),
    ("readdir", CFUNCTYPE(None, _req, _ino, c_size_t, off_t, _fi)),
    ("releasedir", CFUNCTYPE(None, _req, _ino, _fi)),
    ("fsyncdir", CFUNCTYPE(None, _req, _ino, c_int, _fi)),
    ("statfs", CFUNCTYPE(None, _req, _ino)),
    ("setxattr", CFUNCTYPE(None, _req, _ino, c_char_p, c_void_p, c_size_t, c_int)),
    ("getxattr", CFUNCTYPE(None, _req, _ino, c_char_p, c_size_t)),
    ("listxattr", CFUNCTYPE(None, _req, _ino, c_size_t)),
    ("removexattr", CFUNCTYPE(None, _req, _ino, c_char_p)),
    ("access", CFUNCTYPE(None, _req, _ino, c_int)),
    ("create", CFUNCTYPE(None, _req, _ino, c_char_p, mode_t, _fi)),
    ("getlk", CFUNCTYPE(None, _req, _ino, _fi, c_void_p)),
    ("setlk", CFUNCTYPE(None, _req, _ino, _fi, c_void_p, c_int)),
    ("bmap", CFUNCTYPE(None, _req, _ino, c_size_t, c_uint64)),
    ("ioctl", CFUNCTYPE(None, _req, _ino, c_uint, c_void_p, _fi, c_uint, c_void_p, c_size_t, c_size_t)),
    ("poll", CFUNCTYPE(None, _req, _ino, _fi, c_void_p)),
    ("write_buf", CFUNCTYPE(None, _req, _ino, c_void_p, off_t, _fi)),
    ("retrieve_reply", CFUNCTYPE(None, _req, c_void_p, _ino, off_t, c_void_p)),
    ("forget_multi", CFUNCTYPE(None, _req, c_size_t, c_void_p)),
    ("flock", CFUNCTYPE(None, _req, _ino, _fi, c_int)),
    ("fallocate", CFUNCTYPE(None, _req, _ino, c_int, off_t, off_t, _fi)),
    ("readdirplus", CFUNCTYPE(None, _req, _ino, c_size_t, off_t, _fi)),
    ("copy_file_range", CFUNCTYPE(None, _req, _ino, off_t, _fi, _ino, off_t, _fi, c_size_t, c_int)),
    ("lseek", CFUNCTYPE(None, _req, _ino, off_t, c_int, _fi)),
]
OPERATION_TYPES: dict[str, Any] = dict(LOWLEVEL_OPS)


class LowlevelOps(Structure):
    """``struct fuse_lowlevel_ops`` up to ``lseek`` (see the module's docstring); NULL members answer ENOSYS."""

    _fields_ = LOWLEVEL_OPS


# -- filling libfuse's structures, and the kernel's records of a listing -----------------


def fill_stat(st: Stat, number: int, attrs: tuple[int, ...]) -> None:
    """``st`` as node ``number`` with ``attrs`` (:data:`STAT_FIELDS` order, times in nanoseconds)."""
    mode, nlink, uid, gid, size, blksize, blocks, atime, mtime, ctime = attrs
    st.st_ino, st.st_mode, st.st_nlink, st.st_uid, st.st_gid = number, mode, nlink, uid, gid
    st.st_size, st.st_blksize, st.st_blocks = size, blksize, blocks
    st.st_atime, st.st_atime_nsec = divmod(atime, NANOSECONDS)
    st.st_mtime, st.st_mtime_nsec = divmod(mtime, NANOSECONDS)
    st.st_ctime, st.st_ctime_nsec = divmod(ctime, NANOSECONDS)


# linux/fuse.h: struct fuse_entry_out (with its struct fuse_attr), then struct fuse_dirent;
# the kernel's ABI, the same whichever libfuse sends it. A READDIRPLUS reply is a run of
# these records, each followed by its name and zeros up to a multiple of 8 bytes. Sizes and
# times are packed signed: libfuse copies struct stat's signed members into them as they are.
_ENTRY_OUT = "QQQQII" "Qqqqqq" "IIIIIIIIII"
_DIRENTPLUS = struct.Struct("=" + _ENTRY_OUT + "QQII")
_DIRENT = struct.Struct("=QQII")
_PADDING = tuple(bytes(n) for n in range(8))
_S_IFMT = 0o170000


def timeout(seconds: float) -> tuple[int, int]:
    """A timeout as the kernel takes it, seconds and nanoseconds (libfuse's ``calc_timeout_sec``/``_nsec``)."""
    whole = 0 if seconds < 0 else min(int(seconds), (1 << 64) - 1)
    fraction = seconds - whole
    return whole, 0 if fraction < 0 else 999_999_999 if fraction >= 0.999999999 else int(fraction * 1e9)


DIRENTPLUS_SIZE = _DIRENTPLUS.size  # 152: FUSE_NAME_OFFSET_DIRENTPLUS
DIRENT_SIZE = _DIRENT.size  # 24: FUSE_NAME_OFFSET


def record_length(name: bytes, plus: bool) -> int:
    """Bytes a listing's record of ``name`` takes, padding included (``fuse_add_direntry(_plus)``'s answer)."""
    return (DIRENTPLUS_SIZE if plus else DIRENT_SIZE) + (len(name) + 7 & ~7)


def direntplus(
    name: bytes, offset: int, number: int, attrs: tuple[int, ...], entry_valid: tuple[int, int],
    attr_valid: tuple[int, int],
) -> bytes:
    """The READDIRPLUS record of node ``number``, as ``fuse_add_direntry_plus`` writes it.

    ``offset`` is the one the kernel gives back to go on after this entry; ``attrs`` in
    :data:`STAT_FIELDS` order (times in nanoseconds); the node's inode number is its id.
    """
    mode, nlink, uid, gid, size, blksize, blocks, atime, mtime, ctime = attrs
    atime, atime_ns = divmod(atime, NANOSECONDS)
    mtime, mtime_ns = divmod(mtime, NANOSECONDS)
    ctime, ctime_ns = divmod(ctime, NANOSECONDS)
    return _DIRENTPLUS.pack(
        number, 0, entry_valid[0], attr_valid[0], entry_valid[1], attr_valid[1],
        number, size, blocks, atime, mtime, ctime, atime_ns, mtime_ns, ctime_ns, mode, nlink, uid, gid, 0, blksize, 0,
        number, offset, len(name), (mode & _S_IFMT) >> 12,
    ) + name + _PADDING[-len(name) % 8]


def direntplus_bare(name: bytes, offset: int, ino: int, mode: int) -> bytes:
    """A READDIRPLUS record without a node (id 0): the kernel ignores its attributes and looks the name up when used."""
    return _DIRENTPLUS.pack(
        0, 0, 0, 0, 0, 0, ino, 0, 0, 0, 0, 0, 0, 0, 0, mode, 0, 0, 0, 0, 0, 0, ino, offset, len(name),
        (mode & _S_IFMT) >> 12,
    ) + name + _PADDING[-len(name) % 8]


def dirent(name: bytes, offset: int, ino: int, mode: int) -> bytes:
    """A READDIR record (names and types only), as ``fuse_add_direntry`` writes it."""
    return _DIRENT.pack(ino, offset, len(name), (mode & _S_IFMT) >> 12) + name + _PADDING[-len(name) % 8]


# -- the library -----------------------------------------------------------------------------


def _declare(function: Any, restype: Any, *argtypes: Any) -> Any:
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


class Libfuse:
    """libfuse3, loaded, with the functions this backend calls declared for its version.

    Replies take addresses (``c_void_p``) for their structures and buffers: bytes, a
    ctypes object or an ``int`` address all pass.
    """

    def __init__(self, path: str, allow_newer: bool = False) -> None:
        if not sys.platform.startswith("linux") or MACHINE not in MACHINES:
            raise LibfuseError(f"the low-level backend knows the libfuse3 of Linux on {' and '.join(MACHINES)} only")
        dll = ctypes.CDLL(path)
        self.dll = dll
        number = _declare(dll.fuse_version, c_int)()
        self.version = (number // 100, number % 100)  # FUSE_MAKE_VERSION(major, minor) is major * 100 + minor
        if self.version < OLDEST or (self.version > NEWEST and not allow_newer):
            raise LibfuseError(
                f"libfuse {self.version[0]}.{self.version[1]} is not one of the versions the low-level backend "
                f"knows ({OLDEST[0]}.{OLDEST[1]} to {NEWEST[0]}.{NEWEST[1]})"
            )
        self.layout = min(self.version, NEWEST)  # the version whose structures are used
        self.file_info: type[Structure] = FileInfo317 if self.layout >= (3, 17) else FileInfo
        self.conn_info: type[Structure] = ConnInfo317 if self.layout >= (3, 17) else ConnInfo
        self.bits = file_info_bits(self.layout)
        self._declare_functions(dll)

    def _declare_functions(self, dll: ctypes.CDLL) -> None:
        req = fuse_req_t
        self.fuse_opt_add_arg = _declare(dll.fuse_opt_add_arg, c_int, POINTER(Args), c_char_p)
        self.fuse_opt_free_args = _declare(dll.fuse_opt_free_args, None, POINTER(Args))
        self.fuse_set_signal_handlers = _declare(dll.fuse_set_signal_handlers, c_int, c_void_p)
        self.fuse_remove_signal_handlers = _declare(dll.fuse_remove_signal_handlers, None, c_void_p)
        self.fuse_session_mount = _declare(dll.fuse_session_mount, c_int, c_void_p, c_char_p)
        self.fuse_session_unmount = _declare(dll.fuse_session_unmount, None, c_void_p)
        self.fuse_session_destroy = _declare(dll.fuse_session_destroy, None, c_void_p)
        self.fuse_session_exit = _declare(dll.fuse_session_exit, None, c_void_p)
        self.fuse_reply_err = _declare(dll.fuse_reply_err, c_int, req, c_int)
        self.fuse_reply_none = _declare(dll.fuse_reply_none, None, req)
        self.fuse_reply_entry = _declare(dll.fuse_reply_entry, c_int, req, c_void_p)
        self.fuse_reply_attr = _declare(dll.fuse_reply_attr, c_int, req, c_void_p, c_double)
        self.fuse_reply_readlink = _declare(dll.fuse_reply_readlink, c_int, req, c_char_p)
        self.fuse_reply_open = _declare(dll.fuse_reply_open, c_int, req, c_void_p)
        self.fuse_reply_buf = _declare(dll.fuse_reply_buf, c_int, req, c_void_p, c_size_t)
        self.fuse_reply_statfs = _declare(dll.fuse_reply_statfs, c_int, req, c_void_p)
        self.fuse_reply_xattr = _declare(dll.fuse_reply_xattr, c_int, req, c_size_t)
        self.fuse_add_direntry = _declare(
            dll.fuse_add_direntry, c_size_t, req, c_void_p, c_size_t, c_char_p, c_void_p, off_t
        )
        self.fuse_add_direntry_plus = _declare(
            dll.fuse_add_direntry_plus, c_size_t, req, c_void_p, c_size_t, c_char_p, c_void_p, off_t
        )

    # -- the calls whose symbol depends on the version ------------------------------------

    def session_new(self, args: Args, operations: LowlevelOps) -> int | None:
        """``fuse_session_new`` as a program written for this library's version calls it; None when refused."""
        size = ctypes.sizeof(operations)
        for name in ("fuse_session_new_versioned", "_fuse_session_new_317"):  # 3.17.1 on, 3.17.0
            versioned = getattr(self.dll, name, None)
            if versioned is not None:
                _declare(versioned, c_void_p, POINTER(Args), POINTER(LowlevelOps), c_size_t, POINTER(LibfuseVersion),
                         c_void_p)
                version = LibfuseVersion(*self.layout, self._hotfix(), 0)
                return versioned(ctypes.byref(args), ctypes.byref(operations), size, ctypes.byref(version), None)
        plain = _declare(self.dll.fuse_session_new, c_void_p, POINTER(Args), POINTER(LowlevelOps), c_size_t, c_void_p)
        return plain(ctypes.byref(args), ctypes.byref(operations), size, None)

    def _hotfix(self) -> int:
        """The third number of the library's version ("3.17.2"), which only ``fuse_pkgversion`` tells."""
        text = _declare(self.dll.fuse_pkgversion, c_char_p)() or b""
        parts = text.decode(errors="replace").split(".")
        return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0

    def loop_mt(self, session: int, max_threads: int, max_idle_threads: int) -> int:
        """``fuse_session_loop_mt`` with up to ``max_threads`` threads (3.12 on; earlier ones start them as needed)."""
        create = getattr(self.dll, "fuse_loop_cfg_create", None)
        if create is None:  # 3.10, 3.11: the default symbol takes the 3.2 structure
            loop = _declare(self.dll.fuse_session_loop_mt, c_int, c_void_p, POINTER(LoopConfig32))
            return loop(session, ctypes.byref(LoopConfig32(0, max_idle_threads)))
        config = _declare(create, c_void_p)()
        if not config:
            raise MemoryError("fuse_loop_cfg_create failed")
        try:
            _declare(self.dll.fuse_loop_cfg_set_max_threads, None, c_void_p, c_uint)(config, max_threads)
            _declare(self.dll.fuse_loop_cfg_set_idle_threads, None, c_void_p, c_uint)(config, max_idle_threads)
            # Named where libfuse was built without symbol versions; the default version otherwise.
            loop = getattr(self.dll, "fuse_session_loop_mt_312", None) or self.dll.fuse_session_loop_mt
            return _declare(loop, c_int, c_void_p, c_void_p)(session, config)
        finally:
            _declare(self.dll.fuse_loop_cfg_destroy, None, c_void_p)(config)

    def arguments(self, argv: Sequence[str]) -> Args:
        """A ``fuse_args`` of ``argv``, owned by libfuse (free it with ``fuse_opt_free_args``)."""
        args = Args(0, None, 0)
        for argument in argv:
            if self.fuse_opt_add_arg(ctypes.byref(args), argument.encode("utf-8", "surrogateescape")) != 0:
                self.fuse_opt_free_args(ctypes.byref(args))
                raise MemoryError("fuse_opt_add_arg failed")
        return args


def load(allow_newer: bool = False) -> Libfuse:
    """libfuse3 of this system, loaded once; :class:`LibfuseError` saying why it cannot serve."""
    return _load(bool(allow_newer))


@cache
def _load(allow_newer: bool) -> Libfuse:
    path = find_library("fuse3") if sys.platform.startswith("linux") else None
    if not path:
        raise LibfuseError("libfuse3 is not installed (on Debian or Ubuntu: apt-get install fuse3)")
    return Libfuse(path, allow_newer)

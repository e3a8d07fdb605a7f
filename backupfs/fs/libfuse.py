"""The one place mfusepy is imported, after choosing which libfuse it loads.

Every module that needs mfusepy takes it from here (``from backupfs.fs.libfuse import
fuse``), so the choice below is always made first, and a command that does not mount
never loads libfuse at all.
"""

from __future__ import annotations

import os
import sys
from ctypes.util import find_library


def choose_libfuse() -> None:
    """Have mfusepy load libfuse3 on Linux when it is installed and the user chose no library.

    mfusepy takes libfuse2 whenever both are installed, and only libfuse3 (3.5 and later)
    lets the kernel keep listings and take attributes along with them (see
    ``kernel_cache``): the difference between seconds and minutes for a walk of a
    phone's 300,000 files. mfusepy reads the choice from the environment once, when it is
    first imported, so this runs just before this module imports it. ``FUSE_LIBRARY_PATH`` or
    ``FUSE_LIBRARY_NAME`` set by the user are left alone; without libfuse3, mfusepy
    falls back to libfuse2 as before (macOS has only that API).
    """
    if not sys.platform.startswith("linux") or "mfusepy" in sys.modules:
        return
    if os.environ.get("FUSE_LIBRARY_PATH") or os.environ.get("FUSE_LIBRARY_NAME"):
        return
    libfuse3 = find_library("fuse3")
    if libfuse3:
        os.environ["FUSE_LIBRARY_PATH"] = libfuse3


choose_libfuse()

import mfusepy as fuse  # noqa: E402

__all__ = ["fuse"]

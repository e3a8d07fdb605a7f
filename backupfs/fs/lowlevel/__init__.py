"""The low-level FUSE backend: libfuse3's inode API through ctypes, on Linux (libfuse 3.10 to 3.17).

Owns the ctypes declarations of libfuse3 and the layouts that differ between its versions
(``ffi``), the answers to the kernel's requests from a ``MountSource``, with node ids,
lookup counts and listings packed into READDIRPLUS replies (``server``), and running a
session until it is unmounted (``mount``: ``serve`` and ``why_unusable``). It is chosen
beside the mfusepy backend (``fs.operations``), which stays for macOS, Windows and
libfuse2; like it, it holds no format knowledge.
"""

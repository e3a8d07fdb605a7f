"""The backup's content taken elsewhere without FUSE: the mount's tree written to a folder, and a repaired backup.

Nothing here needs a FUSE library, so it runs where none is installed (Windows, a Mac
without macFUSE). Imports source, naming, index and content (and the readable folder's
name); never fs.
"""

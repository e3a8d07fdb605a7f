"""The look of every rendered HTML page: one small stylesheet, no script, no outside resource.

Pages open from a read-only folder, perhaps offline, in any browser: everything a page
needs is in it, and links point only to files of the mount, relatively.
"""

from __future__ import annotations

from html import escape

_STYLE = """
body { font: 15px/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0; background: #f2f2f7; color: #1c1c1e; }
header { background: #fff; border-bottom: 1px solid #d1d1d6; padding: 14px 20px; position: sticky; top: 0; }
header h1 { font-size: 18px; margin: 0; } header p { margin: 2px 0 0; color: #6e6e73; font-size: 13px; }
main { max-width: 760px; margin: 0 auto; padding: 16px 20px 40px; }
.day { text-align: center; color: #6e6e73; font-size: 12px; margin: 18px 0 8px; }
.msg { display: flex; flex-direction: column; align-items: flex-start; margin: 3px 0; }
.msg .who { font-size: 11px; color: #6e6e73; margin: 6px 10px 1px; }
.msg .bubble { max-width: 78%; padding: 7px 12px; border-radius: 17px; background: #e5e5ea; white-space: pre-wrap; overflow-wrap: anywhere; }
.msg.me { align-items: flex-end; } .msg.me .bubble { background: #0a84ff; color: #fff; }
.msg.me.sms .bubble { background: #34c759; }
.msg .meta { font-size: 10px; color: #8e8e93; margin: 1px 10px; }
.msg img, .msg video { max-width: 260px; max-height: 320px; border-radius: 12px; display: block; margin: 4px 0; }
.msg .bubble a { color: inherit; }
.msg.me .note { color: inherit; opacity: .8; }
article { background: #fff; border-radius: 10px; padding: 18px 22px; white-space: pre-wrap; overflow-wrap: anywhere; }
article img { max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; background: #fff; } td, th { border-bottom: 1px solid #e5e5ea; padding: 6px 8px; text-align: left; font-size: 14px; }
.note { color: #6e6e73; font-size: 13px; }
"""


# What a browser shows in the page itself; anything else (HEIC, TIFF, AMR...) is a link the
# system opens in its own app, rather than a broken-image icon.
SHOWN_IMAGES = frozenset({"jpg", "jpeg", "png", "gif", "webp", "bmp", "avif"})
PLAYED_VIDEOS = frozenset({"mp4", "m4v", "mov", "webm"})
PLAYED_AUDIO = frozenset({"m4a", "mp3", "aac", "wav", "ogg", "opus", "flac"})


def media(href: str, name: str, label: str | None = None) -> str:
    """A file of the backup in a page: shown (an image), playable (a video, a sound) or linked.

    ``href`` is the URL (as ``Backup.link`` gives it), ``name`` the file's name, ``label``
    the link's text (default: the name); both plain text.
    """
    url, caption = escape(href), escape(label or name)
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    link = f'<a href="{url}">📎 {caption}</a>'
    if extension in SHOWN_IMAGES:
        return f'<a href="{url}"><img src="{url}" alt="{escape(name)}" loading="lazy"></a>'
    if extension in PLAYED_VIDEOS:
        return f'<video src="{url}" controls preload="none"></video>{link}'
    if extension in PLAYED_AUDIO:
        return f'<audio src="{url}" controls preload="none"></audio>{link}'
    return link


def page(title: str, body: str, subtitle: str = "") -> bytes:
    """A complete HTML page; ``body`` is HTML already escaped, ``title`` and ``subtitle`` plain text."""
    sub = f"<p>{escape(subtitle)}</p>" if subtitle else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body><header><h1>{escape(title)}</h1>{sub}</header>\n<main>\n{body}\n</main></body></html>\n"
    ).encode()


__all__ = ["PLAYED_AUDIO", "PLAYED_VIDEOS", "SHOWN_IMAGES", "escape", "media", "page"]

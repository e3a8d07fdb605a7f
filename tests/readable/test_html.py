"""The page style's one decision: how a file of the backup appears in a page."""

from __future__ import annotations

import pytest

from backupfs.readable.html import media


@pytest.mark.parametrize(("name", "shown"), [
    ("IMG_0001.JPG", "<img"), ("photo.webp", "<img"), ("clip.MOV", "<video"), ("note.m4a", "<audio"),
    ("IMG_2051.HEIC", None), ("scan.tiff", None), ("voicemail.amr", None), ("README", None),
])
def test_a_file_is_shown_only_in_a_form_browsers_display(name: str, shown: str | None) -> None:
    html = media(f"../../CameraRollDomain/{name}", name)
    assert f'<a href="../../CameraRollDomain/{name}">' in html
    if shown is None:  # a link the system opens in its own app, not a broken-image icon
        assert "<img" not in html and "<video" not in html and "<audio" not in html and f"📎 {name}" in html
    else:
        assert html.count(shown) == 1


def test_names_and_links_are_escaped() -> None:
    html = media('a%20b/<x>".jpg', '<x>".jpg', label="Tom & Jerry")
    assert 'src="a%20b/&lt;x&gt;&quot;.jpg"' in html and 'alt="&lt;x&gt;&quot;.jpg"' in html
    assert "<x>" not in html

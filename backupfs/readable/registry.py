"""The renderers, in the order their folders are planned: what people ask for most comes first."""

from __future__ import annotations

from backupfs.readable.base import Renderer
from backupfs.readable.calendar import CALENDAR
from backupfs.readable.calls import CALLS, VOICEMAIL
from backupfs.readable.contacts import CONTACTS
from backupfs.readable.messages import MESSAGES
from backupfs.readable.notes import NOTES
from backupfs.readable.photos import PHOTOS
from backupfs.readable.safari import SAFARI
from backupfs.readable.voice_memos import VOICE_MEMOS
from backupfs.readable.whatsapp import WHATSAPP

RENDERERS: tuple[Renderer, ...] = (
    MESSAGES, WHATSAPP, CONTACTS, PHOTOS, NOTES, CALENDAR, CALLS, VOICEMAIL, VOICE_MEMOS, SAFARI,
)

"""Translate Telegram updates (parsed by python-telegram-bot) into neutral inbound messages."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from telegram import Message, MessageEntity, Update, User
from telegram.constants import ChatType

from bot.messages import InboundError, InboundMessage
from bot.settings import SUPPORTED_LANGUAGES

CHANNEL = "telegram"
# Updates we ask Telegram for; anything else is acknowledged and ignored.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
# Bot commands and the topic each one opens (the menu in content/channels.yml describes them).
COMMAND_TOPICS: dict[str, str] = {
    "start": "welcome",
    "help": "help_contacts",
    "language": "language",
    "delete": "delete_data",
}


@dataclass(frozen=True)
class Translated:
    """An update as the core sees it, plus what the adapter needs to answer it."""

    chat_id: int
    inbound: InboundMessage | None
    callback_query_id: str | None = None


def language_hint(user: User | None) -> str | None:
    """The language a person's Telegram app is set to, if we write it."""
    code = (user.language_code or "")[:2].lower() if user else ""
    return code if code in SUPPORTED_LANGUAGES else None


def media_kind(message: Message) -> str | None:
    """What kind of non-text content a message carries (None for plain text)."""
    if message.location or message.venue:
        return "location"
    if message.contact:
        return "contact"
    if message.voice or message.video_note:
        return "voice"
    kinds = (
        ("audio", message.audio),
        ("photo", message.photo),
        ("video", message.video or message.animation),
        ("sticker", message.sticker),
        ("document", message.document),
    )
    for kind, present in kinds:
        if present:
            return kind
    if message.text is None:
        return "other"
    return None


def command_topic(message: Message, bot_username: str | None) -> str | None:
    """The topic of a /command at the start of a message (ours, not another bot's)."""
    text = message.text or ""
    entity = next(iter(message.entities or ()), None)
    if entity is None or entity.type != MessageEntity.BOT_COMMAND or entity.offset != 0:
        return None
    name, _, addressee = text[1 : entity.length].partition("@")
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return None
    return COMMAND_TOPICS.get(name.lower())


def translate(update: Update, bot_username: str | None) -> Translated | None:
    """The neutral message for one update, or None for updates that need no answer."""
    provider_id = f"{CHANNEL}:{update.update_id}"
    query = update.callback_query
    if query is not None:
        chat = query.message.chat if query.message else None
        if chat is None and query.from_user is None:
            raise InboundError("a button press without a chat or a sender")
        chat_id = chat.id if chat else query.from_user.id
        inbound = None
        if query.data:
            try:
                inbound = InboundMessage(
                    channel=CHANNEL,
                    channel_user_id=str(chat_id),
                    payload=query.data,
                    provider_id=provider_id,
                    language_hint=language_hint(query.from_user),
                    group=chat is not None and chat.type != ChatType.PRIVATE,
                )
            except InboundError:
                inbound = None  # not a payload of ours; the spinner is still stopped
        return Translated(chat_id, inbound, callback_query_id=query.id)
    edited = update.edited_message
    for sent in (update.message, edited):
        if sent is not None and sent.chat is None:
            raise InboundError("a message without a chat")
    if edited is not None and (
        edited.chat.type != ChatType.PRIVATE or not (edited.text or edited.caption)
    ):
        # Live locations arrive as a stream of edits, and group edits are not ours to answer:
        # only a private edit of words is read again.
        return None
    message = update.message or edited
    if message is None:
        return None
    hint = language_hint(message.from_user)
    if message.chat.type != ChatType.PRIVATE:
        # Never keep what is said in a group: answer with a notice, store nothing.
        text = message.text or message.caption
        if text and text.startswith("/"):
            text = None  # a /command says nothing about the language: the app's setting does
        return Translated(
            message.chat.id,
            InboundMessage(
                channel=CHANNEL,
                channel_user_id=str(message.chat.id),
                text=text if text and text.strip() else None,
                media=None if text and text.strip() else "other",
                language_hint=hint,
                group=True,
            ),
        )
    topic = command_topic(message, bot_username)
    media = media_kind(message)
    text = message.text if message.text is not None else message.caption
    if media in ("location", "contact") or (text is not None and not text.strip()):
        text = None  # a place or a phone number is never stored
    base = InboundMessage(
        channel=CHANNEL,
        channel_user_id=str(message.chat.id),
        media="other",
        provider_id=provider_id,
        provider_message_id=str(message.message_id),
        language_hint=hint,
    )
    try:
        inbound = dataclasses.replace(
            base,
            text=None if topic else text,
            payload=topic,
            media=media if topic is None else None,
        )
    except InboundError:
        inbound = base  # nothing readable was left (only control characters): keep that it came
    return Translated(message.chat.id, inbound)

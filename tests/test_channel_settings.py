"""Channel settings fail fast at start-up with a message that names the fix."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings

BASE = {
    "SECRET_KEY": "s" * 40,
    "RASA_TOKEN": "r" * 20,
    "DATA_KEYS": "ZmVybmV0LXRlc3Qta2V5LWZvci1yb3RhLXNlZ3VyYSE=",
}
SECRET = "a-good-webhook-secret_123"


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ({"PUBLIC_URL": "http://bot.example.org"}, "must use https"),
        ({"PUBLIC_URL": "bot.example.org"}, "PUBLIC_URL must be an address"),
        ({"TELEGRAM_API_URL": "http://proxy.example.org/bot"}, "TELEGRAM_API_URL must use https"),
        ({"TWILIO_API_URL": "http://api.twilio.example"}, "TWILIO_API_URL must use https"),
        ({"TELEGRAM_BOT_TOKEN": "1:x", "PUBLIC_URL": "https://b.example.org"}, "SECRET"),
        (
            {
                "TELEGRAM_BOT_TOKEN": "1:x",
                "PUBLIC_URL": "https://b.example.org",
                "TELEGRAM_WEBHOOK_SECRET": "has spaces in it, not allowed",
            },
            "A-Z, a-z, 0-9",
        ),
        ({"TWILIO_ACCOUNT_SID": "AC1"}, "needs all of"),
        (
            {
                "TWILIO_ACCOUNT_SID": "AC1",
                "TWILIO_AUTH_TOKEN": "t",
                "TWILIO_WHATSAPP_FROM": "+14155238886",
            },
            "whatsapp:\\+14155238886",
        ),
    ],
)
def test_bad_channel_settings_stop_start_up_with_the_fix(
    extra: dict[str, str], complaint: str
) -> None:
    """A setting that would only fail when the first message arrives fails at start-up."""
    with pytest.raises(SettingsError, match=complaint):
        load_settings({**BASE, **extra})


def test_channels_are_off_without_their_settings_and_on_with_them() -> None:
    """No channel settings: web only. A token alone: Telegram by polling. Public URL: webhook."""
    plain = load_settings(BASE)
    assert not plain.telegram_enabled and not plain.whatsapp_enabled
    polling = load_settings({**BASE, "TELEGRAM_BOT_TOKEN": "1:x"})
    assert polling.telegram_enabled and polling.telegram_polling
    webhook = load_settings(
        {
            **BASE,
            "TELEGRAM_BOT_TOKEN": "1:x",
            "PUBLIC_URL": "https://b.example.org/",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
        }
    )
    assert webhook.telegram_enabled and not webhook.telegram_polling
    assert webhook.public_url == "https://b.example.org"
    whatsapp = load_settings(
        {
            **BASE,
            "TWILIO_ACCOUNT_SID": "AC1",
            "TWILIO_AUTH_TOKEN": "t",
            "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        }
    )
    assert whatsapp.whatsapp_enabled


def test_a_local_public_url_may_use_http_for_development() -> None:
    """http is accepted only for this machine (a tunnel or a test), never for a real host."""
    settings = load_settings({**BASE, "PUBLIC_URL": "http://127.0.0.1:8000"})
    assert settings.public_url == "http://127.0.0.1:8000"

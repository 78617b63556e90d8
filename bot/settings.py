"""Typed settings, read once from the environment (and `.env`), failing fast on a missing secret."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "pt", "es")


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message names it and the fix."""


def read_env_file(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines of a .env file (comments and blank lines ignored)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip().removeprefix("export ").strip()] = value
    return values


def _async_database_url(url: str) -> str:
    """Choose the async driver for a SQLite or PostgreSQL URL."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


@dataclass(frozen=True)
class Settings:
    """Every setting the gateway reads; built by `load_settings`."""

    secret_key: str
    rasa_token: str
    database_url: str
    rasa_url: str
    content_dir: Path
    redis_url: str | None = None
    public_url: str | None = None
    telegram_bot_token: str | None = None
    telegram_webhook_secret: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_whatsapp_from: str | None = None
    twilio_template_content_sid: str | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    twilio_api_url: str = "https://api.twilio.com"
    default_language: str = "en"
    rasa_timeout_seconds: float = 10.0
    waiting_ack_minutes: int = 10
    unclaimed_minutes: float = 5.0
    distress_model_threshold: float = 0.20
    # Fernet keys for message bodies at rest: the first encrypts, all decrypt (rotation).
    data_keys: tuple[str, ...] = ()
    retention_days: int = 90
    # Inbound messages one person may send per minute, and one network address per minute.
    rate_per_person: int = 30
    rate_per_address: int = 120
    # "json" (one JSON object per line, for production) or "text" (for a terminal).
    log_format: str = "json"

    @property
    def telegram_enabled(self) -> bool:
        """Telegram is on when its bot token is set (webhook with PUBLIC_URL, else polling)."""
        return bool(self.telegram_bot_token)

    @property
    def telegram_polling(self) -> bool:
        """Without a public address Telegram cannot call us: fetch updates instead."""
        return self.telegram_enabled and not self.public_url

    @property
    def whatsapp_enabled(self) -> bool:
        """WhatsApp is on only when all Twilio settings are present."""
        return bool(
            self.twilio_account_sid and self.twilio_auth_token and self.twilio_whatsapp_from
        )


def _required_secret(env: Mapping[str, str], name: str, hint: str) -> str:
    """Return a secret of at least 16 characters or raise naming the variable."""
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set. {hint}")
    if len(value) < 16:
        raise SettingsError(f"{name} is too short (at least 16 characters). {hint}")
    return value


_TELEGRAM_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def _check_https(name: str, url: str) -> None:
    """An address tokens travel to (or providers call) must be https, except on this machine."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0] if rest else ""
    if scheme not in ("https", "http") or not host:
        raise SettingsError(f"{name} must be an address like https://bot.example.org, not {url!r}.")
    if scheme == "http" and host not in _LOCAL_HOSTS:
        raise SettingsError(
            f"{name} must use https (it carries tokens or is called from the internet)."
        )


def _check_channels(settings: Settings) -> None:
    """Fail fast on channel settings that would only break when the first message arrives."""
    public = settings.public_url
    for name, url in (
        ("PUBLIC_URL", public),
        ("TELEGRAM_API_URL", settings.telegram_api_url),
        ("TWILIO_API_URL", settings.twilio_api_url),
    ):
        if url is not None:
            _check_https(name, url)
    if settings.telegram_enabled and public is not None:
        secret = settings.telegram_webhook_secret or ""
        if not _TELEGRAM_SECRET.match(secret):
            raise SettingsError(
                "TELEGRAM_WEBHOOK_SECRET must be 16-256 characters of A-Z, a-z, 0-9, _ and - "
                "when Telegram calls PUBLIC_URL; e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`."
            )
    twilio = [
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_whatsapp_from,
    ]
    if any(twilio) and not all(twilio):
        raise SettingsError(
            "WhatsApp needs all of TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_WHATSAPP_FROM."
        )
    sender = settings.twilio_whatsapp_from
    if sender is not None and not re.fullmatch(r"whatsapp:\+\d{6,15}", sender):
        raise SettingsError(
            f"TWILIO_WHATSAPP_FROM must look like whatsapp:+14155238886, not {sender!r}."
        )


def _data_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    """DATA_KEYS: comma-separated Fernet keys, newest first; required, each checked."""
    raw = env.get("DATA_KEYS", "").strip()
    make_one = (
        "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
    )
    if not raw:
        raise SettingsError(
            "DATA_KEYS is not set (the key that encrypts messages at rest). "
            f"Make one with {make_one}; `make run` writes one to .env."
        )
    keys = tuple(part.strip() for part in raw.split(",") if part.strip())
    for position, key in enumerate(keys, start=1):
        try:
            decoded = base64.urlsafe_b64decode(key.encode("ascii"))
        except (ValueError, UnicodeError):
            decoded = b""
        if len(decoded) != 32:
            raise SettingsError(
                f"DATA_KEYS key {position} is not a Fernet key (32 url-safe base64 bytes). "
                f"Make one with {make_one}."
            )
    return keys


def _log_format(env: Mapping[str, str]) -> str:
    """LOG_FORMAT: json (default) or text."""
    value = env.get("LOG_FORMAT", "json").strip().lower() or "json"
    if value not in ("json", "text"):
        raise SettingsError(f"LOG_FORMAT must be json or text, not {value!r}.")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from the environment, then `.env`; raise SettingsError on a bad one."""
    file_values = read_env_file(PROJECT_ROOT / ".env") if environ is None else {}
    env: dict[str, str] = {**file_values, **(os.environ if environ is None else environ)}
    hint = "`make run` writes one to .env; in production set it in the environment."

    def optional(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    default_db = f"sqlite:///{PROJECT_ROOT / 'var' / 'rota.db'}"
    language = env.get("DEFAULT_LANGUAGE", "en").strip() or "en"
    if language not in SUPPORTED_LANGUAGES:
        raise SettingsError(
            f"DEFAULT_LANGUAGE={language!r} is not one of {', '.join(SUPPORTED_LANGUAGES)}."
        )
    try:
        timeout = float(env.get("RASA_TIMEOUT_SECONDS", "10"))
        waiting_ack = int(env.get("WAITING_ACK_MINUTES", "10"))
        unclaimed = float(env.get("UNCLAIMED_MINUTES", "5"))
        distress_threshold = float(env.get("DISTRESS_MODEL_THRESHOLD", "0.20"))
        retention_days = int(env.get("RETENTION_DAYS", "90"))
        rate_per_person = int(env.get("RATE_LIMIT_PER_PERSON", "30"))
        rate_per_address = int(env.get("RATE_LIMIT_PER_ADDRESS", "120"))
    except ValueError as exc:
        raise SettingsError(f"A numeric setting is not a number: {exc}") from exc
    settings = Settings(
        secret_key=_required_secret(env, "SECRET_KEY", hint),
        rasa_token=_required_secret(env, "RASA_TOKEN", hint),
        database_url=_async_database_url(optional("DATABASE_URL") or default_db),
        rasa_url=(optional("RASA_URL") or "http://127.0.0.1:5005").rstrip("/"),
        content_dir=Path(optional("CONTENT_DIR") or PROJECT_ROOT / "content"),
        redis_url=optional("REDIS_URL"),
        public_url=(optional("PUBLIC_URL") or "").rstrip("/") or None,
        telegram_bot_token=optional("TELEGRAM_BOT_TOKEN"),
        telegram_webhook_secret=optional("TELEGRAM_WEBHOOK_SECRET"),
        twilio_account_sid=optional("TWILIO_ACCOUNT_SID"),
        twilio_auth_token=optional("TWILIO_AUTH_TOKEN"),
        twilio_whatsapp_from=optional("TWILIO_WHATSAPP_FROM"),
        twilio_template_content_sid=optional("TWILIO_TEMPLATE_CONTENT_SID"),
        telegram_api_url=optional("TELEGRAM_API_URL") or "https://api.telegram.org/bot",
        twilio_api_url=(optional("TWILIO_API_URL") or "https://api.twilio.com").rstrip("/"),
        default_language=language,
        rasa_timeout_seconds=timeout,
        waiting_ack_minutes=waiting_ack,
        unclaimed_minutes=unclaimed,
        distress_model_threshold=distress_threshold,
        data_keys=_data_keys(env),
        retention_days=retention_days,
        rate_per_person=rate_per_person,
        rate_per_address=rate_per_address,
        log_format=_log_format(env),
    )
    _check_channels(settings)
    return settings

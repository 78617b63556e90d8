"""Console accounts: roles, Argon2id passwords, optional TOTP, throttled sign-in."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.addresses import AddressBox
from bot.db.models import SignInAttempt, Staff, utcnow

# At most this many failed sign-ins per account, and per address, in the window.
MAX_FAILURES = 10
FAILURE_WINDOW = dt.timedelta(minutes=15)
MIN_PASSWORD = 12
_USERNAME = re.compile(r"^[a-z0-9._-]{2,64}$")
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verifying against this keeps a wrong username as slow as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a real password, only for timing")


class Role(enum.StrEnum):
    """What a console account may do."""

    CASEWORKER = "caseworker"
    SUPERVISOR = "supervisor"
    # Maintains the answer files: sees the content pages only, never a person or the queue.
    EDITOR = "editor"

    @property
    def sees_people(self) -> bool:
        """Whether this role may open the queue, conversations, the audit log and settings."""
        return self is not Role.EDITOR


class AccountError(ValueError):
    """An account cannot be created or changed; the text says why."""


class Throttled(Exception):
    """Too many failed sign-ins for this account or address; try again later."""


@dataclass(frozen=True)
class SignedIn:
    """Who signed in."""

    staff_id: int
    username: str
    role: Role


def _key(kind: str, value: str, secret: str) -> str:
    """A throttle key that stores neither the username nor the address in clear."""
    return hashlib.sha256(f"{secret}:{kind}:{value}".encode()).hexdigest()


class Accounts:
    """Creates accounts and checks sign-ins against the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], secret_key: str) -> None:
        self._sessions = sessions
        self._secret = secret_key
        self._box = AddressBox(secret_key)

    async def add(self, username: str, password: str, role: Role) -> int:
        """Create an account; AccountError on a bad name, a short password or a taken name."""
        username = username.strip().lower()
        if not _USERNAME.match(username):
            raise AccountError("a username is 2-64 of a-z, 0-9, '.', '_' and '-'")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
        async with self._sessions() as session:
            staff = Staff(username=username, role=role.value, password_hash=_HASHER.hash(password))
            session.add(staff)
            try:
                await session.commit()
            except IntegrityError as exc:
                raise AccountError(f"there is already an account called {username!r}") from exc
            return staff.id

    async def enable_totp(self, username: str) -> str:
        """Turn on the second factor; the otpauth:// URI to put in an authenticator app."""
        secret = pyotp.random_base32()
        async with self._sessions() as session:
            name = username.strip().lower()
            staff = await session.scalar(select(Staff).where(Staff.username == name))
            if staff is None:
                raise AccountError(f"no account called {name!r}")
            staff.totp_secret = self._box.seal(secret)
            await session.commit()
        return str(pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name="Rota Segura"))

    async def sign_in(
        self, username: str, password: str, code: str | None, address: str
    ) -> SignedIn | None:
        """The account if name, password (and TOTP code, if on) match; None otherwise.

        Every attempt is recorded before the (slow) check and counted after it, so many
        attempts sent at once cannot slip past the limit. Raises Throttled after too many
        failures for the account or the address.
        """
        username = username.strip().lower()
        keys = (_key("account", username, self._secret), _key("address", address, self._secret))
        async with self._sessions() as session:
            attempts = [SignInAttempt(key=key) for key in keys]
            session.add_all(attempts)
            await session.commit()
            since = utcnow() - FAILURE_WINDOW
            for key in keys:
                tries = await session.scalar(
                    select(func.count())
                    .select_from(SignInAttempt)
                    .where(SignInAttempt.key == key, SignInAttempt.at > since)
                )
                if (tries or 0) > MAX_FAILURES:
                    raise Throttled
            staff = await session.scalar(select(Staff).where(Staff.username == username))
            usable = staff is not None and not staff.disabled
            hashed = staff.password_hash if staff is not None and usable else _DUMMY_HASH
            # Argon2 is slow on purpose: keep it off the event loop.
            password_ok = await asyncio.to_thread(self._verify, hashed, password)
            if staff is None or not usable or not password_ok:
                return None
            step = self._totp_step(staff, code)
            if step is False:
                return None
            if not isinstance(step, bool):
                staff.totp_last_step = step
            # A success does not count against anyone; the account's failures are forgiven.
            await session.execute(
                delete(SignInAttempt).where(
                    (SignInAttempt.key == keys[0]) | SignInAttempt.id.in_([a.id for a in attempts])
                )
            )
            if _HASHER.check_needs_rehash(staff.password_hash):
                staff.password_hash = _HASHER.hash(password)
            await session.commit()
            return SignedIn(staff.id, staff.username, Role(staff.role))

    def _totp_step(self, staff: Staff, code: str | None) -> int | bool:
        """True without a second factor; the matching time step; False if wrong or reused."""
        if staff.totp_secret is None:
            return True
        secret = self._box.open(staff.totp_secret)
        if not secret or not code:
            return False
        totp = pyotp.TOTP(secret)
        now = int(time.time())
        for drift in (0, -1, 1):
            moment = dt.datetime.fromtimestamp(now + drift * totp.interval, dt.UTC)
            step = int(totp.timecode(moment))
            if hmac.compare_digest(totp.generate_otp(step), code.strip()):
                if staff.totp_last_step is not None and step <= staff.totp_last_step:
                    return False  # this code (or an older one) was already used
                return step
        return False

    @staticmethod
    def _verify(password_hash: str, password: str) -> bool:
        """Argon2 verification that never raises."""
        try:
            return bool(_HASHER.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False

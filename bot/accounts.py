"""Console accounts: roles, Argon2id passwords, optional TOTP, throttled sign-in."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
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
            staff = await session.scalar(select(Staff).where(Staff.username == username))
            if staff is None:
                raise AccountError(f"no account called {username!r}")
            staff.totp_secret = self._box.seal(secret)
            await session.commit()
        return str(pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="Rota Segura"))

    async def sign_in(
        self, username: str, password: str, code: str | None, address: str
    ) -> SignedIn | None:
        """The account if name, password (and TOTP code, if on) match; None otherwise.

        Raises Throttled after too many failures for the account or the address.
        """
        username = username.strip().lower()
        keys = (_key("account", username, self._secret), _key("address", address, self._secret))
        async with self._sessions() as session:
            since = utcnow() - FAILURE_WINDOW
            for key in keys:
                failures = await session.scalar(
                    select(func.count())
                    .select_from(SignInAttempt)
                    .where(SignInAttempt.key == key, SignInAttempt.at > since)
                )
                if (failures or 0) >= MAX_FAILURES:
                    raise Throttled
            staff = await session.scalar(select(Staff).where(Staff.username == username))
            if staff is not None and not staff.disabled and self._check(staff, password, code):
                await session.execute(delete(SignInAttempt).where(SignInAttempt.key == keys[0]))
                if _HASHER.check_needs_rehash(staff.password_hash):
                    staff.password_hash = _HASHER.hash(password)
                await session.commit()
                return SignedIn(staff.id, staff.username, Role(staff.role))
            if staff is None:
                self._verify(_DUMMY_HASH, password)
            session.add_all(SignInAttempt(key=key) for key in keys)
            await session.commit()
            return None

    def _check(self, staff: Staff, password: str, code: str | None) -> bool:
        """Password, then the TOTP code when the account has one."""
        if not self._verify(staff.password_hash, password):
            return False
        if staff.totp_secret is None:
            return True
        secret = self._box.open(staff.totp_secret)
        return bool(secret and code and pyotp.TOTP(secret).verify(code.strip(), valid_window=1))

    @staticmethod
    def _verify(password_hash: str, password: str) -> bool:
        """Argon2 verification that never raises."""
        try:
            return bool(_HASHER.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False

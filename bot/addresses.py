"""Channel addresses (chat ids, phone numbers), encrypted at rest with a key from SECRET_KEY."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class AddressBox:
    """Encrypts and decrypts the one stored copy of a person's channel address."""

    def __init__(self, secret_key: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"rota-segura address v1"
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, address: str) -> str:
        """The address, encrypted and authenticated, as text."""
        return self._fernet.encrypt(address.encode()).decode("ascii")

    def open(self, sealed: str) -> str | None:
        """The address back, or None when it was sealed with another key or tampered with."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            return None

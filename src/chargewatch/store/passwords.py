"""Charger passwords (OCPP security profile 1) are stored as Argon2 hashes; verified at the handshake."""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


class PasswordCheck:
    """Argon2 is deliberately slow; remember each charger's last verified secret so a reconnect storm
    of thousands of chargers does not cost thousands of hash computations."""

    def __init__(self) -> None:
        self._verified: dict[str, tuple[str, bytes]] = {}

    def verify(self, charger_id: str, stored_hash: str, password: str) -> bool:
        digest = hashlib.sha256(password.encode()).digest()
        if self._verified.get(charger_id) == (stored_hash, digest):
            return True
        try:
            _hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        self._verified[charger_id] = (stored_hash, digest)
        return True

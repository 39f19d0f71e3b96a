"""Where the web process keeps its admin password and API tokens: one 0600 JSON file.

Why a file of its own and not the config: the config is user-edited and backed up; a
password hash and token hashes must never appear in a config backup or a config read.
Writes go through :func:`config.atomic.atomic_write` (private), so a crash leaves the old
state whole. The password is hashed with ``hashlib.scrypt`` (stdlib: nothing to build on
a Pi); tokens are 32 random bytes shown once, stored as SHA-256 (they carry full entropy,
so a slow hash adds nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import Any

from config.atomic import atomic_write

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
TOKEN_PREFIX = "lh_"
MIN_PASSWORD = 8


class AuthError(ValueError):
    """Bad input to the auth store; the message names the problem."""


def _hash_password(password: str, salt: bytes) -> str:
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthStore:
    """The admin password and the API tokens, read from and written to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, Any] = {"password": None, "tokens": {}}
        if path.exists():
            self._data = json.loads(path.read_text())

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps(self._data, indent=1), mode=0o600, private=True)

    @property
    def needs_setup(self) -> bool:
        """No admin password yet: only the first-run setup is allowed."""
        return not self._data.get("password")

    def set_password(self, password: str) -> None:
        """Hash and store the admin password (first run, or a change)."""
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            raise AuthError(f"the password must be a string of at least {MIN_PASSWORD} characters")
        self._data["password"] = _hash_password(password, secrets.token_bytes(16))
        self._save()

    def check_password(self, password: str) -> bool:
        """Whether ``password`` is the admin password (constant-time compare)."""
        stored = self._data.get("password")
        if not stored or not isinstance(password, str):
            return False
        _, salt, digest = stored.split("$")
        again = _hash_password(password, bytes.fromhex(salt)).split("$")[2]
        return hmac.compare_digest(again, digest)

    def create_token(self, name: str) -> dict[str, Any]:
        """A new token; the only time its value is ever returned."""
        if not isinstance(name, str) or not 1 <= len(name) <= 64:
            raise AuthError("a token's name must be a string of 1-64 characters")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = secrets.token_hex(6)
        self._data["tokens"][token_id] = {
            "name": name,
            "hash": _token_hash(token),
            "created": int(time.time()),
        }
        self._save()
        return {"id": token_id, "name": name, "token": token}

    def list_tokens(self) -> list[dict[str, Any]]:
        """Every token's id, name and creation time (never the value or its hash)."""
        return [
            {"id": tid, "name": t["name"], "created": t["created"]}
            for tid, t in self._data["tokens"].items()
        ]

    def revoke_token(self, token_id: str) -> bool:
        """Forget a token; False when there is none with that id."""
        if token_id not in self._data["tokens"]:
            return False
        del self._data["tokens"][token_id]
        self._save()
        return True

    def check_token(self, token: str) -> bool:
        """Whether ``token`` is a live API token."""
        wanted = _token_hash(token)
        return any(hmac.compare_digest(wanted, t["hash"]) for t in self._data["tokens"].values())

"""Encryption at rest and masking of secrets (session cookies, proxy passwords)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from storycheck.errors import StorycheckError
from storycheck.logs import remember_secret

KEY_FILE_NAME = "storycheck.key"


class SecretKeyError(StorycheckError):
    """The stored secrets cannot be decrypted with the configured key."""

    status_code = 500
    code = "secret_key_mismatch"


class SecretBox:
    """Encrypts, decrypts and fingerprints secrets with one Fernet key.

    The key comes from `STORYCHECK_SECRET_KEY` (any string; it is stretched with SHA-256) or
    from a key file created with mode 0600 on first use.
    """

    def __init__(self, key_material: str | bytes) -> None:
        raw = key_material.encode() if isinstance(key_material, str) else key_material
        digest = hashlib.sha256(b"storycheck-fernet:" + raw).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self._mac_key = hashlib.sha256(b"storycheck-digest:" + raw).digest()

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    @classmethod
    def from_config(cls, secret_key: str | None, key_dir: Path) -> SecretBox:
        """Use the configured key, else read (or create, mode 0600) the key file in `key_dir`."""
        if secret_key:
            return cls(secret_key)
        path = key_dir / KEY_FILE_NAME
        if not path.exists():
            key_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(base64.urlsafe_b64encode(os.urandom(32)))
        return cls(path.read_bytes().strip())

    def encrypt(self, plaintext: str) -> str:
        """Encrypt a secret for storage (and keep it out of every log line from now on)."""
        remember_secret(plaintext)
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        """Decrypt a stored secret; a wrong key raises a clear error, never garbage."""
        try:
            plaintext = self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretKeyError(
                "Stored secrets cannot be decrypted: the secret key (STORYCHECK_SECRET_KEY or "
                "the storycheck.key file) is not the one they were encrypted with"
            ) from exc
        remember_secret(plaintext)
        return plaintext

    def digest(self, secret: str) -> str:
        """A keyed fingerprint of a secret, for duplicate detection without decryption."""
        return hmac.new(self._mac_key, secret.encode(), hashlib.sha256).hexdigest()


def mask(secret: str | None) -> str | None:
    """Show a secret as `abcd…wxyz` (short values as `…`)."""
    if secret is None:
        return None
    if len(secret) < 12:
        return "…"
    return f"{secret[:4]}…{secret[-4:]}"

"""Where the secret key lives, checking it against the database, and rotating it.

The key that encrypts session cookies and proxy passwords is, in this order:
`STORYCHECK_SECRET_KEY` (any string), the file `STORYCHECK_KEY_FILE`, or a key file at a
fixed place: next to the SQLite file, or for PostgreSQL in
`~/.config/storycheck/keys/<server>_<port>_<database>.key` — never the working directory, so
starting from another folder cannot silently make a second key.

At start, when the database holds encrypted values, the key must decrypt them; otherwise the
process refuses to start with a message naming where it looked. A missing key file is created
only for a database that holds no secret yet.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Table, select, update
from sqlalchemy.engine import make_url

from storycheck.config import Config
from storycheck.crypto import KEY_FILE_NAME, SecretBox, SecretKeyError
from storycheck.db import Database
from storycheck.models import Base


class KeyMismatch(RuntimeError):
    """The configured key cannot decrypt the secrets stored in the database."""


@dataclass(frozen=True)
class KeySource:
    """Where the key comes from: the environment or a file (path)."""

    secret_key: str | None
    path: Path | None

    def describe(self) -> str:
        """A sentence naming the source, for messages (never the key itself)."""
        if self.secret_key:
            return "STORYCHECK_SECRET_KEY"
        return f"the key file {self.path}"


def key_source(config: Config) -> KeySource:
    """Where this configuration's key is (see the module docstring)."""
    if config.secret_key:
        return KeySource(config.secret_key, None)
    if config.key_file:
        return KeySource(None, Path(config.key_file).expanduser().resolve())
    url = make_url(config.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return KeySource(None, Path(url.database).resolve().parent / KEY_FILE_NAME)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    name = re.sub(
        r"[^A-Za-z0-9._-]+", "_", f"{url.host or 'local'}_{url.port or 5432}_{url.database}"
    )
    return KeySource(None, base / "storycheck" / "keys" / f"{name}.key")


def encrypted_columns() -> list[tuple[Table, str]]:
    """Every `<name>_encrypted` column of the schema: the values the key protects."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if column.name.endswith("_encrypted"):
                found.append((table, column.name))
    return found


def stored_secret_sample(db: Database) -> str | None:
    """One encrypted value from the database (None when it holds no secret yet)."""
    with db.engine.connect() as conn:
        for table, column in encrypted_columns():
            value = conn.execute(
                select(table.c[column]).where(table.c[column].is_not(None)).limit(1)
            ).scalar()
            if value:
                return str(value)
    return None


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.urlsafe_b64encode(os.urandom(32)))


def open_secret_box(config: Config, db: Database, *, create: bool = True) -> SecretBox:
    """The SecretBox for `config`, proven against the stored secrets (see module docstring).

    `create=False` (diagnostics) never writes a key file: a missing one raises KeyMismatch.
    """
    source = key_source(config)
    sample = stored_secret_sample(db)
    if source.secret_key:
        box = SecretBox(source.secret_key)
    else:
        assert source.path is not None
        pending = source.path.with_name(source.path.name + ".new")
        if pending.exists() and sample is not None and _decrypts(SecretBox(_read(pending)), sample):
            pending.replace(source.path)  # a rotation committed but crashed before the rename
        if not source.path.exists():
            if sample is not None or not create:
                raise KeyMismatch(
                    f"The database holds encrypted secrets but {source.describe()} does not "
                    "exist. Set STORYCHECK_KEY_FILE (or STORYCHECK_SECRET_KEY) to the key they "
                    "were encrypted with; a new key would make them unreadable."
                )
            _write_new_key(source.path)
        box = SecretBox(_read(source.path))
    if sample is not None and not _decrypts(box, sample):
        raise KeyMismatch(
            f"The secrets in the database cannot be decrypted with {source.describe()}. Set "
            "STORYCHECK_SECRET_KEY or STORYCHECK_KEY_FILE to the key they were encrypted with."
        )
    return box


def _read(path: Path) -> bytes:
    return path.read_bytes().strip()


def _decrypts(box: SecretBox, token: str) -> bool:
    try:
        box.decrypt(token)
    except SecretKeyError:
        return False
    return True


def rotate(config: Config, db: Database) -> tuple[int, str | None]:
    """Re-encrypt every secret with a new key in one transaction.

    With a key file, the new key replaces it (written beside it first, renamed after the
    commit). With `STORYCHECK_SECRET_KEY`, the new key is returned for the operator to set.
    Returns (values re-encrypted, new key material to set or None).
    """
    source = key_source(config)
    old = open_secret_box(config, db)
    material = base64.urlsafe_b64encode(os.urandom(32))
    pending: Path | None = None
    if source.path is not None:
        pending = source.path.with_name(source.path.name + ".new")
        pending.unlink(missing_ok=True)
        fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(material)
    new = SecretBox(material)
    count = 0
    with db.write() as session:
        conn = session.connection()
        for table, column in encrypted_columns():
            digest = column.removesuffix("_encrypted") + "_digest"
            pk = list(table.primary_key.columns)[0]
            rows = conn.execute(select(pk, table.c[column]).where(table.c[column].is_not(None)))
            for key, token in rows.all():
                plain = old.decrypt(token)
                values = {column: new.encrypt(plain)}
                if digest in table.c:
                    values[digest] = new.digest(plain)
                conn.execute(update(table).where(pk == key).values(**values))
                count += 1
    if pending is not None and source.path is not None:
        pending.replace(source.path)
        return count, None
    return count, material.decode()

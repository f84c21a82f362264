"""The secret key: a fixed location, refusal to start with the wrong key, rotation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from storycheck.app import create_app, shutdown
from storycheck.cli import main
from storycheck.config import Config
from storycheck.crypto import KEY_FILE_NAME, SecretBox
from storycheck.db import Database
from storycheck.keys import KeyMismatch, encrypted_columns, key_source, open_secret_box, rotate
from storycheck.proxies.models import IgSession, Proxy

SESSION = "51234567890%3AabcdEFGHijklMN%3A12%3AsecretSessionValue0123"
PASSWORD = "proxy-pass-0123456789"


def _config(sqlite_url: str, **overrides: object) -> Config:
    return Config(database_url=sqlite_url, engine_enabled=False, **overrides)  # type: ignore[arg-type]


def _add_pair(config: Config) -> None:
    app = create_app(config, start_background=False)
    try:
        response = app.test_client().post(
            "/api/proxies",
            json={"ip": "127.0.0.1", "port": 8080, "username": "u", "password": PASSWORD,
                  "session": SESSION},
        )
        assert response.status_code == 201, response.json
    finally:
        shutdown(app)


def _stored_plaintexts(config: Config, box: SecretBox) -> tuple[str, str]:
    db = Database(config.database_url)
    try:
        with db.read() as session:
            cookie = session.scalar(select(IgSession.session_encrypted))
            password = session.scalar(select(Proxy.password_encrypted))
        assert cookie and password
        return box.decrypt(cookie), box.decrypt(password)
    finally:
        db.dispose()


def test_the_key_file_sits_next_to_sqlite_whatever_the_working_directory(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(sqlite_url)
    _add_pair(config)
    key_file = Path(sqlite_url.removeprefix("sqlite:///")).parent / KEY_FILE_NAME
    assert key_file.exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    app = create_app(config, start_background=False)  # starts: the same key is found
    shutdown(app)
    assert not (elsewhere / KEY_FILE_NAME).exists()


def test_a_missing_or_wrong_key_refuses_to_start_and_never_makes_a_second_key(
    sqlite_url: str,
) -> None:
    config = _config(sqlite_url)
    _add_pair(config)
    key_file = key_source(config).path
    assert key_file is not None
    original = key_file.read_bytes()
    key_file.unlink()
    with pytest.raises(KeyMismatch, match="does not exist"):
        create_app(config, start_background=False)
    assert not key_file.exists()
    with pytest.raises(KeyMismatch, match="STORYCHECK_SECRET_KEY"):
        create_app(_config(sqlite_url, secret_key="not-the-key"), start_background=False)
    key_file.write_bytes(original)
    shutdown(create_app(config, start_background=False))


def test_serve_with_the_wrong_key_is_one_clear_line(sqlite_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _add_pair(_config(sqlite_url))
    monkeypatch.setenv("STORYCHECK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("STORYCHECK_SECRET_KEY", "wrong")
    monkeypatch.setenv("STORYCHECK_ENGINE", "0")
    result = CliRunner().invoke(main, ["serve", "--port", "0"])
    assert result.exit_code == 1
    assert "cannot be decrypted with STORYCHECK_SECRET_KEY" in result.output
    assert "Traceback" not in result.output


def test_rotation_re_encrypts_everything_and_replaces_the_key_file(sqlite_url: str) -> None:
    config = _config(sqlite_url)
    _add_pair(config)
    key_file = key_source(config).path
    assert key_file is not None
    old = key_file.read_bytes()
    db = Database(config.database_url)
    try:
        with db.engine.connect() as conn:
            stored = sum(
                len(conn.execute(select(t.c[c]).where(t.c[c].is_not(None))).all())
                for t, c in encrypted_columns()
            )
        count, new_key = rotate(config, db)
        assert stored >= 2 and (count, new_key) == (stored, None)
        assert key_file.read_bytes() != old
        box = open_secret_box(config, db)
    finally:
        db.dispose()
    assert _stored_plaintexts(config, box) == (SESSION, PASSWORD)
    with pytest.raises(KeyMismatch):
        open_secret_box(_config(sqlite_url, secret_key=old.decode()), Database(sqlite_url))
    # The digest follows the key: the same session is still recognised as a duplicate.
    app = create_app(config, start_background=False)
    try:
        again = app.test_client().post(
            "/api/proxies", json={"ip": "127.0.0.2", "port": 8081, "session": SESSION}
        )
        assert again.status_code == 409
    finally:
        shutdown(app)


def test_postgresql_keys_live_in_the_user_config_folder(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    source = key_source(Config(database_url="postgresql+psycopg://u@db.internal:5433/story"))
    assert source.path == tmp_path / "storycheck" / "keys" / "db.internal_5433_story.key"
    explicit = key_source(
        Config(database_url="postgresql+psycopg://u@h/db", key_file=str(tmp_path / "k"))
    )
    assert explicit.path == tmp_path / "k"
    assert os.fspath(explicit.describe()).endswith("k")



def _file_bytes(sqlite_url: str) -> bytes:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    return b"".join(
        Path(str(path) + suffix).read_bytes()
        for suffix in ("", "-wal")
        if Path(str(path) + suffix).exists()
    )


def test_the_account_id_is_stored_encrypted_never_in_clear(sqlite_url: str) -> None:
    config = _config(sqlite_url, secret_key="account-id-key")
    app = create_app(config, start_background=False)
    try:
        response = app.test_client().post(
            "/api/proxies",
            json={"ip": "127.0.0.1", "port": 8081,
                  "session": f"sessionid={SESSION}; ds_user_id=60606060606; csrftoken=c0ffee99"},
        )
        assert response.status_code == 201
        assert "ds_user_id" in response.json["sessions"][0]["cookies"]  # shown by name only
        assert "60606060606" not in response.get_data(as_text=True)
        db = app.extensions["storycheck"].db
        with db.read() as session:
            row = session.scalar(select(IgSession))
            assert row is not None and row.ds_user_id_clear is None
            sealed = row.ds_user_id_encrypted
        db.checkpoint()
    finally:
        shutdown(app)
    assert sealed and SecretBox("account-id-key").decrypt(sealed) == "60606060606"  # control
    assert b"60606060606" not in _file_bytes(sqlite_url)


def test_an_upgrade_seals_clear_account_ids_at_the_next_start(sqlite_url: str) -> None:
    from alembic import command

    from storycheck.engine.pairs import build_identity
    from storycheck.engine.pairstore import PairStore
    from storycheck.keys import seal_clear_values
    from storycheck.migrate import alembic_config

    config = _config(sqlite_url, secret_key="seal-key")
    _add_pair(config)
    # Back to the schema before 0007, with the account id in clear as it was stored then.
    db = Database(sqlite_url)
    cfg = alembic_config(sqlite_url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
        conn.exec_driver_sql("UPDATE sessions SET ds_user_id = '77788899900'")
    db.dispose()
    assert b"77788899900" in _file_bytes(sqlite_url)  # positive control of the scan

    app = create_app(config, start_background=False)  # migrates, then seals
    try:
        db = app.extensions["storycheck"].db
        with db.read() as session:
            row = session.scalar(select(IgSession))
            assert row is not None and row.ds_user_id_clear is None
        box = SecretBox("seal-key")
        assert box.decrypt(row.ds_user_id_encrypted or "") == "77788899900"
        # The engine sends it as the ds_user_id cookie, decrypted.
        identity, problem = build_identity(PairStore(db).load_pairs()[0], box)
        assert problem is None and identity is not None and identity.ds_user_id == "77788899900"
        assert seal_clear_values(db, box) == 0  # idempotent: nothing left to seal
    finally:
        shutdown(app)
    assert b"77788899900" not in _file_bytes(sqlite_url)

"""`Config.from_env`: the STORYCHECK_* variables of DESIGN.md §5 through pydantic-settings."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from storycheck.config import DEFAULT_CORS_ORIGINS, Config, ConfigError, env_names

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private copy of the environment without any STORYCHECK_* or DATABASE_URL variable
    (`.env` loading writes into it; the copy is dropped after the test)."""
    clean = {
        k: v for k, v in os.environ.items()
        if not k.startswith("STORYCHECK_") and k != "DATABASE_URL"
    }
    monkeypatch.setattr(os, "environ", clean)
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    return clean


def test_unset_variables_give_the_defaults(environ: dict[str, str]) -> None:
    assert Config.from_env() == Config()


def test_every_variable_is_read(environ: dict[str, str]) -> None:
    environ.update({
        "STORYCHECK_DATABASE_URL": "sqlite:////tmp/x.db",
        "STORYCHECK_INSTAGRAM_URL": "http://127.0.0.1:9",
        "STORYCHECK_HOST": "0.0.0.0",
        "STORYCHECK_PORT": "5050",
        "STORYCHECK_API_TOKEN": "t" * 40,
        "STORYCHECK_SECRET_KEY": "k",
        "STORYCHECK_KEY_FILE": "/tmp/k.key",
        "STORYCHECK_CORS_ORIGINS": "http://a.test, http://b.test,",
        "STORYCHECK_ALLOWED_HOSTS": "box.lan",
        "STORYCHECK_BROKER_URL": "redis://127.0.0.1:6379/0",
        "STORYCHECK_ENGINE": "0",
        "STORYCHECK_RECONCILE_INTERVAL": "0.5",
        "STORYCHECK_MAX_BODY_BYTES": "1024",
        "STORYCHECK_STATIC_DIR": "/srv/client",
    })
    assert Config.from_env() == Config(
        database_url="sqlite:////tmp/x.db", instagram_url="http://127.0.0.1:9", host="0.0.0.0",
        port=5050, api_token="t" * 40, secret_key="k", key_file="/tmp/k.key",
        cors_origins=("http://a.test", "http://b.test"), allowed_hosts=("box.lan",),
        broker_url="redis://127.0.0.1:6379/0", engine_enabled=False, reconcile_interval=0.5,
        max_content_length=1024, static_folder="/srv/client",
    )


def test_database_url_fallback_and_empty_values(environ: dict[str, str]) -> None:
    environ.update({"DATABASE_URL": "sqlite:////tmp/fallback.db", "STORYCHECK_PORT": "",
                    "STORYCHECK_CORS_ORIGINS": " , "})
    config = Config.from_env()
    assert config.database_url == "sqlite:////tmp/fallback.db"
    assert (config.port, config.cors_origins) == (5000, DEFAULT_CORS_ORIGINS)
    environ["STORYCHECK_DATABASE_URL"] = "sqlite:////tmp/preferred.db"
    assert Config.from_env().database_url == "sqlite:////tmp/preferred.db"


def test_dot_env_is_loaded_without_overriding_the_environment(
    environ: dict[str, str], tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("STORYCHECK_PORT=6060\nSTORYCHECK_HOST=127.0.0.2\n")
    environ["STORYCHECK_HOST"] = "127.0.0.3"
    config = Config.from_env(env_file)
    assert (config.port, config.host) == (6060, "127.0.0.3")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("STORYCHECK_PORT", "abc"), ("STORYCHECK_PORT", "70000"), ("STORYCHECK_ENGINE", "maybe"),
     ("STORYCHECK_RECONCILE_INTERVAL", "soon"), ("STORYCHECK_MAX_BODY_BYTES", "-1")],
)
def test_a_bad_value_names_its_variable(environ: dict[str, str], variable: str, value: str) -> None:
    environ[variable] = value
    with pytest.raises(ConfigError, match=re.escape(f"{variable}={value!r}")):
        Config.from_env()


def test_a_bad_value_never_echoes_a_secret(environ: dict[str, str]) -> None:
    environ.update({"STORYCHECK_PORT": "x", "STORYCHECK_API_TOKEN": "secret-token-value"})
    with pytest.raises(ConfigError) as caught:
        Config.from_env()
    assert "secret-token-value" not in str(caught.value)


def test_every_config_field_but_extra_has_a_variable() -> None:
    from dataclasses import fields

    assert set(env_names()) == {f.name for f in fields(Config)} - {"extra"}


def test_the_readme_table_lists_every_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    for variables in env_names().values():
        for name in variables:
            assert f"`{name}`" in readme, name

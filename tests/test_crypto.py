"""Secrets at rest: encryption round trip, the key file, a wrong key, masking."""

from __future__ import annotations

import stat

import pytest

from storycheck.crypto import KEY_FILE_NAME, SecretBox, SecretKeyError, mask


def test_round_trip_and_fingerprint():
    box = SecretBox("key-one")
    token = box.encrypt("sessionid-value")
    assert "sessionid-value" not in token and box.decrypt(token) == "sessionid-value"
    assert box.digest("a") == SecretBox("key-one").digest("a") != SecretBox("key-two").digest("a")
    assert "key-one" not in repr(box)


def test_wrong_key_is_a_clear_error_not_garbage():
    token = SecretBox("key-one").encrypt("secret")
    with pytest.raises(SecretKeyError, match="not the one they were encrypted with"):
        SecretBox("key-two").decrypt(token)


def test_key_file_is_created_private_and_reused(tmp_path):
    first = SecretBox.from_config(None, tmp_path)
    mode = stat.S_IMODE((tmp_path / KEY_FILE_NAME).stat().st_mode)
    assert mode == 0o600
    assert SecretBox.from_config(None, tmp_path).decrypt(first.encrypt("x")) == "x"


def test_mask():
    assert mask("abcdefghijklmnop") == "abcd…mnop"
    assert mask("short") == "…" and mask(None) is None

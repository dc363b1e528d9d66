"""Operators, keyed pseudonyms in Python and SQL, secrets."""

from __future__ import annotations

import os
import stat

import duckdb
import pytest

from shoplens.config import Settings
from shoplens.errors import ConfigError, UserInputError
from shoplens.privacy.detect import PiiScanner
from shoplens.privacy.keys import KEY_FILE_NAME, resolve_secret
from shoplens.privacy.operators import apply_operator, mask_value, pseudonym, pseudonym_sql

SECRET = b"0123456789abcdef0123456789abcdef"
TEXT = "call 13812345678 or mail ann@shop.cn"


def masked(operator: str, **kw) -> str:
    return apply_operator(TEXT, PiiScanner().scan(TEXT), operator, **kw)


def test_placeholder_mask_redact() -> None:
    assert masked("placeholder") == "call <PHONE> or mail <EMAIL>"
    assert masked("mask") == "call *******5678 or mail ***@**op.cn"
    assert masked("redact") == "call  or mail "
    assert mask_value("6222 0212 3456 7890") == "**** **** **** 7890"


def test_pseudonym_is_keyed_and_deterministic() -> None:
    a = masked("pseudonym", secret=SECRET)
    assert a == masked("pseudonym", secret=SECRET)
    assert a != masked("pseudonym", secret=SECRET[::-1])
    assert "13812345678" not in a and a.startswith("call <PHONE:")
    with pytest.raises(UserInputError, match="secret"):
        masked("pseudonym")


def test_unknown_operator() -> None:
    with pytest.raises(UserInputError, match="unknown operator"):
        masked("shred")


def test_pseudonym_sql_matches_python() -> None:
    con = duckdb.connect()
    values = ["17850", "a@b.c", "王伟", ""]
    got = con.execute(f"SELECT {pseudonym_sql('v', SECRET, prefix='c')} FROM (SELECT unnest(?) AS v)", [values]).fetchall()
    assert [g[0] for g in got] == [pseudonym(v, SECRET, prefix="c") for v in values]
    assert con.execute(f"SELECT {pseudonym_sql('NULL', SECRET)}").fetchone()[0] is None


def test_secret_sources(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("SHOPLENS_SECRET", raising=False)
    assert resolve_secret(Settings(secret="s" * 32), tmp_path) == b"s" * 32
    keyfile = tmp_path / "k.key"
    keyfile.write_text("k" * 40 + "\n")
    assert resolve_secret(Settings(secret_file=keyfile), tmp_path) == b"k" * 40
    monkeypatch.setenv("SHOPLENS_SECRET", "e" * 20)
    assert resolve_secret(Settings(), tmp_path) == b"e" * 20
    with pytest.raises(ConfigError, match="too short"):
        resolve_secret(Settings(secret="short"), tmp_path)


def test_key_file_created_once_with_0600(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("SHOPLENS_SECRET", raising=False)
    assert resolve_secret(Settings(), tmp_path, create=False) is None  # never a built-in default
    first = resolve_secret(Settings(), tmp_path)
    path = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "created a new secret key file" in capsys.readouterr().err
    assert resolve_secret(Settings(), tmp_path) == first
    assert capsys.readouterr().err == ""  # said once

import logging
import re
from pathlib import Path

import pytest

from smbml_connect.connectors.hubspot import TOKEN
from smbml_connect.credentials import (
    RedactingFilter,
    Secret,
    delete_secret,
    get_secret,
    redact,
    store_secret,
)
from smbml_connect.errors import AuthError, ConfigError
from smbml_connect.registry import load_config, parse_config


def test_full_config_loads_with_paths_relative_to_the_file(tmp_path: Path):
    (tmp_path / "smbml.toml").write_text(
        """
        store = "data/store.sqlite"
        [source]
        kind = "files"
        path = "shop.xlsx"
        [source.tables]
        contacts = "Customers"
        [source.mapping.contacts]
        "E-mail address" = "email"
        [consent]
        column = "gdpr_ok"
        [[destinations]]
        kind = "workbook"
        path = "out/results.xlsx"
        [schedule]
        every = "1h"
        """
    )
    config = load_config(tmp_path / "smbml.toml")
    assert config.source.settings.path == tmp_path / "shop.xlsx"
    assert config.store == tmp_path / "data/store.sqlite"
    assert config.destinations[0].settings.path == tmp_path / "out/results.xlsx"
    assert config.source.mapping["contacts"]["E-mail address"] == "email"
    assert config.consent.column == "gdpr_ok"


def test_absolute_paths_stay_as_given(tmp_path: Path):
    shop = (tmp_path / "elsewhere" / "shop.xlsx").resolve()
    config = parse_config({"source": {"kind": "files", "path": str(shop)}}, base=tmp_path / "cfg")
    assert config.source.settings.path == shop


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"source": {"kind": "hubspt"}}, "source.kind"),
        ({"source": {"kind": "sample"}, "destinatons": []}, "destinatons: unknown key"),
        ({"source": {"kind": "files"}}, "source.path"),
        ({"source": {"kind": "sample", "tables": {"contactz": "x"}}}, "unknown table 'contactz'"),
        ({"source": {"kind": "sample"}, "schedule": {"every": "hourly"}}, "schedule.every"),
        ({"source": {"kind": "sample"}, "schedule": {"cron": "* *"}}, "schedule.cron"),
        (
            {"source": {"kind": "sample"}, "destinations": [{"kind": "pdf", "path": "x"}]},
            "destinations[0].kind",
        ),
        ({}, "source"),
    ],
)
def test_config_errors_name_the_key(data, message):
    with pytest.raises(ConfigError, match=re.escape(message).replace("'", ".")):
        parse_config(data)


def test_secrets_are_refused_in_the_config():
    with pytest.raises(ConfigError, match=r"source\.api_token looks like a secret") as info:
        parse_config({"source": {"kind": "sample", "api_token": "pat-na1-0123456789abcdef0123"}})
    assert "pat-na1" not in str(info.value)


def test_bad_toml_and_missing_file(tmp_path: Path):
    (tmp_path / "bad.toml").write_text("[source\nkind=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.toml")


def test_environment_wins_then_keyring_per_profile():
    store_secret(TOKEN, "keyring-token-123456", profile="shop")
    assert get_secret(TOKEN, "shop", env={}).reveal() == "keyring-token-123456"
    env = {"SMBML_HUBSPOT_TOKEN": "env-token-abcdef"}
    assert get_secret(TOKEN, "shop", env=env).reveal() == "env-token-abcdef"
    with pytest.raises(AuthError, match="smbml auth hubspot"):
        get_secret(TOKEN, "other", env={})
    delete_secret(TOKEN, "shop")
    with pytest.raises(AuthError):
        get_secret(TOKEN, "shop", env={})


def test_secret_never_prints():
    secret = Secret("super-secret-value-42")
    assert "super" not in repr(secret) and "super" not in f"{secret}"
    assert redact("token super-secret-value-42 failed") == "token *** failed"


def test_log_lines_and_tracebacks_are_redacted(tmp_path: Path):
    Secret("pat-na1-11111111-2222-3333-4444-555555555555")
    path = tmp_path / "log.txt"
    handler = logging.FileHandler(path)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("calling with %s", "pat-na1-11111111-2222-3333-4444-555555555555")
        logger.warning("header Authorization: Bearer abcdefghijklmnop")
        try:
            raise RuntimeError("401 for token pat-na1-11111111-2222-3333-4444-555555555555")
        except RuntimeError:
            logger.exception("request failed")
        logger.warning(
            '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----"}'
        )
    finally:
        handler.close()
        logger.removeHandler(handler)
    text = path.read_text()
    assert "pat-na1-1111" not in text and "abcdefghijklmnop" not in text and "MIIE" not in text
    assert text.count("***") >= 4

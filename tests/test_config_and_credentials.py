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


_FILES = {"kind": "files", "path": "shop"}
_TOP = "belongs at the top of the file, above [source] (a key below a [section] line belongs to that section)"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"source": {**_FILES, "store": "s.sqlite"}}, f"source.store: store {_TOP}"),
        (
            {"source": _FILES, "destinations": [{"kind": "workbook", "path": "r.xlsx",
                                                 "time_zone": "America/New_York"}]},
            f"destinations[0].time_zone: time_zone {_TOP}",
        ),
        ({"source": _FILES, "analytics": {"currency": "EUR"}}, f"analytics.currency: currency {_TOP}"),
        ({"source": _FILES, "analytics": {"enable": []}}, "analytics.enable: unknown key (did you mean 'enabled'?)"),
        ({"source": _FILES, "time_zon": "UTC"}, "time_zon: unknown key (did you mean 'time_zone'?)"),
        ({"source": {**_FILES, "encodng": "cp1252"}}, "source.encodng: unknown key (did you mean 'encoding'?)"),
        (
            {"source": _FILES, "analytics": {"foo": 1}},
            "analytics.foo: unknown key (the analytics' own keys are: enabled, as_of, incomplete_inputs;",
        ),
    ],
)  # fmt: skip
def test_a_misplaced_or_misspelt_key_is_told_where_it_belongs(data, message):
    """A top-level key written under the last [section] (the data checks say "set time_zone
    at the top of the config") was told "check the spelling" (find57_newcomer item 3)."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(data)


def test_secrets_are_refused_in_the_config():
    with pytest.raises(ConfigError, match=r"source\.api_token looks like a secret") as info:
        parse_config({"source": {"kind": "sample", "api_token": "pat-na1-0123456789abcdef0123"}})
    assert "pat-na1" not in str(info.value)


def test_a_mapping_to_no_column_of_its_table_is_refused_naming_the_key_and_the_columns(
    tmp_path: Path,
):
    """ "Total" = "totl" kept the totals aside as a column "totl": every order total was
    empty, the run said "$0 expected" and "Champions bring nan% of revenue", exit 0."""
    config = tmp_path / "smbml.toml"
    text = '[source]\nkind = "files"\npath = "."\n[source.mapping.orders]\n"Order #" = "order_id"\n'
    config.write_text(text + '"Total" = "totl"\n')
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    assert str(refused.value).startswith(
        "config error at source.mapping.orders.Total: 'totl' is not a column of orders "
        "(did you mean 'total'? its columns: order_id, contact_id, ordered_at, total,"
    )
    config.write_text(text.replace('"Order #"', "Kunde").replace("orders]", "contacts]"))
    with pytest.raises(
        ConfigError, match=re.escape("source.mapping.contacts.Kunde: 'order_id' is not a")
    ):
        load_config(config)
    sheets = {"kind": "gsheets", "spreadsheet": "1AbC", "mapping": {"contacts": {"Mail": "mail"}}}
    with pytest.raises(
        ConfigError, match=re.escape("source.mapping.contacts.Mail: 'mail' is not a column")
    ):
        parse_config({"source": sheets})


def test_the_mappings_the_readme_shows_are_accepted():
    """Spreadsheets map a header to a column; HubSpot maps a column (a new one too, kept in
    extra) to a property, whose name HubSpot itself checks."""
    files = {"contacts": {"Mail": "email", "Unsubscribed": "marketing_consent"},
             "order_lines": {"Qty": "quantity"}}  # fmt: skip
    config = parse_config({"source": {"kind": "files", "path": ".", "mapping": files}})
    assert config.source.mapping == files
    hubspot = {"products": {"category": "product_category", "loyalty_tier": "tier"}}
    assert parse_config({"source": {"kind": "hubspot", "mapping": hubspot}}).source.mapping


def test_a_tilde_is_the_home_folder_never_a_folder_named_tilde(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`store = "~/smbml-shop.sqlite"` made a folder named "~" beside the config."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))  # Windows
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "smbml.toml").write_text(
        'store = "~/smbml-shop.sqlite"\n[source]\nkind = "files"\npath = "~/Documents/shop.xlsx"\n'
        '[[destinations]]\nkind = "report"\npath = "~/Desktop/report.html"\n'
    )
    config = load_config(tmp_path / "shop" / "smbml.toml")
    assert config.store == home / "smbml-shop.sqlite"
    assert config.source.settings.path == home / "Documents" / "shop.xlsx"
    assert config.destinations[0].settings.path == home / "Desktop" / "report.html"
    assert not (tmp_path / "shop" / "~").exists()


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

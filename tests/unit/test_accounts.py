"""Accounts: "name:key;name2:key2" specs (as AZURITE_ACCOUNTS), BATCHITE_ACCOUNTS, the dev account."""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchite.service.accounts import (
    DEV_ACCOUNT_KEY,
    DEV_ACCOUNT_NAME,
    Account,
    AccountConfigError,
    AccountRegistry,
    parse_accounts,
)

K1 = base64.b64encode(b"first key").decode()
K2 = base64.b64encode(b"second key!").decode()
K3 = base64.b64encode(b"third").decode()


def test_single_account() -> None:
    [acc] = parse_accounts(f"acc:{K1}")
    assert acc == Account("acc", [K1])
    assert acc.key_bytes() == [b"first key"]


def test_several_accounts_keep_order() -> None:
    accounts = parse_accounts(f"a:{K1};b:{K2};c:{K3}")
    assert [a.name for a in accounts] == ["a", "b", "c"]
    assert [a.keys for a in accounts] == [[K1], [K2], [K3]]


def test_repeated_name_adds_a_second_key_primary_first() -> None:
    accounts = parse_accounts(f"acc:{K1};other:{K3};acc:{K2}")
    assert [a.name for a in accounts] == ["acc", "other"]
    assert accounts[0].keys == [K1, K2]
    assert accounts[0].key_bytes() == [b"first key", b"second key!"]


def test_whitespace_and_empty_parts_ignored() -> None:
    accounts = parse_accounts(f"  acc:{K1} ;; ;other:{K2};")
    assert [(a.name, a.keys) for a in accounts] == [("acc", [K1]), ("other", [K2])]


def test_key_may_contain_padding_and_plus_slash() -> None:
    key = base64.b64encode(bytes([0xFB, 0xFF, 0xBF, 0x00])).decode()
    assert "+" in key or "/" in key
    [acc] = parse_accounts(f"acc:{key}")
    assert acc.key_bytes() == [bytes([0xFB, 0xFF, 0xBF, 0x00])]


def test_dev_key_is_valid_base64() -> None:
    [acc] = parse_accounts(f"{DEV_ACCOUNT_NAME}:{DEV_ACCOUNT_KEY}")
    assert acc.key_bytes()[0]


@pytest.mark.parametrize(
    "spec",
    [
        "acc",  # no colon
        "acc:",  # no key
        f":{K1}",  # no name
        f"acc:{K1};broken",  # one bad part spoils the spec
        "acc:not base64!",
        "acc:abc",  # bad padding
        "acc:@@@@",
    ],
)
def test_malformed_specs(spec: str) -> None:
    with pytest.raises(AccountConfigError):
        parse_accounts(spec)


@pytest.mark.parametrize("spec", ["", "   ", ";", " ; ; "])
def test_empty_spec_is_an_error(spec: str) -> None:
    with pytest.raises(AccountConfigError):
        parse_accounts(spec)


def test_config_error_is_a_value_error() -> None:
    assert issubclass(AccountConfigError, ValueError)


# -- registry ---------------------------------------------------------------------------------


def test_from_environment_default_is_the_dev_account() -> None:
    reg = AccountRegistry.from_environment({})
    assert reg.names() == [DEV_ACCOUNT_NAME]
    acc = reg.get(DEV_ACCOUNT_NAME)
    assert acc is not None
    assert acc.keys == [DEV_ACCOUNT_KEY]


def test_from_environment_blank_value_is_the_dev_account() -> None:
    reg = AccountRegistry.from_environment({"BATCHITE_ACCOUNTS": "   "})
    assert reg.names() == [DEV_ACCOUNT_NAME]


def test_from_environment_spec_replaces_the_dev_account() -> None:
    reg = AccountRegistry.from_environment({"BATCHITE_ACCOUNTS": f"acc:{K1};acc:{K2}", "OTHER": "x"})
    assert reg.names() == ["acc"]
    assert reg.get(DEV_ACCOUNT_NAME) is None
    acc = reg.get("acc")
    assert acc is not None
    assert acc.keys == [K1, K2]
    assert [a.name for a in reg] == ["acc"]


def test_from_environment_malformed_raises() -> None:
    with pytest.raises(AccountConfigError):
        AccountRegistry.from_environment({"BATCHITE_ACCOUNTS": "acc"})


def test_from_environment_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHITE_ACCOUNTS", f"envacc:{K1}")
    assert AccountRegistry.from_environment().names() == ["envacc"]
    monkeypatch.delenv("BATCHITE_ACCOUNTS")
    assert AccountRegistry.from_environment().names() == [DEV_ACCOUNT_NAME]


def test_registry_get_unknown_is_none() -> None:
    reg = AccountRegistry(parse_accounts(f"acc:{K1}"))
    assert reg.get("nope") is None


# -- property: specs round-trip ----------------------------------------------------------------

_names = st.text(string.ascii_lowercase + string.digits, min_size=3, max_size=24)
_keys = st.binary(min_size=1, max_size=64)


@given(
    st.lists(
        st.tuples(_names, st.lists(_keys, min_size=1, max_size=3)), min_size=1, max_size=5, unique_by=lambda t: t[0]
    )
)
def test_property_spec_round_trip(accounts: list[tuple[str, list[bytes]]]) -> None:
    spec = ";".join(f"{name}:{base64.b64encode(k).decode()}" for name, keys in accounts for k in keys)
    parsed = parse_accounts(spec)
    assert [a.name for a in parsed] == [name for name, _ in accounts]
    assert [a.key_bytes() for a in parsed] == [keys for _, keys in accounts]
    reg = AccountRegistry.from_environment({"BATCHITE_ACCOUNTS": spec})
    for name, keys in accounts:
        acc = reg.get(name)
        assert acc is not None
        assert acc.key_bytes() == keys

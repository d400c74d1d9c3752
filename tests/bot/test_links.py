"""Signed HR links: valid for minutes, for one purpose, untamperable; who counts as HR."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.config import Settings
from bot.errors import ConfigError
from bot.links import (
    DEFAULT_TTL,
    HR_PURPOSE,
    MAX_TTL,
    hr_link,
    is_hr,
    sign_link,
    verify_link,
)

SECRET = "links-test-secret"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, POLICYBOT_DATA_DIR=tmp_path, **values)  # type: ignore[arg-type]


def test_a_fresh_token_verifies_until_it_expires() -> None:
    token = sign_link(SECRET, HR_PURPOSE, now=NOW)
    assert verify_link(SECRET, token, NOW)
    assert verify_link(SECRET, token, NOW + DEFAULT_TTL - timedelta(seconds=1))
    assert not verify_link(SECRET, token, NOW + DEFAULT_TTL)
    assert not verify_link(SECRET, token, NOW + timedelta(days=1))


def test_default_lifetime_is_fifteen_minutes() -> None:
    assert timedelta(minutes=15) == DEFAULT_TTL
    token = sign_link(SECRET, now=NOW)
    assert int(token.split(".")[1]) == int((NOW + DEFAULT_TTL).timestamp())


def test_secret_key_as_configured_works_too() -> None:
    token = sign_link(SecretStr(SECRET), now=NOW)
    assert verify_link(SecretStr(SECRET), token, NOW)
    assert verify_link(SECRET.encode(), token, NOW)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the MAC
        lambda t: t.replace(t.split(".")[1], str(int(t.split(".")[1]) + 3600)),  # expiry
        lambda t: t.replace(HR_PURPOSE, "hr-trendz"),  # purpose
        lambda t: t + ".x",
        lambda t: t.split(".", 1)[1],
        lambda t: "",
        lambda t: " " + t,
        lambda t: t.upper(),
    ],
    ids=["mac", "expiry", "purpose", "extra-part", "missing-part", "empty", "space", "case"],
)
def test_a_tampered_token_fails(tamper: object) -> None:
    token = sign_link(SECRET, now=NOW)
    assert callable(tamper)
    assert not verify_link(SECRET, tamper(token), NOW)


def test_another_secret_or_purpose_fails() -> None:
    token = sign_link(SECRET, now=NOW)
    assert not verify_link("another-secret", token, NOW)
    other = sign_link(SECRET, "campaign-report", now=NOW)
    assert verify_link(SECRET, other, NOW, purpose="campaign-report")
    assert not verify_link(SECRET, other, NOW)  # not an HR trends link


def test_missing_token_or_secret_is_false_not_an_error() -> None:
    token = sign_link(SECRET, now=NOW)
    assert not verify_link(SECRET, None, NOW)
    assert not verify_link("", token, NOW)
    assert not verify_link(SECRET, "é" * 20, NOW)


def test_a_token_claiming_a_long_life_is_refused() -> None:
    long_lived = sign_link(SECRET, ttl=MAX_TTL, now=NOW + timedelta(days=30))
    assert not verify_link(SECRET, long_lived, NOW)


def test_tokens_carry_no_identity_or_secret() -> None:
    token = sign_link(SECRET, now=NOW)
    purpose, expiry, mac = token.split(".")
    assert purpose == HR_PURPOSE
    assert expiry.isdigit()
    assert SECRET not in token and len(mac) == 43


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-5), MAX_TTL + timedelta(1)])
def test_lifetimes_outside_a_second_to_an_hour_are_refused(ttl: timedelta) -> None:
    with pytest.raises(ConfigError, match="expire"):
        sign_link(SECRET, ttl=ttl, now=NOW)


def test_bad_purpose_or_empty_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="purpose"):
        sign_link(SECRET, "HR trends!", now=NOW)
    with pytest.raises(ConfigError, match="POLICYBOT_SECRET_KEY"):
        sign_link("", now=NOW)


@given(st.text(max_size=200))
def test_verify_is_total_over_any_text(token: str) -> None:
    assert verify_link(SECRET, token, NOW) is False


def test_is_hr_matches_platform_identities(tmp_path: Path) -> None:
    config = settings(tmp_path, POLICYBOT_HR="slack:U123, teams:29:abc")
    assert is_hr(config, "slack", "U123")
    assert is_hr(config, "teams", "29:abc")
    assert not is_hr(config, "teams", "U123")
    assert not is_hr(config, "slack", "u123")
    assert not is_hr(config, "slack", None)
    assert not is_hr(settings(tmp_path), "slack", "U123")


def test_hr_link_points_at_hr_with_a_valid_token(tmp_path: Path) -> None:
    config = settings(tmp_path, POLICYBOT_SECRET_KEY=SECRET)
    link = hr_link(config, "https://bot.example.org/", now=NOW)
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "bot.example.org", "/hr")
    (token,) = parse_qs(parts.query)["token"]
    assert verify_link(SECRET, token, NOW + timedelta(minutes=14))
    assert not verify_link(SECRET, token, NOW + timedelta(minutes=15))


def test_hr_link_needs_a_secret_and_a_web_address(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="POLICYBOT_SECRET_KEY"):
        hr_link(settings(tmp_path), "https://bot.example.org")
    config = settings(tmp_path, POLICYBOT_SECRET_KEY=SECRET)
    for bad in ("bot.example.org", "ftp://bot.example.org", "https://bot.example.org/?a=1"):
        with pytest.raises(ConfigError, match="base URL"):
            hr_link(config, bad)

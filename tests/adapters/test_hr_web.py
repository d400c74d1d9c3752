"""``GET /hr``: the trends page opens for a valid signed link only, and never errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.hr_web import DENIED, mount_hr
from bot.config import Settings
from bot.lexicon import EMPTY_LEXICON
from bot.links import sign_link
from bot.service import Library
from bot.storage import Store
from tests.bot.test_trends_properties import POLICIES

SECRET = "hr-web-secret"
LIBRARY = Library.from_policies(POLICIES, EMPTY_LEXICON)


def settings_for(tmp_path: Path, **values: Any) -> Settings:
    base: dict[str, Any] = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'hr.db'}",
        "POLICYBOT_DATA_DIR": tmp_path,
        "POLICYBOT_SECRET_KEY": SECRET,
    }
    return Settings(_env_file=None, **{**base, **values})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.from_settings(settings_for(tmp_path))
    opened.upgrade()
    last_week = datetime.now(UTC) - timedelta(days=7)
    for n in range(6):
        opened.log_question(
            platform="slack",
            user=f"UHRTEST{n}",
            workspace="T1",
            question="can I text a parent",
            is_known=str.isalpha,
            answered=True,
            clauses=[("aup", "sm-1", 2.0)],
            when=last_week,
        )
    yield opened
    opened.close()


def fetch(settings: Settings, store: Store, url: str) -> tuple[int, str, dict[str, str]]:
    async def scenario() -> tuple[int, str, dict[str, str]]:
        app = web.Application()
        mount_hr(app, store_provider=lambda: store, settings=settings, library=LIBRARY)
        async with TestClient(TestServer(app)) as client:
            response = await client.get(url)
            return response.status, await response.text(), dict(response.headers)

    return asyncio.run(scenario())


def token(**options: Any) -> str:
    return sign_link(SECRET, **options)


def test_a_valid_link_opens_the_report(tmp_path: Path, store: Store) -> None:
    status, body, headers = fetch(settings_for(tmp_path), store, f"/hr?token={token()}")
    assert status == 200
    assert "Question trends" in body and "<svg" in body
    assert "UHRTEST" not in body
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert '<data value="6"' in body  # last week's six questions


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?token=",
        "?token=" + token(now=datetime.now(UTC) - timedelta(minutes=16)),  # expired
        "?token=" + token()[:-2] + "xx",  # tampered
        "?token=" + sign_link("another-secret"),  # someone else's key
        "?token=" + sign_link(SECRET, "campaign-report"),  # another purpose
        "?token=%FF%FE%00",
        "?token=" + "a" * 5000,
        "?tok=" + token(),
    ],
    ids=[
        "missing",
        "empty",
        "expired",
        "tampered",
        "forged",
        "other-purpose",
        "junk-bytes",
        "huge",
        "misspelt",
    ],
)
def test_anything_else_is_a_401_page(tmp_path: Path, store: Store, query: str) -> None:
    status, body, headers = fetch(settings_for(tmp_path), store, "/hr" + query)
    assert status == 401
    assert body == DENIED
    assert headers["Cache-Control"] == "no-store"


def test_no_secret_configured_means_no_link_can_work(tmp_path: Path, store: Store) -> None:
    settings = settings_for(tmp_path, POLICYBOT_SECRET_KEY="", POLICYBOT_ENV="development")
    status, _, _ = fetch(settings, store, f"/hr?token={token()}")
    assert status == 401


def test_a_database_without_tables_is_a_503_not_a_crash(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    empty = Store.from_settings(settings)
    try:
        status, body, _ = fetch(settings, empty, f"/hr?token={token()}")
    finally:
        empty.close()
    assert status == 503
    assert "try again" in body

"""Shared storage fixtures: every storage test runs on SQLite and, when configured, PostgreSQL.

PostgreSQL runs when ``POLICYBOT_TEST_DATABASE_URL`` is set (CI sets it); each test gets a
schema of its own (``search_path`` through libpq ``options``), dropped afterwards, so
parallel runs never meet. Without the variable the PostgreSQL half is skipped, saying so.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from bot.config import Settings
from bot.errors import PolicyBotError
from bot.storage import Store

PG_ENV = "POLICYBOT_TEST_DATABASE_URL"
TEST_SECRET = "test-secret-key"
PG_SKIP_REASON = (
    f"PostgreSQL tests skipped: set {PG_ENV} "
    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run them"
)


def make_settings(data_dir: Path, database_url: str | None = None, **extra: object) -> Settings:
    """Settings for a test: explicit values only, no ``.env`` file."""
    values: dict[str, object] = {
        "POLICYBOT_DATA_DIR": data_dir,
        "POLICYBOT_SECRET_KEY": TEST_SECRET,
        **extra,
    }
    if database_url is not None:
        values["DATABASE_URL"] = database_url
    return Settings(_env_file=None, **values)


def postgres_base_url() -> URL | None:
    """The PostgreSQL server to test against, or None when not configured."""
    raw = os.environ.get(PG_ENV, "").strip()
    if not raw:
        return None
    url = make_url(raw.replace("postgres://", "postgresql://", 1))
    return url.set(drivername="postgresql+psycopg")


@dataclass(frozen=True)
class Backend:
    """One database a test runs against, with what a test needs to reach it directly."""

    name: str
    settings: Settings
    database_url: str  # for subprocesses: a URL Settings accepts as DATABASE_URL
    sqlite_path: Path | None = None

    def open_store(self, **options: float) -> Store:
        """A fresh Store on this backend (the schema must be upgraded by the caller)."""
        return Store.from_settings(self.settings, **options)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An autocommit engine on the test server for CREATE/DROP SCHEMA, or skip."""
    base = postgres_base_url()
    if base is None:
        pytest.skip(PG_SKIP_REASON)
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _postgres_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    admin: Engine = request.getfixturevalue("postgres_admin")
    base = postgres_base_url()
    assert base is not None
    schema = f"pb_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    database_url = url.render_as_string(hide_password=False)
    try:
        yield Backend(
            name="postgresql",
            settings=make_settings(tmp_path / "data", database_url),
            database_url=database_url,
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def _sqlite_backend(tmp_path: Path) -> Backend:
    path = tmp_path / "policybot.db"
    database_url = f"sqlite:///{path}"
    return Backend(
        name="sqlite",
        settings=make_settings(tmp_path / "data", database_url),
        database_url=database_url,
        sqlite_path=path,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """SQLite in ``tmp_path``, then PostgreSQL in a schema of its own."""
    if request.param == "postgresql":
        yield from _postgres_backend(request, tmp_path)
    else:
        yield _sqlite_backend(tmp_path)


@pytest.fixture
def sqlite_backend(tmp_path: Path) -> Backend:
    """SQLite only, for what only a file database has (file locks, WAL bytes)."""
    return _sqlite_backend(tmp_path)


@pytest.fixture
def postgres_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """PostgreSQL only (skipped without POLICYBOT_TEST_DATABASE_URL)."""
    yield from _postgres_backend(request, tmp_path)


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    """An upgraded Store on each backend; closed afterwards."""
    opened = backend.open_store()
    opened.upgrade()
    yield opened
    opened.close()


# Knowledge vocabularies for masking tests -------------------------------------------------

REPO = Path(__file__).resolve().parents[3]
SEED_FALLBACK = REPO.parent / "shared" / "seed"
_WORDS = re.compile(r"[^\W_]+")

SMALL_VOCABULARY = frozenset(
    """a an the and or but if of to in on at for from with about by as is it it's be are was
    can could should would may might must will do does did not no yes i me my we our you your
    he she his her they them their this that what when where who how which ok okay
    pupil pupils student students parent parents mum dad staff teacher class year school
    email emails phone phones mobile text message messages call ring contact social media
    facebook instagram whatsapp tiktok snapchat photo photos picture video share post
    personal home address number friend request login password laptop report account
    send sent give take keep use add follow day trip page data 7 8 9 10 11""".split()
)


def _seed_texts() -> list[Path]:
    bundled = sorted(REPO.glob("knowledge/*/source.*"))
    return bundled or sorted(SEED_FALLBACK.glob("*.txt"))


@pytest.fixture(scope="session")
def seed_vocabulary() -> frozenset[str]:
    """Every word of the school's real policy (bundled knowledge, else the seed text),
    case-folded."""
    texts = _seed_texts()
    if not texts:
        pytest.skip("no seed policy text found (knowledge/*/source.* or ../shared/seed)")
    words: set[str] = set()
    for path in texts:
        words.update(w.casefold() for w in _WORDS.findall(path.read_text(encoding="utf-8")))
    return frozenset(words)


@pytest.fixture(scope="session")
def core_is_known() -> Callable[[str], bool]:
    """The predicate the core really passes: bundled knowledge, lexicon, stems, stop words."""
    try:
        from bot.service import Library

        return Library.load(REPO / "knowledge").analyzer.is_known
    except (ImportError, PolicyBotError) as error:
        pytest.skip(f"the bundled knowledge does not load, so no core predicate: {error}")


@pytest.fixture(params=["small-word-set", "seed-vocabulary", "core-analyzer"])
def is_known(request: pytest.FixtureRequest) -> Callable[[str], bool]:
    """A knowledge predicate: a small word set, the real policy's words, the core's own."""
    if request.param == "small-word-set":
        return SMALL_VOCABULARY.__contains__
    if request.param == "core-analyzer":
        core: Callable[[str], bool] = request.getfixturevalue("core_is_known")
        return core
    vocabulary: frozenset[str] = request.getfixturevalue("seed_vocabulary")
    return vocabulary.__contains__

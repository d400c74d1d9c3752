"""Database URL, pragmas, migrations, health check and the pseudonym secret."""

from __future__ import annotations

import importlib
import pkgutil
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

import bot.storage
from bot.errors import ConfigError, StorageBusy, StorageError
from bot.storage import Store
from bot.storage.database import open_database, resolve_url
from bot.storage.schema import metadata
from bot.storage.store import MIGRATIONS_DIR, alembic_config
from tests.bot.storage.conftest import Backend, make_settings

TABLES = {
    "questions",
    "question_clauses",
    "acknowledgements",
    "ack_chain_head",
    "policy_versions",
    "policy_clauses",
    "delivery_ledger",
}


# URLs --------------------------------------------------------------------------------


def test_default_database_is_an_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    url = resolve_url(make_settings(tmp_path / "data"))
    assert url.drivername == "sqlite"
    assert url.database == str(tmp_path / "data" / "policybot.db")


@pytest.mark.parametrize(
    "raw",
    [
        "postgres://user:pw@db.example.com:5432/d1",  # Heroku's form
        "postgresql://user:pw@db.example.com:5432/d1",
        "postgresql+psycopg://user:pw@db.example.com:5432/d1",
    ],
)
def test_postgres_urls_use_psycopg_3(tmp_path: Path, raw: str) -> None:
    url = resolve_url(make_settings(tmp_path, raw))
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "user",
        "pw",
        "db.example.com",
        5432,
        "d1",
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("mysql://u@h/d", "unsupported database"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("not a url", "not a database URL"),
    ],
)
def test_unusable_urls_are_config_errors_naming_the_variable(
    tmp_path: Path, raw: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=f"DATABASE_URL.*{message}|{message}.*"):
        resolve_url(make_settings(tmp_path, raw))


# SQLite pragmas ----------------------------------------------------------------------


def test_sqlite_runs_wal_full_sync_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    store = Store.from_settings(make_settings(tmp_path / "data"), busy_timeout=0.75)
    assert (tmp_path / "data" / "policybot.db").exists()  # opened (and checked) at start-up
    with store.db.engine.connect() as conn:
        found = {
            name: conn.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert found == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 750,
    }
    store.close()


def test_only_acknowledgements_pay_for_a_disk_flush_on_commit(tmp_path: Path) -> None:
    # The question log and the ledger may lose their last rows to a power cut, never to a
    # crash; acknowledgements are evidence and flush (synchronous=FULL) on every commit.
    store = Store.from_settings(make_settings(tmp_path / "data"))
    seen = {}
    for durable in (True, False, True):
        with store.db.write(durable=durable) as conn:
            seen[durable] = conn.execute(text("PRAGMA synchronous")).scalar()
    assert seen == {True: 2, False: 1}
    store.close()


def test_a_writer_that_will_not_wait_is_told_busy_at_once_and_writes_nothing(
    tmp_path: Path,
) -> None:
    store = Store.from_settings(make_settings(tmp_path / "data"))
    store.upgrade()
    other = open_database(store.db.engine.url)  # another process's writer, in effect
    try:
        with other.write() as conn:
            conn.execute(
                text("INSERT INTO delivery_ledger VALUES ('held', '2026-01-01', '2026-01-02')")
            )
            with pytest.raises(StorageBusy), store.db.write(wait=False) as mine:
                mine.execute(text("DELETE FROM delivery_ledger"))
        with store.db.write(wait=False) as mine:  # the lock is free again: no waiting needed
            assert mine.execute(text("SELECT key FROM delivery_ledger")).scalars().all() == ["held"]
    finally:
        other.close()
        store.close()


def test_a_writer_that_will_not_wait_is_told_busy_while_another_thread_writes(
    tmp_path: Path,
) -> None:
    store = Store.from_settings(make_settings(tmp_path / "data"))
    store.upgrade()
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with store.db.write():
            inside.set()
            assert leave.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(30)
        with pytest.raises(StorageBusy), store.db.write(wait=False):
            pass
    finally:
        leave.set()
        holder.join(30)
        store.close()


@pytest.mark.filterwarnings("ignore:Selection of the SingletonThreadPool")
def test_sqlite_pragmas_that_do_not_take_stop_start_up() -> None:
    # A memory database cannot use WAL: the read-back must notice, not carry on quietly.
    url = make_url("sqlite:///file:pb_pragmas?mode=memory&cache=shared&uri=true")
    db = open_database(url)
    with pytest.raises(StorageError, match="journal_mode"):
        db.check()
    db.close()


def test_sqlite_file_is_in_wal_mode_for_other_readers(sqlite_backend: Backend) -> None:
    store = sqlite_backend.open_store()
    store.upgrade()
    assert sqlite_backend.sqlite_path is not None
    with sqlite3.connect(sqlite_backend.sqlite_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


# Migrations --------------------------------------------------------------------------


def test_upgrade_creates_every_table_and_is_idempotent(store: Store) -> None:
    store.upgrade()
    store.upgrade()
    names = set(inspect(store.db.engine).get_table_names())
    assert TABLES | {"alembic_version"} <= names
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    with store.db.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head


def test_migrations_match_every_table_declared_in_bot_storage(store: Store) -> None:
    # Tables may be declared beside the code that uses them; load every module first.
    for module in pkgutil.iter_modules(bot.storage.__path__, "bot.storage."):
        importlib.import_module(module.name)
    with store.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_migrations_downgrade_to_nothing_and_back(store: Store) -> None:
    config = alembic_config()
    with store.db.write() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert not TABLES & set(inspect(store.db.engine).get_table_names())
    store.upgrade()
    assert set(inspect(store.db.engine).get_table_names()) >= TABLES
    assert store.verify_chain().ok


def test_check_passes_on_a_live_database(store: Store) -> None:
    store.check()


# The pseudonym secret ----------------------------------------------------------------


def test_local_secret_is_generated_once_private_and_stable(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data").model_copy(update={"secret_key": None})
    first = Store.from_settings(settings)
    first.upgrade()
    key = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    content = key.read_text()
    second = Store.from_settings(settings)
    assert key.read_text() == content
    ids = [
        store.log_question(
            platform="slack",
            user="U1",
            workspace="T",
            question="q",
            is_known=lambda _: True,
            answered=True,
            clauses=[],
        )
        for store in (first, second)
    ]
    assert len(ids) == 2
    askers = {row.asker for row in first.logged_questions()}
    assert len(askers) == 1  # the same key in both processes' stores
    first.close()
    second.close()


def test_production_database_without_a_secret_names_the_variable(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "postgres://u@127.0.0.1/d").model_copy(
        update={"secret_key": None}
    )
    with pytest.raises(ConfigError, match="POLICYBOT_SECRET_KEY"):
        Store.from_settings(settings)
    development = settings.model_copy(update={"env": "development"})
    Store.from_settings(development).close()  # development may generate one locally
    assert (tmp_path / "secret_key").exists()


def test_the_sqlite_files_are_private(tmp_path: Path) -> None:
    store = Store.from_settings(make_settings(tmp_path / "data"))
    store.upgrade()
    store.claim_delivery("slack:Ev1")
    folder = tmp_path / "data"
    for path in (folder / "policybot.db", folder / "policybot.db-wal"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    store.close()

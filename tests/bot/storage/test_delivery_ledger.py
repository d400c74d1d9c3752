"""The delivery ledger: each key claimed once, across threads and processes, until it expires."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.storage import Store, ledger
from bot.storage.schema import delivery_ledger
from tests.bot.storage.conftest import TEST_SECRET, Backend

CLAIMER = """
import sys
from bot.config import Settings
from bot.storage import Store
store = Store.from_settings(Settings())
won = [key for key in sys.argv[1:] if store.claim_delivery(key)]
print(" ".join(won))
store.close()
"""


def test_a_key_is_claimed_once(store: Store) -> None:
    assert store.claim_delivery("slack:Ev1") is True
    assert store.claim_delivery("slack:Ev1") is False
    assert store.claim_delivery("teams:Ev1") is True


def test_a_claim_expires(store: Store) -> None:
    t0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert ledger.claim(store.db, "slack:Ev1", hour, now=t0)
    assert not ledger.claim(store.db, "slack:Ev1", hour, now=t0 + hour / 2)
    assert ledger.claim(store.db, "slack:Ev1", hour, now=t0 + 2 * hour)  # forgotten: new claim
    assert not ledger.claim(store.db, "slack:Ev1", hour, now=t0 + 2 * hour)


def test_purge_removes_only_expired_keys(store: Store) -> None:
    t0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    ledger.claim(store.db, "old", timedelta(minutes=5), now=t0)
    ledger.claim(store.db, "new", timedelta(days=2), now=t0)
    assert ledger.purge(store.db, now=t0 + timedelta(hours=1)) == 1
    with store.db.engine.connect() as conn:
        keys = conn.execute(select(delivery_ledger.c.key)).scalars().all()
    assert keys == ["new"]


def test_threads_racing_for_the_same_keys_win_each_once(store: Store) -> None:
    keys = [f"slack:Ev{index}" for index in range(25)]
    wins: list[str] = []
    lock = threading.Lock()

    def race() -> None:
        mine = [key for key in keys if store.claim_delivery(key)]
        with lock:
            wins.extend(mine)

    threads = [threading.Thread(target=race) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == sorted(keys)


def test_processes_racing_for_the_same_keys_win_each_once(
    store: Store, backend: Backend, tmp_path: Path
) -> None:
    keys = [f"teams:activity-{index}" for index in range(150)]
    env = {
        **os.environ,
        "DATABASE_URL": backend.database_url,
        "POLICYBOT_SECRET_KEY": TEST_SECRET,
        "POLICYBOT_DATA_DIR": str(tmp_path / "data"),
    }
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, *keys],
            stdout=subprocess.PIPE,
            env=env,
            cwd=tmp_path,
            text=True,
        )
        for _ in range(2)
    ]
    won = [key for racer in racers for key in racer.communicate(timeout=60)[0].split()]
    assert all(racer.returncode == 0 for racer in racers)
    assert sorted(won) == sorted(keys)
    with store.db.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(delivery_ledger)).scalar_one()
    assert count == len(keys)

"""Acknowledgements: exactly once, append-only, hash-chained, durable, and honest when down."""

from __future__ import annotations

import csv
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text

from bot.errors import StorageError, StorageUnavailable
from bot.storage import AcknowledgementRequest, Store
from bot.storage.acknowledgements import GENESIS_HASH, chain_hash
from bot.storage.schema import acknowledgements
from tests.bot.storage.conftest import TEST_SECRET, Backend, make_settings

WRITER = Path(__file__).with_name("ack_writer_process.py")


def request(user: str = "U1", **overrides: object) -> AcknowledgementRequest:
    values: dict[str, object] = {
        "platform": "slack",
        "workspace": "T0SCHOOL",
        "user_id": user,
        "display_name": f"Staff {user}",
        "policy_id": "staff-aup",
        "policy_version": "2018-07",
        "text_sha256": "ab" * 32,
        "statement": "I have read and accept the Staff Acceptable Use Policy.",
        "campaign_id": "2026",
        "source_event": f"Ev-{user}",
        **overrides,
    }
    return AcknowledgementRequest.model_validate(values)


def row_count(store: Store) -> int:
    with store.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(acknowledgements)).scalar_one())


# Recording ---------------------------------------------------------------------------


def test_record_returns_the_stored_row_with_server_time_and_links(store: Store) -> None:
    before = datetime.now(UTC)
    first = store.record_acknowledgement(request("U1"))
    second = store.record_acknowledgement(request("U2"))
    assert first.recorded and second.recorded
    one, two = first.acknowledgement, second.acknowledgement
    assert (one.seq, two.seq) == (1, 2)
    assert one.prev_hash == GENESIS_HASH
    assert two.prev_hash == one.row_hash
    assert one.row_hash == chain_hash(one.model_dump(), GENESIS_HASH)
    assert before - timedelta(seconds=1) <= one.accepted_at <= datetime.now(UTC)
    assert one.accepted_at.tzinfo is not None
    assert store.acknowledgements_for("slack", "T0SCHOOL", "U1") == [one]


def test_a_repeat_is_already_recorded_and_changes_nothing(store: Store) -> None:
    first = store.record_acknowledgement(request("U1"))
    again = store.record_acknowledgement(request("U1", source_event="Ev-retry"))
    assert not again.recorded
    assert again.acknowledgement == first.acknowledgement
    assert row_count(store) == 1


def test_the_unique_key_includes_version_and_campaign(store: Store) -> None:
    assert store.record_acknowledgement(request("U1", campaign_id=None)).recorded
    assert not store.record_acknowledgement(request("U1", campaign_id="")).recorded
    assert store.record_acknowledgement(request("U1", campaign_id="2026")).recorded
    assert store.record_acknowledgement(request("U1", policy_version="2026-09")).recorded
    assert store.record_acknowledgement(request("U1", platform="teams")).recorded
    assert store.record_acknowledgement(request("U1", workspace="T0OTHER")).recorded
    assert row_count(store) == 5
    stored = store.acknowledgements_for("slack", "T0SCHOOL", "U1")
    assert [ack.campaign_id for ack in stored] == [None, "2026", "2026"]


def test_latest_acknowledged_version(store: Store) -> None:
    assert store.latest_acknowledged_version("slack", "T0SCHOOL", "U1", "staff-aup") is None
    store.record_acknowledgement(request("U1", policy_version="2018-07"))
    store.record_acknowledgement(request("U1", policy_version="2026-09"))
    store.record_acknowledgement(request("U1", policy_id="other", policy_version="9"))
    store.record_acknowledgement(request("U2", policy_version="2027-01"))
    assert store.latest_acknowledged_version("slack", "T0SCHOOL", "U1", "staff-aup") == "2026-09"


def test_a_bad_request_is_refused_before_the_database() -> None:
    with pytest.raises(ValidationError):
        request(text_sha256="not-a-hash")
    with pytest.raises(ValidationError):
        request(user="")


def test_concurrent_clicks_record_exactly_once_and_the_chain_verifies(store: Store) -> None:
    results: list[bool] = []
    lock = threading.Lock()

    def click(worker: int) -> None:
        for index in range(12):
            outcomes = [
                store.record_acknowledgement(request(f"U{worker}-{index}")).recorded,
                store.record_acknowledgement(request("U-double-click")).recorded,
            ]
            with lock:
                results.extend(outcomes)

    threads = [threading.Thread(target=click, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 8 * 12 + 1
    assert row_count(store) == 8 * 12 + 1
    verdict = store.verify_chain()
    assert verdict.ok and verdict.rows == 8 * 12 + 1


# Append-only and tamper evidence -----------------------------------------------------


def test_update_and_delete_are_refused_by_the_database(store: Store) -> None:
    store.record_acknowledgement(request("U1"))
    for statement in (
        "UPDATE acknowledgements SET user_id = 'U9'",
        "DELETE FROM acknowledgements",
        "DELETE FROM ack_chain_head",
    ):
        with pytest.raises(Exception, match="append-only"), store.db.engine.begin() as conn:
            conn.execute(text(statement))
    if store.db.dialect == "postgresql":
        with pytest.raises(Exception, match="append-only"), store.db.engine.begin() as conn:
            conn.execute(text("TRUNCATE acknowledgements"))
    assert store.verify_chain().ok
    assert row_count(store) == 1


def tamper(store: Store, *statements: str) -> None:
    """Do what an attacker with database access would: drop the triggers, then edit."""
    with store.db.engine.begin() as conn:
        if store.db.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER acknowledgements_no_update"))
            conn.execute(text("DROP TRIGGER acknowledgements_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER acknowledgements_no_change ON acknowledgements"))
        for statement in statements:
            conn.execute(text(statement))


@pytest.fixture
def five(store: Store) -> Store:
    """A store holding a verified chain of five acknowledgements."""
    for user in ("U1", "U2", "U3", "U4", "U5"):
        store.record_acknowledgement(request(user))
    assert store.verify_chain().ok
    return store


@pytest.mark.parametrize(
    ("statements", "seq", "reason"),
    [
        (["UPDATE acknowledgements SET user_id = 'U-forged' WHERE seq = 3"], 3, "altered"),
        (["UPDATE acknowledgements SET policy_version = '1999' WHERE seq = 1"], 1, "altered"),
        (["UPDATE acknowledgements SET prev_hash = row_hash WHERE seq = 4"], 4, "altered"),
        (["DELETE FROM acknowledgements WHERE seq = 3"], 3, "deleted"),
        (["DELETE FROM acknowledgements WHERE seq = 5"], 5, "deleted"),
        (["DELETE FROM acknowledgements WHERE seq >= 4"], 4, "deleted"),
        (
            [
                "DELETE FROM acknowledgements WHERE seq = 2",
                "UPDATE acknowledgements SET seq = seq - 1 WHERE seq = 3",
                "UPDATE acknowledgements SET seq = seq - 1 WHERE seq = 4",
                "UPDATE acknowledgements SET seq = seq - 1 WHERE seq = 5",
            ],
            2,
            "deleted",
        ),
        (
            [
                "UPDATE acknowledgements SET seq = -1 WHERE seq = 2",
                "UPDATE acknowledgements SET seq = 2 WHERE seq = 3",
                "UPDATE acknowledgements SET seq = 3 WHERE seq = -1",
            ],
            2,
            "reordered",
        ),
    ],
    ids=[
        "altered",
        "altered-first",
        "relinked",
        "deleted-middle",
        "deleted-last",
        "deleted-tail",
        "deleted-renumbered",
        "reordered",
    ],
)
def test_verify_names_the_first_tampered_row(
    five: Store, statements: list[str], seq: int, reason: str
) -> None:
    tamper(five, *statements)
    verdict = five.verify_chain()
    assert not verdict.ok
    assert (verdict.bad_seq, verdict.reason) == (seq, reason), verdict.describe()
    assert verdict.rows == seq - 1


def test_a_row_that_no_longer_parses_is_altered_not_a_crash(five: Store) -> None:
    if five.db.dialect != "sqlite":
        pytest.skip("PostgreSQL's column types refuse such values outright")
    tamper(five, "UPDATE acknowledgements SET accepted_at = 'yesterday' WHERE seq = 2")
    verdict = five.verify_chain()
    assert (verdict.ok, verdict.bad_seq, verdict.reason) == (False, 2, "altered")


def test_a_rewritten_row_with_a_fresh_hash_is_still_caught(five: Store) -> None:
    [row] = [a for a in five.acknowledgements_for("slack", "T0SCHOOL", "U3")]
    forged = row.model_copy(update={"user_id": "U-forged"})
    new_hash = chain_hash(forged.model_dump(), row.prev_hash)
    tamper(
        five,
        f"UPDATE acknowledgements SET user_id = 'U-forged', row_hash = '{new_hash}' WHERE seq = 3",
    )
    verdict = five.verify_chain()
    assert (verdict.ok, verdict.bad_seq) == (False, 4)
    assert "row 3 rewritten" in (verdict.detail or "")


def test_rewriting_the_last_row_is_caught_by_the_chain_head(five: Store) -> None:
    [row] = five.acknowledgements_for("slack", "T0SCHOOL", "U5")
    forged = row.model_copy(update={"display_name": "Someone Else"})
    new_hash = chain_hash(forged.model_dump(), row.prev_hash)
    tamper(
        five,
        "UPDATE acknowledgements SET display_name = 'Someone Else', "
        f"row_hash = '{new_hash}' WHERE seq = 5",
    )
    verdict = five.verify_chain()
    assert (verdict.ok, verdict.bad_seq, verdict.reason) == (False, 5, "altered")


def test_an_empty_chain_verifies(store: Store) -> None:
    verdict = store.verify_chain()
    assert verdict.ok and verdict.rows == 0 and verdict.head_hash == GENESIS_HASH


# Export ------------------------------------------------------------------------------


def test_export_writes_every_row_and_the_chain_head(store: Store, tmp_path: Path) -> None:
    store.record_acknowledgement(request("U1", display_name='=HYPERLINK("http://x")'))
    store.record_acknowledgement(request("U2"))
    result = store.export_acknowledgements(tmp_path / "acks.csv")
    verdict = store.verify_chain()
    with (tmp_path / "acks.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["seq", "platform", "workspace"]
    assert [row[0] for row in rows[1:-1]] == ["1", "2"]
    assert rows[1][rows[0].index("display_name")] == '\'=HYPERLINK("http://x")'
    assert rows[-1] == ["# chain head", verdict.head_hash, "rows", "2", "verified", "yes"]
    assert (result.rows, result.head_hash, result.verify.ok) == (2, verdict.head_hash, True)
    assert rows[2][rows[0].index("row_hash")] == verdict.head_hash


def test_export_of_a_broken_chain_says_so(five: Store, tmp_path: Path) -> None:
    tamper(five, "DELETE FROM acknowledgements WHERE seq = 2")
    result = five.export_acknowledgements(tmp_path / "acks.csv")
    assert not result.verify.ok and result.rows == 4
    last = (tmp_path / "acks.csv").read_text(encoding="utf-8").splitlines()[-1]
    assert last.endswith("verified,no")


# Down, locked, killed ----------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_database_that_is_down_raises_storage_unavailable(tmp_path: Path) -> None:
    url = f"postgres://postgres@127.0.0.1:{closed_port()}/test"
    store = Store.from_settings(make_settings(tmp_path, url))
    with pytest.raises(StorageUnavailable, match="try again"):
        store.record_acknowledgement(request("U1"))
    with pytest.raises(StorageUnavailable):
        store.check()
    with pytest.raises(StorageUnavailable):
        store.claim_delivery("slack:Ev1")
    store.close()


def test_a_locked_sqlite_database_raises_and_writes_nothing(sqlite_backend: Backend) -> None:
    backend = sqlite_backend
    assert backend.sqlite_path is not None
    store = backend.open_store(busy_timeout=0.2)
    store.upgrade()
    store.record_acknowledgement(request("U1"))
    locker = sqlite3.connect(backend.sqlite_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(StorageUnavailable, match="locked"):
            store.record_acknowledgement(request("U2"))
        assert time.monotonic() - started >= 0.15  # it waited for the busy timeout
        with pytest.raises(StorageUnavailable):
            store.log_question(
                platform="slack",
                user="U2",
                workspace="T",
                question="hi",
                is_known=lambda _: True,
                answered=False,
                clauses=[],
            )
    finally:
        locker.rollback()
        locker.close()
    assert row_count(store) == 1
    assert store.acknowledgements_for("slack", "T0SCHOOL", "U2") == []
    assert store.verify_chain().ok
    assert store.record_acknowledgement(request("U2")).acknowledgement.seq == 2
    store.close()


@pytest.mark.postgres
def test_a_locked_postgresql_chain_raises_and_writes_nothing(postgres_backend: Backend) -> None:
    store = postgres_backend.open_store(busy_timeout=0.2)
    store.upgrade()
    store.record_acknowledgement(request("U1"))
    holder = store.db.engine.connect()
    transaction = holder.begin()
    holder.execute(text("SELECT * FROM ack_chain_head FOR UPDATE"))
    try:
        with pytest.raises(StorageUnavailable, match="lock"):
            store.record_acknowledgement(request("U2"))
    finally:
        transaction.rollback()
        holder.close()
    assert row_count(store) == 1 and store.verify_chain().ok
    assert store.record_acknowledgement(request("U2")).acknowledgement.seq == 2
    store.close()


def test_every_reported_acknowledgement_survives_sigkill(
    backend: Backend, store: Store, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": backend.database_url,
        "POLICYBOT_SECRET_KEY": TEST_SECRET,
        "POLICYBOT_DATA_DIR": str(tmp_path / "data"),
    }
    reported: dict[str, int] = {}
    for burst in range(2):  # the second run is the restart after the first kill
        writer = subprocess.Popen(
            [sys.executable, str(WRITER), str(burst * 100_000), "100000"],
            stdout=subprocess.PIPE,
            env=env,
            cwd=tmp_path,
            text=True,
        )
        assert writer.stdout is not None
        lines = [writer.stdout.readline() for _ in range(20)]
        writer.send_signal(signal.SIGKILL)
        lines += writer.stdout.read().splitlines()
        writer.wait(timeout=10)
        assert writer.returncode == -signal.SIGKILL
        for line in filter(None, (line.strip() for line in lines)):
            seq, user = line.split()
            reported[user] = int(seq)
    assert len(reported) >= 40
    for user, seq in reported.items():
        [ack] = store.acknowledgements_for("slack", "T0SCHOOL", user)
        assert ack.seq == seq
    verdict = store.verify_chain()
    assert verdict.ok, verdict.describe()
    # At most one per kill was committed but not yet reported.
    assert len(reported) <= verdict.rows <= len(reported) + 2


def test_a_store_without_tables_says_to_upgrade(backend: Backend) -> None:
    bare = backend.open_store()
    with pytest.raises(StorageError, match="policybot db upgrade"):
        bare.record_acknowledgement(request("U1"))
    bare.close()

"""The question log: masked text, ISO week only, pseudonymous askers, feedback, retention."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, inspect, select, text

from bot.errors import StorageError
from bot.privacy import pseudonym
from bot.storage import Store
from bot.storage import questions as questions_log
from bot.storage.schema import question_clauses, questions
from tests.bot.storage.conftest import SMALL_VOCABULARY, TEST_SECRET, Backend

PII_FILE = Path(__file__).with_name("pii_questions.jsonl")
WHEN = datetime(2026, 11, 25, 14, 37, 12, tzinfo=UTC)
known = SMALL_VOCABULARY.__contains__


def log(store: Store, question: str = "can I text a parent?", **overrides: object) -> int:
    values: dict[str, object] = {
        "platform": "slack",
        "user": "U0123ABCD",
        "workspace": "T0SCHOOL",
        "question": question,
        "is_known": known,
        "answered": True,
        "clauses": [("staff-aup", "mobile-phones-4", 7.5), ("staff-aup", "social-media-2", 3.25)],
        "when": WHEN,
        **overrides,
    }
    return store.log_question(**values)  # type: ignore[arg-type]


def test_a_logged_question_keeps_week_platform_clauses_and_masked_text(store: Store) -> None:
    log_id = log(store, "can I text Jayden's mum on 07700 900123?")
    [row] = store.logged_questions()
    assert row.id == log_id
    assert row.week == "2026-W48"
    assert row.platform == "slack"
    assert row.question == "can I text [..] mum on [..]"
    assert row.answered is True
    assert row.helpful is None
    assert [(c.policy_id, c.clause_id, c.score) for c in row.clauses] == [
        ("staff-aup", "mobile-phones-4", 7.5),
        ("staff-aup", "social-media-2", 3.25),
    ]


def test_the_asker_is_a_yearly_keyed_pseudonym_never_the_user_id(store: Store) -> None:
    log(store)
    log(store, when=WHEN + timedelta(days=1))
    log(store, when=datetime(2027, 6, 1, tzinfo=UTC))
    log(store, user=None, platform="cli", workspace=None)
    rows = store.logged_questions()
    assert rows[0].asker == pseudonym(TEST_SECRET, "slack", "T0SCHOOL", "U0123ABCD", 2026)
    assert rows[0].asker == rows[1].asker  # same year: countable as one asker
    assert rows[2].asker not in (None, rows[0].asker)  # a new year, a new key
    assert rows[3].asker is None
    assert all("U0123ABCD" not in (row.asker or "") for row in rows)


def test_nothing_finer_than_a_day_is_stored(store: Store) -> None:
    log(store)
    columns = {c["name"]: c for c in inspect(store.db.engine).get_columns("questions")}
    assert set(columns) == {
        "id",
        "week",
        "created_on",
        "platform",
        "asker",
        "question",
        "answered",
        "helpful",
    }
    with store.db.engine.connect() as conn:
        created = conn.execute(select(questions.c.created_on)).scalar_one()
        raw = conn.execute(text("SELECT CAST(created_on AS VARCHAR(40)) FROM questions")).scalar()
    assert created == date(2026, 11, 25)
    assert raw == "2026-11-25"


def test_iso_week_at_a_year_boundary(store: Store) -> None:
    log(store, when=datetime(2026, 12, 31, 23, 0, tzinfo=UTC))  # Thursday of 2026-W53
    log(store, when=datetime(2027, 1, 1, 0, 30, tzinfo=UTC))  # still 2026-W53
    assert [row.week for row in store.logged_questions()] == ["2026-W53", "2026-W53"]
    assert len({row.asker for row in store.logged_questions()}) == 1


def test_rows_from_a_week_on(store: Store) -> None:
    log(store, when=WHEN - timedelta(weeks=2))
    recent = log(store, when=WHEN)
    assert [row.id for row in store.logged_questions(since_week="2026-W48")] == [recent]
    assert len(store.logged_questions(since_week="2026-W48")[0].clauses) == 2
    assert store.logged_questions(since_week="2027-W01") == []


def test_feedback_is_recorded_and_can_change(store: Store) -> None:
    first, second = log(store), log(store, answered=False, clauses=[])
    store.record_feedback(first, helpful=False)
    store.record_feedback(first, helpful=True)
    store.record_feedback(second, helpful=False)
    rows = {row.id: row for row in store.logged_questions()}
    assert rows[first].helpful is True
    assert rows[second].helpful is False
    assert rows[second].answered is False
    assert rows[second].clauses == ()


def test_feedback_for_an_unknown_question_says_so(store: Store) -> None:
    with pytest.raises(StorageError, match="not in the log"):
        store.record_feedback(999_999, helpful=True)


def test_prune_deletes_questions_past_retention_with_their_clauses(store: Store) -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    old = log(store, when=now - timedelta(days=181))
    edge = log(store, when=now - timedelta(days=180))
    new = log(store, when=now - timedelta(days=3))
    assert store.prune(now=now) == 1
    assert [row.id for row in store.logged_questions()] == [edge, new]
    with store.db.engine.connect() as conn:
        orphans = conn.execute(
            select(func.count()).where(question_clauses.c.question_id == old)
        ).scalar_one()
    assert orphans == 0
    assert store.prune(now=now) == 0


def test_prune_follows_the_configured_retention(backend: Backend) -> None:
    settings = backend.settings.model_copy(update={"retention_days": 30})
    custom = Store.from_settings(settings)
    custom.upgrade()
    try:
        now = datetime(2026, 11, 25, tzinfo=UTC)
        log(custom, when=now - timedelta(days=31))
        log(custom, when=now - timedelta(days=29))
        assert custom.prune(now=now) == 1
        assert len(custom.logged_questions()) == 1
    finally:
        custom.close()


def _all_database_text(store: Store) -> str:
    """Every value of every table, as text (PostgreSQL's 'anywhere in the database')."""
    parts: list[str] = []
    with store.db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                parts.extend(str(value) for value in row)
    return "\n".join(parts)


def _survives(pii: str, haystack: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(pii)}(?!\w)", haystack, re.IGNORECASE) is not None


def test_no_pii_survives_anywhere_in_the_database_or_logs(
    store: Store,
    backend: Backend,
    is_known: Callable[[str], bool],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cases = [json.loads(line) for line in PII_FILE.read_text(encoding="utf-8").splitlines()]
    users = [f"U{index:08d}SECRET" for index in range(len(cases))]
    caplog.set_level(logging.INFO)  # the application's default level, every logger
    for index, (case, user) in enumerate(zip(cases, users, strict=True)):
        log_id = store.log_question(
            platform="slack",
            user=user,
            workspace="T0SCHOOL",
            question=case["q"],
            is_known=is_known,
            answered=index % 2 == 0,
            clauses=[("staff-aup", "mobile-phones-4", 1.0)],
            when=WHEN,
        )
        store.record_feedback(log_id, helpful=index % 3 == 0)
    store.prune(now=WHEN)
    pii = sorted({item for case in cases for item in case["pii"]})

    stored = _all_database_text(store)
    assert len(store.logged_questions()) == len(cases)
    leaked = [item for item in pii + users if _survives(item, stored)]
    assert not leaked, f"stored: {leaked}"
    leaked = [item for item in pii + users if _survives(item, caplog.text)]
    assert not leaked, f"logged: {leaked}"

    if backend.sqlite_path is not None:
        wal = backend.sqlite_path.with_name(backend.sqlite_path.name + "-wal")
        assert wal.stat().st_size > 0  # the rows are (at least) in the WAL: read it too
        # Raw bytes of the file and its WAL, before and after the checkpoint on close. Only
        # strings of five or more characters: shorter ones ("7B") occur by chance in the
        # WAL's random salts and checksums; the text check above covers them.
        long_pii = [item.casefold().encode() for item in pii + users if len(item) >= 5]
        for _ in range(2):
            for path in (backend.sqlite_path, wal):
                raw = path.read_bytes().lower() if path.exists() else b""
                found = [item for item in long_pii if item in raw]
                assert not found, f"{path.name}: {found}"
            store.close()


def test_a_batch_gets_each_row_its_own_id_in_one_insert(store: Store) -> None:
    """Ids come back in the rows' order, and a batch is one INSERT on both databases."""
    rows = [
        questions_log.prepare(
            TEST_SECRET.encode(),
            platform="teams",
            user=f"U{n}",
            workspace="T1",
            question=f"can I text a parent {n}?",
            is_known=lambda word: True,
            answered=True,
            clauses=[("staff-aup", f"clause-{n}", float(n))],
        )
        for n in range(7)
    ]
    log(store)  # ids already taken: the batch does not start at 1
    inserts: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO QUESTIONS "):
            inserts.append(statement)

    event.listen(store.db.engine, "before_cursor_execute", count)
    try:
        with store.db.write(durable=False) as conn:
            ids = questions_log.insert(conn, rows)
    finally:
        event.remove(store.db.engine, "before_cursor_execute", count)
    assert len(inserts) == 1
    with store.db.read() as conn:
        stored = {i: q for i, q in conn.execute(select(questions.c.id, questions.c.question))}
        offered = {
            i: c
            for i, c in conn.execute(
                select(question_clauses.c.question_id, question_clauses.c.clause_id)
            )
        }
    assert [stored[i] for i in ids] == [row.question for row in rows]
    assert [offered[i] for i in ids] == [f"clause-{n}" for n in range(7)]

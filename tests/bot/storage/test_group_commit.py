"""Group commit: concurrent writes share a transaction, in order, all or nothing, drained at
close. Each test steers the writer thread with events (never with sleeps or timings): the
writer is held inside one batch while more jobs queue, so what forms the next batch is known.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, func, select

from bot.errors import StorageError, StorageUnavailable
from bot.storage import Store
from bot.storage.database import Database, open_database
from bot.storage.group_commit import GroupCommit
from bot.storage.questions import Entry, insert_claimed, prepare
from bot.storage.schema import delivery_ledger, questions
from tests.bot.storage.conftest import SMALL_VOCABULARY, Backend

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
WAIT = 30  # seconds: only a safety net against a hang, never part of what is checked


@dataclass
class Recorder:
    """A batch writer that claims each job's key in the ledger and records every batch.

    ``hold`` keeps the writer inside its first batch until released; a job named "poison"
    makes its batch fail after its rows were written (so the rollback is visible) as a bug
    or a refused row would, and "down" as a database that is unavailable.
    """

    batches: list[list[str]] = field(default_factory=list)
    threads: list[str] = field(default_factory=list)  # the thread that wrote each batch
    inside: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    hold: bool = False

    def write(self, conn: Connection, jobs: Sequence[str]) -> list[int]:
        self.batches.append(list(jobs))
        self.threads.append(threading.current_thread().name)
        if self.hold and len(self.batches) == 1:
            self.inside.set()
            assert self.release.wait(WAIT)
        conn.execute(
            delivery_ledger.insert(),
            [{"key": j, "claimed_at": NOW, "expires_at": NOW + timedelta(days=1)} for j in jobs],
        )
        if "poison" in jobs:
            raise ValueError("this batch cannot be written")
        if "down" in jobs:
            raise StorageUnavailable("The database is unavailable (test); try again.")
        return [len(self.batches)] * len(jobs)


@pytest.fixture
def db(store: Store) -> Database:
    return store.db


@pytest.fixture
def recorder() -> Recorder:
    return Recorder(hold=True)


@pytest.fixture
def writer(db: Database, recorder: Recorder) -> Iterator[GroupCommit[str, int]]:
    group: GroupCommit[str, int] = GroupCommit(db, recorder.write, durable=False, name="test")
    yield group
    recorder.release.set()
    group.close(WAIT)


def keys(db: Database) -> list[str]:
    with db.read() as conn:
        return list(conn.execute(select(delivery_ledger.c.key)).scalars())


def results(futures: Sequence[Future[int]]) -> list[int]:
    return [f.result(WAIT) for f in futures]


def test_jobs_waiting_together_share_one_batch_in_the_order_submitted(
    db: Database, recorder: Recorder, writer: GroupCommit[str, int]
) -> None:
    first = writer.submit("a")
    assert recorder.inside.wait(WAIT)
    later = [writer.submit(k) for k in ("b", "c", "d", "e")]
    assert not any(f.done() for f in [first, *later])  # nobody is told before the commit
    recorder.release.set()
    assert results([first, *later]) == [1, 2, 2, 2, 2]
    assert recorder.batches == [["a"], ["b", "c", "d", "e"]]
    assert sorted(keys(db)) == ["a", "b", "c", "d", "e"]


def test_a_batch_never_exceeds_max_batch_and_order_holds_across_batches(
    db: Database, recorder: Recorder
) -> None:
    group: GroupCommit[str, int] = GroupCommit(db, recorder.write, max_batch=2, name="test")
    try:
        futures = [group.submit("k0")]
        assert recorder.inside.wait(WAIT)
        futures += [group.submit(f"k{n}") for n in range(1, 6)]
        recorder.release.set()
        results(futures)
    finally:
        recorder.release.set()
        group.close(WAIT)
    assert recorder.batches == [["k0"], ["k1", "k2"], ["k3", "k4"], ["k5"]]


def test_a_database_that_is_down_is_reported_to_every_waiter_of_the_batch(
    db: Database, recorder: Recorder, writer: GroupCommit[str, int]
) -> None:
    first = writer.submit("a")
    assert recorder.inside.wait(WAIT)
    doomed = [writer.submit(k) for k in ("b", "down", "c")]
    recorder.release.set()
    assert first.result(WAIT) == 1
    errors = [f.exception(WAIT) for f in doomed]
    assert all(isinstance(e, StorageUnavailable) for e in errors)
    assert len({id(e) for e in errors}) == 1  # the same failure, told to each of them
    assert recorder.batches == [["a"], ["b", "down", "c"]]  # not retried one by one
    assert keys(db) == ["a"]  # b and c were rolled back with the batch
    assert writer.submit("d").result(WAIT) == 3  # the writer lives on


def test_a_row_the_database_refuses_fails_alone_and_the_rest_are_written(
    db: Database, recorder: Recorder, writer: GroupCommit[str, int]
) -> None:
    first = writer.submit("a")
    assert recorder.inside.wait(WAIT)
    later = [writer.submit(k) for k in ("b", "poison", "c")]
    recorder.release.set()
    assert first.result(WAIT) == 1
    b, poison, c = (f.exception(WAIT) for f in later)
    assert b is None and c is None and isinstance(poison, StorageError)
    assert [f.result(WAIT) for f in (later[0], later[2])] == [3, 5]
    assert recorder.batches == [["a"], ["b", "poison", "c"], ["b"], ["poison"], ["c"]]
    assert sorted(keys(db)) == ["a", "b", "c"]  # in order, without the refused row


def test_a_storage_error_reaches_the_waiters_as_it_is(db: Database) -> None:
    def fail(conn: Connection, jobs: Sequence[str]) -> list[int]:
        raise StorageError("the disk is full")

    group: GroupCommit[str, int] = GroupCommit(db, fail, name="test")
    try:
        error = group.submit("a").exception(WAIT)
    finally:
        group.close(WAIT)
    assert isinstance(error, StorageError) and str(error) == "the disk is full"


def test_close_commits_everything_already_queued_then_refuses_more(
    db: Database, recorder: Recorder, writer: GroupCommit[str, int]
) -> None:
    futures = [writer.submit("a")]
    assert recorder.inside.wait(WAIT)
    futures += [writer.submit(k) for k in ("b", "c")]
    closing = threading.Thread(target=writer.close, args=(WAIT,))
    closing.start()  # close waits for the writer, which is still held inside batch one
    recorder.release.set()
    closing.join(WAIT)
    assert not closing.is_alive()
    assert all(f.done() for f in futures)  # close returned only once all were written
    assert results(futures) == [1, 2, 2]
    assert sorted(keys(db)) == ["a", "b", "c"]
    with pytest.raises(StorageError):
        writer.submit("d")


def test_a_writer_never_used_closes_at_once(db: Database, recorder: Recorder) -> None:
    group: GroupCommit[str, int] = GroupCommit(db, recorder.write, name="test")
    group.close()  # no thread was ever started, so nothing to wait for
    assert recorder.batches == []
    with pytest.raises(StorageError):
        group.submit("a")


# Written on the event loop: SQLite commits that need no flush -------------------------------

WRITER_THREAD = "policybot-test"


def on_loop(db: Database) -> bool:
    return db.dialect == "sqlite"


def test_jobs_a_loop_submits_together_commit_on_that_loop_in_one_batch(db: Database) -> None:
    recorder = Recorder()
    group: GroupCommit[str, int] = GroupCommit(db, recorder.write, durable=False, name="test")

    async def scenario() -> list[int]:
        loop = asyncio.get_running_loop()
        futures = [group.submit(k, loop=loop) for k in ("a", "b", "c")]
        assert not any(f.done() for f in futures)  # written once this callback has run
        return [await asyncio.wrap_future(f) for f in futures]

    try:
        found = asyncio.run(scenario())
    finally:
        group.close(WAIT)
    assert sorted(keys(db)) == ["a", "b", "c"]
    if on_loop(db):
        assert found == [1, 1, 1] and recorder.batches == [["a", "b", "c"]]
        assert recorder.threads == [threading.current_thread().name]
    else:  # PostgreSQL: a commit is a network round trip, never made on the loop
        assert set(recorder.threads) == {WRITER_THREAD}


def test_a_durable_writer_never_writes_on_the_loop(db: Database) -> None:
    recorder = Recorder()
    group: GroupCommit[str, int] = GroupCommit(db, recorder.write, durable=True, name="test")

    async def scenario() -> int:
        return await asyncio.wrap_future(group.submit("a", loop=asyncio.get_running_loop()))

    try:
        assert asyncio.run(scenario()) == 1
    finally:
        group.close(WAIT)
    assert recorder.threads == [WRITER_THREAD]  # a disk flush would stall the loop


def test_a_loop_never_waits_for_a_lock_another_writer_holds(sqlite_backend: Backend) -> None:
    store = sqlite_backend.open_store()  # only SQLite commits are made on the loop
    store.upgrade()
    db = store.db
    recorder = Recorder()
    group: GroupCommit[str, int] = GroupCommit(db, recorder.write, durable=False, name="test")
    other = open_database(db.engine.url)  # another process's writer, in effect

    async def scenario() -> list[int]:
        loop = asyncio.get_running_loop()
        with other.write():
            first = group.submit("a", loop=loop)
            await asyncio.sleep(0)  # the loop tried, found the lock taken, handed it over
            second = group.submit("b", loop=loop)
            await asyncio.sleep(0)  # the thread still has "a": "b" queues behind it
            assert recorder.batches == [] and not first.done() and not second.done()
        return [await asyncio.wrap_future(f) for f in (first, second)]

    try:
        asyncio.run(scenario())
    finally:
        group.close(WAIT)
        other.close()
        store.close()
    assert [k for batch in recorder.batches for k in batch] == ["a", "b"]
    assert set(recorder.threads) == {WRITER_THREAD}
    assert keys(db) == ["a", "b"]


def test_jobs_a_loop_submits_wait_behind_the_writer_threads_older_jobs(
    db: Database, recorder: Recorder, writer: GroupCommit[str, int]
) -> None:
    first = writer.submit("a")  # from no loop: the writer thread takes it, and is held
    assert recorder.inside.wait(WAIT)

    async def scenario() -> list[int]:
        loop = asyncio.get_running_loop()
        later = [writer.submit(k, loop=loop) for k in ("b", "c")]
        await asyncio.sleep(0)
        assert recorder.batches == [["a"]]  # not written past "a"
        recorder.release.set()
        return [await asyncio.wrap_future(f) for f in later]

    assert asyncio.run(scenario()) == [2, 2]
    assert first.result(WAIT) == 1
    assert recorder.batches == [["a"], ["b", "c"]]
    assert recorder.threads == [WRITER_THREAD, WRITER_THREAD]


def test_close_commits_jobs_still_waiting_for_their_loop(db: Database) -> None:
    recorder = Recorder()
    group: GroupCommit[str, int] = GroupCommit(db, recorder.write, durable=False, name="test")

    async def scenario() -> list[Future[int]]:
        futures = [group.submit(k, loop=asyncio.get_running_loop()) for k in ("a", "b")]
        group.close(WAIT)  # before the loop got round to them: the writer thread writes them
        return futures

    futures = asyncio.run(scenario())
    assert results(futures) == [1, 1]
    assert sorted(keys(db)) == ["a", "b"]


def test_a_row_refused_on_the_loop_fails_alone_and_the_rest_are_written(db: Database) -> None:
    recorder = Recorder()
    group: GroupCommit[str, int] = GroupCommit(db, recorder.write, durable=False, name="test")

    async def scenario() -> list[BaseException | None]:
        loop = asyncio.get_running_loop()
        futures = [group.submit(k, loop=loop) for k in ("a", "poison", "b")]
        done = await asyncio.gather(*map(asyncio.wrap_future, futures), return_exceptions=True)
        return [d if isinstance(d, BaseException) else None for d in done]

    try:
        a, poison, b = asyncio.run(scenario())
    finally:
        group.close(WAIT)
    assert a is None and b is None and isinstance(poison, StorageError)
    assert sorted(keys(db)) == ["a", "b"]


# The question log through the store: claims and rows commit together ---------------------


def submit(
    store: Store, claim: str | None, question: str = "can I text a parent?"
) -> Future[int | None]:
    return store.submit_question(
        platform="slack",
        user="U1",
        workspace="T1",
        question=question,
        is_known=SMALL_VOCABULARY.__contains__,
        answered=True,
        clauses=[("staff-aup", "mobile-phones-4", 7.5)],
        claim=claim,
    )


def logged(store: Store) -> int:
    with store.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(questions)).scalar_one())


def test_a_claimed_delivery_gets_one_row_and_a_repeat_gets_none(store: Store) -> None:
    first = submit(store, "slack:Ev1").result(WAIT)
    again = submit(store, "slack:Ev1").result(WAIT)
    unclaimed = submit(store, None).result(WAIT)
    assert isinstance(first, int) and isinstance(unclaimed, int) and unclaimed > first
    assert again is None
    assert logged(store) == 2


def test_the_same_delivery_twice_in_one_batch_is_logged_once(store: Store) -> None:
    row = prepare(
        b"secret",
        platform="slack",
        user="U1",
        workspace="T1",
        question="can I text a parent?",
        is_known=SMALL_VOCABULARY.__contains__,
        answered=True,
        clauses=[],
    )
    batch = [Entry(row, "slack:EvTwin"), Entry(row, "slack:EvTwin"), Entry(row, None)]
    with store.db.write(durable=False) as conn:
        first, twin, unclaimed = insert_claimed(conn, batch)
    assert isinstance(first, int) and twin is None and isinstance(unclaimed, int)
    assert logged(store) == 2


def test_rows_are_logged_in_the_order_submitted(store: Store) -> None:
    futures = [submit(store, f"slack:Ev{n}", question=f"question {n}") for n in range(40)]
    ids = [f.result(WAIT) for f in futures]
    assert ids == sorted(ids) and len(set(ids)) == 40


def test_closing_the_store_commits_questions_still_queued(store: Store) -> None:
    futures = [submit(store, f"slack:Ev{n}") for n in range(20)]
    store.close()
    assert all(f.done() and isinstance(f.result(), int) for f in futures)


def test_a_question_submitted_after_close_is_refused_with_storage_error(store: Store) -> None:
    store.close()
    with pytest.raises(StorageError):
        submit(store, None)

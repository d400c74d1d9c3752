"""Group commit: concurrent writes of one kind share one transaction and one commit.

A busy ``policybot serve`` logs a question for nearly every request. One transaction per
question spends most of its time on what every transaction pays (taking SQLite's write lock
or a PostgreSQL round trip, BEGIN, COMMIT, a thread per waiting caller), not on the rows.
``GroupCommit`` queues jobs for a single writer thread, which takes every job waiting (up to
``max_batch``), writes them all in one transaction, commits once, and only then resolves
each job's ``Future``. Nobody is told "done" before their row is committed.

Guarantees, each pinned by ``tests/bot/storage/test_group_commit.py``:

* Order: jobs are written in the order ``submit`` accepted them, within and across batches.
* All or nothing: a batch commits as a whole or not at all. If the database is unavailable
  (down, locked) every job in it gets the same ``StorageUnavailable``. If it refuses the
  batch (a row it will not take), each job is written again in a transaction of its own,
  so only the job at fault fails: one bad row never costs other people their rows.
* Shutdown drains: ``close`` refuses new jobs, writes every job already accepted, then stops.

It is plain threading (no event loop): a synchronous caller waits with ``future.result()``;
an async adapter can await the same future with ``asyncio.wrap_future``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from sqlalchemy import Connection

from bot.errors import StorageError, StorageUnavailable
from bot.storage.database import Database

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")

#: ``write(connection, jobs) -> results``, one result per job, in order, in one transaction.
BatchWriter = Callable[[Connection, Sequence[J]], Sequence[R]]

DEFAULT_MAX_BATCH = 256


class GroupCommit(Generic[J, R]):
    """One writer thread that commits queued jobs in batches.

    Example::

        writer = GroupCommit(db, write_rows, name="question-log")
        future = writer.submit(row)       # from any thread
        row_id = future.result()          # returns once the batch holding it committed
        writer.close()                    # at shutdown: writes what is queued, then stops
    """

    def __init__(
        self,
        db: Database,
        write: BatchWriter[J, R],
        *,
        durable: bool = True,
        max_batch: int = DEFAULT_MAX_BATCH,
        name: str = "group-commit",
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._db = db
        self._write = write
        self._durable = durable
        self._max_batch = max_batch
        self._name = name
        self._queue: queue.SimpleQueue[tuple[J, Future[R]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, job: J) -> Future[R]:
        """Queue ``job``; the future holds its result once its batch has committed.

        Raises ``StorageError`` after ``close``.
        """
        future: Future[R] = Future()
        with self._lock:
            if self._closed:
                raise StorageError(f"The {self._name} writer is closed.")
            if self._thread is None:
                # Started on first use: a process that never writes never has the thread.
                self._thread = threading.Thread(
                    target=self._run, name=f"policybot-{self._name}", daemon=True
                )
                self._thread.start()
            self._queue.put((job, future))
        return future

    def close(self, timeout: float | None = None) -> None:
        """Refuse new jobs, commit every job already queued, and stop the writer thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._queue.put(None)
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:  # close(): write what came before it, then stop
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[tuple[J, Future[R]]]) -> None:
        for _, future in batch:
            # From here a caller can no longer cancel; one that already did is written
            # anyway (the question was asked) and simply not told.
            future.set_running_or_notify_cancel()
        try:
            results = self._write_all([job for job, _ in batch])
        except StorageUnavailable as exc:  # down or locked: every waiter hears of it
            _settle(batch, exc)
        except StorageError as exc:
            if len(batch) == 1:
                _settle(batch, exc)
                return
            # The database refused something in the batch: one job it refuses must not
            # take the others down with it, so each is written again on its own.
            log.warning("%s: a batch of %d was refused; writing each alone", self._name, len(batch))
            for item in batch:
                try:
                    [result] = self._write_all([item[0]])
                except StorageError as alone:
                    _settle([item], alone)
                else:
                    _settle([item], None, [result])
        else:
            _settle(batch, None, results)

    def _write_all(self, jobs: list[J]) -> Sequence[R]:
        """Write ``jobs`` in one transaction; any failure leaves as a ``StorageError``."""
        try:
            with self._db.write(durable=self._durable) as conn:
                results = self._write(conn, jobs)
                if len(results) != len(jobs):
                    raise StorageError(
                        f"{self._name}: {len(results)} results for {len(jobs)} jobs."
                    )
        except StorageError:
            raise
        except Exception as exc:  # a bug in a writer: reported, and the thread lives on
            log.error("%s: a batch of %d failed", self._name, len(jobs), exc_info=exc)
            raise StorageError(f"The database refused a request ({type(exc).__name__}).") from exc
        return results


def _settle(
    batch: Sequence[tuple[object, Future[R]]],
    error: StorageError | None,
    results: Sequence[R] = (),
) -> None:
    """Tell each waiter its result, or the error (skipping any that cancelled)."""
    for n, (_, future) in enumerate(batch):
        if future.cancelled():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(results[n])

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

A synchronous caller waits with ``future.result()``; an async caller awaits the same
future with ``bot.futures.loop_future(future, loop)``.

Written on the event loop: when an async caller passes its running event loop to
``submit``, and a commit needs neither a network round trip nor a disk flush (SQLite with
``durable=False``), the jobs that loop submits during one of its iterations are written
right there, as one batch, once that iteration's callbacks have run. Handing them to the
writer thread instead costs more than the writing: the two threads pass the GIL back and
forth at every SQLite call (about six context switches per question were measured, and
half as much CPU again as writing on the loop). The loop never waits for a lock for
this: if another writer holds it, the batch goes to the writer thread as usual. Both paths
keep one order: a batch is written on the loop only when the writer thread has nothing
outstanding, and jobs submitted elsewhere meanwhile wait behind it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from sqlalchemy import Connection

from bot.errors import StorageBusy, StorageError, StorageUnavailable
from bot.futures import running_loop
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
        # Writing on an event loop (see the module's docstring): jobs waiting for a loop's
        # flush, whether that flush is scheduled, and how many jobs the thread still has.
        self._on_loop = not durable and db.dialect == "sqlite"
        self._pending: list[tuple[J, Future[R]]] = []
        self._flush_due = False
        self._outstanding = 0

    def submit(self, job: J, *, loop: asyncio.AbstractEventLoop | None = None) -> Future[R]:
        """Queue ``job``; the future holds its result once its batch has committed.

        ``loop`` is for a caller running on that event loop that awaits the future there
        (``bot.futures.loop_future``) and never blocks on it: the batch may then be written on
        the loop (see the module's docstring). Raises ``StorageError`` after ``close``.
        """
        future: Future[R] = Future()
        if not self._on_loop or loop is not running_loop():
            loop = None
        with self._lock:
            if self._closed:
                raise StorageError(f"The {self._name} writer is closed.")
            if self._flush_due:  # written by that flush, after the jobs before it
                self._pending.append((job, future))
            elif loop is not None:
                self._pending.append((job, future))
                self._flush_due = True
                loop.call_soon(self._flush)
            else:
                self._hand_over([(job, future)])
        return future

    def close(self, timeout: float | None = None) -> None:
        """Refuse new jobs, commit every job already queued, and stop the writer thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._pending:  # the loop may never flush them now: the thread will
                self._hand_over(self._pending)
                self._pending = []
            thread = self._thread
            self._queue.put(None)
        if thread is not None:
            thread.join(timeout)

    def _hand_over(self, batch: list[tuple[J, Future[R]]]) -> None:
        """Queue jobs for the writer thread, starting it on first use. Hold ``_lock``."""
        if self._thread is None:
            # Started on first use: a process that never writes never has the thread.
            self._thread = threading.Thread(
                target=self._run, name=f"policybot-{self._name}", daemon=True
            )
            self._thread.start()
        self._outstanding += len(batch)
        for item in batch:
            self._queue.put(item)

    def _flush(self) -> None:
        """On the event loop: write the jobs it submitted (see the module's docstring)."""
        while True:
            with self._lock:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                if not batch:
                    self._flush_due = False
                    return
                if self._outstanding and not self._closed:  # older jobs first: queue behind
                    self._hand_to_thread(batch)
                    return
            if self._commit(batch, wait=False):
                continue
            with self._lock:  # another writer holds the lock: the thread waits for it
                if not self._closed:
                    self._hand_to_thread(batch)
                    return
            self._commit(batch)  # closed meanwhile, so the thread may be gone: wait here

    def _hand_to_thread(self, batch: list[tuple[J, Future[R]]]) -> None:
        """Give a flush's batch, and every job after it, to the writer thread. Hold ``_lock``."""
        self._hand_over(batch + self._pending)
        self._pending, self._flush_due = [], False

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
            with self._lock:
                self._outstanding -= len(batch)

    def _commit(self, batch: list[tuple[J, Future[R]]], *, wait: bool = True) -> bool:
        """Write a batch and tell its waiters; True. With ``wait=False``, False instead
        (nobody told) if another writer holds the lock or the batch was refused: the
        writer thread then takes it, waits for the lock, or writes each job alone."""
        for _, future in batch:
            # From here a caller can no longer cancel; one that already did is written
            # anyway (the question was asked) and simply not told.
            if not future.running():
                future.set_running_or_notify_cancel()
        try:
            results = self._write_all([job for job, _ in batch], wait=wait)
        except StorageUnavailable as exc:  # down or locked: every waiter hears of it
            if not wait and isinstance(exc, StorageBusy):
                return False
            _settle(batch, exc)
        except StorageError as exc:
            if not wait:  # the thread sorts out which job was refused, without hurry
                return False
            if len(batch) == 1:
                _settle(batch, exc)
                return True
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
        return True

    def _write_all(self, jobs: list[J], *, wait: bool = True) -> Sequence[R]:
        """Write ``jobs`` in one transaction; any failure leaves as a ``StorageError``."""
        try:
            with self._db.write(durable=self._durable, wait=wait) as conn:
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

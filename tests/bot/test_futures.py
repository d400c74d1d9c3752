"""Awaiting a concurrent future on an event loop: results, errors, cancellation, shutdown."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future

import pytest

from bot.errors import StorageError
from bot.futures import loop_future


def test_loop_future_hands_over_results_from_other_threads_errors_and_cancellations() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        from_thread: Future[int] = Future()
        waiter = loop_future(from_thread, loop)
        threading.Thread(target=from_thread.set_result, args=(7,)).start()
        assert await asyncio.wait_for(waiter, 10) == 7

        failed: Future[int] = Future()
        failing = loop_future(failed, loop)
        failed.set_exception(StorageError("down"))
        with pytest.raises(StorageError, match="down"):
            await failing

        cancelled: Future[int] = Future()
        gone = loop_future(cancelled, loop)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone

        late: Future[int] = Future()
        abandoned = loop_future(late, loop)
        abandoned.cancel()
        late.set_result(1)  # nobody waits any more: nothing to tell, nothing raised

    asyncio.run(scenario())


def test_loop_future_leaves_a_closed_loop_alone(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    late: Future[int] = Future()
    loop_future(late, loop)
    loop.close()  # the server stopped before the database answered
    late.set_result(1)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

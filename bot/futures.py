"""Concurrent futures awaited on an event loop, without a cross-thread wake-up when none
is needed.

Kept apart from ``bot.storage`` so that ``bot.service`` can use it without importing the
database layer (the CLI's ``ask`` never touches it).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def loop_future(future: Future[T], loop: asyncio.AbstractEventLoop) -> asyncio.Future[T]:
    """``asyncio.wrap_future``, except that a future settled on ``loop``'s own thread is
    copied at once: ``wrap_future`` always goes through ``call_soon_threadsafe``, which
    writes to the loop's wake-up socket: a system call, and a wake-up, per future.

    The group commit settles SQLite's loop batches on the loop itself, so an async caller
    awaiting a question's row is woken without either."""
    waiter: asyncio.Future[T] = loop.create_future()

    def copy(done: Future[T]) -> None:
        if waiter.cancelled():
            return
        if done.cancelled():
            waiter.cancel()
            return
        error = done.exception()
        if error is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(done.result())

    def settled(done: Future[T]) -> None:
        if running_loop() is loop:
            copy(done)
        elif not loop.is_closed():  # a loop shut down meanwhile has nobody left to tell
            loop.call_soon_threadsafe(copy, done)

    future.add_done_callback(settled)
    return waiter

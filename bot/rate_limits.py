"""Keeping to the platforms' sending limits: a token bucket per platform, a minimum gap per
conversation, and pauses the platform itself asks for (HTTP 429 with ``Retry-After``).

Slack allows about one message per second in a conversation and "several hundred per
minute" across a workspace; Teams allows a few messages per second per conversation and
about fifty requests per second per app and tenant. A worker sends at ``rate`` messages per
second per platform (bursts of ``burst``), never twice within ``per_conversation`` seconds
to the same conversation, and stops a platform for as long as a 429 says.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

#: Messages per second per platform when the operator does not say.
DEFAULT_RATES: Mapping[str, float] = {"slack": 4.0, "teams": 10.0}
PER_CONVERSATION_SECONDS = 1.0
MIN_WAIT = 0.001
_FORGET_AFTER = 60.0


@dataclass
class TokenBucket:
    """``rate`` tokens a second, holding at most ``burst``; starts full."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    updated: float = field(init=False)
    paused_until: float = 0.0

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.updated = float("-inf")

    def wait_time(self, now: float) -> float:
        """Seconds until one token is free (0 when one is free now)."""
        self._refill(now)
        needed = 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate
        wait = max(needed, self.paused_until - now, 0.0)
        # Under a millisecond counts as now: float sums never quite reach a whole token,
        # and a clock that ticks in microseconds would never get there at all.
        return wait if wait >= MIN_WAIT else 0.0

    def take(self, now: float) -> None:
        """Spend one token (the caller waited ``wait_time`` first)."""
        self._refill(now)
        self.tokens -= 1

    def pause(self, now: float, seconds: float) -> None:
        """Hand out nothing for ``seconds``, then start again from an empty bucket (no
        burst straight after a 429: that would likely earn another)."""
        self._refill(now)
        self.paused_until = max(self.paused_until, now + seconds)
        self.tokens = min(self.tokens, 0.0)
        self.updated = max(self.updated, self.paused_until)

    def _refill(self, now: float) -> None:
        if self.updated == float("-inf"):
            self.updated = now
        if now > self.updated:  # nothing accrues until a pause is over
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now


class RateLimits:
    """The limits one worker keeps to, per platform and per conversation.

    ``clock`` and ``sleep`` are injectable so tests run on a fake clock. ``slept`` adds up
    the seconds spent waiting, for the benchmark's report.
    """

    def __init__(
        self,
        rates: Mapping[str, float] | None = None,
        *,
        burst: float | None = None,
        per_conversation: float = PER_CONVERSATION_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        chosen = {**DEFAULT_RATES, **(rates or {})}
        self.buckets = {
            platform: TokenBucket(rate, burst if burst is not None else max(rate, 1.0))
            for platform, rate in chosen.items()
        }
        self.per_conversation = per_conversation
        self._clock = clock
        self._sleep = sleep
        self._last: dict[tuple[str, str], float] = {}
        self.slept = 0.0

    def wait_time(self, platform: str) -> float:
        """Seconds until ``platform`` may send again."""
        return self._bucket(platform).wait_time(self._clock())

    def acquire(self, platform: str) -> None:
        """Wait for a token of ``platform``'s bucket, then spend it."""
        bucket = self._bucket(platform)
        while (delay := bucket.wait_time(self._clock())) > 0:
            self._wait(delay)
        bucket.take(self._clock())

    def pace(self, platform: str, conversation: str) -> None:
        """Wait until ``per_conversation`` seconds passed since the last send there."""
        key = (platform, conversation)
        last = self._last.get(key)
        if last is not None:
            delay = last + self.per_conversation - self._clock()
            if delay > 0:
                self._wait(delay)
        now = self._clock()
        self._last[key] = now
        if len(self._last) > 50_000:
            self._last = {k: t for k, t in self._last.items() if now - t < _FORGET_AFTER}

    def pause(self, platform: str, seconds: float) -> None:
        """The platform said 429: send nothing there for ``seconds``."""
        self._bucket(platform).pause(self._clock(), seconds)

    def _bucket(self, platform: str) -> TokenBucket:
        if platform not in self.buckets:
            self.buckets[platform] = TokenBucket(1.0, 1.0)
        return self.buckets[platform]

    def _wait(self, seconds: float) -> None:
        self.slept += seconds
        self._sleep(seconds)

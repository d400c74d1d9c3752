"""What the chat load benchmarks share: one level's measurements, percentiles, a free port."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field


@dataclass
class Level:
    """What one level of concurrency (``clients`` senders or conversations) measured."""

    clients: int
    seconds: float = 0.0
    responses: list[float] = field(default_factory=list)
    errors: int = 0
    sent_at: dict[str, float] = field(default_factory=dict)
    delivered: list[float] = field(default_factory=list)
    missing: int = 0

    @property
    def rps(self) -> float:
        return len(self.responses) / self.seconds if self.seconds else 0.0


def percentile(values: list[float], share: float) -> float:
    """The value at ``share`` (0-1) of the sorted values; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port

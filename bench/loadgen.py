"""What the chat load benchmarks share: one level's measurements, percentiles, a server's
CPU time, a free port."""

from __future__ import annotations

import os
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
    cpu: float | None = None  # the server's CPU seconds over the level, answers included

    @property
    def cpu_ms(self) -> float:
        """The server's CPU milliseconds per request: what a request costs, whatever else
        the machine is doing (req/s on a shared machine moves with the neighbours' load)."""
        if self.cpu is None or not self.responses:
            return float("nan")
        return self.cpu / len(self.responses) * 1000

    @property
    def rps(self) -> float:
        return len(self.responses) / self.seconds if self.seconds else 0.0


def percentile(values: list[float], share: float) -> float:
    """The value at ``share`` (0-1) of the sorted values; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds process ``pid`` has used so far (Linux), else None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port

"""The seam between the campaign worker and the chat platforms: what to deliver, to whom,
and how it went.

The worker (``bot/campaign_worker.py``) decides what to send and when; a ``Messenger``
(``adapters/slack_messenger.py``, ``adapters/teams.py``) renders it for its platform and
delivers it. Every outcome is a ``SendResult`` the worker can act on without knowing the
platform:

    sent           delivered; ``channel`` and ``message_id`` say where
    not_sent       looked, and it is not there (``find`` only)
    rate_limited   the platform said 429: wait ``retry_after`` seconds, then try again
    retry          a passing failure (5xx, a timeout before sending): try again later
    unreachable    a permanent failure for this person (deactivated, blocked the app)
    unknown        the request may or may not have been delivered
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol

Outcome = Literal["sent", "not_sent", "rate_limited", "retry", "unreachable", "unknown"]


@dataclass(frozen=True)
class Address:
    """Where one person is reached on one platform.

    ``channel`` is a conversation already used with them (Slack's DM id), ``reference``
    the stored conversation reference a Teams message needs.
    """

    platform: str
    workspace: str
    user_id: str
    channel: str | None = None
    reference: dict[str, Any] | None = None


@dataclass(frozen=True)
class Changes:
    """What changed since the version someone last accepted, in a few lines."""

    previous_version: str | None  # None: they never accepted this policy
    added: int = 0
    removed: int = 0
    changed: int = 0
    lines: tuple[str, ...] = ()  # "Added (Social Media): Staff must ...", at most a few
    more: int = 0  # how many changes the lines leave out
    compared: bool = True  # False when the earlier version's text is not stored

    @property
    def first_time(self) -> bool:
        """True when this person has never accepted any version of the policy."""
        return self.previous_version is None

    def describe(self, version: str) -> str:
        """One sentence: first time, unchanged, or how many clauses changed."""
        if self.previous_version is None:
            return "This is the first time you are asked to accept this policy."
        if self.previous_version == version:
            return (
                f"You accepted version {version} before and it has not changed; "
                "please confirm again for this year."
            )
        if not self.compared:
            return (
                f"This version replaces version {self.previous_version}, which you accepted; "
                "please read it again."
            )
        counts = [
            f"{n} clause{'s' if n != 1 else ''} {what}"
            for n, what in ((self.added, "added"), (self.changed, "reworded"))
            if n
        ] + ([f"{self.removed} removed"] if self.removed else [])
        if not counts:
            return (
                f"The wording is the same as version {self.previous_version}, which you accepted."
            )
        return f"Changed since version {self.previous_version}, which you accepted: " + (
            ", ".join(counts) + "."
        )


@dataclass(frozen=True)
class Prompt:
    """A request to read and accept a policy (step 0) or a reminder of it (step 1+)."""

    campaign_id: str
    policy_title: str
    version: str
    due_on: date
    statement: str
    step: int
    overdue: bool
    changes: Changes

    @property
    def marker(self) -> str:
        """Identifies this exact message on the platform, so it can be found again."""
        return f"{self.campaign_id}:{self.step}"

    @property
    def reminder(self) -> bool:
        """True for a reminder (any step after the first)."""
        return self.step > 0


@dataclass(frozen=True)
class Notice:
    """Plain text for a person (the overdue digest to admins)."""

    text: str
    marker: str = ""


@dataclass(frozen=True)
class Accepted:
    """What a prompt becomes once its person accepted: who accepted what, and when."""

    campaign_id: str
    policy_title: str
    version: str
    accepted_at: datetime


Message = Prompt | Notice


@dataclass(frozen=True)
class SendResult:
    """How a delivery went (see the module docstring for each outcome)."""

    outcome: Outcome
    channel: str | None = None
    message_id: str | None = None
    retry_after: float | None = None
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def sent(cls, channel: str, message_id: str) -> SendResult:
        """Delivered to ``channel`` as ``message_id``."""
        return cls("sent", channel=channel, message_id=message_id)

    @classmethod
    def failed(cls, outcome: Outcome, reason: str, retry_after: float | None = None) -> SendResult:
        """Not delivered (or not known to be), with the platform's reason."""
        return cls(outcome, reason=reason, retry_after=retry_after)


class Messenger(Protocol):
    """One chat platform's outbox, as the campaign worker uses it. Synchronous.

    ``send`` delivers a message to one person. ``find`` looks for a message with this
    ``marker`` sent to them since ``since`` (after a crash between sending and recording):
    ``sent`` if it is there, ``not_sent`` if it certainly is not, ``unknown`` when the
    platform cannot tell (the worker then never sends that step again), ``retry`` when the
    lookup failed for now. ``update`` replaces an earlier message (an accepted prompt).
    """

    platform: str

    def send(self, to: Address, message: Message) -> SendResult: ...

    def find(self, to: Address, marker: str, since: datetime) -> SendResult: ...

    def update(self, to: Address, message_id: str, accepted: Accepted) -> SendResult: ...

"""The seam between the core and the chat adapters: what comes in, what goes out.

An adapter turns a platform event into an ``Incoming``, calls ``PolicyBot.handle`` and
renders the ``Reply`` for its surface (Block Kit, an Adaptive Card, the terminal).
Both are small frozen values; platform quirks never cross this line.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.knowledge import Obligation

Platform = Literal["slack", "teams", "cli", "web"]


class Incoming(BaseModel):
    """A question someone asked, stripped of platform detail.

    ``user`` is the platform's own id; the core only ever stores a keyed pseudonym of it.
    ``event_id`` is the platform's delivery id (Slack ``event_id``, Teams activity id),
    used to answer a delivery seen twice only once.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    platform: Platform = "cli"
    user: str | None = None
    workspace: str | None = None
    event_id: str | None = None


class Citation(BaseModel):
    """A clause offered in an answer, with where it comes from."""

    model_config = ConfigDict(frozen=True)

    id: str
    policy: str
    policy_title: str
    version: str
    section: str
    text: str
    obligation: Obligation
    score: float

    @property
    def reference(self) -> str:
        """``"Staff Acceptable Use Policy, version July 2018, Social Media"``."""
        return f"{self.policy_title}, version {self.version}, {self.section}"


class Reply(BaseModel):
    """The core's answer, ready for an adapter to render.

    ``answered`` is False when PolicyBot declines because the policy does not cover the
    question; ``clauses`` then still lists the nearest clauses (for logging and
    evaluation) but ``text`` does not present them as the answer. ``related`` holds the
    clauses (at most two) worth offering beside the answer.
    """

    model_config = ConfigDict(frozen=True)

    question: str
    answered: bool
    text: str
    obligation: str | None = None
    answer: Citation | None = None
    related: tuple[Citation, ...] = ()
    clauses: tuple[Citation, ...] = Field(default=(), max_length=3)
    contact: str
    log_id: int | None = None

"""Who may run acknowledgement campaigns: the configured admins, and (if the operator turns
it on) the Slack workspace's own admins and owners.

Identities come from ``POLICYBOT_ADMINS`` as ``platform:user_id`` (``slack:U123``,
``teams:29:1abc``; a Teams id may itself hold colons). Asking Slack whether someone is a
workspace admin is the adapter's job; the answer is cached for a few minutes so a burst of
commands costs one lookup.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from bot.errors import PolicyBotError

log = logging.getLogger(__name__)

#: ``(user_id, workspace) -> True`` for a Slack workspace admin or owner.
WorkspaceAdminCheck = Callable[[str, str | None], bool]
CACHE_SECONDS = 300.0

REFUSAL = (
    "Sorry, only PolicyBot's administrators can run acknowledgement campaigns. If you "
    "think you should be one, ask whoever looks after PolicyBot to add you."
)


class Admins:
    """Answers "may this person run campaigns?".

    Example::

        admins = Admins(settings.admins)
        admins.allows("slack", "U123")          # True for "slack:U123"
    """

    def __init__(
        self,
        identities: Iterable[str],
        *,
        slack_workspace_admin: WorkspaceAdminCheck | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.identities = frozenset(_normalise(identity) for identity in identities)
        self._slack_check = slack_workspace_admin
        self._clock = clock
        self._cache: dict[tuple[str, str | None], tuple[bool, float]] = {}
        self._lock = threading.Lock()

    def allows(self, platform: str, user_id: str | None, workspace: str | None = None) -> bool:
        """True for a configured admin, or a Slack workspace admin when that is enabled.

        A failed lookup counts as "no" (and is logged): refusing an admin once is better
        than letting anyone in.
        """
        if not user_id:
            return False
        if f"{platform}:{user_id}" in self.identities:
            return True
        if platform != "slack" or self._slack_check is None:
            return False
        return self._workspace_admin(self._slack_check, user_id, workspace)

    def allows_any(self, platform: str, user_ids: Iterable[str | None]) -> bool:
        """True if any of one person's ids is an admin (Teams has two: AAD and channel)."""
        return any(self.allows(platform, user_id) for user_id in user_ids)

    def of(self, platform: str) -> list[str]:
        """The configured admins' ids on one platform (for the overdue digest)."""
        prefix = f"{platform}:"
        return sorted(i[len(prefix) :] for i in self.identities if i.startswith(prefix))

    def _workspace_admin(
        self, check: WorkspaceAdminCheck, user_id: str, workspace: str | None
    ) -> bool:
        key, now = (user_id, workspace), self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            answer = bool(check(user_id, workspace))
        except PolicyBotError as exc:
            log.warning("could not ask Slack whether %s is an admin: %s", user_id, exc)
            return False
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (answer, now + CACHE_SECONDS)
        return answer


def _normalise(identity: str) -> str:
    platform, _, user_id = identity.strip().partition(":")
    return f"{platform.lower()}:{user_id.strip()}"

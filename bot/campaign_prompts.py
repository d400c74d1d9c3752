"""What a prompt says to one person: the policy, the due date, and what changed since the
version they last accepted (first time, unchanged, or the clauses added, reworded and
removed, from the stored policy versions).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.campaign_schedule import is_overdue
from bot.messenger import Changes, Prompt
from bot.storage import Store, StoredPolicyVersion, diff_policies
from bot.storage.campaigns import CampaignRecord

MAX_CHANGE_LINES = 5
MAX_CHANGE_CHARS = 200


class Prompts:
    """Writes prompts, remembering each comparison (a campaign's people share a handful)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._changes: dict[tuple[str, str, str | None], Changes] = {}

    def prompt(
        self,
        campaign: CampaignRecord,
        platform: str,
        workspace: str,
        user_id: str,
        step: int,
        now: datetime,
    ) -> Prompt:
        """The prompt (step 0) or reminder for one person, with what changed for them."""
        previous = self.store.latest_acknowledged_version(
            platform, workspace, user_id, campaign.policy_id
        )
        return Prompt(
            campaign_id=campaign.id,
            policy_title=campaign.policy_title,
            version=campaign.policy_version,
            due_on=campaign.due_on,
            statement=campaign.statement,
            step=step,
            overdue=is_overdue(campaign.due_on, now),
            changes=self.changes(campaign, previous),
        )

    def changes(self, campaign: CampaignRecord, previous_version: str | None) -> Changes:
        """What changed between ``previous_version`` and the campaign's version."""
        key = (campaign.id, campaign.content_hash, previous_version)
        if key not in self._changes:
            self._changes[key] = self._compare(campaign, previous_version)
        return self._changes[key]

    def _compare(self, campaign: CampaignRecord, previous_version: str | None) -> Changes:
        if previous_version is None or previous_version == campaign.policy_version:
            return Changes(previous_version)
        versions = self.store.policy_versions(campaign.policy_id)
        current = _version(versions, campaign.policy_version, campaign.content_hash)
        before = _version(versions, previous_version, None)
        if current is None or before is None:
            return Changes(previous_version, compared=False)
        diff = diff_policies(before, current)
        sections = {c.id: " › ".join(c.section) for c in (*before.clauses, *current.clauses)}
        lines = [
            *(f"Added ({sections[c.id]}): {c.text}" for c in diff.added),
            *(f"Reworded ({sections[c.id]}): {c.new_text}" for c in diff.changed),
            *(f"Removed ({sections[c.id]}): {c.text}" for c in diff.removed),
        ]
        return Changes(
            previous_version,
            added=len(diff.added),
            removed=len(diff.removed),
            changed=len(diff.changed),
            lines=tuple(_shorten(line) for line in lines[:MAX_CHANGE_LINES]),
            more=max(len(lines) - MAX_CHANGE_LINES, 0),
        )


def _version(
    versions: Sequence[StoredPolicyVersion], version: str, content_hash: str | None
) -> StoredPolicyVersion | None:
    matching = [
        v
        for v in versions
        if v.version == version and (content_hash is None or v.content_hash == content_hash)
    ]
    return matching[-1] if matching else None


def _shorten(text: str) -> str:
    flat = " ".join(text.replace("**", "").split())
    return flat if len(flat) <= MAX_CHANGE_CHARS else flat[: MAX_CHANGE_CHARS - 1] + "…"

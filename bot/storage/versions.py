"""Policy versions: every version PolicyBot has served, and what changed between two.

A campaign asks staff to accept a version; when the policy changes, HR wants to know which
clauses changed. ``save`` keeps each (policy id, version, content hash) once with its
clause ids and texts; ``diff_policies`` compares two versions clause by clause, by id, and
works on loaded ``Policy`` objects or stored versions alike, with or without a database.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from bot.knowledge import Policy
from bot.storage.database import Database, insert_or_skip
from bot.storage.schema import policy_clauses, policy_versions


class StoredClause(BaseModel):
    """A clause as stored with a policy version."""

    model_config = ConfigDict(frozen=True)

    id: str
    section: tuple[str, ...]
    text: str


class StoredPolicyVersion(BaseModel):
    """A policy version as stored: enough to show it again and diff it."""

    model_config = ConfigDict(frozen=True)

    policy_id: str
    version: str
    content_hash: str
    title: str
    saved_at: datetime
    clauses: tuple[StoredClause, ...]


class ClauseChange(BaseModel):
    """A clause whose id survived but whose words changed."""

    model_config = ConfigDict(frozen=True)

    id: str
    old_text: str
    new_text: str


class PolicyDiff(BaseModel):
    """Clause-level difference between two versions, by clause id."""

    model_config = ConfigDict(frozen=True)

    added: tuple[StoredClause, ...] = ()
    removed: tuple[StoredClause, ...] = ()
    changed: tuple[ClauseChange, ...] = ()

    @property
    def empty(self) -> bool:
        """True when no clause was added, removed or reworded."""
        return not (self.added or self.removed or self.changed)


def diff_policies(
    old: Policy | StoredPolicyVersion, new: Policy | StoredPolicyVersion
) -> PolicyDiff:
    """What changed from ``old`` to ``new``: added, removed and reworded clauses.

    A clause counts as changed when its id is in both and its text differs (a moved
    section alone is not a change of words). Added and changed follow ``new``'s order,
    removed follows ``old``'s. Example::

        diff = diff_policies(store.policy_versions("staff-aup")[-1], policy)
        for change in diff.changed: ...
    """
    before = {clause.id: clause for clause in _clauses(old)}
    after = {clause.id: clause for clause in _clauses(new)}
    return PolicyDiff(
        added=tuple(clause for key, clause in after.items() if key not in before),
        removed=tuple(clause for key, clause in before.items() if key not in after),
        changed=tuple(
            ClauseChange(id=key, old_text=before[key].text, new_text=clause.text)
            for key, clause in after.items()
            if key in before and before[key].text != clause.text
        ),
    )


def _clauses(policy: Policy | StoredPolicyVersion) -> tuple[StoredClause, ...]:
    if isinstance(policy, StoredPolicyVersion):
        return policy.clauses
    return tuple(
        StoredClause(id=clause.id, section=clause.section, text=clause.text)
        for clause in policy.clauses
    )


def save(db: Database, policy: Policy) -> bool:
    """Store this policy version with its clauses; False if it was already stored."""
    with db.write() as conn:
        version_id = conn.execute(
            insert_or_skip(db, policy_versions)
            .values(
                policy_id=policy.id,
                version=policy.version,
                content_hash=policy.content_hash,
                title=policy.title,
                saved_at=datetime.now(UTC),
            )
            .returning(policy_versions.c.id)
        ).scalar()
        if version_id is None:
            return False
        conn.execute(
            policy_clauses.insert(),
            [
                {
                    "policy_version_id": version_id,
                    "position": position,
                    "clause_id": clause.id,
                    "section": list(clause.section),
                    "text": clause.text,
                }
                for position, clause in enumerate(policy.clauses)
            ],
        )
    return True


def versions(db: Database, policy_id: str) -> list[StoredPolicyVersion]:
    """Every stored version of one policy, oldest first, with its clauses."""
    with db.read() as conn:
        heads = conn.execute(
            select(policy_versions)
            .where(policy_versions.c.policy_id == policy_id)
            .order_by(policy_versions.c.id)
        ).all()
        clauses = conn.execute(
            select(policy_clauses)
            .where(policy_clauses.c.policy_version_id.in_([head.id for head in heads]))
            .order_by(policy_clauses.c.policy_version_id, policy_clauses.c.position)
        ).all()
    by_version: dict[int, list[StoredClause]] = {}
    for clause in clauses:
        by_version.setdefault(clause.policy_version_id, []).append(
            StoredClause(id=clause.clause_id, section=tuple(clause.section), text=clause.text)
        )
    return [
        StoredPolicyVersion(
            policy_id=head.policy_id,
            version=head.version,
            content_hash=head.content_hash,
            title=head.title,
            saved_at=head.saved_at.replace(tzinfo=UTC)
            if head.saved_at.tzinfo is None
            else head.saved_at,
            clauses=tuple(by_version.get(head.id, ())),
        )
        for head in heads
    ]

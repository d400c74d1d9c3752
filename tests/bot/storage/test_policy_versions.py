"""Policy versions: stored once per content, read back whole, diffed clause by clause."""

from __future__ import annotations

from bot.knowledge import Clause, Policy, sha256_text
from bot.storage import Store, diff_policies


def policy(version: str, clauses: dict[str, str], **extra: object) -> Policy:
    return Policy(
        id="staff-aup",
        title="Staff Acceptable Use Policy",
        version=version,
        contact="the Business Manager",
        source="source.txt",
        content_hash=sha256_text(version + repr(sorted(clauses.items()))),
        clauses=tuple(
            Clause(id=key, section=("Mobile Phones", key.split("-")[0]), text=value)
            for key, value in clauses.items()
        ),
        **extra,
    )


OLD = policy(
    "2018-07",
    {
        "phones-1": "Professional tone to be used in all phone calls.",
        "phones-2": "Personal calls are forbidden on work phones.",
        "network-1": "You are responsible for the security of your passwords.",
    },
)
NEW = policy(
    "2026-09",
    {
        "phones-1": "Professional tone to be used in all phone calls.",
        "phones-2": "Personal calls, other than in an emergency, are forbidden on work phones.",
        "social-1": "Staff must not add pupils on social media.",
    },
)


def test_diff_without_a_database() -> None:
    diff = diff_policies(OLD, NEW)
    assert [clause.id for clause in diff.added] == ["social-1"]
    assert [clause.id for clause in diff.removed] == ["network-1"]
    assert [(c.id, c.old_text, c.new_text) for c in diff.changed] == [
        (
            "phones-2",
            "Personal calls are forbidden on work phones.",
            "Personal calls, other than in an emergency, are forbidden on work phones.",
        )
    ]
    assert not diff.empty
    assert diff_policies(NEW, NEW).empty


def test_save_is_idempotent_by_id_version_and_content(store: Store) -> None:
    assert store.save_policy_version(OLD) is True
    assert store.save_policy_version(OLD) is False
    assert store.save_policy_version(NEW) is True
    # Same version label, different words (an unannounced edit): kept as its own row.
    edited = policy("2026-09", {"phones-1": "Be professional on the phone."})
    assert store.save_policy_version(edited) is True
    assert [v.version for v in store.policy_versions("staff-aup")] == [
        "2018-07",
        "2026-09",
        "2026-09",
    ]
    assert store.policy_versions("no-such-policy") == []


def test_stored_versions_keep_clause_ids_sections_and_texts(store: Store) -> None:
    store.save_policy_version(OLD)
    [stored] = store.policy_versions("staff-aup")
    assert stored.content_hash == OLD.content_hash
    assert stored.title == OLD.title
    assert stored.saved_at.tzinfo is not None
    assert [(c.id, c.section, c.text) for c in stored.clauses] == [
        (c.id, c.section, c.text) for c in OLD.clauses
    ]


def test_diff_from_a_stored_version_to_a_loaded_policy(store: Store) -> None:
    store.save_policy_version(OLD)
    [stored] = store.policy_versions("staff-aup")
    assert diff_policies(stored, NEW) == diff_policies(OLD, NEW)
    assert diff_policies(stored, OLD).empty

"""The bundled knowledge folder is data under version control: every policy in it is checked."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.errors import KnowledgeError
from bot.knowledge import POLICY_FILE, Policy, load_policies, load_policy, sha256_text

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"
FOLDERS = sorted(path.parent for path in KNOWLEDGE.glob(f"*/{POLICY_FILE}"))
ID = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


@pytest.fixture(params=FOLDERS, ids=lambda folder: folder.name)
def folder(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


@pytest.fixture
def policy(folder: Path) -> Policy:
    return load_policy(folder)


def test_there_is_knowledge_to_check() -> None:
    assert FOLDERS, f"no policy folders in {KNOWLEDGE}"
    assert len(load_policies(KNOWLEDGE)) == len(FOLDERS)


def test_ids_are_unique_and_well_formed(policy: Policy) -> None:
    ids = [clause.id for clause in policy.clauses]
    assert len(ids) == len(set(ids))
    assert ID.match(policy.id)
    assert all(ID.match(clause_id) and len(clause_id) <= 80 for clause_id in ids)


def test_every_clause_is_verbatim_in_the_source(folder: Path, policy: Policy) -> None:
    source = " ".join((folder / "source.txt").read_text(encoding="utf-8").split())
    missing = [clause.id for clause in policy.clauses if clause.text not in source]
    assert not missing, f"clauses not found word for word in source.txt: {missing}"


def test_content_hash_is_the_hash_of_the_source(folder: Path, policy: Policy) -> None:
    assert policy.content_hash == sha256_text((folder / "source.txt").read_text(encoding="utf-8"))


def test_every_clause_is_curated(policy: Policy) -> None:
    for clause in policy.clauses:
        assert 5 <= len(clause.questions) <= 18, clause.id
        assert 2 <= len(clause.tags) <= 6, clause.id
        assert len(set(clause.questions)) == len(clause.questions), clause.id
        assert all(q.strip() and q == " ".join(q.split()) for q in clause.questions), clause.id
        assert all(t.strip() for t in clause.tags), clause.id


def test_sections_and_metadata_are_filled_in(policy: Policy) -> None:
    assert policy.title.strip() and policy.version.strip() and policy.contact.strip()
    assert all(all(part.strip() for part in clause.section) for clause in policy.clauses)


Change = Callable[[dict[str, Any]], object]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(lambda data: data.pop("title"), "field title", id="missing-title"),
        pytest.param(
            lambda data: data["clauses"][0].update(obligation="optional"),
            "field clauses.0.obligation",
            id="bad-obligation",
        ),
        pytest.param(
            lambda data: data["clauses"][0].update(id="Bad Id"), "field clauses.0.id", id="bad-id"
        ),
        pytest.param(
            lambda data: data["clauses"][0].pop("text"), "field clauses.0.text", id="no-text"
        ),
    ],
)
def test_a_broken_policy_file_names_file_and_field(
    tmp_path: Path, change: Change, message: str
) -> None:
    data = {
        "id": "tiny",
        "title": "Tiny Policy",
        "version": "1",
        "contact": "your line manager",
        "source": "tiny.md",
        "content_hash": "0" * 64,
        "clauses": [{"id": "rules-abc123", "section": ["Rules"], "text": "Be kind."}],
    }
    load_check = tmp_path / "good"
    load_check.mkdir()
    (load_check / POLICY_FILE).write_text(yaml.safe_dump(data), encoding="utf-8")
    assert load_policy(load_check).title == "Tiny Policy"

    change(data)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / POLICY_FILE).write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(KnowledgeError) as raised:
        load_policies(broken)
    assert str(broken / POLICY_FILE) in str(raised.value)
    assert message in str(raised.value)

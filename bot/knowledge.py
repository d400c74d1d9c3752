"""Policies and their clauses: the knowledge PolicyBot answers from.

A knowledge folder holds one sub-folder per policy and, optionally, a shared
``lexicon.yaml``::

    knowledge/
        lexicon.yaml
        staff-acceptable-use/
            policy.yaml        # metadata and clauses (this module's models)
            source.txt         # the document as delivered

Every clause's ``text`` is the policy's own words, verbatim from the source document,
so an answer can quote it. Loading validates everything and names the file and field
that fail.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.errors import KnowledgeError

try:  # libyaml's loader when PyYAML was built with it: the lexicon parses ten times faster.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class _UniqueKeyLoader(_BaseLoader):
    """The safe loader, refusing a mapping that repeats a key.

    Plain YAML keeps the last of two ``means:`` silently, so half a lexicon group (or a
    clause's first ``text:``) would vanish without a word.
    """


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [key.value for key, _ in node.value if isinstance(key, yaml.ScalarNode)]
    if len(set(keys)) != len(keys):
        twice = next(k for k in keys if keys.count(k) > 1)
        raise yaml.constructor.ConstructorError(
            None, None, f"duplicate key {twice!r}", node.start_mark
        )
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)
_YAML_LOADER = _UniqueKeyLoader
POLICY_FILE = "policy.yaml"
LEXICON_FILE = "lexicon.yaml"
_ID_PATTERN = r"^[a-z0-9][a-z0-9.-]*$"


class Obligation(StrEnum):
    """What a clause asks of staff, derived from its wording."""

    PROHIBITED = "prohibited"
    REQUIRED = "required"
    ADVISED = "advised"
    PERMITTED = "permitted"
    INFORMATION = "information"

    def to_plain_words(self) -> str:
        """A short sentence a person reads before the quoted clause."""
        return _PLAIN_WORDS[self]


_PLAIN_WORDS = {
    Obligation.PROHIBITED: "Not allowed.",
    Obligation.REQUIRED: "Required.",
    Obligation.ADVISED: "Advised.",
    Obligation.PERMITTED: "Allowed.",
    Obligation.INFORMATION: "For information.",
}


class Clause(BaseModel):
    """One clause: the unit PolicyBot retrieves and quotes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_ID_PATTERN, max_length=80)
    section: tuple[str, ...] = Field(min_length=1)
    text: str = Field(min_length=1)
    obligation: Obligation = Obligation.INFORMATION
    questions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def section_title(self) -> str:
        """The section path as a person reads it: ``"Social Media"``."""
        return " › ".join(self.section)


class Policy(BaseModel):
    """A policy document at one version, split into clauses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_ID_PATTERN, max_length=80)
    title: str = Field(min_length=1)
    version: str = Field(min_length=1)
    effective: date | None = None
    contact: str = Field(min_length=1)
    source: str = Field(min_length=1)
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    clauses: tuple[Clause, ...] = Field(min_length=1)

    @field_validator("clauses")
    @classmethod
    def _unique_ids(cls, clauses: tuple[Clause, ...]) -> tuple[Clause, ...]:
        seen: set[str] = set()
        for clause in clauses:
            if clause.id in seen:
                raise ValueError(f"clause id {clause.id!r} appears twice")
            seen.add(clause.id)
        return clauses

    def clause(self, clause_id: str) -> Clause:
        """The clause with this id; ``KeyError`` if there is none."""
        for clause in self.clauses:
            if clause.id == clause_id:
                return clause
        raise KeyError(clause_id)

    def citation(self, clause: Clause) -> str:
        """``"Staff Acceptable Use Policy, version July 2018, Social Media"``."""
        return f"{self.title}, version {self.version}, {clause.section_title}"

    def to_text(self) -> str:
        """The whole policy as plain text, grouped by section (what a campaign shows)."""
        lines: list[str] = [f"{self.title} (version {self.version})"]
        section: tuple[str, ...] = ()
        for clause in self.clauses:
            if clause.section != section:
                section = clause.section
                lines += ["", clause.section_title]
            lines.append(f"• {clause.text}")
        return "\n".join(lines)


def sha256_text(text: str) -> str:
    """Hex SHA-256 of text encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def slugify(text: str, limit: int = 40) -> str:
    """Lower-case ASCII slug: ``"Internet / Email"`` → ``"internet-email"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")
    return slug[:limit].rstrip("-") or "policy"


def load_policy(folder: Path) -> Policy:
    """Load and validate ``folder/policy.yaml``; raise ``KnowledgeError`` naming the field."""
    path = folder / POLICY_FILE
    data = read_yaml(path)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise KnowledgeError(_describe(path, exc)) from None


def load_policies(knowledge_dir: Path) -> list[Policy]:
    """Every policy in a knowledge folder, sorted by id.

    A folder that is itself a policy (has ``policy.yaml``) counts as a knowledge folder of
    one, so ``--knowledge`` may point at either.
    """
    if not knowledge_dir.is_dir():
        raise KnowledgeError(f"{knowledge_dir}: knowledge folder not found.")
    if (knowledge_dir / POLICY_FILE).is_file():
        folders = [knowledge_dir]
    else:
        folders = sorted(p for p in knowledge_dir.iterdir() if (p / POLICY_FILE).is_file())
    if not folders:
        raise KnowledgeError(f"{knowledge_dir}: no policy folders (each needs a {POLICY_FILE}).")
    policies = [load_policy(folder) for folder in folders]
    ids = [p.id for p in policies]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise KnowledgeError(f"{knowledge_dir}: policy id {duplicates[0]!r} is used twice.")
    return policies


def save_policy(policy: Policy, folder: Path) -> Path:
    """Write ``policy.yaml`` in a stable, readable layout; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / POLICY_FILE
    data = policy.model_dump(mode="json", exclude_defaults=False)
    for clause in data["clauses"]:
        for key in ("questions", "tags"):
            if not clause[key]:
                del clause[key]
    path.write_text(
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8"
    )
    return path


def read_yaml(path: Path) -> Any:
    """Parse a YAML file, turning every failure into a ``KnowledgeError`` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KnowledgeError(f"{path}: file not found.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeError(f"{path}: cannot be read ({exc}).") from None
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path}: not valid YAML ({exc}).") from None


def _describe(path: Path, exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{path}: field {where}: {error['msg']}{more}."

"""The lexicon: how staff talk, mapped to how policies are written.

``knowledge/lexicon.yaml`` holds groups of three kinds::

    groups:
      - synonyms: [pupil, student, learner]                 # each means the others
      - words: [facebook, instagram, insta, tiktok]         # each of these ...
        means: [social media, social networking]            # ... also means these, more broadly
      - words: [porn, porno, xxx]                           # each of these ...
        equals: [pornography, pornographic]                 # ... says exactly this, less formally

``means`` is a broader meaning (a brand's category, a specific thing's kind): a clause that
only matches it covers the question in part. ``equals`` is the same meaning in other words,
one way only (slang, abbreviations, inflections, misspellings): it counts as a synonym,
while "pornography" does not come to mean "xxx".

A question's words are expanded through the lexicon, weighted below the words actually
typed, so "can I add a year 9 on insta" can find a clause about "social media" and
"pupils". Entries are lower-case and may be phrases of several words ("smart speaker").
The lexicon is data shared by every policy; it is validated by tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.errors import KnowledgeError
from bot.knowledge import read_yaml


def _clean_terms(terms: tuple[str, ...]) -> tuple[str, ...]:
    for term in terms:
        if not term.strip() or term != " ".join(term.split()) or term != term.casefold():
            raise ValueError(f"term {term!r} must be lower-case, trimmed, single-spaced")
    return terms


class LexiconGroup(BaseModel):
    """One group: ``synonyms`` (symmetric), or ``words`` that also mean ``means`` (broader)
    and/or ``equals`` (the same, said formally)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    synonyms: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    means: tuple[str, ...] = ()
    equals: tuple[str, ...] = ()

    @field_validator("synonyms", "words", "means", "equals")
    @classmethod
    def _clean(cls, terms: tuple[str, ...]) -> tuple[str, ...]:
        return _clean_terms(terms)

    @model_validator(mode="after")
    def _one_kind(self) -> LexiconGroup:
        if self.synonyms and (self.words or self.means or self.equals):
            raise ValueError("a group has either synonyms, or words and means, not both")
        if not self.synonyms and not (self.words and (self.means or self.equals)):
            raise ValueError("a group needs synonyms (two or more), or words with means or equals")
        if self.synonyms and len(set(self.synonyms)) < 2:
            raise ValueError("synonyms need at least two different terms")
        return self

    def expansions(self) -> Iterator[tuple[str, str, bool]]:
        """Every (term typed, term it also means, synonym?) triple this group contributes."""
        for term in self.synonyms:
            for other in self.synonyms:
                if other != term:
                    yield term, other, True
        for word in self.words:
            for meaning in self.means:
                if meaning != word:
                    yield word, meaning, False
            for meaning in self.equals:
                if meaning != word:
                    yield word, meaning, True


class Lexicon(BaseModel):
    """All groups of a lexicon file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    groups: tuple[LexiconGroup, ...] = Field(default=())

    def expansions(self) -> dict[str, dict[str, bool]]:
        """Map each term to the terms it also means (first-seen order), each flagged True
        when the two are synonyms rather than a word and a broader meaning."""
        table: dict[str, dict[str, bool]] = {}
        for group in self.groups:
            for term, meaning, synonym in group.expansions():
                meanings = table.setdefault(term, {})
                meanings[meaning] = meanings.get(meaning, False) or synonym
        return table

    def terms(self) -> set[str]:
        """Every term that appears anywhere in the lexicon."""
        found: set[str] = set()
        for group in self.groups:
            found.update(group.synonyms, group.words, group.means, group.equals)
        return found


EMPTY_LEXICON = Lexicon()


def load_lexicon(path: Path) -> Lexicon:
    """Load and validate a lexicon file; raise ``KnowledgeError`` naming the failing group."""
    data = read_yaml(path)
    try:
        return Lexicon.model_validate(data or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise KnowledgeError(f"{path}: field {where}: {error['msg']}.") from None

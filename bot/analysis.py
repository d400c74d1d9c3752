"""Text analysis: from a policy clause or a chat question to weighted search terms.

One ``Analyzer`` serves both sides so that documents and questions meet on the same
terms: Unicode and case folding, tokens, stop words, Snowball stems. Questions get more:
lexicon expansion ("insta" also means "social media"), weighted below the words
actually typed, and typo tolerance against the corpus vocabulary ("wikipeda").

A question is analysed into ``Concept`` s, one per thing the person typed, so that the
answer rule can ask how much of the question a clause covers, not just how well it
scores.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from bot.lexicon import Lexicon

#: Weight of a term reached through the lexicon, relative to a typed word.
EXPANSION_WEIGHT = 0.5
#: Weight of a vocabulary word that a misspelt word was corrected to.
CORRECTION_WEIGHT = 0.8
_MAX_PHRASE = 4

_WORD = re.compile(r"[a-z0-9]+")
_FOLD = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‛": "'",
        "`": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "*": " ",
        "_": " ",
    }
)
_POSSESSIVE = re.compile(r"(?<=[a-z])'s\b|(?<=s)'(?=\s|$)")
_APOSTROPHE = re.compile(r"(?<=[a-z])'(?=[a-z])")

# English function words: they carry no topic. Negations and "own" are kept out of this
# list on purpose: "my own phone" and "not" change what a question is about.
STOP_WORDS = frozenset(
    """
a about above after again against all am an and any are aren as at be because been before
being below between both but by could couldn did didn do does doesn doing down during each
few for from further had hadn has hasn have haven having he her here hers herself him
himself his how i if in into is isn it its itself just ll me might mightn more most mustn
my myself needn now o of off on once only or other our ours ourselves out over re s same
shan she should shouldn so some such t than that the their theirs them themselves then
there these they this those through to too under until up ve very was wasn we were weren
what when where which while who whom why will with won would wouldn y you your yours
yourself yourselves can cant could im ive id dont doesnt didnt isnt arent wasnt m d
also still just really actually maybe please thanks thank hi hello hey ok okay yes yeah
got get gets getting go going gone went let lets like want wants wanted need needs
anyone someone something anything thing things stuff way lot lots bit quick one
""".split()
)

# Words that are about work and rules in general rather than about any topic: a clause
# matching only these does not answer a question.
GENERIC_WORDS = frozenset(
    """
allow allowed allowing permit permitted permission ok okay alright fine acceptable
forbidden banned rule rules policy policies guidance guideline guidelines procedure
school schools staff staffs member members employee employees
teacher teachers people person work working job use used using usage new do make made
time times day days say said know tell ask asked must may might shall whether
""".split()
)


def fold(text: str) -> str:
    """Unicode-normalise, case-fold and straighten quotes; drop markdown emphasis marks."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
    text = _POSSESSIVE.sub("", text)
    return _APOSTROPHE.sub("", text)


def words(text: str) -> list[str]:
    """The folded word tokens of a text, stop words included."""
    return _WORD.findall(fold(text))


@dataclass(frozen=True)
class Concept:
    """One thing a question mentions: a word or a lexicon phrase, with what it means.

    ``stems`` are the typed (or typo-corrected) terms; ``expansions`` the terms reached
    through the lexicon. ``generic`` concepts (school, staff, allowed ...) rank but do not
    count towards coverage. ``recognised`` is False for a word neither the policies nor
    the lexicon know (a name, a typo beyond repair, chat filler).
    """

    surface: str
    stems: tuple[str, ...]
    expansions: tuple[str, ...] = ()
    generic: bool = False
    corrected: bool = False
    recognised: bool = True


@dataclass(frozen=True)
class Query:
    """An analysed question: its concepts and the weighted terms they search for."""

    text: str
    concepts: tuple[Concept, ...]
    weights: dict[str, float] = field(default_factory=dict)

    @property
    def topical(self) -> tuple[Concept, ...]:
        """The concepts that say what the question is about."""
        return tuple(c for c in self.concepts if not c.generic)


class Analyzer:
    """Turns text into terms, knowing the corpus vocabulary and the lexicon.

    Example::

        analyzer = Analyzer(lexicon, corpus_texts)
        analyzer.terms("Staff must decline friend requests")   # ['staff', 'declin', ...]
        analyzer.query("can i add a year 9 on insta").weights
    """

    def __init__(self, lexicon: Lexicon, corpus: Iterable[str] = ()) -> None:
        self._phrases: dict[tuple[str, ...], tuple[str, ...]] = {}
        for term, meanings in lexicon.expansions().items():
            key = self._stem_phrase(term)
            if key:
                expanded = self._phrases.setdefault(key, ())
                extra = tuple(s for m in meanings for s in self._stem_phrase(m))
                self._phrases[key] = tuple(dict.fromkeys(expanded + extra))
        lexicon_words = {w for term in lexicon.terms() for w in words(term)}
        corpus_words: set[str] = set()
        for text in corpus:
            corpus_words.update(words(text))
        self.vocabulary: frozenset[str] = frozenset(
            self.stem(w) for w in corpus_words if w not in STOP_WORDS
        )
        self._known = frozenset(corpus_words | lexicon_words | STOP_WORDS)
        self._known_stems = self.vocabulary | {self.stem(w) for w in lexicon_words}
        # Typo correction targets: real words of the corpus and lexicon, long enough that
        # one slip of the finger does not turn one word into another.
        self._spellings = sorted(
            w
            for w in corpus_words | lexicon_words
            if len(w) >= 4 and not w.isdigit() and w not in STOP_WORDS
        )

    @staticmethod
    def stem(word: str) -> str:
        """The Snowball stem of one folded word (cached)."""
        return _stem(word)

    def _stem_phrase(self, phrase: str) -> tuple[str, ...]:
        return tuple(self.stem(w) for w in words(phrase) if w not in STOP_WORDS)

    def terms(self, text: str) -> list[str]:
        """Index terms of a document: folded, stop words dropped, stemmed."""
        return [self.stem(w) for w in words(text) if w not in STOP_WORDS]

    def is_known(self, word: str) -> bool:
        """True when a word belongs to the knowledge vocabulary, the lexicon or stop words.

        The question log keeps only such words; every other word is masked.
        """
        folded = words(word)
        return bool(folded) and all(
            w in self._known or (not w.isdigit() and self.stem(w) in self._known_stems)
            for w in folded
        )

    def query(self, text: str) -> Query:
        """Analyse a question into concepts and weighted terms."""
        tokens = words(text)
        concepts: list[Concept] = []
        i = 0
        while i < len(tokens):
            concept, used = self._concept_at(tokens, i)
            i += used
            if concept is not None:
                concepts.append(concept)
        weights: dict[str, float] = {}
        for concept in concepts:
            own = CORRECTION_WEIGHT if concept.corrected else 1.0
            for s in concept.stems:
                weights[s] = max(weights.get(s, 0.0), own)
            for s in concept.expansions:
                weights[s] = max(weights.get(s, 0.0), EXPANSION_WEIGHT)
        return Query(text=text, concepts=tuple(concepts), weights=weights)

    def _concept_at(self, tokens: list[str], i: int) -> tuple[Concept | None, int]:
        # Longest lexicon phrase first: "smart speaker" before "smart".
        for size in range(min(_MAX_PHRASE, len(tokens) - i), 1, -1):
            span = tokens[i : i + size]
            if span[0] in STOP_WORDS or span[-1] in STOP_WORDS:
                continue
            key = tuple(self.stem(w) for w in span if w not in STOP_WORDS)
            if key in self._phrases:
                return self._make(" ".join(span), key, self._phrases[key]), size
        word = tokens[i]
        if word in STOP_WORDS:
            return None, 1
        stem = self.stem(word)
        corrected = False
        if stem not in self._known_stems and not word.isdigit():
            fixed = self._correct(word)
            if fixed is not None:
                word, stem, corrected = fixed, self.stem(fixed), True
        expansions = self._phrases.get((stem,), ())
        return self._make(word, (stem,), expansions, corrected), 1

    def _make(
        self,
        surface: str,
        stems: tuple[str, ...],
        expansions: tuple[str, ...],
        corrected: bool = False,
    ) -> Concept:
        generic = all(s in _GENERIC_STEMS for s in stems)
        extra = tuple(s for s in expansions if s not in stems)
        recognised = bool(extra) or all(s in self._known_stems for s in stems)
        return Concept(surface, stems, extra, generic, corrected, recognised)

    def _correct(self, word: str) -> str | None:
        if len(word) < 5 or not self._spellings:
            return None
        limit = 1 if len(word) < 8 else 2
        found = process.extractOne(
            word, self._spellings, scorer=DamerauLevenshtein.distance, score_cutoff=limit
        )
        return None if found is None else str(found[0])


_STEMMER = Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _STEMMER.stemWord(word)  # type: ignore[no-any-return]


_GENERIC_STEMS = frozenset(_STEMMER.stemWord(w) for w in GENERIC_WORDS)

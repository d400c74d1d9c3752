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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein
from wordfreq import zipf_frequency

from bot.lexicon import Lexicon

#: Weight of a term reached through the lexicon, relative to a typed word: a synonym
#: ("pupil" for "student") nearly as much, a broader meaning ("social media" for "insta")
#: half as much.
SYNONYM_WEIGHT = 0.9
EXPANSION_WEIGHT = 0.5
#: Weight of a vocabulary word that a misspelt word was corrected to.
CORRECTION_WEIGHT = 0.8
#: Weight of generic words (school, staff, allowed): they rank, but weakly.
GENERIC_WEIGHT = 0.5
#: Words at least this common in English (Zipf scale, wordfreq) are never "corrected".
REAL_WORD_ZIPF = 2.5
_MAX_PHRASE = 4
_MAX_FOUND_KNOWN = 50_000
_MAX_CORRECTIONS = 4096
#: Unknown words of one question looked up as typos, at most. A look-up costs about half a
#: millisecond; a chat question has a few slips, and a 4,000-character paste of unknown
#: words must not cost a third of a second (answers run on the adapters' event loop).
TYPO_LOOKUPS_PER_QUESTION = 16

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
# Contractions whose letters would otherwise fuse into another word ("I'll" is not "ill").
_CONTRACTION = re.compile(r"(?<=[a-z])'(ll|re|ve)\b")
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
also just really actually next maybe please thanks thank hi hello hey ok okay yes yeah
got get gets getting go going gone went let lets like want wants wanted need needs
anyone someone something anything thing things stuff way lot lots bit quick one much many
whats whos thats theyre youre hes shes wont isnt cant
havent hasnt hadnt shouldnt couldnt wouldnt werent mustnt neednt youve weve theyve
""".split()
)

# Words that are about work and rules in general rather than about any topic: a clause
# matching only these does not answer a question. "still" is here, not a stop word: "do the
# rules still apply at home?" is answered by "you must still follow ...", yet "can I still
# park?" is about parking.
GENERIC_WORDS = frozenset(
    """
allow allowed allowing permit permitted permission ok okay alright fine problem
forbidden banned rule rules policy policies guidance guideline guidelines procedure
school schools staff staffs member members employee employees
teacher teachers people person work working job use used using usage new do make made
time times day days say said know tell ask asked must may might shall whether
still
""".split()
)


def fold(text: str) -> str:
    """Unicode-normalise, case-fold and straighten quotes; drop markdown emphasis marks."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
    text = _CONTRACTION.sub("", _POSSESSIVE.sub("", text))
    return _APOSTROPHE.sub("", text)


def words(text: str) -> list[str]:
    """The folded word tokens of a text, stop words included."""
    return _WORD.findall(fold(text))


def singular(word: str) -> str:
    """A folded word with a regular English plural undone: "parents" → "parent".

    Deliberately lighter than stemming, for lexicon look-ups where "allowance" must not
    meet "allowed".
    """
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@dataclass(frozen=True)
class Concept:
    """One thing a question mentions: a word or a lexicon phrase, with what it means.

    ``stems`` are the typed (or typo-corrected) terms; ``expansions`` the phrases (as
    stems) it also means through the lexicon, each with its weight. A concept counts once
    in a score, through whichever of its alternatives matches a clause best, so a word
    with many synonyms does not outweigh one with none. ``generic`` concepts (school,
    staff, allowed ...) rank at reduced weight and do not count towards coverage.
    ``recognised`` is False for a word neither the policies nor the lexicon know (a name,
    a typo beyond repair, chat filler).
    """

    surface: str
    stems: tuple[str, ...]
    expansions: tuple[tuple[tuple[str, ...], float], ...] = ()
    generic: bool = False
    corrected: bool = False
    recognised: bool = True

    @property
    def weight(self) -> float:
        """Weight of the typed words."""
        if self.generic:
            return GENERIC_WEIGHT
        return CORRECTION_WEIGHT if self.corrected else 1.0

    def alternatives(self) -> Iterator[tuple[tuple[str, ...], float]]:
        """Each way the concept can match, as (stems, weight): typed words first."""
        if self.stems:
            yield self.stems, self.weight
        yield from self.expansions


@dataclass(frozen=True)
class Query:
    """An analysed question: the concepts it mentions."""

    text: str
    concepts: tuple[Concept, ...]

    @property
    def topical(self) -> tuple[Concept, ...]:
        """The concepts that say what the question is about."""
        return tuple(c for c in self.concepts if not c.generic)


class Analyzer:
    """Turns text into terms, knowing the corpus vocabulary and the lexicon.

    Example::

        analyzer = Analyzer(lexicon, corpus_texts)
        analyzer.terms("Staff must decline friend requests")   # ['staff', 'must', 'declin', ...]
        analyzer.query("can i add a year 9 on insta").concepts
    """

    def __init__(self, lexicon: Lexicon, corpus: Iterable[str] = ()) -> None:
        # Lexicon entries are looked up by their words as typed (plurals folded), not by
        # stems: stemming would make "allowance" (pay) an expansion of "allowed".
        self._phrases: dict[tuple[str, ...], dict[tuple[str, ...], float]] = {}
        stemmed: dict[str, tuple[str, ...]] = {}  # a meaning recurs in many entries
        for term, meanings in lexicon.expansions().items():
            key = tuple(singular(w) for w in words(term))
            table = self._phrases.setdefault(key, {})
            for meaning, synonym in meanings.items():
                phrase = stemmed.get(meaning)
                if phrase is None:
                    phrase = stemmed[meaning] = self._stem_phrase(meaning)
                weight = SYNONYM_WEIGHT if synonym else EXPANSION_WEIGHT
                if phrase and weight > table.get(phrase, 0.0):
                    table[phrase] = weight
        lexicon_words = {w for term in lexicon.terms() for w in words(term)}
        corpus_words: set[str] = set()
        for text in corpus:
            corpus_words.update(words(text))
        vocabulary = {self.stem(w) for w in corpus_words if w not in STOP_WORDS}
        self._known = frozenset(corpus_words | lexicon_words | STOP_WORDS)
        self._known_stems = frozenset(vocabulary | {self.stem(w) for w in lexicon_words})
        # Typo correction targets: real words of the corpus and lexicon, long enough that
        # one slip of the finger does not turn one word into another.
        self._spellings: dict[int, list[str]] = {}
        for w in sorted(corpus_words | lexicon_words):
            if len(w) >= 4 and not w.isdigit() and w not in STOP_WORDS:
                self._spellings.setdefault(len(w), []).append(w)
        self._corrections: dict[str, str | None] = {}
        # Words as typed that ``is_known`` found known: every logged question asks again.
        self._found_known: set[str] = set()

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

        The question log keeps only such words; every other word is masked. Words match
        as written (plurals folded), never by stem: "Lowe" must not pass as "low".
        """
        if word in self._found_known:
            return True
        folded = words(word)
        known = bool(folded) and all(w in self._known or singular(w) in self._known for w in folded)
        if known and len(self._found_known) < _MAX_FOUND_KNOWN:
            self._found_known.add(word)  # vocabulary words only: never a name it masks
        return known

    def warm_up(self) -> None:
        """Load the English word frequencies now (about 0.1 s) rather than on the first
        question that has a typo: a server should not make that person wait."""
        zipf_frequency("policy", "en")

    def query(self, text: str) -> Query:
        """Analyse a question into concepts."""
        tokens = words(text)
        singulars = [singular(w) for w in tokens]  # each phrase look-up would redo them
        concepts: list[Concept] = []
        lookups = TYPO_LOOKUPS_PER_QUESTION
        i = 0
        while i < len(tokens):
            concept, used = self._concept_at(tokens, singulars, i, correct=lookups > 0)
            i += used
            if concept is not None:
                concepts.append(concept)
                if concept.corrected or not concept.recognised:
                    lookups -= 1
        return Query(text=text, concepts=tuple(concepts))

    def _concept_at(
        self, tokens: list[str], singulars: list[str], i: int, *, correct: bool = True
    ) -> tuple[Concept | None, int]:
        # Longest lexicon phrase first: "smart speaker" before "smart".
        for size in range(min(_MAX_PHRASE, len(tokens) - i), 1, -1):
            key = tuple(singulars[i : i + size])
            if key in self._phrases:
                span = tokens[i : i + size]
                # A lexicon phrase is a topic even when its words are not ("day off").
                stems = tuple(self.stem(w) for w in span if w not in STOP_WORDS)
                return self._make(" ".join(span), stems, self._phrases[key], phrase=True), size
        word = tokens[i]
        if word in STOP_WORDS:
            return None, 1
        stem = self.stem(word)
        corrected = False
        if correct and stem not in self._known_stems and not word.isdigit():
            fixed = self._correct(word)
            if fixed is not None:
                word, stem, corrected = fixed, self.stem(fixed), True
        return self._make(word, (stem,), self._phrases.get((singular(word),), {}), corrected), 1

    def _make(
        self,
        surface: str,
        stems: tuple[str, ...],
        expansions: dict[tuple[str, ...], float],
        corrected: bool = False,
        phrase: bool = False,
    ) -> Concept:
        if all(s in _GENERIC_STEMS for s in stems):
            if not phrase:
                return Concept(surface, stems, generic=True, corrected=corrected)
            # A phrase of generic words means what the lexicon says it means: "other
            # teachers" is about colleagues, not about every clause that says "teachers".
            stems = ()
        extra = tuple((p, w) for p, w in expansions.items() if p != stems)
        recognised = bool(extra) or all(s in self._known_stems for s in stems)
        return Concept(surface, stems, extra, False, corrected, recognised)

    def _correct(self, word: str) -> str | None:
        if word not in self._corrections:
            if len(self._corrections) > _MAX_CORRECTIONS:
                self._corrections.clear()
            self._corrections[word] = self._nearest_spelling(word)
        return self._corrections[word]

    def _nearest_spelling(self, word: str) -> str | None:
        # A real English word is not a typo, however close it is to a policy word:
        # "faster" must not become "easter".
        if len(word) < 5 or zipf_frequency(word, "en") >= REAL_WORD_ZIPF:
            return None
        limit = 1 if len(word) < 8 else 2
        # Only words within ``limit`` letters of the same length can be that close.
        candidates = [
            w
            for n in range(len(word) - limit, len(word) + limit + 1)
            for w in self._spellings.get(n, ())
        ]
        found = process.extractOne(
            word, candidates, scorer=DamerauLevenshtein.distance, score_cutoff=limit
        )
        return None if found is None else str(found[0])


_STEMMER = Stemmer.Stemmer("english")

# Snowball over-stems a few words policies lean on into other words: "personal" would meet
# "person" (a generic word: "the person next to me"), "business" would meet "busy", and an
# "allowance" (money) would be "allowed" and being "fined" would be "fine" (generic words).
_STEM_EXCEPTIONS = {
    "personal": "personal",
    "personally": "personal",
    "allowance": "allowanc",
    "allowances": "allowanc",
    "business": "business",
    "fined": "fined",
    "fines": "fined",
    "businesses": "business",
    "authority": "authoriti",
    "authorities": "authoriti",
    "experiment": "experiment",
    "experiments": "experiment",
}


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    stem: str = _STEM_EXCEPTIONS.get(word) or _STEMMER.stemWord(word)
    return stem


_GENERIC_STEMS = frozenset(_STEMMER.stemWord(w) for w in GENERIC_WORDS)


def is_generic(stem: str) -> bool:
    """True for the stem of a generic word (school, staff, allowed ...)."""
    return stem in _GENERIC_STEMS

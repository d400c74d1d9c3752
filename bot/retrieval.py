"""Clause retrieval: BM25 over clause fields, scored only where the query can match.

Each clause is indexed in four fields, each its own ``rank_bm25.BM25Plus`` (``BM25Okapi``
floors the idf of common terms on a small corpus, so matching clauses can score 0):

    text       the clause's own words                     weight 1.0
    questions  curated alternate questions, each its     weight 0.7
               own document; a clause takes its best
    tags       curated topic words                        weight 0.5
    section    the section path                           weight 0.3

A clause's alternate questions are scored one by one and the clause keeps the best, as an
FAQ matcher would: fifteen phrasings run together would be one long document that BM25's
length normalisation marks down, so a question typed almost as curated could lose to a
clause sharing a single word.

rank_bm25 supplies the corpus statistics (idf, document lengths); scoring adds each query
term's precomputed postings into an array, so the per-term work is in proportion to the
clauses that share the term, with only vector-speed passes over the whole corpus (about
1 ms a question at 100,000 clauses, against 55 ms for ``get_scores``). BM25Plus adds the
same ``idf * delta`` to every clause for each query term whether it matches or not;
leaving that constant out changes no ranking (``tests/bot/test_retrieval.py`` checks the
order against ``get_scores``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rank_bm25 import BM25Plus

from bot.analysis import SYNONYM_WEIGHT, Analyzer, Concept, Query, is_generic
from bot.knowledge import Clause, Policy

FIELD_WEIGHTS: dict[str, float] = {"text": 1.0, "questions": 0.7, "tags": 0.5, "section": 0.3}
#: The fields indexed one document per clause; questions are one document per question.
CLAUSE_FIELDS = ("text", "tags", "section")
#: Candidates re-ordered by coverage, and the weight a clause keeps at zero coverage.
RERANK_POOL = 20
COVERAGE_FLOOR = 0.25
#: How much a match counts towards coverage, against a word matched as typed in the
#: clause: a synonym (or part of a phrase) in its words, a typed word found only in its
#: curated alternate questions, and a broader meaning only ("equipment" for "photocopier").
#: A broader meaning counts for a little more than half: "install Spotify on my work
#: laptop" is answered by "installing unauthorised software" when the clause names the
#: rest. It never answers on its own (``Hit.direct``).
SYNONYM_MATCH = 0.9
CURATED_MATCH = 0.75
EXPANSION_MATCH = 0.6
#: Information of a word nobody knows (not in the policies nor the lexicon), against a
#: recognised topic the policies never mention. Unknown words are mostly names, chat filler
#: and slips; they weaken a match but should not veto it on their own.
UNKNOWN_INFORMATION = 0.5
#: A clause restates a better-ranked one when it has the same obligation and this share
#: of the shorter one's topic words, weighed by information, appears in the other:
#: "Do not leave MoJ equipment unattended." in the key points after "Leave equipment
#: unattended." under "Never:".
RESTATEMENT_OVERLAP = 0.8
#: Not topic words for that comparison, like generic words (must, staff): the obligation
#: already says whether a clause forbids.
NEGATIONS = frozenset({"not", "never", "no"})


@dataclass(frozen=True)
class Hit:
    """A scored clause: ``entry`` indexes ``ClauseIndex.entries``.

    ``direct`` is True when the clause matches at least one of the question's topics in
    its own words or a synonym, not only through broader meanings.
    """

    entry: int
    score: float
    coverage: float
    direct: bool = True


@dataclass(frozen=True)
class _Matcher:
    """One concept of a question, ready to be checked against clause after clause."""

    weight: float  # its information
    typed: frozenset[str]
    synonyms: tuple[frozenset[str], ...]
    key: str | None  # the telling word of a typed phrase
    expansions: tuple[frozenset[str], ...]

    def credit(self, core: frozenset[str], terms: frozenset[str]) -> float:
        """How much a clause (its own words ``core``, all its ``terms``) matches it."""
        # Loops, not any(): this runs for every concept of every candidate clause.
        if self.typed and self.typed <= core:
            return 1.0
        for phrase in self.synonyms:
            if phrase <= core:
                return SYNONYM_MATCH
        if self.key is not None and self.key in core:
            return SYNONYM_MATCH  # the telling word of a phrase: "wikipedia" of "update wikipedia"
        if self.typed and self.typed <= terms:
            return CURATED_MATCH
        for phrase in self.expansions:
            if phrase <= terms:
                return EXPANSION_MATCH
        return 0.0


class _Field:
    """One field's inverted lists, with BM25Plus term weights precomputed per posting."""

    def __init__(self, docs: list[list[str]]) -> None:
        self.docs = docs
        self.idf: dict[str, float] = {}
        self.postings: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = {}
        if not any(docs):
            return
        bm25 = BM25Plus(docs)
        self.idf = dict(bm25.idf)
        norm = bm25.k1 * (1 - bm25.b + bm25.b * np.asarray(bm25.doc_len) / bm25.avgdl)
        lists: dict[str, tuple[list[int], list[float]]] = {}
        for doc_id, freqs in enumerate(bm25.doc_freqs):
            for term, tf in freqs.items():
                ids, tfs = lists.setdefault(term, ([], []))
                ids.append(doc_id)
                tfs.append(tf)
        for term, (ids, tfs) in lists.items():
            id_array = np.asarray(ids, dtype=np.int64)
            tf_array = np.asarray(tfs, dtype=np.float64)
            weight = tf_array * (bm25.k1 + 1) / (norm[id_array] + tf_array)
            self.postings[term] = (id_array, weight)

    def scaled(self, field_weight: float) -> _Postings:
        """Each term's postings with the field's weight and the term's idf folded in."""
        return {
            term: (ids, (field_weight * self.idf[term]) * tfw)
            for term, (ids, tfw) in self.postings.items()
        }


_Postings = dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]


def _merged(parts: Sequence[_Postings]) -> _Postings:
    """Postings of several fields of the same documents as one: a term's score in a
    document is the sum of its fields' scores."""
    merged: _Postings = {}
    for part in parts:
        for term, (ids, values) in part.items():
            found = merged.get(term)
            if found is None:
                merged[term] = (ids, values)
                continue
            all_ids = np.concatenate((found[0], ids))
            unique, where = np.unique(all_ids, return_inverse=True)
            summed = np.zeros(len(unique))
            np.add.at(summed, where, np.concatenate((found[1], values)))
            merged[term] = (unique, summed)
    return merged


class ClauseIndex:
    """Every clause of the loaded policies, searchable by analysed questions.

    Example::

        index = ClauseIndex(policies, analyzer)
        hits = index.search(analyzer.query("can I friend a parent?"), k=3)
        policy, clause = index.entries[hits[0].entry]
    """

    def __init__(self, policies: Sequence[Policy], analyzer: Analyzer) -> None:
        self.entries: list[tuple[Policy, Clause]] = [(p, c) for p in policies for c in p.clauses]
        texts = {
            "text": [c.text for _, c in self.entries],
            "tags": [" ".join(c.tags) for _, c in self.entries],
            "section": [" ".join(c.section) for _, c in self.entries],
        }
        analysed = {name: [analyzer.terms(t) for t in docs] for name, docs in texts.items()}
        # One posting list a term over the clause's own fields, field weights folded in.
        clause_postings = _merged(
            [_Field(analysed[name]).scaled(FIELD_WEIGHTS[name]) for name in CLAUSE_FIELDS]
        )
        questions = [
            (i, analyzer.terms(q)) for i, (_, c) in enumerate(self.entries) for q in c.questions
        ]
        question_postings = _Field([terms for _, terms in questions]).scaled(
            FIELD_WEIGHTS["questions"]
        )
        # Scores live in one array: every clause, then every alternate question (offset by
        # the number of clauses), so a term costs one scatter whichever it matches.
        n = len(self.entries)
        self._postings: _Postings = {}
        for term in clause_postings.keys() | question_postings.keys():
            ids, values = clause_postings.get(term, (np.empty(0, np.int64), np.empty(0)))
            if term in question_postings:
                asked, asked_values = question_postings[term]
                ids = np.concatenate((ids, asked + n))
                values = np.concatenate((values, asked_values))
            self._postings[term] = (ids, values)
        self._size = n + len(questions)
        # Each clause's question words together, for coverage.
        analysed["questions"] = [[] for _ in self.entries]
        for i, words_asked in questions:
            analysed["questions"][i].extend(words_asked)
        owners = np.asarray([i for i, _ in questions], dtype=np.int64)
        # Questions are listed clause by clause: each clause's run starts where its id changes.
        self._question_starts = np.flatnonzero(np.diff(owners, prepend=-1)) if questions else owners
        self._question_owners = owners[self._question_starts]
        self._topic_terms = [
            frozenset(t for t in terms if not is_generic(t) and t not in NEGATIONS)
            for terms in analysed["text"]
        ]
        self.doc_terms: list[frozenset[str]] = [
            frozenset(t for docs in analysed.values() for t in docs[i])
            for i in range(len(self.entries))
        ]
        # The policy's own words and curated topics; alternate questions are looser.
        self._core_terms: list[frozenset[str]] = [
            frozenset((*analysed["text"][i], *analysed["tags"][i], *analysed["section"][i]))
            for i in range(len(self.entries))
        ]
        df: dict[str, int] = {}
        for terms in self.doc_terms:
            for term in terms:
                df[term] = df.get(term, 0) + 1
        n = len(self.entries)
        self._info = {term: math.log((n + 1) / count) for term, count in df.items()}
        self._max_info = math.log(n + 1)

    def __len__(self) -> int:
        return len(self.entries)

    def term_scores(self, weights: dict[str, float]) -> npt.NDArray[np.float64]:
        """Weighted BM25Plus score of every clause for a bag of terms (zero: no match)."""
        return self._by_clause(self._bag_scores(weights, np.zeros(self._size)))

    def scores(self, query: Query) -> npt.NDArray[np.float64]:
        """Score of every clause: each concept adds its best-matching alternative."""
        total = np.zeros(self._size)
        best = np.empty(self._size)
        bag = np.empty(self._size)
        for concept in query.concepts:
            alternatives = [
                (stems, weight)
                for stems, weight in concept.alternatives()
                if any(t in self._info for t in stems)
            ]
            if not alternatives:  # no word of it is in any clause
                continue
            if len(alternatives) == 1 and len(alternatives[0][0]) == 1:
                [((term,), weight)] = alternatives  # one term, nothing to choose: add it in
                self._bag_scores({term: weight}, total)
                continue
            best.fill(0.0)
            for stems, weight in alternatives:
                if len(stems) == 1:  # one term's postings hold distinct ids: max in place
                    ids, values = self._postings[stems[0]]
                    best[ids] = np.maximum(best[ids], weight * values)
                    continue
                bag.fill(0.0)
                np.maximum(best, self._bag_scores(dict.fromkeys(stems, weight), bag), out=best)
            total += best
        return self._by_clause(total)

    def _bag_scores(
        self, weights: dict[str, float], into: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Add a bag of terms' weighted scores (clauses, then questions) into ``into``."""
        for term, query_weight in weights.items():
            posting = self._postings.get(term)
            if posting is not None:
                into[posting[0]] += query_weight * posting[1]
        return into

    def _by_clause(self, scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Each clause's own score plus its best alternate question's (0 if it has none)."""
        n = len(self.entries)
        clauses, questions = scores[:n], scores[n:]
        if len(questions):
            clauses[self._question_owners] += np.maximum.reduceat(questions, self._question_starts)
        return clauses

    def search(self, query: Query, k: int = 3) -> list[Hit]:
        """The ``k`` best clauses for a query, best first; clauses scoring 0 are left out.

        BM25 finds the candidates; they are then ordered by BM25 times how much of the
        question each covers, so a clause that matches one word of the question very well
        does not beat one that matches all of it a little less well.
        """
        if not query.concepts or not self.entries:
            return []
        total = self.scores(query)
        weighed = self._weighed(query)
        pool = min(RERANK_POOL, len(total))
        top = np.argpartition(-total, pool - 1)[:pool]
        ranked = []
        for i, score in zip(top.tolist(), total[top].tolist(), strict=True):
            if score > 0:
                coverage, direct = self._coverage(weighed, i)
                key = -score * (COVERAGE_FLOOR + coverage) ** 2
                ranked.append((key, i, score, coverage, direct))
        ranked.sort()  # by key, then entry: the first two fields differ for any two
        kept: list[Hit] = []
        for _, i, score, coverage, direct in ranked:
            if not any(self._restates(i, better.entry) for better in kept):
                kept.append(Hit(i, score, coverage, direct))
                if len(kept) == k:
                    break
        return kept

    def _restates(self, entry: int, better: int) -> bool:
        """True when a clause says again what a better-ranked clause says.

        Policies repeat themselves (a "key points" list, then the same rule in its
        section); offering the repeat as a related clause tells the reader nothing new.
        Only topic words count: "accept parents as friends" and "post about parents" share
        "must not", "staff" and "parents" but are different rules.
        """
        if self.entries[entry][1].obligation != self.entries[better][1].obligation:
            return False
        words, other = self._topic_terms[entry], self._topic_terms[better]
        shorter = min(self._weight_of(words), self._weight_of(other))
        return shorter > 0 and self._weight_of(words & other) >= RESTATEMENT_OVERLAP * shorter

    def _weight_of(self, terms: frozenset[str]) -> float:
        return sum(self._info[t] for t in terms)

    def information(self, concept: Concept) -> float:
        """How much a concept tells about the topic: the idf of its rarest known term.

        A recognised topic that no clause mentions counts as fully informative: a question
        about "parking" or a "day off" is about that, whatever else it shares with a clause.
        """
        known = [
            self._info[t]
            for stems, _ in concept.alternatives()
            for t in stems
            if t in self._info and not is_generic(t)
        ]
        if known:
            return max(known)
        return self._max_info * (1.0 if concept.recognised else UNKNOWN_INFORMATION)

    def coverage(self, query: Query, entry: int) -> float:
        """The share of the question's topic, by information, that a clause matches.

        A concept counts fully when its typed words are all in the clause's text, tags or
        section, and less when only a synonym, the telling word of a typed phrase, its
        curated alternate questions, or only a broader meaning match (the ``*_MATCH``
        weights).
        """
        return self._coverage(self._weighed(query), entry)[0]

    def _weighed(self, query: Query) -> list[_Matcher]:
        # What a concept can match, and how much it tells, depend on the question only:
        # work them out once, not once per candidate clause.
        return [self._matcher(concept) for concept in query.topical]

    def _matcher(self, concept: Concept) -> _Matcher:
        stems = frozenset(concept.stems)
        return _Matcher(
            weight=self.information(concept),
            typed=stems,
            synonyms=tuple(frozenset(p) for p, w in concept.expansions if w >= SYNONYM_WEIGHT),
            key=self._key_stem(concept.stems) if len(concept.stems) > 1 else None,
            expansions=tuple(frozenset(p) for p, _ in concept.expansions),
        )

    def _coverage(self, weighed: list[_Matcher], entry: int) -> tuple[float, bool]:
        """The coverage, and whether any concept matched more than by a broader meaning."""
        core, terms = self._core_terms[entry], self.doc_terms[entry]
        total = matched = 0.0
        direct = False
        for matcher in weighed:
            credit = matcher.credit(core, terms)
            total += matcher.weight
            matched += matcher.weight * credit
            direct = direct or credit > EXPANSION_MATCH
        return (matched / total if total else 0.0), direct

    def _key_stem(self, stems: tuple[str, ...]) -> str | None:
        """The most informative non-generic word of a phrase (unknown words count most)."""
        telling = [s for s in stems if not is_generic(s)]
        return max(telling, key=lambda s: self._info.get(s, math.inf), default=None)

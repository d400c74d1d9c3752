"""Retrieval: candidate-only scoring ranks exactly as rank_bm25 scores every clause."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rank_bm25 import BM25Plus

from bot.analysis import Analyzer, Query
from bot.knowledge import Clause, Policy, sha256_text
from bot.lexicon import EMPTY_LEXICON
from bot.retrieval import ClauseIndex

VOCABULARY = [f"word{i}" for i in range(300)]


def synthetic_policy(n: int, seed: int) -> Policy:
    rng = random.Random(seed)
    clauses = []
    for i in range(n):
        # Zipf-like: a few words are very common, most are rare.
        text = " ".join(
            VOCABULARY[min(int(rng.paretovariate(1.1)) - 1, 299)] for _ in range(rng.randint(3, 25))
        )
        clauses.append(Clause(id=f"c-{i}", section=("Only",), text=text))
    return Policy(
        id="synthetic",
        title="Synthetic",
        version="1",
        contact="nobody",
        source="none",
        content_hash=sha256_text(str(seed)),
        clauses=tuple(clauses),
    )


def indexed(clauses: tuple[Clause, ...]) -> tuple[Analyzer, ClauseIndex]:
    """An analyser (no lexicon) and an index over one small policy of these clauses."""
    policy = Policy(
        id="p",
        title="P",
        version="1",
        contact="x",
        source="s",
        content_hash=sha256_text("p"),
        clauses=clauses,
    )
    analyzer = Analyzer(EMPTY_LEXICON, [c.text for c in clauses])
    return analyzer, ClauseIndex([policy], analyzer)


@pytest.mark.parametrize("seed", range(5))
def test_candidate_scoring_matches_get_scores(seed: int) -> None:
    policy = synthetic_policy(400, seed)
    analyzer = Analyzer(EMPTY_LEXICON, [c.text for c in policy.clauses])
    index = ClauseIndex([policy], analyzer)
    bare = BM25Plus([analyzer.terms(c.text) for c in policy.clauses])
    rng = random.Random(seed + 100)
    for _ in range(20):
        terms = rng.sample(VOCABULARY[:60], rng.randint(1, 5))
        mine = index.term_scores(dict.fromkeys(terms, 1.0))
        theirs = bare.get_scores(terms)
        constant = sum(bare.idf.get(t, 0.0) * bare.delta for t in terms)
        assert np.allclose(mine, theirs - constant)
        # Same order; ties (equal in exact arithmetic) are compared after rounding.
        order_mine = np.argsort(-np.round(mine, 9), kind="stable")
        order_theirs = np.argsort(-np.round(theirs - constant, 9), kind="stable")
        assert np.array_equal(order_mine, order_theirs)


def test_search_returns_best_first_and_skips_non_matching() -> None:
    policy = synthetic_policy(50, 7)
    analyzer = Analyzer(EMPTY_LEXICON, [c.text for c in policy.clauses])
    index = ClauseIndex([policy], analyzer)
    query = analyzer.query("word40 word41")
    hits = index.search(query, k=3)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.score > 0 for h in hits)
    assert index.search(Query("", ()), k=3) == []


def test_fields_all_count_and_text_counts_most() -> None:
    clauses = (
        Clause(id="a", section=("Gambling",), text="Betting is covered elsewhere."),
        Clause(id="b", section=("Other",), text="Gambling is forbidden."),
        Clause(id="c", section=("Other",), text="Nothing here.", questions=("gambling?",)),
    )
    analyzer, index = indexed(clauses)
    hits = index.search(analyzer.query("gambling"), k=3)
    assert [index.entries[h.entry][1].id for h in hits] == ["b", "c", "a"]


def test_coverage_counts_unknown_words_below_recognised_topics() -> None:
    clauses = (
        Clause(id="a", section=("S",), text="Lunch breaks are free time."),
        Clause(id="b", section=("S",), text="Passwords must be secret."),
    )
    analyzer, index = indexed(clauses)
    whole = index.coverage(analyzer.query("lunch breaks"), 0)
    with_filler = index.coverage(analyzer.query("lunch breaks zorblax"), 0)
    assert whole == 1.0
    assert 0.5 < with_filler < 1.0


def test_still_ranks_a_rule_that_still_holds_but_is_never_a_topic() -> None:
    # "Do the rules still apply at home?" asks whether a rule holds in a new situation;
    # policies say so with "still" ("you must still follow ..."). The word ranks such a
    # clause first, but a clause lacking it covers the question just as fully.
    clauses = (
        Clause(id="home", section=("S",), text="Security rules apply at home and on trips."),
        Clause(id="still", section=("S",), text="At home, security rules still apply to laptops."),
    )
    analyzer, index = indexed(clauses)
    query = analyzer.query("do security rules still apply at home")
    hits = index.search(query, k=2)
    assert [index.entries[h.entry][1].id for h in hits] == ["still", "home"]
    assert index.coverage(query, 0) == 1.0
    assert index.coverage(analyzer.query("can i still park"), 0) == 0.0


def test_alternate_questions_count_one_by_one() -> None:
    # A clause with one alternate question typed almost as asked beats a clause that shares
    # one word, however many other phrasings the first clause lists.
    many = tuple(f"how about topic{i} and subject{i} and matter{i}" for i in range(14))
    clauses = (
        Clause(
            id="email",
            section=("S",),
            text="Use must be for legitimate purposes.",
            questions=("can i use my school email for personal stuff", *many),
        ),
        Clause(id="other", section=("S",), text="Personal email addresses are private."),
    )
    analyzer, index = indexed(clauses)
    hits = index.search(analyzer.query("school email for personal stuff"), k=2)
    assert [index.entries[h.entry][1].id for h in hits] == ["email", "other"]


def test_a_restated_clause_gives_way_to_the_next_one() -> None:
    # Policies repeat a rule in their key points and again in its section: the repeat is
    # not offered beside the rule, but a clause with the opposite obligation still is.
    clauses = (
        Clause(
            id="rule", section=("S",), text="Leave equipment unattended.", obligation="prohibited"
        ),
        Clause(
            id="repeat",
            section=("Key points",),
            text="Do not leave MoJ equipment unattended.",
            obligation="prohibited",
        ),
        Clause(id="lock", section=("S",), text="Lock your equipment when unattended."),
        Clause(
            id="allowed",
            section=("S",),
            text="You may leave equipment in a locked room.",
            obligation="permitted",
        ),
    )
    analyzer, index = indexed(clauses)
    hits = index.search(analyzer.query("can I leave equipment unattended"), k=3)
    ids = [index.entries[h.entry][1].id for h in hits]
    assert ids[0] in {"rule", "repeat"}
    assert not {"rule", "repeat"} <= set(ids)
    assert set(ids[1:]) == {"lock", "allowed"}


def test_different_rules_on_the_same_people_are_not_restatements() -> None:
    # "must not", "staff" and "pupils or parents" are shared; what is forbidden is not.
    clauses = (
        Clause(
            id="friend",
            section=("Social media",),
            text="Staff must not accept pupils or parents as friends on personal social networking"
            " sites.",
            obligation="prohibited",
        ),
        Clause(
            id="post",
            section=("Social media",),
            text="Staff must not post about pupils or parents on personal social networking sites.",
            obligation="prohibited",
        ),
        Clause(
            id="photos", section=("Photos",), text="Staff may photograph pupils on school devices."
        ),
        Clause(id="passwords", section=("Passwords",), text="Passwords must be kept private."),
    )
    analyzer, index = indexed(clauses)
    hits = index.search(analyzer.query("can I post about parents on social networking sites"))
    assert [index.entries[h.entry][1].id for h in hits][:2] == ["post", "friend"]

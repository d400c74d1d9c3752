"""Analysis: folding, stop words, stems, lexicon phrases, typo correction, known words."""

from __future__ import annotations

import pytest

from bot.analysis import EXPANSION_WEIGHT, SYNONYM_WEIGHT, Analyzer, fold, singular, words
from bot.lexicon import Lexicon

LEXICON = Lexicon.model_validate(
    {
        "groups": [
            {"words": ["insta", "instagram", "tiktok"], "means": ["social media"]},
            {"synonyms": ["pupil", "student", "year 9"]},
            {"words": ["smart speaker", "alexa"], "means": ["smart device"]},
            {"words": ["other teachers"], "equals": ["colleague"]},
        ]
    }
)
CORPUS = [
    "Staff must decline 'friend requests' from pupils on social media.",
    "Staff members must not edit open access online encyclopaedias such as *Wikipedia*.",
]


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(LEXICON, CORPUS)


def test_fold_straightens_quotes_and_drops_emphasis() -> None:
    assert fold("Pupils’ **MUST** ‘friend’").split() == ["pupils", "must", "'friend'"]
    assert words("Don’t share the *school's* e-mail") == [
        "dont",
        "share",
        "the",
        "school",
        "e",
        "mail",
    ]


def test_document_terms_are_stemmed_without_stop_words(analyzer: Analyzer) -> None:
    assert analyzer.terms("The pupils were requesting friends") == ["pupil", "request", "friend"]


def test_lexicon_phrases_expand_below_typed_words(analyzer: Analyzer) -> None:
    concepts = {
        c.surface: c for c in analyzer.query("a year 9 wants to follow me on insta").concepts
    }
    assert concepts["insta"].weight == 1.0
    assert dict(concepts["insta"].expansions) == {("social", "media"): EXPANSION_WEIGHT}
    # "year 9" is one concept (not "year" and "9"), and a synonym of "pupil".
    assert dict(concepts["year 9"].expansions)[("pupil",)] == SYNONYM_WEIGHT
    assert EXPANSION_WEIGHT < SYNONYM_WEIGHT < 1.0


def test_lexicon_lookup_folds_plurals_but_does_not_stem(analyzer: Analyzer) -> None:
    assert singular("parents") == "parent" and singular("policies") == "policy"
    assert singular("class") == "class"
    concepts = analyzer.query("pupils").concepts
    assert dict(concepts[0].expansions)[("student",)] == SYNONYM_WEIGHT


def test_longest_phrase_wins(analyzer: Analyzer) -> None:
    concept = analyzer.query("turn off the smart speaker")
    assert [c.surface for c in concept.concepts if c.expansions] == ["smart speaker"]


def test_typos_are_corrected_against_the_vocabulary(analyzer: Analyzer) -> None:
    query = analyzer.query("can I edit wikipeda")
    corrected = [c for c in query.concepts if c.corrected]
    assert [c.stems for c in corrected] == [("wikipedia",)]
    assert corrected[0].weight < 1.0


def test_short_words_are_not_corrected(analyzer: Analyzer) -> None:
    assert not any(c.corrected for c in analyzer.query("can I poke pupls").concepts[:1])


def test_generic_and_unknown_words_are_flagged(analyzer: Analyzer) -> None:
    concepts = {c.surface: c for c in analyzer.query("is parking allowed at school").concepts}
    assert concepts["allowed"].generic and concepts["school"].generic
    assert not concepts["parking"].generic and not concepts["parking"].recognised
    # Asking whether something is "a problem" frames the question, like "ok" or "allowed".
    framing = {c.surface: c for c in analyzer.query("is it a problem if I park here").concepts}
    assert framing["problem"].generic and not framing["park"].generic
    # "still" says a rule goes on holding; it ranks weakly, like "allowed", not a topic.
    assert {c.surface: c for c in analyzer.query("can I still park").concepts}["still"].generic


def test_known_words_are_vocabulary_lexicon_or_stop_words(analyzer: Analyzer) -> None:
    assert analyzer.is_known("pupils") and analyzer.is_known("Insta") and analyzer.is_known("can")
    assert not analyzer.is_known("Jayden")
    assert not analyzer.is_known("07700")


def test_a_phrase_of_generic_words_means_only_what_the_lexicon_says(analyzer: Analyzer) -> None:
    # "teachers" alone is generic; "other teachers" are colleagues, and must not count as
    # found in every clause that says "teachers".
    (concept,) = analyzer.query("other teachers").concepts
    assert concept.stems == () and not concept.generic
    assert list(concept.alternatives()) == [(("colleagu",), SYNONYM_WEIGHT)]


def test_personal_is_not_stemmed_to_person(analyzer: Analyzer) -> None:
    # "person" is a generic word ("the person next to me"); "personal use" is a topic.
    assert analyzer.terms("personal persons personally") == ["personal", "person", "personal"]
    assert analyzer.terms("business busy") == ["business", "busi"]


def test_an_allowance_is_money_not_permission(analyzer: Analyzer) -> None:
    # "allowed" is a generic word; "the working from home allowance" is about pay.
    (allowance,) = analyzer.query("allowance").concepts
    (allowed,) = analyzer.query("allowed").concepts
    assert not allowance.generic and allowed.generic
    assert analyzer.terms("allowances allowed") == ["allowanc", "allow"]
    assert analyzer.terms("fined fines fine") == ["fined", "fined", "fine"]


def test_a_question_of_many_unknown_words_looks_up_only_so_many_as_typos() -> None:
    from bot.analysis import TYPO_LOOKUPS_PER_QUESTION

    analyzer = Analyzer(Lexicon(groups=()), ["password", "photocopier"])
    looked_up: list[str] = []
    nearest = analyzer._nearest_spelling

    def counting(word: str) -> str | None:
        looked_up.append(word)
        return nearest(word)

    analyzer._nearest_spelling = counting  # type: ignore[method-assign]
    garbage = " ".join(f"qx{i}zzyv" for i in range(200))
    analyzer.query(f"pasword {garbage} photocpier")
    assert len(looked_up) == TYPO_LOOKUPS_PER_QUESTION
    assert analyzer.query("pasword").concepts[0].stems == ("password",)

"""Retrieval quality, pinned: the shared question sets run with floors.

The sets live in ``../shared/eval`` beside the repository (as in CI). A regression in
analysis, lexicon, knowledge or the answer rule fails here. The floors are the figures
reached so far where they fall short of the product's targets (``TARGETS``): raise them
as retrieval improves, never lower them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluation import EvalReport, evaluate, read_questions
from bot.service import Library, PolicyBot, bundled_knowledge_dir

SHARED = Path(__file__).resolve().parents[3] / "shared"
pytestmark = pytest.mark.skipif(
    not (SHARED / "eval").is_dir(), reason=f"question sets not found at {SHARED / 'eval'}"
)


def score(bot: PolicyBot, name: str) -> EvalReport:
    return evaluate(read_questions(SHARED / "eval" / name), bot.ask)


#: The product's targets (issue #2); floors below are what is reached today.
TARGETS = {"seed_top1": 0.95, "seed_top3": 0.98, "moj_top1": 0.65, "moj_top3": 0.85}
SEED_TOP1_FLOOR = 0.975
MOJ_TOP1_FLOOR = 0.65
MOJ_TOP3_FLOOR = 0.85


def test_bundled_policy_meets_the_floors() -> None:
    report = score(PolicyBot(Library.load(bundled_knowledge_dir())), "seed-dev-questions.jsonl")
    misses = [m.question for m in report.misses]
    assert report.top1 >= SEED_TOP1_FLOOR, misses
    assert report.top3 >= TARGETS["seed_top3"], misses
    assert report.declined_uncovered >= report.uncovered - 1, misses
    assert report.wrongly_declined <= 1, misses


def test_uncurated_ingested_policy_meets_the_floors(tmp_path: Path) -> None:
    from bot.ingest import ingest_to_folder

    ingest_to_folder(SHARED / "policies" / "moj-remote-working.md", tmp_path / "moj")
    report = score(PolicyBot(Library.load(tmp_path / "moj")), "moj-remote-working.questions.jsonl")
    misses = [m.question for m in report.misses]
    assert report.top1 >= MOJ_TOP1_FLOOR, misses
    assert report.top3 >= MOJ_TOP3_FLOOR, misses


# Our own question sets (tests/data/questions), written while tuning: chat-style questions on
# the other shared policies, and questions none of the policies covers. They pin behaviour
# against regressions; they do not measure generality, which unseen sets judge.
OWN = Path(__file__).resolve().parents[1] / "data" / "questions"


@pytest.mark.parametrize(
    ("policy", "questions", "top1", "top3", "wrongly_declined", "answered_uncovered"),
    [
        ("gitlab-social-media.md", "gitlab-social-media.jsonl", 0.60, 0.93, 4, 0),
        ("moj-acceptable-use.md", "moj-acceptable-use.jsonl", 0.80, 0.93, 5, 0),
        ("moj-remote-working.md", "moj-remote-working.uncovered.jsonl", 0, 0, 0, 0),
        # Known false answers: "what's the wifi password?" (the passwords clause) and
        # "can I swap my lunch duty?" (lunch breaks, professional duties).
        (None, "staff-acceptable-use.uncovered.jsonl", 0, 0, 0, 2),
        # Everyday workplace questions no policy here answers, asked of each one. Known false
        # answers: "who do i tell if the heating is broken in my office" (bundled) and "my
        # laptop charger is broken, where do i get a new one" (MoJ remote working).
        (None, "workplace.uncovered.jsonl", 0, 0, 0, 1),
        ("moj-remote-working.md", "workplace.uncovered.jsonl", 0, 0, 0, 1),
        ("moj-acceptable-use.md", "workplace.uncovered.jsonl", 0, 0, 0, 0),
        ("gitlab-social-media.md", "workplace.uncovered.jsonl", 0, 0, 0, 0),
    ],
)
def test_own_question_sets_meet_their_floors(
    tmp_path: Path,
    policy: str | None,
    questions: str,
    top1: float,
    top3: float,
    wrongly_declined: int,
    answered_uncovered: int,
) -> None:
    from bot.ingest import ingest_to_folder

    folder = bundled_knowledge_dir()
    if policy is not None:
        folder = tmp_path / "ingested"
        ingest_to_folder(SHARED / "policies" / policy, folder)
    report = evaluate(read_questions(OWN / questions), PolicyBot(Library.load(folder)).ask)
    misses = [m.question for m in report.misses]
    assert report.top1 >= top1 and report.top3 >= top3, misses
    assert report.wrongly_declined <= wrongly_declined, misses
    assert report.uncovered - report.declined_uncovered <= answered_uncovered, misses

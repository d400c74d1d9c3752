"""Scoring question sets: how often the bot quotes the right clause, and declines right.

A question file has one JSON object per line: ``{"q": "...", "answers": ["snippet", ...]}``
where a reply is right when its first clause contains any snippet (after folding case,
curly quotes, ``*``/``_`` emphasis and white space), and ``"answers": null`` marks a
question the policy does not cover, which the bot should decline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.chat import Citation, Reply
from bot.errors import QuestionError

_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "*": "", "_": ""})


def fold_snippet(text: str) -> str:
    """Fold text the way the question sets compare it."""
    return re.sub(r"\s+", " ", text.translate(_QUOTES).casefold()).strip()


class EvalQuestion(BaseModel):
    """One line of a question file."""

    model_config = ConfigDict(frozen=True)

    q: str
    answers: tuple[str, ...] | None


class EvalOutcome(BaseModel):
    """How the bot did on one question."""

    question: str
    covered: bool
    answered: bool
    rank: int | None
    reply: str
    first_clause: str | None


class EvalReport(BaseModel):
    """The figures for a question set, and each miss."""

    total: int
    answerable: int
    uncovered: int
    top1: float
    top3: float
    declined_uncovered: int
    wrongly_declined: int
    accuracy: float
    misses: list[EvalOutcome]


def read_questions(path: Path) -> list[EvalQuestion]:
    """Parse a question file; ``QuestionError`` names the line that does not parse."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise QuestionError(f"{path}: cannot be read ({exc.strerror}).") from None
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(EvalQuestion.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError):
            raise QuestionError(f"{path}, line {number}: not a question object.") from None
    if not questions:
        raise QuestionError(f"{path}: no questions.")
    return questions


def rank_of(answers: Iterable[str], clauses: Iterable[Citation]) -> int | None:
    """1-based rank of the first clause containing any expected snippet, else None."""
    wanted = [fold_snippet(a) for a in answers]
    for rank, clause in enumerate(clauses, start=1):
        text = fold_snippet(clause.text)
        if any(w in text for w in wanted):
            return rank
    return None


def evaluate(questions: list[EvalQuestion], ask: Callable[[str], Reply]) -> EvalReport:
    """Ask every question and score the replies."""
    outcomes = []
    for item in questions:
        reply = ask(item.q)
        rank = rank_of(item.answers, reply.clauses) if item.answers is not None else None
        outcomes.append(
            EvalOutcome(
                question=item.q,
                covered=item.answers is not None,
                answered=reply.answered,
                rank=rank,
                reply=reply.text,
                first_clause=reply.clauses[0].text if reply.clauses else None,
            )
        )
    covered = [o for o in outcomes if o.covered]
    uncovered = [o for o in outcomes if not o.covered]
    right = [o for o in covered if o.answered and o.rank == 1]
    declined_right = [o for o in uncovered if not o.answered]
    misses = [o for o in covered if o.rank != 1 or not o.answered]
    misses += [o for o in uncovered if o.answered]
    return EvalReport(
        total=len(outcomes),
        answerable=len(covered),
        uncovered=len(uncovered),
        top1=_share(sum(o.rank == 1 for o in covered), len(covered)),
        top3=_share(sum(o.rank is not None for o in covered), len(covered)),
        declined_uncovered=len(declined_right),
        wrongly_declined=sum(not o.answered for o in covered),
        accuracy=_share(len(right) + len(declined_right), len(outcomes)),
        misses=misses,
    )


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0

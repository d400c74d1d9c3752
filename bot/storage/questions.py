"""The question log: one row per question any surface answered or declined.

What is kept is what HR trends need and nothing finer: the ISO week, the platform, the
clauses offered with their scores, answered or declined, feedback when given, the question
with every unknown word masked (``bot.privacy.mask_question``) and the asker as a keyed,
yearly-rotated pseudonym. A created date (day only) lets ``prune`` honour the retention
period. The unmasked question and the platform user id never leave ``log``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, delete, select, update

from bot.errors import StorageError
from bot.privacy import mask_question, pseudonym
from bot.storage import ledger
from bot.storage.database import Database
from bot.storage.schema import question_clauses, questions

logger = logging.getLogger(__name__)


class LoggedClause(BaseModel):
    """A clause offered for a logged question."""

    model_config = ConfigDict(frozen=True)

    policy_id: str
    clause_id: str
    score: float


class LoggedQuestion(BaseModel):
    """One row of the question log, as trends read it."""

    model_config = ConfigDict(frozen=True)

    id: int
    week: str
    platform: str
    asker: str | None
    question: str
    answered: bool
    helpful: bool | None
    clauses: tuple[LoggedClause, ...]


@dataclass(frozen=True)
class QuestionRow:
    """One question as the log keeps it: already masked and pseudonymised."""

    week: str
    created_on: date
    platform: str
    asker: str | None
    question: str
    answered: bool
    clauses: tuple[tuple[str, str, float], ...]


def prepare(
    secret: bytes,
    *,
    platform: str,
    user: str | None,
    workspace: str | None,
    question: str,
    is_known: Callable[[str], bool],
    answered: bool,
    clauses: Sequence[tuple[str, str, float]],
    when: datetime | None = None,
) -> QuestionRow:
    """Mask and pseudonymise one question for the log; the unmasked text stops here.

    ``secret`` keys the asker's pseudonym. Only the ISO week and the day of ``when`` stay.
    """
    day = _utc_day(when)
    iso = day.isocalendar()
    return QuestionRow(
        week=f"{iso.year}-W{iso.week:02d}",
        created_on=day,
        platform=platform,
        asker=None if user is None else pseudonym(secret, platform, workspace, user, iso.year),
        question=mask_question(question, is_known),
        answered=answered,
        clauses=tuple((p, c, float(score)) for p, c, score in clauses),
    )


# Built once: every question is inserted through them. SQLAlchemy can only promise ids in
# the rows' order on SQLite by inserting one row per statement; SQLite numbers the rows of
# one INSERT in the order it inserts them (the largest id so far plus one, under the write
# lock), so there the ids are sorted instead and a batch is one statement.
_INSERT_QUESTIONS = questions.insert().returning(questions.c.id, sort_by_parameter_order=True)
_INSERT_QUESTIONS_SQLITE = questions.insert().returning(questions.c.id)
_INSERT_OFFERED = question_clauses.insert()


def insert(conn: Connection, rows: Sequence[QuestionRow]) -> list[int]:
    """Insert prepared rows on an open write transaction; their ids, in the same order.

    Two statements whatever the number of rows (SQLAlchemy's "insertmanyvalues").
    """
    if not rows:
        return []
    sqlite = conn.dialect.name == "sqlite"
    ids = conn.execute(
        _INSERT_QUESTIONS_SQLITE if sqlite else _INSERT_QUESTIONS,
        [
            {
                "week": row.week,
                "created_on": row.created_on,
                "platform": row.platform,
                "asker": row.asker,
                "question": row.question,
                "answered": row.answered,
            }
            for row in rows
        ],
    ).scalars()
    log_ids = sorted(int(i) for i in ids) if sqlite else [int(i) for i in ids]
    offered = [
        {
            "question_id": log_id,
            "rank": rank,
            "policy_id": policy_id,
            "clause_id": clause_id,
            "score": score,
        }
        for log_id, row in zip(log_ids, rows, strict=True)
        for rank, (policy_id, clause_id, score) in enumerate(row.clauses)
    ]
    if offered:
        conn.execute(_INSERT_OFFERED, offered)
    return log_ids


@dataclass(frozen=True)
class Entry:
    """A question for the log, with the delivery it answers (``claim``) if there is one."""

    row: QuestionRow
    claim: str | None = None


def insert_claimed(conn: Connection, entries: Sequence[Entry]) -> list[int | None]:
    """Claim each entry's delivery and log the entries that won theirs, in one transaction.

    Returns each entry's row id, or None where its claim was already taken (a retry: no
    second row, and the caller gives no second answer). Claim and row commit together, so
    a claimed delivery always has its question logged.
    """
    claimed = ledger.claim_keys(conn, [e.claim for e in entries if e.claim is not None])
    logged: list[int] = []  # positions of the entries that get a row
    for position, entry in enumerate(entries):
        if entry.claim is None:
            logged.append(position)
        elif entry.claim in claimed:
            claimed.discard(entry.claim)  # a key twice in one batch: the first one wins
            logged.append(position)
    ids = insert(conn, [entries[p].row for p in logged])
    found: list[int | None] = [None] * len(entries)
    for position, log_id in zip(logged, ids, strict=True):
        found[position] = log_id
    return found


def log(
    db: Database,
    secret: bytes,
    *,
    platform: str,
    user: str | None,
    workspace: str | None,
    question: str,
    is_known: Callable[[str], bool],
    answered: bool,
    clauses: Sequence[tuple[str, str, float]],
    when: datetime | None = None,
) -> int:
    """Store one masked question in its own transaction; return its row id (for feedback).

    ``secret`` keys the asker's pseudonym. (``Store`` batches concurrent questions instead.)
    """
    row = prepare(
        secret,
        platform=platform,
        user=user,
        workspace=workspace,
        question=question,
        is_known=is_known,
        answered=answered,
        clauses=clauses,
        when=when,
    )
    with db.write(durable=False) as conn:
        [log_id] = insert(conn, [row])
    logger.debug("logged question %d (%s, answered=%s)", log_id, platform, answered)
    return log_id


def feedback(db: Database, log_id: int, helpful: bool) -> None:
    """Record whether the answer helped; a second click replaces the first."""
    with db.write(durable=False) as conn:
        changed = conn.execute(
            update(questions).where(questions.c.id == log_id).values(helpful=helpful)
        ).rowcount
    if not changed:
        raise StorageError(f"Question {log_id} is not in the log (pruned, or never logged).")


def prune(db: Database, retention_days: int, now: datetime | None = None) -> int:
    """Delete questions logged more than ``retention_days`` days ago; return how many."""
    cutoff = _utc_day(now) - timedelta(days=retention_days)
    with db.write(durable=False) as conn:
        # The clauses go by ON DELETE CASCADE (foreign keys are on for SQLite too).
        removed = conn.execute(delete(questions).where(questions.c.created_on < cutoff)).rowcount
    logger.info("pruned %d questions logged before %s", removed, cutoff.isoformat())
    return int(removed)


def rows(db: Database, since_week: str | None = None) -> list[LoggedQuestion]:
    """Logged questions (optionally from an ISO week on), oldest first, with clauses."""
    chosen = select(questions.c.id)
    if since_week is not None:
        chosen = chosen.where(questions.c.week >= since_week)
    with db.read() as conn:
        found = conn.execute(
            select(questions).where(questions.c.id.in_(chosen)).order_by(questions.c.id)
        ).all()
        offered: dict[int, list[LoggedClause]] = {}
        clause_query = (
            select(question_clauses)
            .where(question_clauses.c.question_id.in_(chosen))
            .order_by(question_clauses.c.question_id, question_clauses.c.rank)
        )
        for clause in conn.execute(clause_query):
            offered.setdefault(clause.question_id, []).append(
                LoggedClause(
                    policy_id=clause.policy_id, clause_id=clause.clause_id, score=clause.score
                )
            )
    return [
        LoggedQuestion(
            id=row.id,
            week=row.week,
            platform=row.platform,
            asker=row.asker,
            question=row.question,
            answered=row.answered,
            helpful=row.helpful,
            clauses=tuple(offered.get(row.id, ())),
        )
        for row in found
    ]


def _utc_day(when: datetime | None) -> date:
    moment = datetime.now(UTC) if when is None else when
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()

"""The one query HR trends need: the question log, lean, with askers already made opaque.

``Store.logged_questions`` builds a pydantic model for every row and every offered clause,
which costs about 55 µs a row (nearly 3 s for a year of a large school's questions), and it
hands out the askers' pseudonyms. Trends need neither: only the best clause of each
question, and a way to count distinct askers. So this query asks the database for the best
clause alone and replaces each pseudonym by its ``DENSE_RANK`` within its ISO year; the
pseudonym strings never leave the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import and_, func, select

from bot.storage.schema import question_clauses, questions

if TYPE_CHECKING:
    from bot.storage.store import Store


class TrendRecord(NamedTuple):
    """One logged question as trends read it. ``asker`` is a small integer, not an id.

    Two records share ``asker`` exactly when they were logged in the same ISO year with the
    same pseudonym (or both without one: unknown askers count as one, so they never
    inflate a count). The numbering means nothing outside one call.
    """

    week: str
    asker: int
    policy_id: str | None
    clause_id: str | None
    answered: bool
    helpful: bool | None
    question: str


def trend_records(
    store: Store, since_week: str | None = None, until_week: str | None = None
) -> list[TrendRecord]:
    """Logged questions from ``since_week`` to ``until_week`` (ISO weeks, inclusive), oldest
    first, each with its best clause (if any) and an opaque asker number."""
    q, c = questions, question_clauses
    year = func.substr(q.c.week, 1, 4)
    asker = func.dense_rank().over(order_by=(year, q.c.asker))
    query = (
        select(
            q.c.week,
            asker,
            c.c.policy_id,
            c.c.clause_id,
            q.c.answered,
            q.c.helpful,
            q.c.question,
        )
        .select_from(q.outerjoin(c, and_(c.c.question_id == q.c.id, c.c.rank == 0)))
        .order_by(q.c.id)
    )
    if since_week is not None:
        query = query.where(q.c.week >= since_week)
    if until_week is not None:
        query = query.where(q.c.week <= until_week)
    with store.db.read() as conn:
        return [
            TrendRecord(
                str(row[0]),
                int(row[1]),
                row[2],
                row[3],
                bool(row[4]),
                None if row[5] is None else bool(row[5]),
                str(row[6]),
            )
            for row in conn.execute(query)
        ]

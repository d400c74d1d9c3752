"""The answer rule: quote the best clause, or decline honestly.

A clause answers a question when it covers more than half of what the question is about,
weighed by information (see ``ClauseIndex.coverage``), and names at least one of its topics
in the asker's words or a synonym. A clause that shares only broader meanings with a
question ("equipment" for "photocopier") does not answer, however much of it they cover.
The rule is the same for every policy and needs no score threshold:
BM25 scores are not comparable across questions, but "the clause mentions most of what
you asked about" is. A question whose words are
all stop words or generic ("is it allowed at school?") covers nothing and is declined.
"""

from __future__ import annotations

from bot.analysis import Query
from bot.chat import Citation, Reply
from bot.retrieval import ClauseIndex, Hit

#: Share of the question's information a clause must exceed to be given as the answer.
COVERAGE_TO_ANSWER = 0.5
#: A runner-up is offered beside the answer when it scores at least this share of it.
RELATED_SCORE_SHARE = 0.6
MAX_RELATED = 2


def answers(hit: Hit) -> bool:
    """True when a clause may be given as the answer to the question it was found for."""
    return hit.direct and hit.coverage > COVERAGE_TO_ANSWER


def to_citation(index: ClauseIndex, hit: Hit) -> Citation:
    """The clause behind a hit, with where it comes from."""
    policy, clause = index.entries[hit.entry]
    return Citation(
        id=clause.id,
        policy=policy.id,
        policy_title=policy.title,
        version=policy.version,
        section=clause.section_title,
        text=clause.text,
        obligation=clause.obligation,
        score=round(hit.score, 4),
    )


def answer(index: ClauseIndex, query: Query, hits: list[Hit], contact: str) -> Reply:
    """Build the reply for an analysed question from its ranked hits."""
    clauses = tuple(to_citation(index, hit) for hit in hits[:3])
    if not hits or not answers(hits[0]):
        return decline(query.text, clauses, contact)
    best = hits[0]
    related = tuple(
        to_citation(index, hit)
        for hit in hits[1 : 1 + MAX_RELATED]
        if hit.score >= RELATED_SCORE_SHARE * best.score and answers(hit)
    )
    return quote(query.text, clauses[0], related, clauses, contact)


def quote(
    question: str,
    citation: Citation,
    related: tuple[Citation, ...],
    clauses: tuple[Citation, ...],
    contact: str,
) -> Reply:
    """A reply that quotes one clause, with its citation and related clauses."""
    plain = citation.obligation.to_plain_words()
    lines = [plain, f"“{citation.text}”", f"— {citation.reference}"]
    if related:
        lines.append("Related: " + "; ".join(f"{c.section} ({c.id})" for c in related))
    return Reply(
        question=question,
        answered=True,
        text="\n".join(lines),
        obligation=plain,
        answer=citation,
        related=related,
        clauses=clauses or (citation,),
        contact=contact,
    )


def decline(question: str, clauses: tuple[Citation, ...], contact: str) -> Reply:
    """A reply saying the policy does not cover the question, and who to ask."""
    return Reply(
        question=question,
        answered=False,
        text=f"The policy doesn't cover this. Please ask {contact}.",
        clauses=clauses,
        contact=contact,
    )

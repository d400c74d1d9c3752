"""``PolicyBot``: the core's one front door for chat.

Adapters build one ``PolicyBot`` per process and call ``handle`` for every question.
It is synchronous; async adapters call it through ``asyncio.to_thread`` because it may
touch the database (the question log).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from bot.analysis import Analyzer
from bot.answers import answer, quote, to_citation
from bot.chat import Incoming, Platform, Reply
from bot.config import Settings
from bot.errors import KnowledgeError, QuestionError, StorageError
from bot.futures import loop_future
from bot.knowledge import LEXICON_FILE, Policy, load_policies
from bot.lexicon import EMPTY_LEXICON, Lexicon, load_lexicon
from bot.retrieval import ClauseIndex, Hit

if TYPE_CHECKING:
    from bot.storage import Store

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4000
EXAMPLES = (
    "can I friend a parent on facebook?",
    "a pupil wants to follow me on instagram",
    "can I take photos of my class on my own phone?",
    "is online shopping ok on the school network?",
)


def bundled_knowledge_dir() -> Path:
    """The knowledge folder shipped with PolicyBot (the school's policy and the lexicon)."""
    installed = Path(str(resources.files("bot") / "bundled_knowledge"))
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "knowledge"


@dataclass(frozen=True)
class Library:
    """Loaded policies with their lexicon, analyser and index."""

    policies: tuple[Policy, ...]
    lexicon: Lexicon
    analyzer: Analyzer
    index: ClauseIndex

    @classmethod
    def load(cls, knowledge_dir: Path) -> Library:
        """Load every policy in a knowledge folder, and the lexicon beside them.

        The lexicon is looked for in the folder, then (for a folder made by
        ``policybot ingest``) in the bundled knowledge.
        """
        return cls.from_policies(tuple(load_policies(knowledge_dir)), _find_lexicon(knowledge_dir))

    @classmethod
    def from_policies(cls, policies: tuple[Policy, ...], lexicon: Lexicon) -> Library:
        """Analyse and index policies already loaded."""
        corpus = [
            text
            for p in policies
            for c in p.clauses
            for text in (c.text, *c.section, *c.questions, *c.tags)
        ]
        analyzer = Analyzer(lexicon, corpus)
        return cls(policies, lexicon, analyzer, ClauseIndex(policies, analyzer))


def _find_lexicon(knowledge_dir: Path) -> Lexicon:
    for folder in (knowledge_dir, knowledge_dir.parent, bundled_knowledge_dir()):
        path = folder / LEXICON_FILE
        if path.is_file():
            return load_lexicon(path)
    return EMPTY_LEXICON


class PolicyBot:
    """Answers questions from the loaded policies and logs them.

    Example::

        bot = PolicyBot.from_settings(Settings())
        reply = bot.handle(Incoming(text="can I friend a parent?"))
        print(reply.text)
    """

    MAX_QUESTION_CHARS = MAX_QUESTION_CHARS

    def __init__(self, library: Library, store: Store | None = None) -> None:
        self.library = library
        self.store = store

    @classmethod
    def from_settings(cls, settings: Settings, store: Store | None = None) -> PolicyBot:
        """Load the knowledge folder the settings name (or the bundled one)."""
        folder = settings.knowledge_dir or bundled_knowledge_dir()
        return cls(Library.load(folder), store)

    def warm_up(self) -> None:
        """Load on start-up what answering would otherwise load on first use (servers)."""
        self.library.analyzer.warm_up()

    @property
    def policies(self) -> list[Policy]:
        """The loaded policies."""
        return list(self.library.policies)

    @property
    def examples(self) -> list[str]:
        """Example questions to show people who are new to the bot."""
        return list(EXAMPLES)

    @property
    def contact(self) -> str:
        """Who to ask when the policies do not answer."""
        contacts = list(dict.fromkeys(p.contact for p in self.library.policies))
        return " or ".join(contacts) if contacts else "your line manager"

    def ask(self, question: str) -> Reply:
        """Answer a question without logging it (the CLI and evaluation use this)."""
        text = check_question(question)
        query = self.library.analyzer.query(text)
        hits = self.library.index.search(query, k=3)
        return answer(self.library.index, query, hits, self._contact_for(hits))

    def handle(self, incoming: Incoming) -> Reply:
        """Answer a chat question and record it in the question log.

        Raises ``QuestionError`` (with a sentence to show) for an empty question or one
        over ``MAX_QUESTION_CHARS``. A database failure never stops the answer: the reply
        then has no ``log_id``. Waits for the log's commit; see ``submit``.
        """
        reply = self.submit(incoming).result()
        if reply is None:  # only a claimed delivery is ever refused
            raise StorageError("The question log refused a question without a claim.")
        return reply

    def submit(
        self,
        incoming: Incoming,
        *,
        claim: str | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Future[Reply | None]:
        """Answer a chat question now; log it without blocking the caller on the database.

        The answer is worked out at once (CPU only; ``QuestionError`` is raised here). The
        future holds the reply, with its ``log_id``, once the question log has committed it:
        an adapter posts the answer only then. With ``claim`` (a platform delivery key, see
        ``Store.claim_delivery``) the key is claimed in the same transaction, and the future
        holds None if it was claimed before (a retry: no second answer, no second row).
        A database failure never stops the answer: the reply then has no ``log_id``.

        An async adapter uses ``submit_async`` instead, on its event loop.
        """
        reply = self.ask(incoming.text)
        answered: Future[Reply | None] = Future()
        answered.set_running_or_notify_cancel()  # under way: a caller cannot cancel the log
        if self.store is None:
            answered.set_result(reply)
            return answered
        try:
            logged = self.store.submit_question(
                platform=incoming.platform,
                user=incoming.user,
                workspace=incoming.workspace,
                question=reply.question,
                is_known=self.library.analyzer.is_known,
                answered=reply.answered,
                clauses=[(c.policy, c.id, c.score) for c in reply.clauses],
                claim=claim,
                loop=loop,
            )
        except StorageError as exc:
            log.warning("question not logged (%s): %s", incoming.platform, type(exc).__name__)
            answered.set_result(reply)
            return answered

        def settle(done: Future[int | None]) -> None:
            # Runs where the batch holding this question was written, once it ended.
            error = done.exception()
            if error is not None:  # better to risk a duplicate than to stay silent
                log.warning("question not logged (%s): %s", incoming.platform, type(error).__name__)
                answered.set_result(reply)
            elif done.result() is None:
                log.info("delivery %s already answered", claim)
                answered.set_result(None)
            else:
                answered.set_result(reply.model_copy(update={"log_id": done.result()}))

        logged.add_done_callback(settle)
        return answered

    async def submit_async(self, incoming: Incoming, *, claim: str | None = None) -> Reply | None:
        """``submit`` for an async adapter: the same reply, awaited on the running loop.

        The log may then commit on that loop (SQLite), which costs less than a hand-over to
        the writer thread (see ``bot/storage/group_commit.py``), and a commit made there
        wakes this coroutine without the cross-thread call ``asyncio.wrap_future`` makes.

        Example::

            reply = await bot.submit_async(incoming, claim="slack:Ev1")
        """
        loop = asyncio.get_running_loop()
        return await loop_future(self.submit(incoming, claim=claim, loop=loop), loop)

    def explain(self, clause_id: str, platform: Platform = "cli") -> Reply:
        """A reply showing one clause by id (for "related clause" buttons)."""
        index = self.library.index
        for i, (_, clause) in enumerate(index.entries):
            if clause.id == clause_id:
                citation = to_citation(index, Hit(i, 0.0, 1.0))
                return quote(clause.text, citation, (), (citation,), self._contact_for([]))
        raise KnowledgeError(f"No clause with id {clause_id!r}.")

    def record_feedback(self, log_id: int, helpful: bool) -> None:
        """Record whether an answer helped. Raises ``StorageError`` if it cannot."""
        if self.store is None:
            raise StorageError("No database is configured, so feedback cannot be recorded.")
        self.store.record_feedback(log_id, helpful)

    def help_text(self) -> str:
        """What PolicyBot can do, for ``/policy help`` and friends."""
        titles = "; ".join(f"{p.title} (version {p.version})" for p in self.library.policies)
        examples = "\n".join(f"• {q}" for q in EXAMPLES)
        return (
            "Ask me about our policies in your own words and I'll quote the clause that "
            f"answers, with its section and version. I know: {titles}.\n"
            f"Try:\n{examples}\n"
            f"If a policy doesn't cover your question I'll say so; then ask {self.contact}."
        )

    def _contact_for(self, hits: list[Hit]) -> str:
        if hits:
            policy, _ = self.library.index.entries[hits[0].entry]
            if len(self.library.policies) == 1 or hits[0].coverage > 0:
                return policy.contact
        return self.contact


def check_question(question: str) -> str:
    """The question, trimmed; ``QuestionError`` if empty or too long."""
    text = question.strip()
    if not text:
        raise QuestionError("Please type a question, for example: " + EXAMPLES[0])
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"That question is {len(text):,} characters long; please ask it in "
            f"{MAX_QUESTION_CHARS:,} characters or fewer."
        )
    return text

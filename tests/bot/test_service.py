"""PolicyBot's front door: answers quote and cite, declines name the contact, limits hold."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.chat import Incoming, Reply
from bot.config import Settings
from bot.errors import KnowledgeError, QuestionError
from bot.knowledge import Clause, Obligation, Policy, save_policy, sha256_text
from bot.lexicon import Lexicon
from bot.service import MAX_QUESTION_CHARS, Library, PolicyBot
from bot.storage import Store

CLAUSES = (
    Clause(
        id="gaming-1",
        section=("Internet",),
        obligation=Obligation.PROHIBITED,
        text="Use of the internet for gambling is **forbidden**.",
    ),
    Clause(
        id="gaming-2",
        section=("Internet",),
        obligation=Obligation.PROHIBITED,
        text="Online betting sites must not be visited on school devices.",
    ),
    Clause(
        id="photos-1",
        section=("Images",),
        obligation=Obligation.REQUIRED,
        text="Staff must only use school equipment to take photographs of pupils.",
    ),
    Clause(
        id="advice-1",
        section=("Advice",),
        obligation=Obligation.INFORMATION,
        text="If you are in doubt, please seek advice.",
    ),
)
POLICY = Policy(
    id="tiny",
    title="Tiny Policy",
    version="2024",
    contact="the Head teacher",
    source="tiny.md",
    content_hash=sha256_text("tiny"),
    clauses=CLAUSES,
)
LEXICON = Lexicon.model_validate(
    {
        "groups": [
            {"words": ["poker", "bet", "casino"], "means": ["gambling", "betting"]},
            {"words": ["pics", "pic", "selfie"], "means": ["photographs"]},
            {"words": ["photocopier"], "means": ["equipment"]},
        ]
    }
)


@pytest.fixture(scope="module")
def bot() -> PolicyBot:
    return PolicyBot(Library.from_policies((POLICY,), LEXICON))


def test_answer_quotes_the_clause_and_cites_it(bot: PolicyBot) -> None:
    reply = bot.ask("can I play poker on the internet?")
    assert reply.answered and reply.answer is not None
    assert reply.answer.id == "gaming-1"
    assert CLAUSES[0].text in reply.text
    assert "Tiny Policy, version 2024, Internet" in reply.text
    assert reply.obligation == "Not allowed."


def test_close_runner_up_is_offered_as_related(bot: PolicyBot) -> None:
    reply = bot.ask("can I bet online or gamble on the internet?")
    assert reply.answered
    assert {c.id for c in (reply.answer, *reply.related) if c} == {"gaming-1", "gaming-2"}
    assert len(reply.related) <= 2


def test_uncovered_question_is_declined_with_the_contact(bot: PolicyBot) -> None:
    reply = bot.ask("how do I book a parking space?")
    assert not reply.answered
    assert reply.answer is None
    assert "doesn't cover" in reply.text and "the Head teacher" in reply.text


def test_a_broader_meaning_alone_does_not_answer(bot: PolicyBot) -> None:
    # "photocopier" means "equipment", and a clause is about school equipment, but nothing
    # the person typed (or a synonym of it) is in that clause.
    reply = bot.ask("where is the photocopier?")
    assert not reply.answered
    assert reply.clauses and reply.clauses[0].id == "photos-1"


def test_broader_meanings_alone_do_not_answer_however_many(bot: PolicyBot) -> None:
    # Each word falls under something the clause names (equipment, photographs), so the
    # clause covers more than half of the question, but none of it in the asker's words.
    reply = bot.ask("photocopier selfie?")
    assert reply.clauses and reply.clauses[0].id == "photos-1"
    assert not reply.answered


def test_a_named_instance_answers_beside_the_asker_own_words(bot: PolicyBot) -> None:
    # "pics" are photographs: with "pupils" in the clause's own words, it answers.
    reply = bot.ask("can I use the photocopier for pics of pupils?")
    assert reply.answered and reply.answer is not None and reply.answer.id == "photos-1"


def test_generic_words_alone_are_declined(bot: PolicyBot) -> None:
    assert not bot.ask("is it allowed at school?").answered


@pytest.mark.parametrize("text", ["", "   ", "x" * (MAX_QUESTION_CHARS + 1), "y" * 40_000])
def test_empty_and_overlong_questions_are_refused_clearly(bot: PolicyBot, text: str) -> None:
    with pytest.raises(QuestionError) as caught:
        bot.handle(Incoming(text=text))
    assert "question" in str(caught.value).lower()


def test_handle_without_a_store_answers_without_log_id(bot: PolicyBot) -> None:
    reply = bot.handle(Incoming(text="pics of pupils on my phone", platform="slack", user="U1"))
    assert reply.answered and reply.answer is not None and reply.answer.id == "photos-1"
    assert reply.log_id is None


def test_explain_shows_one_clause(bot: PolicyBot) -> None:
    reply = bot.explain("photos-1")
    assert reply.answer is not None and reply.answer.id == "photos-1"
    with pytest.raises(KnowledgeError):
        bot.explain("nope")


def test_help_names_policies_and_contact(bot: PolicyBot) -> None:
    text = bot.help_text()
    assert "Tiny Policy (version 2024)" in text and "the Head teacher" in text


def test_library_loads_a_folder_made_on_disk(tmp_path: Path) -> None:
    save_policy(POLICY, tmp_path / "tiny")
    library = Library.load(tmp_path)
    assert [p.id for p in library.policies] == ["tiny"]
    assert len(library.index) == len(CLAUSES)


# Logging through the store: claims, repeats, a database that is down ----------------------


def _store(folder: Path, *, migrated: bool = True) -> Store:
    settings = Settings(
        _env_file=None,
        DATABASE_URL=f"sqlite:///{folder}/t.db",
        POLICYBOT_DATA_DIR=folder,
        POLICYBOT_SECRET_KEY="test-key",
    )
    store = Store.from_settings(settings)
    if migrated:
        store.upgrade()
    return store


def test_submit_logs_the_question_and_a_repeated_delivery_gets_no_second_answer(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    try:
        logging_bot = PolicyBot(Library.from_policies((POLICY,), LEXICON), store)
        asked = Incoming(text="pics of pupils on my phone", platform="slack", user="U1")
        first = logging_bot.submit(asked, claim="slack:Ev1").result(30)
        again = logging_bot.submit(asked, claim="slack:Ev1").result(30)
        assert first is not None and first.log_id is not None and first.answered
        assert again is None
        assert [q.id for q in store.logged_questions()] == [first.log_id]
    finally:
        store.close()


def test_submit_async_is_woken_on_the_loop_without_a_cross_thread_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's question log commits on the asking loop; the waiting coroutine is then
    woken there directly, not through the loop's wake-up socket."""
    store = _store(tmp_path)
    logging_bot = PolicyBot(Library.from_policies((POLICY,), LEXICON), store)
    woken: list[object] = []

    async def ask_twice() -> tuple[Reply | None, Reply | None]:
        loop = asyncio.get_running_loop()
        threadsafe = loop.call_soon_threadsafe

        def counted(*args: Any, **kwargs: Any) -> Any:
            woken.append(args[0])
            return threadsafe(*args, **kwargs)

        monkeypatch.setattr(loop, "call_soon_threadsafe", counted)
        asked = Incoming(text="pics of pupils on my phone", platform="teams", user="U1")
        return await asyncio.gather(
            logging_bot.submit_async(asked, claim="teams:1"),
            logging_bot.submit_async(asked, claim="teams:1"),
        )

    try:
        first, again = asyncio.run(ask_twice())
        assert first is not None and first.log_id is not None and again is None
        assert woken == []
    finally:
        store.close()


def test_a_database_that_is_down_never_stops_the_answer(tmp_path: Path) -> None:
    store = _store(tmp_path, migrated=False)  # no tables: every write fails
    try:
        logging_bot = PolicyBot(Library.from_policies((POLICY,), LEXICON), store)
        asked = Incoming(text="pics of pupils on my phone", platform="slack", user="U1")
        claimed = logging_bot.submit(asked, claim="slack:Ev1").result(30)
        handled = logging_bot.handle(asked)
        for reply in (claimed, handled):
            assert reply is not None and reply.answered and reply.log_id is None
    finally:
        store.close()

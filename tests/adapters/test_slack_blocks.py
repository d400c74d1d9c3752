"""Block Kit rendering: what a person sees, user text made inert, Slack's limits kept."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from adapters import slack_blocks as kit
from bot.chat import Citation, Reply
from bot.knowledge import Clause, Obligation, Policy, sha256_text


def citation(
    cid: str = "social-media-1",
    *,
    text: str = "Staff must not **friend** parents.",
    section: str = "Social Media",
) -> Citation:
    return Citation(
        id=cid,
        policy="aup",
        policy_title="Staff Acceptable Use Policy",
        version="July 2018",
        section=section,
        text=text,
        obligation=Obligation.PROHIBITED,
        score=3.2,
    )


def answered(**changes: Any) -> Reply:
    answer = changes.pop("answer", citation())
    values: dict[str, Any] = {
        "question": "can I friend a parent?",
        "answered": True,
        "text": f"Not allowed.\n“{answer.text}”\n— {answer.reference}",
        "obligation": "Not allowed.",
        "answer": answer,
        "related": (citation("social-media-2", text="Do not post about pupils."),),
        "clauses": (answer,),
        "contact": "the Headteacher",
        "log_id": 7,
    }
    values.update(changes)
    return Reply(**values)


def texts(node: Any, kind: str | None = None) -> list[str]:
    if isinstance(node, dict):
        own = (
            [node["text"]]
            if isinstance(node.get("text"), str)
            and node.get("type") in ((kind,) if kind else ("mrkdwn", "plain_text"))
            else []
        )
        return own + [t for v in node.values() for t in texts(v, kind)]
    if isinstance(node, list):
        return [t for item in node for t in texts(item, kind)]
    return []


def elements(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


# -- reading Slack's markup ---------------------------------------------------------------


def test_to_plain_drops_the_bot_mention_and_unwraps_slack_markup() -> None:
    text = (
        "<@UBOT> can <@U2|sam> post in <#C1|staff> about <https://x.example/a|this page> "
        "or <https://y.example> &amp; tell <!here> &lt;3 <!subteam^S1|@heads>?"
    )
    assert kit.to_plain(text, "UBOT") == (
        "can @sam post in #staff about this page or https://y.example & tell @here <3 @heads?"
    )
    assert kit.to_plain("<@U9> hi", "UBOT") == "@U9 hi"


# -- writing: escaping ----------------------------------------------------------------------


def test_escape_makes_mentions_and_links_inert() -> None:
    assert kit.escape("<!channel> <@U1> <https://x|y> a&b") == (
        "&lt;!channel&gt; &lt;@U1&gt; &lt;https://x|y&gt; a&amp;b"
    )


@given(st.text(alphabet="ab<>&; !@", max_size=60), st.integers(min_value=1, max_value=70))
def test_truncating_escaped_text_stays_inert_and_within_the_limit(text: str, limit: int) -> None:
    cut = kit.truncate(kit.escape(text), limit)
    assert len(cut) <= limit
    assert "<" not in cut and ">" not in cut
    assert not re.search(r"&(?!amp;|lt;|gt;)", cut)  # no entity cut in half


def test_a_decline_echoing_hostile_text_is_escaped_everywhere_mrkdwn_is_read() -> None:
    reply = Reply(
        question="q",
        answered=False,
        text="The policy doesn't cover <!channel> <@U1>. Ask <mailto:a@b|HR>.",
        contact="HR",
        log_id=None,
    )
    message = kit.answer(reply, question="<!here> please")
    for text in [*texts(message["blocks"], "mrkdwn"), message["text"]]:
        assert "<!" not in text and "<@" not in text and "<mailto" not in text
    assert "You asked: <!here> please" in texts(message["blocks"], "plain_text")


# -- writing: answers ------------------------------------------------------------------------


def test_an_answer_shows_obligation_quote_citation_related_and_feedback() -> None:
    blocks = kit.answer_blocks(answered(), share=True)
    mrkdwn = texts(blocks, "mrkdwn")
    assert "*Not allowed.*" in mrkdwn
    assert ">Staff must not *friend* parents." in mrkdwn  # markdown bold becomes Slack bold
    assert "Staff Acceptable Use Policy, version July 2018, Social Media" in mrkdwn
    by_action = {e["action_id"]: e for e in elements(blocks)}
    assert by_action[f"{kit.ACTION_RELATED}_0"]["value"] == "social-media-2"
    assert kit.parse_feedback_value(by_action[kit.ACTION_HELPFUL]["value"]) == (7, "social-media-1")
    assert kit.parse_share_value(by_action[kit.ACTION_SHARE]["value"]) == (
        "social-media-1",
        "can I friend a parent?",
    )


def test_a_reply_that_was_not_logged_asks_for_no_feedback() -> None:
    blocks = kit.answer_blocks(answered(log_id=None))
    assert kit.ACTION_HELPFUL not in {e["action_id"] for e in elements(blocks)}


def test_a_decline_names_the_contact_and_offers_no_clause() -> None:
    reply = Reply(
        question="q",
        answered=False,
        text="The policy doesn't cover this. Please ask the Headteacher.",
        contact="the Headteacher",
        log_id=3,
    )
    blocks = kit.answer_blocks(reply)
    assert "The policy doesn't cover this. Please ask the Headteacher." in texts(blocks)
    assert {e["action_id"] for e in elements(blocks)} == {kit.ACTION_HELPFUL, kit.ACTION_UNHELPFUL}


def test_every_block_stays_within_block_kit_limits() -> None:
    huge = citation(text="word " * 3000, section="S" * 500)
    reply = answered(
        answer=huge, related=(huge, huge, huge), question="q" * 5000, text="t" * 50_000
    )
    message = kit.answer(reply, question="q" * 5000, share=True)
    blocks = message["blocks"]
    assert len(blocks) <= kit.MAX_MESSAGE_BLOCKS
    assert len(message["text"]) <= kit.MAX_FALLBACK_TEXT
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "context":
            assert all(len(e["text"]) <= 2000 for e in block["elements"])
    for element in elements(blocks):
        assert len(element["text"]["text"]) <= 75
        assert len(element["value"]) <= 2000
        assert len(element["action_id"]) <= 255
    assert len([e for e in elements(blocks) if e["action_id"].startswith(kit.ACTION_RELATED)]) == 2


def test_long_help_is_split_into_sections_under_the_limit() -> None:
    blocks = kit.text_blocks("\n".join(f"line {n} " + "x" * 200 for n in range(100)))
    assert len(blocks) > 1
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks)


def test_thanks_replace_the_feedback_buttons_and_keep_the_answer() -> None:
    blocks = kit.thanked(kit.answer_blocks(answered()), helpful=False)
    assert kit.FEEDBACK_BLOCK not in {b.get("block_id") for b in blocks}
    assert "Thanks for telling me; I'll use it to improve." in texts(blocks)
    assert ">Staff must not *friend* parents." in texts(blocks)


def test_feedback_values_that_are_not_ours_are_refused() -> None:
    for junk in ("", "7", "{}", '{"log": "7"}', '{"log": 7, "clause": 3}', "[1]", "null"):
        assert kit.parse_feedback_value(junk) is None


def test_a_shared_answer_names_who_shared_it_and_echoes_the_question_as_plain_text() -> None:
    blocks = kit.shared_blocks(answered(), "U123", "<!channel> can I?")
    assert "<@U123> shared PolicyBot's answer to:" in texts(blocks, "mrkdwn")
    assert "<!channel> can I?" in texts(blocks, "plain_text")
    assert kit.ACTION_HELPFUL not in {e["action_id"] for e in elements(blocks)}
    assert "Someone shared" in texts(kit.shared_blocks(answered(), "<!here>", "q"))[0]


# -- writing: App Home -------------------------------------------------------------------


def policy(n: int) -> Policy:
    clause = Clause(id="c1", section=("S",), text="Text.")
    return Policy(
        id=f"p{n}",
        title=f"Policy <{n}> & more",
        version=f"v{n}",
        contact="HR",
        source="s.txt",
        content_hash=sha256_text("s"),
        clauses=(clause,),
    )


def test_the_home_view_lists_policies_and_stays_within_limits() -> None:
    view = kit.home_view(
        ["can I <@U1>?"] * 300,
        [policy(n) for n in range(400)],
        [f"Acknowledge policy {n}" for n in range(500)],
    )
    assert view["type"] == "home"
    assert len(view["blocks"]) <= kit.MAX_VIEW_BLOCKS
    shown = "\n".join(texts(view["blocks"]))
    assert "*Policy &lt;0&gt; &amp; more*, version v0" in shown
    assert "<@U1>" not in shown
    for block in view["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150


def test_with_no_requests_the_home_view_says_so() -> None:
    view = kit.home_view([], [policy(1)], [])
    assert kit.NO_ACKNOWLEDGEMENTS in texts(view["blocks"])

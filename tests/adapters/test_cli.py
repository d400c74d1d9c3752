"""The policybot command line, as scripts and people use it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from adapters.cli import app
from bot.knowledge import save_policy
from tests.bot.test_service import LEXICON, POLICY

runner = CliRunner()


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    save_policy(POLICY, folder / POLICY.id)
    (folder / "lexicon.yaml").write_text(yaml.safe_dump(LEXICON.model_dump(mode="json")))
    return folder


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_ask_prints_the_answer_for_a_person(knowledge: Path) -> None:
    code, out, _ = run("ask", "can I play poker on the internet?", "--knowledge", str(knowledge))
    assert code == 0
    assert "Not allowed." in out and "gambling" in out and "Tiny Policy, version 2024" in out


def test_ask_json_has_the_documented_fields(knowledge: Path) -> None:
    code, out, _ = run("ask", "--json", "pics of pupils", "--knowledge", str(knowledge))
    data = json.loads(out)
    assert code == 0
    assert {"question", "answered", "reply", "clauses"} <= data.keys()
    assert data["answered"] is True
    first = data["clauses"][0]
    assert {"id", "policy", "section", "text", "score"} <= first.keys()
    assert first["id"] == "photos-1" and first["policy"] == "tiny"


def test_knowledge_dir_comes_from_the_environment_too(
    knowledge: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLICYBOT_KNOWLEDGE_DIR", str(knowledge))
    code, out, _ = run("policies", "--json")
    assert code == 0
    assert json.loads(out) == [
        {
            "id": "tiny",
            "title": "Tiny Policy",
            "version": "2024",
            "effective": None,
            "clauses": 4,
            "contact": "the Head teacher",
        }
    ]


def test_batch_mode_answers_each_line_in_order(knowledge: Path) -> None:
    lines = "can I play poker on the internet?\n\nwhere do I park?\n"
    code, out, _ = run("ask", "--json", "-", "--knowledge", str(knowledge), input=lines)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [r["question"] for r in records] == [
        "can I play poker on the internet?",
        "",
        "where do I park?",
    ]
    assert [r["answered"] for r in records] == [True, False, False]
    assert "error" in records[1]


def test_batch_mode_flushes_each_answer_before_the_next_question(knowledge: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "ask", "--json", "-", "--knowledge", str(knowledge)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write("pics of pupils\n")
        process.stdin.flush()
        first = json.loads(process.stdout.readline())  # would block forever without a flush
        assert first["question"] == "pics of pupils"
        process.stdin.write("poker on the internet\n")
        process.stdin.close()
        assert json.loads(process.stdout.readline())["question"] == "poker on the internet"
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("question", ["", "   ", "q" * 40_000])
def test_bad_questions_exit_2_with_a_sentence(knowledge: Path, question: str) -> None:
    code, out, err = run("ask", question, "--knowledge", str(knowledge))
    assert code == 2
    assert "Error:" in err and "Traceback" not in err + out


def test_missing_knowledge_folder_exits_2(tmp_path: Path) -> None:
    code, _, err = run("ask", "anything", "--knowledge", str(tmp_path / "nowhere"))
    assert code == 2 and "not found" in err


def test_invalid_knowledge_names_file_and_field(knowledge: Path) -> None:
    path = knowledge / "tiny" / "policy.yaml"
    path.write_text(path.read_text().replace("obligation: prohibited", "obligation: maybe", 1))
    code, _, err = run("ask", "anything", "--knowledge", str(knowledge))
    assert code == 2
    assert "policy.yaml" in err and "clauses.0.obligation" in err


def test_eval_reports_figures_and_misses(knowledge: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"q": "poker on the internet", "answers": ["gambling is **forbidden**"]})
        + "\n"
        + json.dumps({"q": "where do I park my car?", "answers": None})
        + "\n"
    )
    code, out, _ = run("eval", str(questions), "--json", "--knowledge", str(knowledge))
    report = json.loads(out)
    assert code == 0
    assert report["top1"] == 1.0 and report["declined_uncovered"] == 1
    assert report["misses"] == []


def test_eval_of_a_missing_file_exits_2(knowledge: Path, tmp_path: Path) -> None:
    code, _, err = run("eval", str(tmp_path / "none.jsonl"), "--knowledge", str(knowledge))
    assert code == 2 and "cannot be read" in err

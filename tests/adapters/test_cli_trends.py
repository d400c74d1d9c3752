"""``policybot trends`` as HR and an operator use it: table, JSON, CSV, HTML, errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from adapters.cli_trends import trends
from bot.config import Settings
from bot.storage import Store

runner = CliRunner()
app = typer.Typer()
app.command("trends")(trends)


@app.callback()
def main() -> None:
    """Stands in for the policybot app the lead mounts the command on."""


CLAUSE = "computer-network-5d451d"  # a clause of the bundled knowledge


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'policybot.db'}")
    monkeypatch.setenv("POLICYBOT_SECRET_KEY", "cli-trends-secret")
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path / "data"))
    return Settings()


@pytest.fixture
def logged(settings: Settings) -> None:
    store = Store.from_settings(settings)
    store.upgrade()
    last_week = datetime.now(UTC) - timedelta(days=7)
    for n in range(7):
        store.log_question(
            platform="teams",
            user=f"29:CLIUSER{n}",
            workspace=None,
            question="can I share my password",
            is_known=str.isalpha,
            answered=True,
            clauses=[("staff-acceptable-use", CLAUSE, 4.0)],
            when=last_week,
        )
    store.log_question(
        platform="teams",
        user="29:LONER",
        workspace=None,
        question="can I share my password",
        is_known=str.isalpha,
        answered=False,
        clauses=[],
        when=last_week,
    )
    store.close()


def test_table_by_default(logged: None) -> None:
    result = runner.invoke(app, ["trends"])
    assert result.exit_code == 0, result.output
    assert "Questions per week" in result.output
    assert "all weeks" in result.output and "Top clauses" in result.output
    assert CLAUSE in result.output
    assert "–" in result.output  # the lone decline is hidden
    assert "CLIUSER" not in result.output and "LONER" not in result.output


def test_json_names_each_figure(logged: None) -> None:
    result = runner.invoke(app, ["trends", "--json", "--weeks", "4"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert len(document["weeks"]) == 4
    clause = next(
        f
        for f in document["figures"]
        if f["row"] == "clause" and f["clause"] == CLAUSE and f["week"] is None
    )
    assert clause["count"] == 7
    assert clause["clause_text"] == "You are responsible for the security of your passwords."
    assert clause["section"] == "Computer network"
    declined = next(f for f in document["figures"] if f["row"] == "declined" and not f["week"])
    assert declined == {"table": "questions", "row": "declined", "week": None, "suppressed": True}
    assert "CLIUSER" not in result.stdout


def test_csv_and_html_files(logged: None, tmp_path: Path) -> None:
    csv_file, html_file = tmp_path / "t.csv", tmp_path / "t.html"
    result = runner.invoke(app, ["trends", "--csv", str(csv_file), "--html", str(html_file)])
    assert result.exit_code == 0, result.output
    assert f"Wrote {csv_file}" in result.output and f"Wrote {html_file}" in result.output
    lines = list(csv.DictReader(csv_file.open(encoding="utf-8")))
    assert {line["table"] for line in lines} == {"questions", "feedback"}
    assert "<svg" in html_file.read_text(encoding="utf-8")


def test_an_empty_log_is_a_report_of_zeros(settings: Settings) -> None:
    Store.from_settings(settings).upgrade()
    result = runner.invoke(app, ["trends", "--json"])
    assert result.exit_code == 0, result.output
    counts = [f["count"] for f in json.loads(result.stdout)["figures"]]
    assert set(counts) == {0}


def test_a_database_without_tables_says_what_to_run(settings: Settings) -> None:
    result = runner.invoke(app, ["trends"])
    assert result.exit_code == 2
    assert "policybot db upgrade" in result.output


def test_bad_options_exit_2(settings: Settings, tmp_path: Path) -> None:
    assert runner.invoke(app, ["trends", "--weeks", "0"]).exit_code == 2
    result = runner.invoke(app, ["trends", "--knowledge", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "knowledge folder not found" in result.output


def test_an_unwritable_file_is_one_sentence(logged: None, tmp_path: Path) -> None:
    result = runner.invoke(app, ["trends", "--html", str(tmp_path / "no" / "such" / "t.html")])
    assert result.exit_code == 2
    assert result.output.startswith("Error: Cannot write")


def test_importing_the_command_loads_no_database_code() -> None:
    probe = (
        "import sys, adapters.cli_trends; print(sorted({'sqlalchemy', 'numpy'} & set(sys.modules)))"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"

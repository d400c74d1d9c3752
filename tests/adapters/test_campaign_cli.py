"""``policybot campaign ...`` and ``policybot worker`` as an admin uses them in a terminal."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from adapters.cli_campaigns import campaign_app, worker
from tests.adapters.campaign_world import knowledge_folder
from tests.fakes.slack_api import running_in_thread, user

runner = CliRunner()
DUE = (date.today() + timedelta(days=30)).isoformat()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment an operator sets; the commands build Settings() from it."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'policybot.db'}")
    monkeypatch.setenv("POLICYBOT_SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("POLICYBOT_KNOWLEDGE_DIR", str(knowledge_folder(tmp_path)))
    from bot.config import Settings
    from bot.storage import Store

    store = Store.from_settings(Settings())
    store.upgrade()
    store.close()
    return tmp_path


def main_app() -> typer.Typer:
    """The commands as the lead mounts them: ``campaign ...`` and ``worker``."""
    app = typer.Typer()
    app.add_typer(campaign_app, name="campaign")
    app.command("worker")(worker)
    return app


def staff_csv(folder: Path) -> Path:
    path = folder / "staff.csv"
    path.write_text("platform,user_id,display_name\nslack,U1,Ann\nslack,U2,=Bob\n", "utf-8")
    return path


def test_start_status_export_and_stop_a_campaign(env: Path) -> None:
    audience = f"csv:{staff_csv(env)}"
    started = runner.invoke(
        campaign_app,
        ["start", "--policy", "staff-aup", "--due", DUE, "--audience", audience, "--every", "12m"],
    )
    assert started.exit_code == 0, started.output
    campaign_id = started.stdout.strip()
    assert campaign_id.startswith("staff-aup-")
    assert "2 people will be asked to accept" in started.stderr

    status = runner.invoke(campaign_app, ["status", "--json"])
    assert status.exit_code == 0, status.output
    data = json.loads(status.stdout)
    assert {
        k: data[k] for k in ("campaign", "policy", "version", "due", "recipients", "accepted")
    } == {
        "campaign": campaign_id,
        "policy": "staff-aup",
        "version": "2025",
        "due": DUE,
        "recipients": 2,
        "accepted": 0,
    }
    assert (data["outstanding"], data["unreachable"], data["every"]) == (2, 0, "12m")
    text = runner.invoke(campaign_app, ["status", campaign_id])
    assert "0 of 2 accepted; 2 outstanding" in text.stdout

    out = env / "export.csv"
    exported = runner.invoke(campaign_app, ["export", campaign_id, str(out)])
    assert exported.exit_code == 0 and "Wrote 2 people" in exported.stdout
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["user_id"], r["display_name"], r["state"]) for r in rows] == [
        ("U1", "Ann", "outstanding"),
        ("U2", "'=Bob", "outstanding"),
    ]

    stopped = runner.invoke(campaign_app, ["stop", campaign_id])
    assert stopped.exit_code == 0 and f"Stopped {campaign_id}." in stopped.stdout
    again = runner.invoke(campaign_app, ["stop", campaign_id])
    assert again.exit_code == 2 and "is not running" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "nope", "--due", DUE, "--audience", "teams:all"], "No policy with id 'nope'"),
        (["--policy", "staff-aup", "--due", "30/09/2026", "--audience", "teams:all"], "YYYY-MM-DD"),
        (["--policy", "staff-aup", "--due", DUE, "--audience", "all"], "Unknown audience"),
        (
            ["--policy", "staff-aup", "--due", DUE, "--audience", "slack:workspace"],
            "SLACK_BOT_TOKEN",
        ),
        (["--policy", "staff-aup", "--due", DUE, "--audience", "teams:all"], "Nobody found"),
        (["--policy", "staff-aup", "--due", "2020-01-01", "--audience", "csv:x"], "file not found"),
    ],
)
def test_start_errors_are_one_sentence_and_exit_2(env: Path, args: list[str], message: str) -> None:
    result = runner.invoke(campaign_app, ["start", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert runner.invoke(campaign_app, ["status"]).stderr.strip() == "Error: No campaigns yet."


def test_a_slack_workspace_campaign_is_started_and_drained_by_the_worker(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_in_thread() as slack:
        slack.add_users(user("U1"), user("U2"), user("UBOT", is_bot=True), user("UX", deleted=True))
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("SLACK_API_URL", slack.base_url)
        app = main_app()
        started = runner.invoke(
            app,
            ["campaign", "start", "--policy", "staff-aup", "--due", DUE,
             "--audience", "slack:workspace"],
        )  # fmt: skip
        assert started.exit_code == 0, started.output
        drained = runner.invoke(app, ["worker", "--drain", "--slack-rate", "50"])
        assert drained.exit_code == 0, drained.output
        assert "sent 2 prompts" in drained.stderr
        assert [len(slack.posted_to(u)) for u in ("U1", "U2", "UBOT", "UX")] == [1, 1, 0, 0]
        again = runner.invoke(app, ["worker", "--drain"])
        assert "sent 0 prompts" in again.stderr
        assert len(slack.posted) == 2


def test_the_worker_refuses_to_run_with_no_platform(env: Path) -> None:
    result = runner.invoke(main_app(), ["worker", "--drain"])
    assert result.exit_code == 2
    assert "No chat platform is configured" in result.stderr

"""``policybot db ...`` and ``policybot audit ...`` as an operator and an auditor use them."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from adapters.cli_storage import audit_app, db_app
from bot.config import Settings
from bot.storage import AcknowledgementRequest, Store

runner = CliRunner()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The environment an operator sets; the commands build Settings() from it."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'policybot.db'}")
    monkeypatch.setenv("POLICYBOT_SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("POLICYBOT_RETENTION_DAYS", "30")
    return Settings()


@pytest.fixture
def store(settings: Settings) -> Store:
    result = runner.invoke(db_app, ["upgrade"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.stdout
    opened = Store.from_settings(settings)
    for user in ("U1", "U2", "U3"):
        opened.record_acknowledgement(
            AcknowledgementRequest(
                platform="slack",
                workspace="T1",
                user_id=user,
                display_name=user,
                policy_id="staff-aup",
                policy_version="2018-07",
                text_sha256="0" * 64,
                statement="I have read and accept.",
                source_event=f"Ev{user}",
            )
        )
    return opened


def test_db_upgrade_is_safe_to_repeat(store: Store) -> None:
    result = runner.invoke(db_app, ["upgrade"])
    assert result.exit_code == 0
    assert store.verify_chain().rows == 3


def test_db_prune_uses_the_configured_retention(store: Store) -> None:
    now = datetime.now(UTC)
    for age in (40, 31, 29, 1):
        store.log_question(
            platform="slack",
            user="U1",
            workspace="T1",
            question="q",
            is_known=lambda _: True,
            answered=True,
            clauses=[],
            when=now - timedelta(days=age),
        )
    result = runner.invoke(db_app, ["prune"])
    assert result.exit_code == 0
    assert "Deleted 2 logged questions." in result.stdout
    assert len(store.logged_questions()) == 2


def test_audit_verify_ok_prints_rows_and_head(store: Store) -> None:
    result = runner.invoke(audit_app, ["verify"])
    assert result.exit_code == 0
    head = store.verify_chain().head_hash
    assert "3 acknowledgements" in result.stdout and head in result.stdout


def test_audit_verify_names_the_altered_row_and_fails(store: Store) -> None:
    with store.db.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER acknowledgements_no_update"))
        conn.execute(text("UPDATE acknowledgements SET user_id = 'U9' WHERE seq = 2"))
    result = runner.invoke(audit_app, ["verify"])
    assert result.exit_code == 1
    assert "row 2: altered" in result.stderr


def test_audit_export_writes_the_csv_with_the_chain_head(store: Store, tmp_path: Path) -> None:
    target = tmp_path / "audit.csv"
    result = runner.invoke(audit_app, ["export", str(target)])
    assert result.exit_code == 0, result.output
    head = store.verify_chain().head_hash
    assert head in result.stdout
    rows = list(csv.reader(target.open(newline="", encoding="utf-8")))
    assert len(rows) == 1 + 3 + 1
    assert rows[-1][:4] == ["# chain head", head, "rows", "3"]


def test_unreachable_database_is_one_sentence_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:9/test")
    monkeypatch.setenv("POLICYBOT_SECRET_KEY", "s")
    result = runner.invoke(audit_app, ["verify"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: The database is unavailable")
    assert "Traceback" not in result.output


def test_missing_secret_in_production_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:9/test")
    result = runner.invoke(db_app, ["upgrade"])
    assert result.exit_code == 2
    assert "POLICYBOT_SECRET_KEY" in result.stderr

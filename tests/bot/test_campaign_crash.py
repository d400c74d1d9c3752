"""Workers as real processes against the fake Slack Web API on loopback: one killed with
SIGKILL mid-campaign and restarted, and two draining the same campaign together.

Whatever the moment of the kill, nobody is prompted twice and nobody is skipped: a send
the dead worker claimed but never recorded is looked up in the DM's history before anyone
sends it again. The two-worker test runs on SQLite (writers take turns) and, when
``POLICYBOT_TEST_DATABASE_URL`` is set, on PostgreSQL (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.audience import Member
from bot.campaigns import Campaigns
from bot.knowledge import save_policy
from bot.storage import Store
from tests.bot.campaign_fixtures import policy, start
from tests.bot.storage import conftest as storage_fixtures
from tests.bot.storage.conftest import TEST_SECRET, Backend
from tests.fakes.slack_api import FakeSlackAPI, running_in_thread, user

REPO = Path(__file__).resolve().parents[2]

# The storage tests' fixtures: SQLite always, PostgreSQL when configured.
backend = storage_fixtures.backend
postgres_admin = storage_fixtures.postgres_admin
sqlite_backend = storage_fixtures.sqlite_backend


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    save_policy(policy(), folder / "staff-aup")
    (folder / "lexicon.yaml").write_text("groups: []\n", encoding="utf-8")
    return folder


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_in_thread() as slack:
        yield slack


def worker(
    backend: Backend, fake: FakeSlackAPI, knowledge: Path, cwd: Path
) -> subprocess.Popen[str]:
    """``policybot worker --drain`` as its own process, configured by its environment."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": backend.database_url,
        "POLICYBOT_SECRET_KEY": TEST_SECRET,
        "POLICYBOT_DATA_DIR": str(cwd / "data"),
        "POLICYBOT_KNOWLEDGE_DIR": str(knowledge),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_API_URL": fake.base_url,
    }
    command = [sys.executable, "-m", "adapters.cli_campaigns", "worker", "--drain"]
    command += ["--slack-rate", "60", "--lease", "2"]
    return subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def campaign_for(backend: Backend, fake: FakeSlackAPI, count: int) -> tuple[Store, str]:
    ids = [f"U{i:03d}" for i in range(count)]
    fake.add_users(*(user(i) for i in ids))
    store = backend.open_store()
    store.upgrade()
    campaign = start(Campaigns(store, [policy()]), [Member("slack", "T1", i, i) for i in ids])
    return store, campaign.id


def wait_until(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.01)


def prompts_per_person(fake: FakeSlackAPI, count: int) -> dict[str, int]:
    return {f"U{i:03d}": len(fake.posted_to(f"U{i:03d}")) for i in range(count)}


def test_a_worker_killed_mid_campaign_and_restarted_prompts_everyone_exactly_once(
    sqlite_backend: Backend, fake: FakeSlackAPI, knowledge: Path, tmp_path: Path
) -> None:
    count = 90
    fake.limit_per_conversation(1.0)
    fake.rate_limit_share(0.03, retry_after=1, seed=7)
    # Each post takes 30 ms between arriving and being answered: the worker is nearly
    # always mid-send, so the kill most likely lands between sending and recording.
    fake.slow_down("chat.postMessage", 0.03)
    store, campaign_id = campaign_for(sqlite_backend, fake, count)
    first = worker(sqlite_backend, fake, knowledge, tmp_path)
    try:
        wait_until(lambda: len(fake.posted) >= 30, timeout=30)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    at_kill = len(fake.posted)
    assert at_kill < count, "the worker finished before it could be killed"

    second = worker(sqlite_backend, fake, knowledge, tmp_path)
    _, errors = second.communicate(timeout=60)
    assert second.returncode == 0, errors
    assert prompts_per_person(fake, count) == {f"U{i:03d}": 1 for i in range(count)}
    status = Campaigns(store, [policy()]).status(campaign_id)
    assert (status.recipients, status.not_yet_prompted, status.unknown) == (count, 0, 0)
    found = re.search(r"(\d+) found already sent after a restart", errors)
    assert found is not None, errors
    print(f"killed after {at_kill} posts; the restart found {found.group(1)} already sent")
    store.close()


def test_two_workers_together_prompt_each_member_exactly_once(
    backend: Backend, fake: FakeSlackAPI, knowledge: Path, tmp_path: Path
) -> None:
    count = 120
    fake.limit_per_conversation(1.0)
    fake.slow_down("chat.postMessage", 0.01)
    store, campaign_id = campaign_for(backend, fake, count)
    workers = [worker(backend, fake, knowledge, tmp_path) for _ in range(2)]
    outputs = [w.communicate(timeout=60) for w in workers]
    for process, (_, errors) in zip(workers, outputs, strict=True):
        assert process.returncode == 0, errors
    assert prompts_per_person(fake, count) == {f"U{i:03d}": 1 for i in range(count)}
    shares = [int(re.findall(r"sent (\d+) prompts", errors)[0]) for _, errors in outputs]
    assert sum(shares) == count
    status = Campaigns(store, [policy()]).status(campaign_id)
    assert (status.not_yet_prompted, status.unknown) == (0, 0)
    store.close()

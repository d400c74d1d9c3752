"""A thousand people press "I have read and accept" at once.

1,000 signed ``block_actions`` (plus 100 impatient second clicks) are posted to the real
aiohttp app, 50 at a time. Every click is recorded once, each clicker sees their own
prompt turn into "Accepted on ..." through their own response_url, second clicks are told
"already recorded", and ``policybot audit verify`` passes on the chain afterwards.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.cli_storage import audit_app
from tests.adapters.campaign_world import texts, world
from tests.adapters.test_campaign_slack import accept_click
from tests.fakes.slack_api import TEAM_ID, interaction, sign

PEOPLE = 1000
REPEATS = 100
CONCURRENCY = 50


def test_a_thousand_concurrent_accept_clicks_are_each_recorded_once_and_confirmed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            users = [f"U{i:04d}" for i in range(PEOPLE)]
            campaign = w.start(users)
            clicks = [(u, f"c{u}") for u in users]
            clicks += [(u, f"again{u}") for u in random.Random(1).sample(users, REPEATS)]
            random.Random(2).shuffle(clicks)
            bodies = [interaction(accept_click(w, campaign.id, u, name)) for u, name in clicks]
            gate = asyncio.Semaphore(CONCURRENCY)

            async def post(body: bytes) -> int:
                async with gate:
                    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
                    response = await w.client.post("/slack/events", data=body, headers=headers)
                    return response.status

            began = time.perf_counter()
            statuses = await asyncio.gather(*(post(body) for body in bodies))
            assert set(statuses) == {200}
            # A first click gets its prompt replaced; a second one that as well, plus
            # an ephemeral "already recorded".
            await w.slack.wait_for("respond/*", count=PEOPLE + 2 * REPEATS, timeout=60)
            elapsed = time.perf_counter() - began
            print(f"{len(bodies)} clicks recorded and confirmed in {elapsed:.1f} s")

            names: dict[str, list[str]] = {}
            for u, name in clicks:
                names.setdefault(u, []).append(name)
            for mine in names.values():
                answers = [w.slack.calls(f"respond/{name}") for name in mine]
                # Every click sees its prompt become "Accepted on ..."; all but the one
                # that was recorded (whichever came first) also hear "Already recorded".
                for answer in answers:
                    [replaced] = [a for a in answer if a.body.get("replace_original") is True]
                    assert "Accepted on" in texts(replaced.body["blocks"])
                already = [
                    a for answer in answers for a in answer if "Already" in texts(a.body["blocks"])
                ]
                assert len(already) == len(mine) - 1

            status = w.campaigns.status(campaign.id)
            assert (status.accepted, status.outstanding) == (PEOPLE, 0)
            verified = w.store.verify_chain()
            assert verified.ok and verified.rows == PEOPLE
            recorded = {
                a.user_id for u in users for a in w.store.acknowledgements_for("slack", TEAM_ID, u)
            }
            assert recorded == set(users)

    asyncio.run(scenario())
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/campaigns.db")
    monkeypatch.setenv("POLICYBOT_SECRET_KEY", "test-key")
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(audit_app, ["verify"])
    assert result.exit_code == 0, result.output
    assert f"OK: {PEOPLE} acknowledgements" in result.output

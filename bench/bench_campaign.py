"""Campaign benchmark: prompt every member of a 1,000-person Slack workspace, within Slack's
limits, and compare the wall time with the floor those limits impose.

The fake Slack Web API (tests/fakes/slack_api.py) runs on loopback in a thread and plays
Slack's limits: one message per second per conversation, a workspace-wide token bucket
(``--slack-cap`` per second), and a share of calls (``--share``) answered 429 with
``Retry-After: 1``. The campaign worker (the code behind ``policybot worker --drain``) sends
at ``--rate`` per second, below the cap, and pauses for every Retry-After it is given.

The floor: the first ``burst`` messages go at once, the rest at ``--rate``, and each 429
stops sending for its Retry-After and restarts from an empty bucket; so
``(members - burst) / rate + sum(Retry-After)``. (Slack's own cap alone would allow
``(members - cap) / cap``; the worker stays below it on purpose.) The bench checks that
every member was prompted exactly once.

    python bench/bench_campaign.py                         # 1,000 members at 20/s
    python bench/bench_campaign.py --members 200 --rate 50
    python bench/bench_campaign.py --database-url postgresql+psycopg://postgres@127.0.0.1/test

Bounded in time: with the defaults it takes about a minute. Loopback only; an SQLite file in
a temporary folder unless ``--database-url`` names an empty database.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.slack_messenger import SlackMessenger, web_client  # noqa: E402
from bot.audience import Member  # noqa: E402
from bot.campaign_worker import Worker  # noqa: E402
from bot.campaigns import Campaigns, StartRequest  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.rate_limits import RateLimits  # noqa: E402
from bot.service import PolicyBot  # noqa: E402
from bot.storage import Store  # noqa: E402
from tests.fakes.slack_api import running_in_thread, user  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="worker messages per second")
    parser.add_argument("--slack-cap", type=float, default=25.0, help="fake workspace cap /s")
    parser.add_argument("--share", type=float, default=0.02, help="share of posts answered 429")
    parser.add_argument("--database-url", default=None)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder, running_in_thread() as slack:
        ids = [f"U{i:05d}" for i in range(options.members)]
        slack.add_users(*(user(i) for i in ids))
        slack.limit_per_conversation(1.0)
        slack.limit_workspace(options.slack_cap, burst=options.slack_cap)
        slack.rate_limit_share(options.share, retry_after=1, seed=11)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            DATABASE_URL=options.database_url or f"sqlite:///{folder}/bench.db",
            POLICYBOT_DATA_DIR=folder,
            POLICYBOT_SECRET_KEY="bench",
            SLACK_BOT_TOKEN="xoxb-bench",
            SLACK_API_URL=slack.base_url,
        )
        store = Store.from_settings(settings)
        store.upgrade()
        bot = PolicyBot.from_settings(settings, store=store)
        campaigns = Campaigns(store, bot.policies)
        campaign = campaigns.start(
            StartRequest(
                policy_id=bot.policies[0].id,
                due_on=date.today() + timedelta(days=30),
                audience="slack:workspace",
                started_by="bench",
            ),
            [Member("slack", "T1", i, i) for i in ids],
        )
        limits = RateLimits({"slack": options.rate})
        burst = limits.buckets["slack"].burst
        worker = Worker(
            campaigns, {"slack": SlackMessenger(web_client(settings, retries=False))}, limits=limits
        )
        began = time.perf_counter()
        report = worker.drain()
        wall = time.perf_counter() - began

        per_member = Counter(message.channel for message in slack.posted)
        once = all(per_member[f"D{i}"] == 1 for i in ids) and len(slack.posted) == len(ids)
        retry_after = sum(1 for _ in slack.rate_limited)  # every 429 said Retry-After: 1
        reasons = Counter(why for _, why, _ in slack.rate_limited)
        floor_rate = max(len(ids) - burst, 0) / options.rate
        floor = floor_rate + retry_after
        floor_cap = max(len(ids) - options.slack_cap, 0) / options.slack_cap
        status = campaigns.status(campaign.id)
        store.close()

    print(f"members                    {len(ids):>8}")
    print(f"worker rate                {options.rate:>8.1f} /s (burst {burst:.0f})")
    print(f"fake workspace cap         {options.slack_cap:>8.1f} /s, 1 /s per conversation")
    print(f"429s (Retry-After: 1 s)    {retry_after:>8}  {dict(reasons)}")
    print(f"floor of the fake's cap    {floor_cap:>8.1f} s  (sending at the cap itself)")
    print(f"floor from the rate        {floor_rate:>8.1f} s")
    print(f"floor with the 429 pauses  {floor:>8.1f} s")
    print(f"wall time                  {wall:>8.1f} s  ({wall / floor:.2f} x the floor)")
    print(f"prompted exactly once      {'yes' if once else 'NO'}")
    print(f"not yet prompted           {status.not_yet_prompted:>8}")
    print(f"worker                     {report.describe()}")
    if not once or status.not_yet_prompted:
        sys.exit(1)


if __name__ == "__main__":
    main()

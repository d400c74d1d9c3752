"""Teams load benchmark: PolicyBot's ``/api/messages`` beside a fixed-text bot on the same stack.

Both servers run as their own processes on loopback in development mode (no JWT) and reply
into the fake Bot Connector (tests/fakes/bot_connector.py), which runs here beside the load
generator, so "sent" and "reply arrived" share one clock. Each conversation posts a message
activity as soon as the previous HTTP response arrives (closed loop). For each level of
concurrent conversations the bench reports requests per second, p50/p99 time to the HTTP
response, p99 time from posting a question until its reply reaches the connector, and each
server's CPU milliseconds per request (Linux), steadier than req/s on a shared machine.

The fixed-text bot is the same aiohttp route, body checks and CloudAdapter
(``adapters.teams.messages_route`` and ``build_adapter``) with a handler that replies
"Thanks, noted." to every message: the stack's ceiling on this machine. PolicyBot does its
whole turn: conversation reference, delivery ledger, the answer, the question log (SQLite),
an Adaptive Card.

    python bench/bench_teams.py                      # 1, 16, 64 conversations, 3 s each
    python bench/bench_teams.py --seconds 5 --levels 1,8,32,64
    python bench/bench_teams.py --database-url postgresql://postgres@127.0.0.1/test
    python bench/bench_teams.py --repeat 7

Both servers stay up and the levels alternate between them, so a busy machine slows both
alike. ``--repeat N`` runs each level N times, as N back-to-back pairs (fixed text, then
PolicyBot): the share reported is the median of the N pairs' shares, with their range,
and each server's row is its median run. A pair sees the same neighbours, so its share
is steadier than a ratio of two independent best runs. Loopback only, bounded in time:
each level runs for ``--seconds`` plus up to 10 s to collect late replies.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout, TCPConnector

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import Level, cpu_seconds, free_port, percentile  # noqa: E402
from bot.service import EXAMPLES, bundled_knowledge_dir  # noqa: E402
from tests.fakes.bot_connector import FakeBotConnector, teams_activity  # noqa: E402

QUESTIONS = (
    *EXAMPLES,
    "am I allowed to use my personal email for school work?",
    "can I share my password with a colleague?",
    "what is the canteen menu on tuesday?",
)

PREAMBLE = """
import logging
from aiohttp import web
from adapters.teams import MESSAGES_PATH, build_adapter, messages_route, mount_teams
from bot.config import Settings
logging.basicConfig(level=logging.ERROR)
settings = Settings()
app = web.Application(client_max_size=1024 * 1024)
"""

POLICYBOT = (
    PREAMBLE
    + """
from bot.service import PolicyBot
from bot.storage import Store
store = Store.from_settings(settings)
store.upgrade()
bot = PolicyBot.from_settings(settings, store=store)
mount_teams(app, bot=bot, store=store, settings=settings, dev=True)
web.run_app(app, host="127.0.0.1", port={port}, access_log=None, print=None)
"""
)

FIXED_TEXT = (
    PREAMBLE
    + """
class FixedText:
    async def on_turn(self, turn_context):
        if turn_context.activity.type == "message":
            await turn_context.send_activity("Thanks, noted.")

app.router.add_post(MESSAGES_PATH, messages_route(build_adapter(settings), FixedText()))
web.run_app(app, host="127.0.0.1", port={port}, access_log=None, print=None)
"""
)

SERVERS = (("fixed text", FIXED_TEXT), ("PolicyBot", POLICYBOT))


def start(code: str, port: int, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", code.format(port=port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask the server to stop; kill it if it has not within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


async def wait_until_up(http: ClientSession, base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode() if process.stderr else "exited")
        try:
            # An empty JSON object is refused (400) before any bot work: the route is up.
            async with http.post(f"{base}/api/messages", json={}) as response:
                if response.status == 400:
                    return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


async def run_level(
    http: ClientSession,
    base: str,
    connector: FakeBotConnector,
    conversations: int,
    seconds: float,
    tag: str,
) -> Level:
    level = Level(conversations)
    ids = itertools.count()
    stop_at = time.perf_counter() + seconds

    async def conversation(worker: int) -> None:
        while time.perf_counter() < stop_at:
            n = next(ids)
            activity = teams_activity(
                connector.service_url,
                QUESTIONS[n % len(QUESTIONS)],
                activity_id=f"{tag}{n}",
                conversation_id=f"a:{tag}{worker}",
                user_id=f"29:user-{worker}",
                aad_object_id=f"aad-{worker}",
            )
            started = time.perf_counter()
            level.sent_at[activity["id"]] = started
            try:
                async with http.post(f"{base}/api/messages", json=activity) as response:
                    await response.read()
                    ok = response.status in (200, 201)
            except OSError:
                ok = False
            if ok:
                level.responses.append(time.perf_counter() - started)
            else:
                level.errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(conversation(w) for w in range(conversations)))
    level.seconds = time.perf_counter() - began
    await collect_replies(connector, level)
    return level


async def collect_replies(connector: FakeBotConnector, level: Level) -> None:
    """Match every reply that reached the connector to its question; wait up to 10 s."""
    deadline = time.perf_counter() + 10
    arrived: dict[str, float] = {}
    while True:
        for request in connector.activities():
            key = request.reply_to_id
            if key in level.sent_at:
                arrived.setdefault(key, request.received_at)
        if len(arrived) >= len(level.sent_at) or time.perf_counter() > deadline:
            break
        await asyncio.sleep(0.1)
    level.delivered = [arrived[k] - level.sent_at[k] for k in arrived]
    level.missing = len(level.sent_at) - len(arrived)
    connector.requests.clear()


async def bench(
    levels: list[int],
    seconds: float,
    only: str | None,
    database_url: str | None = None,
    repeat: int = 1,
) -> dict[str, list[list[Level]]]:
    """Run every level against each server in turn (interleaved, so both see the same
    machine load), ``repeat`` times: each server's runs, level by level."""
    servers = [(n, c) for n, c in SERVERS if not only or only.lower() in n.lower()]
    results: dict[str, list[list[Level]]] = {name: [] for name, _ in servers}
    with tempfile.TemporaryDirectory(prefix="policybot-bench-") as tmp:
        folder = Path(tmp)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("MICROSOFT_", "SLACK_", "POLICYBOT_", "DATABASE_URL"))
        }
        env.update(
            PYTHONPATH=str(ROOT),
            POLICYBOT_DATA_DIR=str(folder),
            POLICYBOT_KNOWLEDGE_DIR=str(bundled_knowledge_dir()),
            POLICYBOT_ENV="development",
            POLICYBOT_SECRET_KEY="bench-key",
        )
        if database_url:
            env["DATABASE_URL"] = database_url
        async with FakeBotConnector() as connector:
            pool = TCPConnector(limit=0)
            processes: list[subprocess.Popen[bytes]] = []
            async with ClientSession(connector=pool, timeout=ClientTimeout(total=30)) as http:
                try:
                    bases, pids = {}, {}
                    for name, code in servers:
                        port = free_port()
                        processes.append(start(code, port, env, folder))
                        pids[name] = processes[-1].pid
                        bases[name] = f"http://127.0.0.1:{port}"
                        await wait_until_up(http, bases[name], processes[-1])
                        await run_level(http, bases[name], connector, 4, 0.5, f"warm-{name[0]}-")
                    for n in levels:
                        runs: dict[str, list[Level]] = {name: [] for name, _ in servers}
                        for attempt in range(repeat):
                            for name, _ in servers:
                                tag = f"{name[0]}{n}-{attempt}-"
                                cpu_before = cpu_seconds(pids[name])
                                level = await run_level(
                                    http, bases[name], connector, n, seconds, tag
                                )
                                cpu_after = cpu_seconds(pids[name])
                                if cpu_before is not None and cpu_after is not None:
                                    level.cpu = cpu_after - cpu_before
                                runs[name].append(level)
                        for name, levels_run in runs.items():
                            results[name].append(levels_run)
                finally:
                    for process in processes:
                        stop(process)
    return results


def report(results: dict[str, list[list[Level]]]) -> None:
    print(
        f"{'server':<11} {'convs':>5} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'replied':>11} {'p99 reply ms':>12} {'CPU ms/req':>10}"
    )
    for name, levels in results.items():
        for runs in levels:
            level = median_run(runs)
            replied = f"{len(level.delivered)}/{len(level.sent_at)}"
            p99_reply = percentile(level.delivered, 0.99) * 1000
            print(
                f"{name:<11} {level.clients:>5} {level.rps:>7.0f} "
                f"{percentile(level.responses, 0.5) * 1000:>7.1f} "
                f"{percentile(level.responses, 0.99) * 1000:>7.1f} {level.errors:>6} "
                f"{replied:>11} {p99_reply:>12.1f} {level.cpu_ms:>10.2f}"
            )
    if "fixed text" in results and "PolicyBot" in results:
        for ours, fixed in zip(results["PolicyBot"], results["fixed text"], strict=True):
            shares = sorted(
                o.rps / f.rps if f.rps else float("nan") for o, f in zip(ours, fixed, strict=True)
            )
            spread = f" (pairs: {shares[0]:.0%}-{shares[-1]:.0%})" if len(shares) > 1 else ""
            p99 = percentile(median_run(ours).delivered, 0.99) * 1000
            print(
                f"  {ours[0].clients:>3} conversations: PolicyBot reaches "
                f"{percentile(shares, 0.5):.0%} of the fixed-text bot's req/s{spread}; "
                f"p99 until the reply reaches the connector {p99:.0f} ms"
            )


def median_run(runs: list[Level]) -> Level:
    """The run with the median req/s (the lower middle one of an even number)."""
    return sorted(runs, key=lambda level: level.rps)[(len(runs) - 1) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per level")
    parser.add_argument("--levels", default="1,16,64", help="concurrent conversations per level")
    parser.add_argument("--only", choices=["fixed", "policybot"], help="run one server only")
    parser.add_argument(
        "--database-url", help="PolicyBot's database (default: SQLite in a temporary folder)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="pairs of runs per level; the median is reported"
    )
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    print(f"{args.seconds:g} s per level, median of {args.repeat} pairs of runs")
    report(asyncio.run(bench(levels, args.seconds, args.only, args.database_url, args.repeat)))


if __name__ == "__main__":
    main()

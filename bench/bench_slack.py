"""Slack load benchmark: `policybot serve` beside a bare Bolt app and a fixed-answer Bolt app.

The servers run as their own processes on loopback and answer into the fake Slack Web API
(tests/fakes/slack_api.py), which runs here beside the load generator. Senders post signed
``app_mention`` events and ``/policy`` commands, half each. For each level of concurrent
senders the bench reports requests per second, p50/p99 time to the HTTP response and, for
the answering servers, p99 time from sending a question until its answer reaches the fake
(chat.postMessage for a mention, the response_url for a command), and each server's CPU
milliseconds per request (Linux), answers included: on a shared machine req/s moves with
the neighbours' load, CPU per request much less. The bare Bolt app acks and does nothing:
the framework's ceiling on this machine. The fixed-answer Bolt app acks and posts a fixed
text the way PolicyBot delivers, with no retrieval and no database: the ceiling for any bot
that answers, since each answer is a second HTTP exchange that bare Bolt never makes.

Two ways to load it:

* conversation (default): a sender is a person asking; it sends its next question once it
  has the HTTP response and (from PolicyBot) the answer. Latency at a known concurrency.
  PolicyBot's senders wait for a second HTTP exchange (the answer) that bare Bolt's never
  do, so the req/s share in this mode is bounded by answer latency (about 50% at one
  sender even for a bot that took no time to answer), not a throughput comparison.
* ``--stream``: a sender sends again as soon as the HTTP response arrives, as Slack's event
  delivery does; if questions arrive faster than they can be answered, answers queue up and
  the answer latency shows the backlog. Throughput, like for like with bare Bolt, and
  overload behaviour.

    python bench/bench_slack.py                      # 1, 16, 64 senders, 3 s each
    python bench/bench_slack.py --stream --levels 1,8,64 --seconds 5 --repeat 2

Both servers stay up and the levels alternate between them, so a busy machine slows both
alike; ``--repeat N`` keeps each server's best of N runs per level. Loopback only, bounded
in time: each run lasts ``--seconds`` plus up to 30 s for the last answers to arrive (so no
backlog spills into the next run). PolicyBot answers from the bundled knowledge (or a
generated policy if that does not load) into an SQLite database in a temporary folder,
unless ``--database-url`` names an empty one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
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
from tests.fakes.slack_api import (  # noqa: E402
    BOT_USER_ID,
    SIGNING_SECRET,
    FakeSlackAPI,
    RecordedRequest,
    app_mention,
    event_callback,
    sign,
    slash_command,
)

QUESTIONS = (
    *EXAMPLES,
    "am I allowed to use my personal email for school work?",
    "can I share my password with a colleague?",
    "what is the canteen menu on tuesday?",
)

POLICYBOT = """
from adapters.web import serve
from bot.config import Settings
serve(Settings(), port={port})
"""

# The two baselines share the Bolt app, made the way Bolt's docs make one for aiohttp.
BOLT_APP = """
import asyncio, logging, os
from aiohttp import ClientSession, web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

logging.basicConfig(level=logging.WARNING)
app = AsyncApp(
    client=AsyncWebClient(token="xoxb-bench", base_url=os.environ["SLACK_API_URL"]),
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    process_before_response=True,
)
"""
RUN_BOLT = """
web.run_app(app.web_app(path="/slack/events", port={port}), port={port}, access_log=None,
            print=None)
"""

BARE_BOLT = (
    BOLT_APP
    + """
@app.event("app_mention")
async def mention(ack):
    await ack()

@app.command("/policy")
async def command(ack):
    await ack()
"""
    + RUN_BOLT
)

# The least any bot that answers must do: Bolt acks, then posts a fixed text the way
# PolicyBot delivers (chat.postMessage in the thread; the command's response_url), with no
# retrieval and no database. The ceiling for answering on this stack and this machine.
FIXED_ANSWER = (
    BOLT_APP
    + """
tasks, sessions = set(), []

def later(coroutine):
    task = asyncio.get_running_loop().create_task(coroutine)
    tasks.add(task)
    task.add_done_callback(tasks.discard)

@app.event("app_mention")
async def mention(ack, event, client):
    await ack()
    later(client.chat_postMessage(channel=event["channel"], thread_ts=event["ts"],
                                  text="Thanks, noted."))

async def respond(url):
    if not sessions:
        sessions.append(ClientSession())
    async with sessions[0].post(url, json={{"text": "Thanks, noted."}}) as response:
        await response.read()

@app.command("/policy")
async def command(ack, command):
    await ack()
    later(respond(command["response_url"]))
"""
    + RUN_BOLT
)

BARE_NAME = "bare Bolt"
FIXED_NAME = "fixed answer"
POLICYBOT_NAME = "policybot serve"
SERVERS = ((BARE_NAME, BARE_BOLT), (FIXED_NAME, FIXED_ANSWER), (POLICYBOT_NAME, POLICYBOT))


def start(code: str, port: int, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", code.format(port=port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_until_up(http: ClientSession, base: str, process: subprocess.Popen[bytes]) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "up", "token": "t"}).encode()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode() if process.stderr else "exited")
        try:
            headers = {"Content-Type": "application/json", **sign(body)}
            async with http.post(f"{base}/slack/events", data=body, headers=headers) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


async def run_level(
    http: ClientSession,
    base: str,
    slack: FakeSlackAPI,
    senders: int,
    seconds: float,
    tag: str,
    count_answers: bool,
    wait_for_answer: bool = False,
) -> Level:
    level = Level(senders)
    ids = itertools.count()
    stop_at = time.perf_counter() + seconds
    waiting: dict[str, asyncio.Future[None]] = {}

    def observe(request: RecordedRequest) -> None:
        key = answer_key(request)
        if key is not None and key in waiting and not waiting[key].done():
            waiting[key].set_result(None)

    slack.observers.append(observe)

    async def sender(worker: int) -> None:
        while time.perf_counter() < stop_at:
            n = next(ids)
            question = QUESTIONS[n % len(QUESTIONS)]
            if n % 2:
                key = f"{tag}{n}"
                body = slash_command(question, slack.response_url(key), trigger_id=key)
                content_type = "application/x-www-form-urlencoded"
            else:
                key = f"{1700000000 + n}.{worker:06d}"
                event = app_mention(f"<@{BOT_USER_ID}> {question}", ts=key)
                body = event_callback(event, event_id=f"Ev{tag}{n}")
                content_type = "application/json"
            headers = {"Content-Type": content_type, **sign(body)}
            if wait_for_answer:
                waiting[key] = asyncio.get_running_loop().create_future()
            started = time.perf_counter()
            level.sent_at[key] = started
            try:
                async with http.post(f"{base}/slack/events", data=body, headers=headers) as r:
                    await r.read()
                    ok = r.status == 200
            except OSError:
                ok = False
            if ok:
                level.responses.append(time.perf_counter() - started)
            else:
                level.errors += 1
            if ok and wait_for_answer:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiting[key], 10)
                del waiting[key]

    began = time.perf_counter()
    await asyncio.gather(*(sender(w) for w in range(senders)))
    level.seconds = time.perf_counter() - began
    slack.observers.remove(observe)
    if count_answers:
        await collect_answers(slack, level, tag)
    return level


def answer_key(request: RecordedRequest) -> str | None:
    """Which question an answer belongs to: a mention's ts, or a command's response_url."""
    if request.method == "chat.postMessage":
        return str(request.body.get("thread_ts"))
    if request.method.startswith("respond/"):
        return request.method.removeprefix("respond/")
    return None


async def collect_answers(slack: FakeSlackAPI, level: Level, tag: str) -> None:
    """Match every answer that reached the fake to its question; wait up to 30 s for late ones."""
    deadline = time.perf_counter() + 30
    arrived: dict[str, float] = {}
    while True:
        for request in slack.requests:
            key = answer_key(request)
            if key is not None and key in level.sent_at:
                arrived.setdefault(key, request.received_at)
        if len(arrived) >= len(level.sent_at) or time.perf_counter() > deadline:
            break
        await asyncio.sleep(0.1)
    level.delivered = [arrived[k] - level.sent_at[k] for k in arrived]
    level.missing = len(level.sent_at) - len(arrived)
    slack.requests.clear()


async def bench(
    levels: list[int],
    seconds: float,
    *,
    stream: bool = False,
    repeat: int = 1,
    only: str | None = None,
    database_url: str | None = None,
) -> dict[str, list[Level]]:
    """Run every level against each server in turn (interleaved, so both see the same
    machine load); with ``repeat`` > 1 keep each server's best run per level."""
    servers = [(n, c) for n, c in SERVERS if not only or n.startswith(only) or only in n]
    results: dict[str, list[Level]] = {name: [] for name, _ in servers}
    with tempfile.TemporaryDirectory(prefix="policybot-bench-") as tmp:
        folder = Path(tmp)
        knowledge = bundled_knowledge_dir()
        async with FakeSlackAPI() as slack:
            env = {
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "DATABASE_URL": database_url or f"sqlite:///{folder}/bench.db",
                "POLICYBOT_DATA_DIR": str(folder),
                "POLICYBOT_KNOWLEDGE_DIR": str(knowledge),
                "POLICYBOT_SECRET_KEY": "bench-key",
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack.base_url,
            }
            connector = TCPConnector(limit=0)
            processes: list[subprocess.Popen[bytes]] = []
            async with ClientSession(connector=connector, timeout=ClientTimeout(total=30)) as http:
                try:
                    bases, pids = {}, {}
                    for name, code in servers:
                        port = free_port()
                        processes.append(start(code, port, env, folder))
                        pids[name] = processes[-1].pid
                        bases[name] = f"http://127.0.0.1:{port}"
                        await wait_until_up(http, bases[name], processes[-1])
                        answers = name != BARE_NAME
                        await run_level(http, bases[name], slack, 4, 0.5, "warm", answers, answers)
                    for n in levels:
                        best: dict[str, Level] = {}
                        for attempt in range(repeat):
                            for name, _ in servers:
                                answers = name != BARE_NAME
                                cpu_before = cpu_seconds(pids[name])
                                level = await run_level(
                                    http,
                                    bases[name],
                                    slack,
                                    n,
                                    seconds,
                                    f"{n}-{attempt}-",
                                    answers,
                                    answers and not stream,
                                )
                                cpu_after = cpu_seconds(pids[name])
                                if cpu_before is not None and cpu_after is not None:
                                    level.cpu = cpu_after - cpu_before
                                if name not in best or level.rps > best[name].rps:
                                    best[name] = level
                        for name in best:
                            results[name].append(best[name])
                finally:
                    for process in processes:
                        process.terminate()
                        process.wait(timeout=30)
    return results


def report(results: dict[str, list[Level]], *, stream: bool = False) -> None:
    print(
        f"{'server':<16} {'senders':>7} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'answered':>10} {'answer p50 ms':>14} {'answer p99 ms':>14} "
        f"{'CPU ms/req':>10}"
    )
    for name, levels in results.items():
        for level in levels:
            answered = f"{len(level.delivered)}/{len(level.sent_at)}" if level.delivered else "-"
            answer_p50, answer_p99 = (
                (
                    f"{percentile(level.delivered, 0.5) * 1000:.1f}",
                    f"{percentile(level.delivered, 0.99) * 1000:.1f}",
                )
                if level.delivered
                else ("-", "-")
            )
            print(
                f"{name:<16} {level.clients:>7} {level.rps:>7.0f} "
                f"{percentile(level.responses, 0.5) * 1000:>7.1f} "
                f"{percentile(level.responses, 0.99) * 1000:>7.1f} {level.errors:>6} "
                f"{answered:>10} {answer_p50:>14} {answer_p99:>14} {level.cpu_ms:>10.2f}"
            )
    ours, fixed, bare = (results.get(n) for n in (POLICYBOT_NAME, FIXED_NAME, BARE_NAME))
    for name, mine, ceiling in (
        ("PolicyBot", ours, bare),
        ("the fixed answer", fixed, bare),
        ("PolicyBot", ours, fixed),
    ):
        if not mine or not ceiling or ceiling is mine:
            continue
        against = "bare Bolt's" if ceiling is bare else "the fixed answer's"
        for level, top in zip(mine, ceiling, strict=True):
            share = level.rps / top.rps if top.rps else float("nan")
            print(f"  {level.clients:>3} senders: {name}'s req/s is {share:.0%} of {against}")
    if ours and bare and not stream:
        # Each PolicyBot sender waits for its answer, a second HTTP exchange (server to
        # Slack) that bare Bolt never makes, so even a bot that answered in no time would
        # stay near 50% with one sender: these shares measure answer latency.
        print(
            "  (conversation mode: PolicyBot's senders also wait for each answer, which "
            "bare Bolt never sends;\n   the shares above are bounded by answer latency. "
            "Compare throughput with --stream.)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per level")
    parser.add_argument("--levels", default="1,16,64", help="concurrent senders per level")
    parser.add_argument(
        "--only", choices=["bare", "fixed", "policybot"], help="run one server only"
    )
    parser.add_argument(
        "--database-url", help="an empty database to use instead of a temporary SQLite file"
    )
    parser.add_argument(
        "--stream", action="store_true", help="send without waiting for answers (overload)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per level; best kept")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    mode = "stream" if args.stream else "conversation"
    print(f"mode: {mode}, {args.seconds:g} s per level, best of {args.repeat}")
    run = bench(
        levels,
        args.seconds,
        stream=args.stream,
        repeat=args.repeat,
        only=args.only,
        database_url=args.database_url,
    )
    report(asyncio.run(run), stream=args.stream)


if __name__ == "__main__":
    main()

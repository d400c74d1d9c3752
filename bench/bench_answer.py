"""Time to answer one question in-process, beside bare rank-bm25 on the same corpus.

Prints median and p99 per question for: the bundled policy (single questions and the
``ask --json -`` batch path), and synthetic knowledge of 10,000 and 100,000 clauses built
from the words of the real policies; and beside each, ``BM25Plus.get_scores`` over the
same clause texts (the baseline that scores every clause). Then the cold start of
``policybot ask`` in a fresh process.

    python bench/bench_answer.py            # full run
    python bench/bench_answer.py --quick    # 10,000 clauses only
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

from rank_bm25 import BM25Plus

from bot.analysis import words
from bot.config import Settings
from bot.knowledge import Clause, Policy, load_policies, sha256_text
from bot.service import Library, PolicyBot, bundled_knowledge_dir

SHARED = Path(__file__).resolve().parents[2] / "shared"


def questions() -> list[str]:
    found = []
    for path in sorted((SHARED / "eval").glob("*.jsonl")):
        found += [json.loads(line)["q"] for line in path.read_text().splitlines() if line]
    return found or ["can I friend a parent?", "is online poker ok at work"]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed(fn, items: list[str], rounds: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(rounds):
        for item in items:
            start = time.perf_counter()
            fn(item)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def synthetic(n: int, seed: int = 1) -> Policy:
    """Clauses of 8-40 words drawn from the real policies' word frequencies."""
    pool: list[str] = []
    for path in [*(SHARED / "policies").glob("*.md"), *(SHARED / "seed").glob("*.txt")]:
        pool += words(path.read_text())
    rng = random.Random(seed)
    clauses = tuple(
        Clause(
            id=f"c-{i}",
            section=(f"Section {i // 50}",),
            text=" ".join(rng.choices(pool, k=rng.randint(8, 40))),
        )
        for i in range(n)
    )
    return Policy(
        id="synthetic",
        title="Synthetic",
        version="1",
        contact="the owner",
        source="synthetic",
        content_hash=sha256_text(str(n)),
        clauses=clauses,
    )


def row(label: str, bot_ms: list[float], bare_ms: list[float]) -> None:
    (m1, p1), (m2, p2) = percentiles(bot_ms), percentiles(bare_ms)
    print(
        f"{label:<28} policybot median {m1:7.3f} ms  p99 {p1:7.3f} ms   |  "
        f"bare get_scores median {m2:7.3f} ms  p99 {p2:7.3f} ms   |  "
        f"ratio (median) {m1 / m2:5.2f}x"
    )


def bench_library(label: str, library: Library, asked: list[str], rounds: int) -> None:
    bot = PolicyBot(library)
    analyzer = library.analyzer
    bare = BM25Plus([analyzer.terms(c.text) for _, c in library.index.entries])
    tokenised = {q: analyzer.terms(q) for q in asked}
    bot_ms = timed(bot.ask, asked, rounds)
    bare_ms = timed(lambda q: bare.get_scores(tokenised[q]), asked, rounds)
    row(label, bot_ms, bare_ms)


def bench_batch(asked: list[str], rounds: int) -> None:
    from adapters.cli import answer_lines

    bot = PolicyBot.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    text = "\n".join(asked * rounds) + "\n"
    stdin, sys.stdin = sys.stdin, io.StringIO(text)
    start = time.perf_counter()
    try:
        with redirect_stdout(io.StringIO()):
            answer_lines(bot, json_output=True)
    finally:
        sys.stdin = stdin
    per = (time.perf_counter() - start) * 1000 / (len(asked) * rounds)
    print(f"{'batch (ask --json -)':<28} policybot mean {per:7.3f} ms per question")


def cold_start() -> None:
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "adapters.cli", "ask", "can I friend a parent?"],
            check=True,
            capture_output=True,
        )
        samples.append(time.perf_counter() - start)
    print(f"{'cold start policybot ask':<28} best {min(samples):.2f} s  worst {max(samples):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    asked = questions()
    policies = load_policies(bundled_knowledge_dir())
    clauses = sum(len(p.clauses) for p in policies)
    print(f"{len(asked)} questions; bundled policy has {clauses} clauses")
    bench_library("bundled policy", Library.load(bundled_knowledge_dir()), asked, rounds=20)
    bench_batch(asked, rounds=20)
    sizes = [10_000] if args.quick else [10_000, 100_000]
    lexicon_source = Library.load(bundled_knowledge_dir())
    for n in sizes:
        policy = synthetic(n)
        start = time.perf_counter()
        library = Library.from_policies((policy,), lexicon_source.lexicon)
        print(f"  (index of {n:,} clauses built in {time.perf_counter() - start:.1f} s)")
        bench_library(f"synthetic {n:,} clauses", library, asked, rounds=3 if n > 10_000 else 10)
    cold_start()


if __name__ == "__main__":
    main()

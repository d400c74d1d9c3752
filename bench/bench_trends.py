"""HR trends at a big school's scale: 50,000 questions over a year from 400 askers.

The questions go in through the real ``Store`` (masked and pseudonymised as in production)
into a temporary SQLite database, each answered by a real clause of the bundled knowledge:
popular clauses get most questions (Zipf), about one in six is declined, a few uncovered
topics recur, and some people give feedback. Then ``policybot trends --html FILE --weeks 52``
runs as a separate process, as HR would run it, and its wall time is measured (Python
start-up and imports included). Finally the report is audited: every figure re-derived from
the rows and every disclosure rule checked again, and the HTML page checked against the JSON
figures and for any pseudonym or user id.

    python bench/bench_trends.py                # 50,000 questions
    python bench/bench_trends.py --questions 5000 --askers 100

Not a test: it prints figures and exits non-zero when a check fails or the run takes 5 s
or more.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import Settings
from bot.service import Library, bundled_knowledge_dir
from bot.storage import Store
from bot.trends import analyse, read_rows, window
from bot.trends_audit import audit
from bot.trends_report import to_html, to_json

LIMIT_SECONDS = 5.0
WEEKS = 52
UNCOVERED = (
    "can I take [..] maternity leave early",
    "how much maternity pay do I get",
    "where can I park my car at school",
    "is there staff parking on site",
    "who pays for my training course",
    "can I claim expenses for the trip",
    "what is the dress code for staff",
)
ASKING = ("can I", "am I allowed to", "is it ok to", "what about", "do I have to")


def populate(store: Store, library: Library, questions: int, askers: int, seed: int) -> int:
    """Log ``questions`` questions over the last ``WEEKS`` complete weeks; return feedbacks."""
    rng = random.Random(seed)
    clauses = [(p.id, c) for p in library.policies for c in p.clauses]
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(clauses))]
    activity = [1 / (rank + 1) ** 0.5 for rank in range(askers)]
    people = [f"U{n:05d}" for n in range(askers)]
    start = datetime.now(UTC) - timedelta(weeks=WEEKS + 1)
    feedbacks = 0
    for _ in range(questions):
        when = start + timedelta(seconds=rng.uniform(0, (WEEKS + 1) * 7 * 86400))
        user = rng.choices(people, activity)[0]
        policy, clause = rng.choices(clauses, weights)[0]
        declined = rng.random() < 0.16
        if declined:
            text = rng.choice(UNCOVERED)
        else:
            text = f"{rng.choice(ASKING)} {rng.choice(clause.questions or (clause.text,))}"
        log_id = store.log_question(
            platform=rng.choice(("slack", "teams")),
            user=user,
            workspace="T1",
            question=text,
            is_known=library.analyzer.is_known,
            answered=not declined,
            clauses=[] if declined else [(policy, clause.id, 5.0)],
            when=when,
        )
        if rng.random() < 0.25:
            store.record_feedback(log_id, helpful=rng.random() < 0.8)
            feedbacks += 1
    return feedbacks


def trends_command() -> list[str]:
    """``policybot trends`` when the CLI mounts it, else the module itself."""
    policybot = shutil.which("policybot") or str(Path(sys.executable).with_name("policybot"))
    if Path(policybot).exists():
        shown = subprocess.run([policybot, "--help"], capture_output=True, text=True)
        if re.search(r"\btrends\b", shown.stdout):
            return [policybot, "trends"]
    return [sys.executable, "-m", "adapters.cli_trends"]


def check_html(html: str, document: dict[str, object], secrets: set[str]) -> list[str]:
    """The page's numbers are the report's visible figures; no pseudonym or user id."""
    problems = []
    visible = {}
    for item in document["figures"]:  # type: ignore[attr-defined]
        visible[item["table"], item["row"], item.get("policy"), item.get("clause")] = item
    numbers = re.findall(r'<data value="(\d+)" data-key="([^"]*)"', html)
    hidden = re.findall(r'<span class=hidden data-key="([^"]*)"', html)
    if not numbers or not hidden:
        problems.append("the page shows no figures, or hides none")
    if re.search(r"U\d{5}", html):
        problems.append("a user id appears in the page")
    if any(secret in html for secret in secrets):
        problems.append("a pseudonym appears in the page")
    if "<script" in html or re.search(r"""(?:src|href)=["']?https?:""", html):
        problems.append("the page loads something from elsewhere")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=50_000)
    parser.add_argument("--askers", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    options = parser.parse_args()

    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="bench-trends-", dir=shm if shm.is_dir() else None))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'policybot.db'}",
        "POLICYBOT_SECRET_KEY": "bench-trends-secret",
        "POLICYBOT_DATA_DIR": str(folder),
    }
    settings = Settings(
        _env_file=None,
        DATABASE_URL=env["DATABASE_URL"],
        POLICYBOT_SECRET_KEY=env["POLICYBOT_SECRET_KEY"],
        POLICYBOT_DATA_DIR=folder,
    )
    try:
        library = Library.load(bundled_knowledge_dir())
        store = Store.from_settings(settings)
        store.upgrade()
        began = time.perf_counter()
        feedbacks = populate(store, library, options.questions, options.askers, options.seed)
        print(
            f"logged {options.questions:,} questions from {options.askers} askers over "
            f"{WEEKS} weeks ({feedbacks:,} with feedback) through Store in "
            f"{time.perf_counter() - began:.1f} s ({folder})"
        )

        command = [*trends_command(), "--weeks", str(WEEKS)]
        html_file = folder / "trends.html"
        timings = []
        for _ in range(options.runs):
            began = time.perf_counter()
            subprocess.run(
                [*command, "--html", str(html_file)], env=env, check=True, capture_output=True
            )
            timings.append(time.perf_counter() - began)
        print(
            f"`{' '.join(Path(c).name for c in command)} --html FILE`: "
            f"best {min(timings):.2f} s, median {statistics.median(timings):.2f} s "
            f"over {len(timings)} runs (limit {LIMIT_SECONDS:.0f} s)"
        )
        began = time.perf_counter()
        subprocess.run(
            [*trends_command(), "--html", str(folder / "t12.html")],
            env=env,
            check=True,
            capture_output=True,
        )
        print(f"default 12 weeks: {time.perf_counter() - began:.2f} s")

        # The same analysis in this process, timed by stage, then audited.
        spans = window(WEEKS)
        began = time.perf_counter()
        rows = read_rows(store, library.policies, spans)
        read_s = time.perf_counter() - began
        began = time.perf_counter()
        trends = analyse(rows, library.policies, spans, settings.trends_min_askers)
        analyse_s = time.perf_counter() - began
        began = time.perf_counter()
        html = to_html(trends)
        render_s = time.perf_counter() - began
        document = to_json(trends)
        print(
            f"stages: read {read_s:.2f} s, analyse and suppress {analyse_s:.2f} s, "
            f"HTML {render_s:.2f} s ({len(html) / 1024:.0f} KiB)"
        )
        figures = document["figures"]
        hidden = sum(1 for f in figures if f.get("suppressed"))
        print(
            f"{len(figures):,} figures, {hidden:,} suppressed ({hidden / len(figures):.0%}); "
            f"{len(trends.themes)} gap themes: "
            + "; ".join(f"{' '.join(t.terms)} ({t.questions})" for t in trends.themes)
        )

        began = time.perf_counter()
        problems = audit(document, rows, settings.trends_min_askers)
        secrets = {q.asker for q in store.logged_questions() if q.asker}
        problems += check_html(html_file.read_text(encoding="utf-8"), document, secrets)
        if html_file.read_text(encoding="utf-8") != html:
            problems.append("the command's page differs from the in-process one")
        print(f"audit: {len(problems)} problems in {time.perf_counter() - began:.1f} s")
        for problem in problems[:20]:
            print("  " + problem)
        store.close()
        ok = not problems and min(timings) < LIMIT_SECONDS
        print("PASS" if ok else "FAIL")
        json.dumps(document)
        return 0 if ok else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

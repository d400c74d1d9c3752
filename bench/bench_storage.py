"""Storage under concurrency: 8 threads, then 2 processes, on SQLite and on PostgreSQL.

Each run records 10,000 acknowledgements (with deliberate duplicates: every tenth one is
clicked twice by the same worker, and every twentieth is also tried by another worker at
the same time) and logs 10,000 questions, then checks: no acknowledgement lost, none
duplicated, exactly 10,000 reported as newly recorded, the hash chain verifies, and every
question row is there once. Prints rows per second for each database and mode.

    python bench/bench_storage.py                 # full run
    python bench/bench_storage.py --quick         # 500 of each
    python bench/bench_storage.py --postgres URL  # default: $POLICYBOT_TEST_DATABASE_URL,
                                                  # else postgresql+psycopg://postgres@127.0.0.1:5432/test

Wall time is measured from the first worker starting to the last finishing (process start-up
and imports excluded). Not a test: it prints figures and exits non-zero if a check fails.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.storage import AcknowledgementRequest, Store
from bot.storage.schema import acknowledgements, questions

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
THREADS = 8
PROCESSES = 2
KNOWN = frozenset("can i text a parent on social media about the trip year 9 pupil".split())
QUESTION = "can I text Jayden Smith's parent on 07700 900{:03d} about the trip?"


@dataclass
class Share:
    """What one worker did."""

    started: float = 0.0
    finished: float = 0.0
    recorded: int = 0
    already: int = 0
    errors: list[str] = field(default_factory=list)
    log_ids: list[int] = field(default_factory=list)


def ack(index: int) -> AcknowledgementRequest:
    return AcknowledgementRequest(
        platform="slack" if index % 2 else "teams",
        workspace="T0SCHOOL",
        user_id=f"U{index:07d}",
        display_name=f"Staff member {index}",
        policy_id="staff-aup",
        policy_version="2018-07",
        text_sha256="ab" * 32,
        statement="I have read and accept the Staff Acceptable Use Policy.",
        campaign_id="2026",
        source_event=f"Ev{index}",
    )


def plan(worker: int, workers: int, count: int) -> list[int]:
    """The acknowledgement indexes one worker submits, duplicates included."""
    mine: list[int] = []
    for index in range(worker, count, workers):
        mine.append(index)
        if index % 10 == 0:
            mine.append(index)  # a double click
    neighbour = (worker + 1) % workers
    mine += [i for i in range(neighbour, count, workers) if i % 20 == 0]  # a racing retry
    return mine


def run_acks(store: Store, worker: int, workers: int, count: int) -> Share:
    share = Share(started=time.perf_counter())
    for index in plan(worker, workers, count):
        try:
            if store.record_acknowledgement(ack(index)).recorded:
                share.recorded += 1
            else:
                share.already += 1
        except Exception as error:  # a benchmark counts failures rather than stopping
            share.errors.append(f"{type(error).__name__}: {error}")
    share.finished = time.perf_counter()
    return share


def run_questions(store: Store, worker: int, workers: int, count: int) -> Share:
    share = Share(started=time.perf_counter())
    for index in range(worker, count, workers):
        try:
            share.log_ids.append(
                store.log_question(
                    platform="slack",
                    user=f"U{index % 500:07d}",
                    workspace="T0SCHOOL",
                    question=QUESTION.format(index % 1000),
                    is_known=KNOWN.__contains__,
                    answered=index % 3 != 0,
                    clauses=[("staff-aup", "mobile-phones-3", 4.2), ("staff-aup", "sm-1", 1.1)],
                )
            )
        except Exception as error:
            share.errors.append(f"{type(error).__name__}: {error}")
    share.finished = time.perf_counter()
    return share


def settings_for(url: str, data_dir: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        secret_key=SecretStr("bench-secret"),
        data_dir=Path(data_dir),
    )


def process_worker(args: tuple[str, str, str, int, int, int]) -> Share:
    """One process: its own Store, one share of the work (perf_counter is system-wide)."""
    phase, url, data_dir, worker, workers, count = args
    store = Store.from_settings(settings_for(url, data_dir))
    try:
        job = run_acks if phase == "acks" else run_questions
        return job(store, worker, workers, count)
    finally:
        store.close()


def in_threads(
    store: Store, job: Callable[[Store, int, int, int], Share], count: int
) -> list[Share]:
    shares: list[Share] = [Share() for _ in range(THREADS)]

    def work(worker: int) -> None:
        shares[worker] = job(store, worker, THREADS, count)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return shares


def in_processes(phase: str, url: str, data_dir: str, count: int) -> list[Share]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        jobs = [(phase, url, data_dir, w, PROCESSES, count) for w in range(PROCESSES)]
        return pool.map(process_worker, jobs)


@contextmanager
def fresh_database(kind: str, postgres: str) -> Iterator[str]:
    """A DATABASE_URL for an empty database: an SQLite file, or a PostgreSQL schema."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="pb-bench-") as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    schema = f"pb_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(postgres).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def wall(shares: list[Share]) -> float:
    return max(s.finished for s in shares) - min(s.started for s in shares)


def run(kind: str, mode: str, postgres: str, count: int) -> list[str]:
    """One database, one mode: record, log, check. Returns the failures found."""
    failures: list[str] = []
    with fresh_database(kind, postgres) as url, tempfile.TemporaryDirectory() as data_dir:
        store = Store.from_settings(settings_for(url, data_dir))
        store.upgrade()
        if mode == "threads":
            ack_shares = in_threads(store, run_acks, count)
            question_shares = in_threads(store, run_questions, count)
        else:
            ack_shares = in_processes("acks", url, data_dir, count)
            question_shares = in_processes("questions", url, data_dir, count)
        attempts = sum(len(plan(w, len(ack_shares), count)) for w in range(len(ack_shares)))
        recorded = sum(s.recorded for s in ack_shares)
        errors = [e for s in ack_shares + question_shares for e in s.errors]
        verdict = store.verify_chain()
        with store.db.engine.connect() as conn:
            ack_rows = conn.execute(select(func.count()).select_from(acknowledgements)).scalar()
            distinct = conn.execute(
                select(func.count()).select_from(
                    select(acknowledgements.c.platform, acknowledgements.c.user_id)
                    .distinct()
                    .subquery()
                )
            ).scalar()
            question_rows = conn.execute(select(func.count()).select_from(questions)).scalar()
        log_ids = [i for s in question_shares for i in s.log_ids]
        store.close()

    checks = {
        "errors": not errors,
        f"{count} recorded": recorded == count,
        f"{count} rows": ack_rows == count,
        "no duplicates": distinct == ack_rows,
        "chain verifies": verdict.ok,
        f"{count} questions": question_rows == count and len(set(log_ids)) == count,
    }
    failures = [f"{kind}/{mode}: {name}" for name, ok in checks.items() if not ok]
    failures += [f"{kind}/{mode}: {e}" for e in errors[:3]]
    ack_wall, question_wall = wall(ack_shares), wall(question_shares)
    print(
        f"{kind:<11} {mode:<10} {attempts:>8} {recorded:>8} {attempts - recorded:>6} "
        f"{ack_rows:>7} {count / ack_wall:>9.0f} {question_rows:>9} "
        f"{count / question_wall:>9.0f}  {'ok' if all(checks.values()) else 'FAILED'}",
        flush=True,
    )
    return failures


def postgres_reachable(url: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 of each instead of 10,000")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("POLICYBOT_TEST_DATABASE_URL") or DEFAULT_POSTGRES,
        help="PostgreSQL server to use (a fresh schema is created and dropped)",
    )
    options = parser.parse_args()
    count = 500 if options.quick else 10_000
    postgres = options.postgres.replace("postgres://", "postgresql+psycopg://", 1)
    kinds = ["sqlite"]
    why_not = postgres_reachable(postgres)
    if why_not is None:
        kinds.append("postgresql")
    print(
        f"{count} acknowledgements and {count} questions per run; "
        f"{THREADS} threads, then {PROCESSES} processes; SQLite synchronous=FULL, WAL"
    )
    print(
        f"{'database':<11} {'mode':<10} {'attempts':>8} {'recorded':>8} {'dupes':>6} "
        f"{'ack rows':>7} {'acks/s':>9} {'questions':>9} {'qlog/s':>9}  checks"
    )
    failures: list[str] = []
    for kind in kinds:
        for mode in ("threads", "processes"):
            failures += run(kind, mode, postgres, count)
    if why_not is not None:
        print(f"postgresql: skipped ({why_not})")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

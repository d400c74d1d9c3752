"""The ``policybot`` command line: ask, evaluate, ingest, chat, serve and administer.

Every command honours ``--knowledge DIR`` (or ``POLICYBOT_KNOWLEDGE_DIR``). Errors print
one clear sentence and exit with code 2, never a traceback.

Example::

    policybot ask "can I friend a parent?"
    echo "is poker ok at work" | policybot ask --json -
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from adapters.cli_campaigns import campaign_app, worker
from adapters.cli_storage import audit_app, db_app
from adapters.cli_trends import trends
from bot.chat import Reply
from bot.config import Settings
from bot.errors import PolicyBotError
from bot.service import PolicyBot

app = typer.Typer(
    name="policybot",
    help="PolicyBot: answers staff questions from your policies, in Slack, Teams and here.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

KnowledgeOption = Annotated[
    Path | None,
    typer.Option(
        "--knowledge",
        help="Knowledge folder (default: POLICYBOT_KNOWLEDGE_DIR or the bundled one).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Write JSON instead of text.")]


def fail(message: str) -> NoReturn:
    """Print one sentence to stderr and exit with code 2."""
    err.print(f"[bold red]Error:[/] {escape(message)}")
    raise typer.Exit(2)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn PolicyBot's own errors into a message and exit code 2."""
    try:
        yield
    except PolicyBotError as exc:
        fail(str(exc))


def settings_with(knowledge: Path | None) -> Settings:
    """Settings from the environment, with ``--knowledge`` taking precedence."""
    try:
        settings = Settings()
    except Exception as exc:  # pydantic's ValidationError names the variable
        fail(f"Invalid configuration: {exc}")
    if knowledge is not None:
        settings = settings.model_copy(update={"knowledge_dir": knowledge})
    return settings


def load_bot(knowledge: Path | None) -> PolicyBot:
    """A PolicyBot without a database, for the local commands."""
    with friendly_errors():
        return PolicyBot.from_settings(settings_with(knowledge))


def to_json(reply: Reply) -> dict[str, Any]:
    """The public JSON shape of a reply (documented in the README)."""
    return {
        "question": reply.question,
        "answered": reply.answered,
        "reply": reply.text,
        "obligation": reply.obligation,
        "contact": reply.contact,
        "clauses": [
            {
                "id": c.id,
                "policy": c.policy,
                "version": c.version,
                "section": c.section,
                "text": c.text,
                "obligation": c.obligation.value,
                "score": c.score,
            }
            for c in reply.clauses
        ],
    }


def to_rich(text: str) -> str:
    """Policy text as rich markup: markdown emphasis kept, everything else escaped."""
    marked = escape(text)
    marked = re.sub(r"\*\*(.+?)\*\*", r"[bold]\1[/bold]", marked)
    return re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"[italic]\1[/italic]", marked)


def show(reply: Reply) -> None:
    """Print a reply for a person reading a terminal."""
    if not reply.answered or reply.answer is None:
        out.print(f"[yellow]{escape(reply.text)}[/]")
        return
    citation = reply.answer
    out.print(f"[bold]{escape(reply.obligation or '')}[/]")
    out.print(f"“{to_rich(citation.text)}”")
    out.print(f"[dim]— {escape(citation.reference)} · clause {escape(citation.id)}[/]")
    for related in reply.related:
        out.print(f"[dim]Related ({escape(related.section)}):[/] {to_rich(related.text)}")


@app.command()
def ask(
    question: Annotated[
        str, typer.Argument(help='The question, or "-" to read one per line from stdin.')
    ],
    json_output: JsonOption = False,
    knowledge: KnowledgeOption = None,
) -> None:
    """Ask the policies a question. With --json and "-", answers stdin line by line."""
    bot = load_bot(knowledge)
    if question == "-":
        answer_lines(bot, json_output)
        return
    with friendly_errors():
        reply = bot.ask(question)
    if json_output:
        out.print_json(data=to_json(reply))
    else:
        show(reply)


def answer_lines(bot: PolicyBot, json_output: bool) -> None:
    """Batch mode: one question per stdin line, one answer per line, flushed as it goes."""
    for line in sys.stdin:
        question = line.rstrip("\n")
        try:
            reply = bot.ask(question)
        except PolicyBotError as exc:
            record: dict[str, Any] = {
                "question": question,
                "answered": False,
                "reply": str(exc),
                "clauses": [],
                "error": str(exc),
            }
            if not json_output:
                err.print(escape(str(exc)))
                continue
        else:
            if not json_output:
                show(reply)
                continue
            record = to_json(reply)
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()


@app.command("eval")
def evaluate_file(
    file: Annotated[Path, typer.Argument(help="A question file (.jsonl) as in shared/eval.")],
    json_output: JsonOption = False,
    knowledge: KnowledgeOption = None,
) -> None:
    """Score a question file: top-1, top-3, declines and every miss."""
    from bot.evaluation import evaluate, read_questions

    bot = load_bot(knowledge)
    with friendly_errors():
        report = evaluate(read_questions(file), bot.ask)
    if json_output:
        out.print_json(report.model_dump_json())
        return
    table = Table(title=f"{file.name}: {report.total} questions")
    table.add_column("measure")
    table.add_column("result", justify="right")
    table.add_row("first clause right (answerable)", f"{report.top1:.1%} of {report.answerable}")
    table.add_row("right clause in top 3", f"{report.top3:.1%}")
    table.add_row("uncovered declined", f"{report.declined_uncovered} of {report.uncovered}")
    table.add_row("answerable wrongly declined", str(report.wrongly_declined))
    table.add_row("end-to-end accuracy", f"{report.accuracy:.1%}")
    out.print(table)
    for miss in report.misses:
        kind = (
            "answered, should decline"
            if not miss.covered
            else ("declined" if not miss.answered else f"rank {miss.rank or '>3'}")
        )
        out.print(f"[red]miss[/] ({kind}): {escape(miss.question)}")
        if miss.first_clause:
            out.print(f"   [dim]first clause: {escape(miss.first_clause[:140])}[/]")


@app.command()
def policies(json_output: JsonOption = False, knowledge: KnowledgeOption = None) -> None:
    """List the loaded policies."""
    bot = load_bot(knowledge)
    rows = [
        {
            "id": p.id,
            "title": p.title,
            "version": p.version,
            "effective": p.effective.isoformat() if p.effective else None,
            "clauses": len(p.clauses),
            "contact": p.contact,
        }
        for p in bot.policies
    ]
    if json_output:
        out.print_json(data=rows)
        return
    table = Table("id", "title", "version", "clauses", "contact")
    for row in rows:
        table.add_row(
            *(escape(str(row[k])) for k in ("id", "title", "version", "clauses", "contact"))
        )
    out.print(table)


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="A policy document: .md, .txt, .docx or .pdf.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Knowledge folder to write.")],
    policy_id: Annotated[
        str | None, typer.Option("--id", help="Policy id (default: from the title).")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="Version label (default: from the document).")
    ] = None,
) -> None:
    """Turn a policy document into a knowledge folder that `ask --knowledge` can use at once."""
    from bot.ingest import ingest_to_folder

    with friendly_errors():
        policy = ingest_to_folder(file, out_dir, policy_id=policy_id, version=version)
    out.print(
        f"{escape(policy.title)} (version {escape(policy.version)}): "
        f"{len(policy.clauses)} clauses written to {escape(str(out_dir))}"
    )


@app.command()
def chat(knowledge: KnowledgeOption = None) -> None:
    """Talk to PolicyBot in the terminal. Ctrl-D or "quit" ends."""
    bot = load_bot(knowledge)
    out.print(escape(bot.help_text()))
    while True:
        try:
            question = input("\nyou> ")
        except (EOFError, KeyboardInterrupt):
            out.print()
            return
        if question.strip().lower() in {"quit", "exit", "bye"}:
            return
        try:
            show(bot.ask(question))
        except PolicyBotError as exc:
            out.print(f"[yellow]{escape(str(exc))}[/]")


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default: $PORT or 3978).")] = None,
    dev: Annotated[
        bool, typer.Option("--dev", help="Development mode: allow unauthenticated local use.")
    ] = False,
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="Slack Socket Mode (needs SLACK_APP_TOKEN).")
    ] = False,
    knowledge: KnowledgeOption = None,
) -> None:
    """Run the web process: Slack at /slack/events, Teams at /api/messages, /healthz."""
    from adapters.web import serve as run_server

    with friendly_errors():
        run_server(settings_with(knowledge), port=port, dev=dev, socket_mode=socket_mode)


@app.command("teams-package")
def teams_package(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder (or .zip path) to write.")],
    developer: Annotated[str, typer.Option(help="Developer name shown in Teams.")] = "PolicyBot",
    website: Annotated[str | None, typer.Option(help="Your website (https).")] = None,
    privacy: Annotated[str | None, typer.Option(help="Privacy statement URL (https).")] = None,
    terms: Annotated[str | None, typer.Option(help="Terms of use URL (https).")] = None,
) -> None:
    """Build the Teams app package (manifest.json and icons) for MICROSOFT_APP_ID."""
    from adapters.teams_package import DEFAULT_WEBSITE, build_package

    with friendly_errors():
        path = build_package(
            settings_with(None),
            out_dir,
            developer=developer,
            website_url=website or DEFAULT_WEBSITE,
            privacy_url=privacy,
            terms_url=terms,
        )
    out.print(f"Teams app package written to {escape(str(path))}")


app.command("trends")(trends)
app.command("worker")(worker)
app.add_typer(campaign_app, name="campaign")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()

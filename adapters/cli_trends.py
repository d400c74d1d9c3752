"""``policybot trends``: anonymised question trends for HR, in the terminal or as files.

Mounted into the main CLI by ``adapters/cli.py``::

    app.command("trends")(trends)

Every figure resting on fewer than ``POLICYBOT_TRENDS_K`` people (at least 5) is hidden, and
so are the few more that would let a hidden one be worked out by subtraction. Errors print
one sentence and exit with code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from bot.config import Settings
from bot.errors import PolicyBotError

if TYPE_CHECKING:  # the database and the analysis load only when the command runs
    from rich.console import Console

    from bot.trends import Figure, Trends

EXIT_ERROR = 2
HIDDEN = "–"


def trends(
    json_output: Annotated[
        bool, typer.Option("--json", help="Write the report as JSON to standard output.")
    ] = False,
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", help="Write every figure to this CSV file.", dir_okay=False),
    ] = None,
    html_file: Annotated[
        Path | None,
        typer.Option(
            "--html", help="Write a self-contained HTML report to this file.", dir_okay=False
        ),
    ] = None,
    weeks: Annotated[
        int, typer.Option("--weeks", min=1, max=104, help="Complete ISO weeks to cover.")
    ] = 12,
    knowledge: Annotated[
        Path | None,
        typer.Option(
            "--knowledge",
            help="Knowledge folder (default: POLICYBOT_KNOWLEDGE_DIR or the bundled one).",
        ),
    ] = None,
) -> None:
    """Anonymised question trends for HR, per ISO week; small groups are hidden.

    Example::

        policybot trends --weeks 12 --html trends.html
    """
    from bot.knowledge import load_policies
    from bot.service import bundled_knowledge_dir
    from bot.storage import Store
    from bot.trends import build_trends
    from bot.trends_report import to_csv, to_html, to_json

    try:
        settings = Settings()
        if knowledge is not None:
            settings = settings.model_copy(update={"knowledge_dir": knowledge})
        policies = load_policies(settings.knowledge_dir or bundled_knowledge_dir())
        store = Store.from_settings(settings)
        try:
            report = build_trends(store, policies, settings, weeks=weeks)
        finally:
            store.close()
        if csv_file is not None:
            _write(csv_file, to_csv(report))
        if html_file is not None:
            _write(html_file, to_html(report))
    except (PolicyBotError, ValidationError) as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    if json_output:
        typer.echo(json.dumps(to_json(report), ensure_ascii=False, indent=1))
    elif csv_file is None and html_file is None:
        show(report)
    for path in (csv_file, html_file):
        if path is not None:
            typer.echo(f"Wrote {path}", err=json_output)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise PolicyBotError(f"Cannot write {path}: {error.strerror or error}.") from None


def show(report: Trends, console: Console | None = None) -> None:
    """Print the report as tables: weeks, sections, top clauses, gaps, rising and falling."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = console or Console(highlight=False, soft_wrap=True)
    weeks = report.weeks

    def cell(figure: Figure) -> str:
        return HIDDEN if figure.count is None else f"{figure.count:,}"

    table = Table(title=f"Questions per week ({weeks[0]} to {weeks[-1]})")
    for name in ("week", "questions", "answered", "not covered"):
        table.add_column(name, justify="left" if name == "week" else "right")
    for week in (*weeks, None):
        table.add_row(
            week or "all weeks",
            *(cell(report.question(k, week)) for k in ("all", "answered", "declined")),
        )
    out.print(table)

    sections = Table(title="Sections")
    sections.add_column("section")
    shown: list[str | None] = [None, *weeks[-2:]]
    for column in shown:
        sections.add_column(column or "all weeks", justify="right")
    for topic in report.topics:
        if topic.level == "section":
            figures = (report.question(topic.key, column) for column in shown)
            sections.add_row(escape(topic.label), *(cell(f) for f in figures))
    out.print(sections)

    clauses = sorted(
        (report.question(t.key) for t in report.topics if t.level == "clause"),
        key=lambda f: (-(f.count or 0), f.topic.key),
    )
    top = Table(title="Top clauses (all weeks)")
    for name in ("clause", "words", "answered", "helpful", "not helpful"):
        top.add_column(
            name, justify="right" if name in ("answered", "helpful", "not helpful") else "left"
        )
    for figure in [f for f in clauses if f.count][:10]:
        words = figure.topic.clause_text or ""
        top.add_row(
            escape(figure.topic.clause or ""),
            escape(words if len(words) <= 70 else words[:68] + "…"),
            cell(figure),
            *(cell(report.feedback[figure.topic.key, c]) for c in ("helpful", "not_helpful")),
        )
    out.print(top)

    for theme in report.themes:
        out.print(f"Gap: [bold]{escape(' '.join(theme.terms))}[/] ({theme.questions:,} questions)")
    for title, changes in (("Rising", report.rising), ("Falling", report.falling)):
        for change in changes:
            out.print(
                f"{title}: {escape(change.topic.label)} {change.previous:,} → {change.latest:,}"
            )
    out.print(
        f"[dim]{HIDDEN} hidden: fewer than {report.k} people, or would reveal such a figure.[/]"
    )


if __name__ == "__main__":  # python -m adapters.cli_trends, before the command is mounted
    typer.run(trends)

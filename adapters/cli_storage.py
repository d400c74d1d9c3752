"""``policybot db ...`` and ``policybot audit ...``: the database and the audit trail.

Mounted into the main CLI by ``adapters/cli.py``::

    app.add_typer(db_app, name="db")
    app.add_typer(audit_app, name="audit")

``db upgrade`` is also the Procfile's ``release:`` step. ``audit verify`` exits 1 naming the
first altered, deleted or reordered acknowledgement; 0 when the chain verifies. Failures to
reach the database or bad configuration exit 2 with one sentence on stderr.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from bot.config import Settings
from bot.errors import PolicyBotError

if TYPE_CHECKING:  # SQLAlchemy loads only for the commands that need it, not for `ask`
    from bot.storage import Store

db_app = typer.Typer(help="Create, upgrade and prune PolicyBot's database.", no_args_is_help=True)
audit_app = typer.Typer(
    help="Check and export the acknowledgement audit trail.", no_args_is_help=True
)

EXIT_BROKEN = 1
EXIT_ERROR = 2


@contextmanager
def _store() -> Iterator[Store]:
    from bot.storage import Store

    try:
        store = Store.from_settings(Settings())
        try:
            yield store
        finally:
            store.close()
    except (PolicyBotError, ValidationError) as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(EXIT_ERROR) from None


@db_app.command("upgrade")
def upgrade() -> None:
    """Create the tables, or bring them up to date (safe to run every release)."""
    with _store() as store:
        store.upgrade()
    typer.echo("Database is up to date.")


@db_app.command("prune")
def prune() -> None:
    """Delete logged questions older than the retention period (POLICYBOT_RETENTION_DAYS)."""
    with _store() as store:
        removed = store.prune()
    typer.echo(f"Deleted {removed} logged question{'s' if removed != 1 else ''}.")


@audit_app.command("verify")
def verify() -> None:
    """Walk the acknowledgement hash chain; exit 1 naming the first bad row."""
    with _store() as store:
        result = store.verify_chain()
    if result.ok:
        typer.echo(f"OK: {result.rows} acknowledgements, chain head {result.head_hash}")
        return
    typer.echo(f"BROKEN: {result.describe()}", err=True)
    raise typer.Exit(EXIT_BROKEN)


@audit_app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="CSV file to write", dir_okay=False)],
) -> None:
    """Write every acknowledgement, with the chain head, to a CSV file for an auditor.

    The file is written even when the chain does not verify (the auditor needs it most
    then); the command then exits 1.
    """
    with _store() as store:
        result = store.export_acknowledgements(file)
    typer.echo(f"Wrote {result.rows} acknowledgements to {file}; chain head {result.head_hash}")
    if not result.verify.ok:
        typer.echo(f"BROKEN: {result.verify.describe()}", err=True)
        raise typer.Exit(EXIT_BROKEN)

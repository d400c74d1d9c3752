"""``policybot campaign ...`` and ``policybot worker``: acknowledgement campaigns from the
command line, and the process that sends their messages.

Mounted into the main CLI by ``adapters/cli.py``::

    app.add_typer(campaign_app, name="campaign")
    app.command("worker")(worker)

Examples::

    policybot campaign start --policy staff-acceptable-use --due 2026-09-30 \\
        --audience slack:workspace --every 12m
    policybot campaign status --json
    policybot campaign export staff-acceptable-use-20260901-3fa2 staff.csv
    policybot worker --drain

Errors print one sentence on stderr and exit with code 2. Running the CLI is an admin's
act (it needs the server's configuration), so it asks for no chat identity.
"""

from __future__ import annotations

import getpass
import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from adapters.logs import configure_logging
from bot.config import Settings
from bot.errors import PolicyBotError

if TYPE_CHECKING:  # the database and the chat SDKs load only for the commands that need them
    from bot.campaign_status import CampaignStatus
    from bot.campaign_worker import Worker
    from bot.campaigns import Campaigns
    from bot.storage import Store

campaign_app = typer.Typer(
    help="Run re-acknowledgement campaigns: everyone accepts the current policy.",
    no_args_is_help=True,
)

EXIT_ERROR = 2

KnowledgeOption = Annotated[
    Path | None,
    typer.Option(
        "--knowledge",
        help="Knowledge folder (default: POLICYBOT_KNOWLEDGE_DIR or the bundled one).",
    ),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(EXIT_ERROR)


@dataclass
class _Context:
    settings: Settings
    store: Store
    campaigns: Campaigns


@contextmanager
def _campaigns(knowledge: Path | None = None) -> Iterator[_Context]:
    from bot.campaigns import Campaigns
    from bot.service import PolicyBot
    from bot.storage import Store

    try:
        settings = Settings()
        if knowledge is not None:
            settings = settings.model_copy(update={"knowledge_dir": knowledge})
        store = Store.from_settings(settings)
        try:
            bot = PolicyBot.from_settings(settings, store=store)
            yield _Context(settings, store, Campaigns(store, bot.policies))
        finally:
            store.close()
    except (PolicyBotError, ValidationError) as error:
        raise _fail(str(error)) from None


def status_json(status: CampaignStatus) -> dict[str, Any]:
    """The public JSON shape of ``campaign status --json`` (documented in the README)."""
    data = status.model_dump(mode="json")
    return {"campaign": data.pop("campaign"), "policy": data.pop("policy"), **data}


@campaign_app.command("start")
def start(
    policy: Annotated[
        str, typer.Option("--policy", help="The policy's id (see `policybot policies`).")
    ],
    due: Annotated[str, typer.Option("--due", help="Due date, YYYY-MM-DD.")],
    audience: Annotated[
        str,
        typer.Option(
            "--audience",
            help="slack:workspace, slack:channel:C123, teams:all or csv:FILE "
            "(rows: platform,user_id[,display_name][,workspace]).",
        ),
    ],
    every: Annotated[
        str | None,
        typer.Option("--every", help="Start the next round by itself, e.g. 12m (months), 1y."),
    ] = None,
    reminders: Annotated[
        str,
        typer.Option(
            "--reminders",
            help="Reminder days from the due date (negative: before); 'none' for none.",
        ),
    ] = "-7,0,7,14,21,28",
    include_guests: Annotated[
        bool, typer.Option("--include-guests", help="Also ask Slack guest accounts.")
    ] = False,
    knowledge: KnowledgeOption = None,
) -> None:
    """Start a campaign and print its id; `policybot worker` sends the messages."""
    from bot.audience import parse_audience, resolve
    from bot.campaign_schedule import parse_reminders
    from bot.campaigns import StartRequest

    try:
        due_on = date.fromisoformat(due)
    except ValueError:
        raise _fail(f"--due {due!r} is not a date: write YYYY-MM-DD.") from None
    with _campaigns(knowledge) as ctx:
        try:
            parsed = parse_audience(audience)
            request = StartRequest(
                policy_id=policy,
                due_on=due_on,
                audience=str(parsed),
                started_by=f"cli:{_operator()}",
                every=every,
                reminder_days=parse_reminders(reminders),
                include_guests=include_guests,
            )
            ctx.campaigns.policy(policy)  # an unknown policy fails before Slack is asked
            members = resolve(
                parsed,
                store=ctx.store,
                slack=_directory(ctx.settings) if parsed.platform == "slack" else None,
                include_guests=include_guests,
            )
            campaign = ctx.campaigns.start(request, members)
        except PolicyBotError as error:
            raise _fail(str(error)) from None
        typer.echo(campaign.id)
        typer.echo(
            f"{ctx.campaigns.started(campaign.id)} `policybot worker` sends the messages.",
            err=True,
        )


@campaign_app.command("status")
def status(
    campaign_id: Annotated[
        str | None, typer.Argument(help="Campaign id (default: the latest campaign).")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Write JSON instead of text.")
    ] = False,
) -> None:
    """Show who has accepted, who has not, and who cannot be reached."""
    with _campaigns() as ctx:
        try:
            found = ctx.campaigns.status(campaign_id)
        except PolicyBotError as error:
            raise _fail(str(error)) from None
    if json_output:
        typer.echo(json.dumps(status_json(found), ensure_ascii=False))
    else:
        typer.echo(found.summary())


@campaign_app.command("export")
def export(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id.")],
    file: Annotated[Path, typer.Argument(help="CSV file to write.", dir_okay=False)],
) -> None:
    """Write everyone in a campaign, with their state and acceptance time, as CSV."""
    with _campaigns() as ctx:
        try:
            count = ctx.campaigns.export(campaign_id, file)
        except (PolicyBotError, OSError) as error:
            raise _fail(str(error)) from None
    typer.echo(f"Wrote {count} people to {file}")


@campaign_app.command("stop")
def stop(campaign_id: Annotated[str, typer.Argument(help="Campaign id.")]) -> None:
    """Stop a campaign: no more prompts or reminders; acceptances so far stay recorded."""
    with _campaigns() as ctx:
        try:
            stopped = ctx.campaigns.stop(campaign_id, f"cli:{_operator()}")
        except PolicyBotError as error:
            raise _fail(str(error)) from None
    typer.echo(f"Stopped {stopped.id}.")


def worker(
    drain: Annotated[
        bool,
        typer.Option("--drain", help="Send everything due now, wait out rate limits, then exit."),
    ] = False,
    slack_rate: Annotated[
        float, typer.Option(help="Slack messages per second for this worker.", min=0.01)
    ] = 4.0,
    teams_rate: Annotated[
        float, typer.Option(help="Teams messages per second for this worker.", min=0.01)
    ] = 10.0,
    lease: Annotated[
        float,
        typer.Option(
            help="Seconds a claimed send stays this worker's before others recover it.", min=1
        ),
    ] = 120.0,
    knowledge: KnowledgeOption = None,
) -> None:
    """Send campaign prompts, reminders and digests (the Procfile's `worker:` process)."""
    configure_logging()
    with _campaigns(knowledge) as ctx:
        try:
            running = build_worker(
                ctx.settings,
                ctx.campaigns,
                rates={"slack": slack_rate, "teams": teams_rate},
                lease=lease,
            )
        except PolicyBotError as error:
            raise _fail(str(error)) from None
        if not running.messengers:
            raise _fail(
                "No chat platform is configured: set SLACK_BOT_TOKEN, or MICROSOFT_APP_ID and "
                "MICROSOFT_APP_PASSWORD, for the worker to send anything."
            )
        try:
            report = running.drain() if drain else running.run(_stop_on_signals())
        except PolicyBotError as error:
            raise _fail(str(error)) from None
        finally:
            for messenger in running.messengers.values():
                close = getattr(messenger, "close", None)
                if callable(close):
                    close()
    typer.echo(f"Worker finished: {report.describe()}.", err=True)


def build_worker(
    settings: Settings, campaigns: Campaigns, *, rates: dict[str, float], lease: float
) -> Worker:
    """The worker with a messenger for each configured platform."""
    from bot.admins import Admins
    from bot.campaign_worker import Worker
    from bot.messenger import Messenger
    from bot.rate_limits import RateLimits

    messengers: dict[str, Messenger] = {}
    directory = None
    if settings.slack_bot_token is not None:
        from adapters.slack_messenger import SlackDirectory, SlackMessenger, web_client

        messengers["slack"] = SlackMessenger(web_client(settings, retries=False))
        directory = SlackDirectory(web_client(settings, retries=True))
    if settings.microsoft_app_id is not None:
        from adapters.teams import TeamsMessenger

        messengers["teams"] = TeamsMessenger(settings)
    return Worker(
        campaigns,
        messengers,
        admins=Admins(settings.admins),
        directory=directory,
        limits=RateLimits(rates),
        lease=timedelta(seconds=lease),
    )


def _directory(settings: Settings) -> Any:
    if settings.slack_bot_token is None:
        return None
    from adapters.slack_messenger import SlackDirectory, web_client

    return SlackDirectory(web_client(settings, retries=True))


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("worker: signal %s, finishing the current send", signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
    return stop


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def main() -> None:
    """``python -m adapters.cli_campaigns``: these commands on their own (tests, scripts)."""
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    app.add_typer(campaign_app, name="campaign")
    app.command("worker")(worker)
    app()


if __name__ == "__main__":
    main()

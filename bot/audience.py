"""Audiences: who a campaign asks, written as one short string an admin can type.

    slack:workspace        everyone in the Slack workspace (not bots, deactivated accounts
                           or, unless asked for, guests)
    slack:channel:C123     the members of one Slack channel (the same people left out)
    teams:all              everyone PolicyBot can reach in Teams (a stored conversation)
    csv:FILE               rows of platform,user_id[,display_name][,workspace]

Looking people up in Slack is the adapter's job: it implements ``Directory``. Teams people
come from the conversation references PolicyBot stored; a CSV file is read here.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

from bot.errors import AudienceError

if TYPE_CHECKING:
    from bot.storage import Store

PLATFORMS = ("slack", "teams")
MAX_ID = 200
_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,}$")

AudienceKind = Literal["slack:workspace", "slack:channel", "teams:all", "csv"]


class Member(NamedTuple):
    """One person a campaign asks: their platform, workspace (team/tenant) and id."""

    platform: str
    workspace: str
    user_id: str
    display_name: str


class Directory(Protocol):
    """A chat platform's list of people (the Slack adapter implements it)."""

    def workspace_members(self, *, include_guests: bool) -> list[Member]:
        """Everyone in the workspace, without bots and deactivated accounts."""
        ...

    def channel_members(self, channel: str, *, include_guests: bool) -> list[Member]:
        """Everyone in one channel, without bots and deactivated accounts."""
        ...


@dataclass(frozen=True)
class Audience:
    """A parsed audience: its kind and its argument (a channel id or a file path)."""

    kind: AudienceKind
    argument: str = ""

    @property
    def platform(self) -> str | None:
        """The one platform this audience lives on (None for a CSV, which may mix)."""
        return None if self.kind == "csv" else self.kind.split(":")[0]

    def __str__(self) -> str:
        if self.kind == "slack:channel":
            return f"slack:channel:{self.argument}"
        if self.kind == "csv":
            return f"csv:{self.argument}"
        return self.kind


def parse_audience(text: str) -> Audience:
    """Parse ``slack:workspace``, ``slack:channel:C123``, ``teams:all`` or ``csv:FILE``.

    >>> parse_audience("slack:channel:C0123ABC")
    Audience(kind='slack:channel', argument='C0123ABC')
    """
    value = text.strip()
    lowered = value.lower()
    if lowered in ("slack:workspace", "teams:all"):
        return Audience(lowered)  # type: ignore[arg-type]
    if lowered.startswith("slack:channel:"):
        channel = value.split(":", 2)[2].strip()
        if not _CHANNEL.match(channel):
            raise AudienceError(
                f"{channel!r} is not a Slack channel id (it looks like C0123ABCD; in Slack, "
                "open the channel's details to copy it)."
            )
        return Audience("slack:channel", channel)
    if lowered.startswith("csv:") and value[4:].strip():
        return Audience("csv", value[4:].strip())
    raise AudienceError(
        f"Unknown audience {text!r}: use slack:workspace, slack:channel:C123, teams:all "
        "or csv:FILE."
    )


def resolve(
    audience: Audience,
    *,
    store: Store,
    slack: Directory | None = None,
    include_guests: bool = False,
) -> list[Member]:
    """Everyone the audience names, each once, in a stable order.

    Raises ``AudienceError`` when the audience needs Slack and no directory is given, when
    a CSV file cannot be read or has a bad row (named by line), or when nobody is found.
    """
    if audience.kind in ("slack:workspace", "slack:channel"):
        if slack is None:
            raise AudienceError(
                "A Slack audience needs Slack: set SLACK_BOT_TOKEN (and SLACK_API_URL if "
                "you use a non-standard Slack host)."
            )
        if audience.kind == "slack:workspace":
            found = slack.workspace_members(include_guests=include_guests)
        else:
            found = slack.channel_members(audience.argument, include_guests=include_guests)
    elif audience.kind == "teams:all":
        from bot.storage.campaign_recipients import teams_people

        found = [Member("teams", t, user, name) for t, user, name in teams_people(store.db)]
    else:
        found = read_csv(Path(audience.argument))
    members = unique(found)
    if not members:
        raise AudienceError(f"Nobody found in {audience}: check the audience and try again.")
    return members


def unique(members: Sequence[Member]) -> list[Member]:
    """Each (platform, workspace, user) once, first occurrence kept, sorted."""
    seen: dict[tuple[str, str, str], Member] = {}
    for member in members:
        seen.setdefault((member.platform, member.workspace, member.user_id), member)
    return sorted(seen.values())


def read_csv(path: Path) -> list[Member]:
    """People from a CSV file: ``platform,user_id[,display_name][,workspace]`` per row.

    A first row naming the columns (``platform,user_id,...``) is skipped; blank lines and
    lines starting with ``#`` too. Raises ``AudienceError`` naming the line of a bad row.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AudienceError(f"{path}: file not found.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AudienceError(f"{path}: cannot be read ({exc}).") from None
    members: list[Member] = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if number == 1 and cells[0].lower() == "platform":
            continue
        members.append(_member(path, number, cells))
    return members


def _member(path: Path, line: int, cells: list[str]) -> Member:
    where = f"{path}, line {line}"
    if len(cells) < 2 or len(cells) > 4:
        raise AudienceError(f"{where}: expected platform,user_id[,display_name][,workspace].")
    platform, user_id = cells[0].lower(), cells[1]
    if platform not in PLATFORMS:
        raise AudienceError(f"{where}: platform must be slack or teams, not {cells[0]!r}.")
    if not user_id or len(user_id) > MAX_ID or any(c.isspace() for c in user_id):
        raise AudienceError(f"{where}: {user_id!r} is not a user id.")
    name = cells[2] if len(cells) > 2 else ""
    workspace = cells[3] if len(cells) > 3 else ""
    if len(workspace) > MAX_ID:
        raise AudienceError(f"{where}: the workspace id is too long.")
    return Member(platform, workspace, user_id, name[:MAX_ID])

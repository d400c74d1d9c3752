"""When a campaign speaks: the reminder schedule and the interval between rounds.

A campaign's messages to one person are numbered steps: step 0 is the prompt, step ``n``
is reminder ``n``, sent ``reminder_days[n - 1]`` days from the due date (negative: before
it) at ``REMINDER_HOUR`` UTC. The default, ``-7,0,7,14,21,28``, reminds a week before the
due date, on it, then weekly while overdue, six at most. A reminder that would arrive less
than ``MIN_GAP`` after the previous message is skipped, never bunched up: someone enrolled
two days before the due date gets the prompt, then the reminder on the day.

``--every 12m`` (or ``6m``, ``1y``, ``52w``, ``365d``) starts the next round that long
after this one started.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.errors import ScheduleError

DEFAULT_REMINDER_DAYS: tuple[int, ...] = (-7, 0, 7, 14, 21, 28)
MAX_REMINDERS = 12
REMINDER_HOUR = 9
MIN_GAP = timedelta(hours=20)
_EVERY = re.compile(r"^\s*(\d{1,3})\s*([dwmy])\s*$", re.IGNORECASE)


def parse_reminders(text: str) -> tuple[int, ...]:
    """Day offsets from the due date, e.g. ``"-7,0,7"``; ``""`` or ``"none"`` for none.

    >>> parse_reminders("-7, 0, +7, 14")
    (-7, 0, 7, 14)
    """
    value = text.strip().lower()
    if value in ("", "none"):
        return ()
    try:
        days = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError:
        raise ScheduleError(
            f"Reminders {text!r}: write day offsets from the due date, such as -7,0,7,14."
        ) from None
    if len(days) > MAX_REMINDERS:
        raise ScheduleError(f"At most {MAX_REMINDERS} reminders, please.")
    if any(abs(day) > 365 for day in days):
        raise ScheduleError("Reminders must fall within a year of the due date.")
    return tuple(days)


@dataclass(frozen=True)
class Every:
    """A repeat interval: ``count`` days, weeks, months or years."""

    count: int
    unit: str  # "d", "w", "m" or "y"

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"

    def after(self, moment: datetime) -> datetime:
        """``moment`` plus this interval (months keep the day, or the month's last day)."""
        if self.unit == "d":
            return moment + timedelta(days=self.count)
        if self.unit == "w":
            return moment + timedelta(weeks=self.count)
        months = self.count * (12 if self.unit == "y" else 1)
        return add_months(moment, months)


def parse_every(text: str) -> Every:
    """``"12m"`` → every twelve months; also ``d``, ``w`` and ``y``."""
    match = _EVERY.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ScheduleError(
            f"Repeat {text!r}: write a number and a unit, such as 12m (months), 1y or 52w."
        )
    every = Every(int(match.group(1)), match.group(2).lower())
    if every.after(datetime(2000, 1, 1, tzinfo=UTC)) - datetime(2000, 1, 1, tzinfo=UTC) < (
        timedelta(days=7)
    ):
        raise ScheduleError("Campaigns can repeat at most once a week.")
    return every


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved by whole months, clamping the day to the target month's length."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def reminder_time(due_on: date, offset_days: int) -> datetime:
    """When a reminder ``offset_days`` from the due date is sent."""
    day = due_on + timedelta(days=offset_days)
    return datetime.combine(day, time(REMINDER_HOUR), tzinfo=UTC)


def next_step(
    due_on: date, reminder_days: Sequence[int], sent_step: int, sent_at: datetime
) -> tuple[int, datetime] | None:
    """The step after ``sent_step`` (sent at ``sent_at``) and when it is due, or None.

    Reminders that would come within ``MIN_GAP`` of ``sent_at`` are skipped.
    """
    for step in range(sent_step + 1, len(reminder_days) + 1):
        when = reminder_time(due_on, reminder_days[step - 1])
        if when >= sent_at + MIN_GAP:
            return step, when
    return None


def is_overdue(due_on: date, now: datetime) -> bool:
    """True once the due date has passed (from the next day, UTC)."""
    return now.astimezone(UTC).date() > due_on

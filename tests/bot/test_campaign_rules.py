"""The rules campaigns follow, without a database: reminder schedules, repeat intervals,
audiences (and CSV files), who counts as an admin, and the sending limits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.admins import Admins
from bot.audience import Audience, Member, parse_audience, read_csv
from bot.campaign_schedule import (
    DEFAULT_REMINDER_DAYS,
    ScheduleError,
    add_months,
    next_step,
    parse_every,
    parse_reminders,
)
from bot.errors import AudienceError, PolicyBotError
from bot.rate_limits import RateLimits

DUE = date(2026, 9, 30)


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


# -- reminders --------------------------------------------------------------------------------


def test_the_default_reminds_a_week_before_on_the_day_then_weekly_six_at_most() -> None:
    assert DEFAULT_REMINDER_DAYS == (-7, 0, 7, 14, 21, 28)
    steps, sent_at, step = [], at(9, 1, 8), 0
    while (upcoming := next_step(DUE, DEFAULT_REMINDER_DAYS, step, sent_at)) is not None:
        step, sent_at = upcoming
        steps.append(sent_at)
    assert steps == [at(9, 23), at(9, 30), at(10, 7), at(10, 14), at(10, 21), at(10, 28)]


def test_reminders_too_close_to_the_last_message_are_skipped_not_bunched() -> None:
    # Enrolled two days before the due date: the week-before reminder is past; the next
    # one is on the day, more than 20 hours after the prompt.
    assert next_step(DUE, DEFAULT_REMINDER_DAYS, 0, at(9, 28, 10)) == (2, at(9, 30))
    # Prompted at 08:00 on the due date itself: the 09:00 reminder is skipped.
    assert next_step(DUE, DEFAULT_REMINDER_DAYS, 0, at(9, 30, 8)) == (3, at(10, 7))
    assert next_step(DUE, (), 0, at(9, 1)) is None


@pytest.mark.parametrize(
    ("text", "days"), [("-7,0,7", (-7, 0, 7)), (" 3, -1 ,+2", (-1, 2, 3)), ("none", ())]
)
def test_reminder_days_parse(text: str, days: tuple[int, ...]) -> None:
    assert parse_reminders(text) == days


@pytest.mark.parametrize("text", ["weekly", "1,2,x", ",".join(str(i) for i in range(13)), "400"])
def test_bad_reminder_days_say_what_to_write(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_reminders(text)


def test_repeat_intervals() -> None:
    start = datetime(2026, 1, 31, 9, tzinfo=UTC)
    assert parse_every("12m").after(start) == datetime(2027, 1, 31, 9, tzinfo=UTC)
    assert parse_every("1m").after(start) == datetime(2026, 2, 28, 9, tzinfo=UTC)
    assert parse_every("1y").after(start) == parse_every("12M").after(start)
    assert str(parse_every(" 52w ")) == "52w"
    assert add_months(datetime(2024, 2, 29, tzinfo=UTC), 12) == datetime(2025, 2, 28, tzinfo=UTC)
    for bad in ("0m", "12", "monthly", "3d"):
        with pytest.raises(ScheduleError):
            parse_every(bad)


# -- audiences --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "audience"),
    [
        ("slack:workspace", Audience("slack:workspace")),
        ("SLACK:WORKSPACE", Audience("slack:workspace")),
        ("slack:channel:C0STAFF1", Audience("slack:channel", "C0STAFF1")),
        ("teams:all", Audience("teams:all")),
        ("csv:/tmp/staff list.csv", Audience("csv", "/tmp/staff list.csv")),
    ],
)
def test_audiences_parse_and_print_back(text: str, audience: Audience) -> None:
    assert parse_audience(text) == audience
    assert parse_audience(str(audience)) == audience


@pytest.mark.parametrize("text", ["everyone", "slack:channel:#staff", "csv:", "teams"])
def test_bad_audiences_name_the_forms_that_work(text: str) -> None:
    with pytest.raises(AudienceError) as caught:
        parse_audience(text)
    assert isinstance(caught.value, PolicyBotError)


def test_a_csv_audience_reads_platform_user_name_and_workspace(tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    path.write_text(
        "platform,user_id,display_name,workspace\n"
        "slack,U1,Ann Smith,T1\n"
        "\n"
        "# supply staff below\n"
        'Teams,29:abc,"Bo, Jones",tenant-1\n'
        "slack,U2\n",
        encoding="utf-8",
    )
    assert read_csv(path) == [
        Member("slack", "T1", "U1", "Ann Smith"),
        Member("teams", "tenant-1", "29:abc", "Bo, Jones"),
        Member("slack", "", "U2", ""),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("slack\n", "line 1: expected platform,user_id"),
        ("zoom,U1\n", "line 1: platform must be slack or teams"),
        ("slack,U1\nslack,U 2\n", "line 2: 'U 2' is not a user id"),
    ],
)
def test_a_bad_csv_row_is_named_by_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "staff.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AudienceError, match=message):
        read_csv(path)


def test_a_missing_csv_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(AudienceError, match="file not found"):
        read_csv(tmp_path / "nope.csv")


# -- admins -------------------------------------------------------------------------------------


def test_configured_admins_are_matched_by_platform_and_id() -> None:
    admins = Admins(["slack:U123", " teams:29:1abc ", "SLACK:U9"])
    assert admins.allows("slack", "U123")
    assert admins.allows("slack", "U9")
    assert admins.allows("teams", "29:1abc")
    assert not admins.allows("teams", "U123")
    assert not admins.allows("slack", None)
    assert admins.allows_any("teams", [None, "aad-1", "29:1abc"])
    assert admins.of("teams") == ["29:1abc"]


def test_slack_workspace_admins_count_only_when_enabled_and_lookups_are_cached() -> None:
    asked: list[str] = []
    now = [0.0]

    def workspace_admin(user: str, workspace: str | None) -> bool:
        asked.append(user)
        if user == "UDOWN":
            raise AudienceError("Slack is unreachable")
        return user == "UOWNER"

    admins = Admins([], slack_workspace_admin=workspace_admin, clock=lambda: now[0])
    assert admins.allows("slack", "UOWNER")
    assert admins.allows("slack", "UOWNER")
    assert not admins.allows("slack", "UTEACHER")
    assert not admins.allows("slack", "UDOWN")  # a failed lookup refuses
    assert not admins.allows("teams", "UOWNER")
    assert asked == ["UOWNER", "UTEACHER", "UDOWN"]
    now[0] = 1000.0
    assert admins.allows("slack", "UOWNER")
    assert asked[-1] == "UOWNER"
    assert not Admins([]).allows("slack", "UOWNER")


# -- sending limits ------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_bucket_sends_at_the_rate_after_a_burst() -> None:
    time = FakeTime()
    limits = RateLimits({"slack": 10.0}, burst=5, clock=time.clock, sleep=time.sleep)
    for _ in range(25):
        limits.acquire("slack")
    # 5 at once, then 20 more at 10 a second.
    assert time.now == pytest.approx(2.0)


def test_one_message_a_second_per_conversation_and_pauses_on_429() -> None:
    time = FakeTime()
    limits = RateLimits({"slack": 100.0}, clock=time.clock, sleep=time.sleep)
    limits.pace("slack", "D1")
    limits.pace("slack", "D2")
    assert time.now == 0.0
    limits.pace("slack", "D1")
    assert time.now == pytest.approx(1.0)
    limits.pause("slack", 30)
    assert limits.wait_time("slack") == pytest.approx(30.0)
    assert limits.wait_time("teams") == 0.0
    for _ in range(10):
        limits.acquire("slack")
    # Nothing accrued during the pause: no burst straight after a 429.
    assert time.now == pytest.approx(31.0 + 10 / 100.0)
    assert limits.slept == pytest.approx(time.now)

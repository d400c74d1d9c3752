"""Who counts as HR, and the short-lived signed links that open the HR trends page.

HR opens ``/hr`` from a link PolicyBot sends them by direct message when they ask
``/policy trends``. The link carries a token, not a password: HMAC-SHA256 over a purpose and
an expiry a few minutes ahead, keyed with a key derived from ``POLICYBOT_SECRET_KEY`` (so it
cannot be confused with the question log's pseudonyms, which use the same secret). A token
names no person and holds no secret; it simply stops working when it expires.

Token layout: ``<purpose>.<expiry, Unix seconds>.<base64url MAC>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from pydantic import SecretStr

from bot.config import Settings
from bot.errors import ConfigError

HR_PURPOSE = "hr-trends"
HR_PATH = "/hr"
DEFAULT_TTL = timedelta(minutes=15)
MAX_TTL = timedelta(hours=1)
_PURPOSE = re.compile(r"[a-z0-9-]{1,40}")
_MAC_CHARS = 43  # base64url of 32 bytes, unpadded
_MAX_TOKEN = 120

Secret = SecretStr | str | bytes


def sign_link(
    secret: Secret,
    purpose: str = HR_PURPOSE,
    ttl: timedelta = DEFAULT_TTL,
    *,
    now: datetime | None = None,
) -> str:
    """A token for ``purpose`` that expires ``ttl`` from ``now`` (default: 15 minutes).

    Raises ``ConfigError`` for an empty secret, a purpose outside ``[a-z0-9-]``, or a
    lifetime that is not between a second and an hour: a link must not outlive a meeting.
    """
    key = _key(secret)
    if not _PURPOSE.fullmatch(purpose):
        raise ConfigError(f"Link purpose {purpose!r} must be 1-40 of a-z, 0-9 and '-'.")
    if not timedelta(seconds=1) <= ttl <= MAX_TTL:
        raise ConfigError("A link must expire between one second and one hour after it is made.")
    expires = int((_moment(now) + ttl).timestamp())
    return f"{purpose}.{expires}.{_mac(key, purpose, expires)}"


def verify_link(
    secret: Secret,
    token: str | None,
    now: datetime | None = None,
    *,
    purpose: str = HR_PURPOSE,
) -> bool:
    """True only for an unexpired, untampered token made with ``secret`` for ``purpose``.

    Total over any input: a missing, malformed, forged, expired or other-purpose token, or
    an empty secret, gives False and never raises. A token claiming to live longer than
    ``MAX_TTL`` is refused too, whoever made it.
    """
    if not token or len(token) > _MAX_TOKEN or not token.isascii():
        return False
    try:
        key = _key(secret)
    except ConfigError:
        return False
    pieces = token.split(".")
    if len(pieces) != 3:
        return False
    claimed, expiry, mac = pieces
    if claimed != purpose or not expiry.isdigit() or len(expiry) > 12 or len(mac) != _MAC_CHARS:
        return False
    expected = _mac(key, claimed, int(expiry))
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        return False
    left = int(expiry) - _moment(now).timestamp()
    return 0 < left <= MAX_TTL.total_seconds()


def is_hr(settings: Settings, platform: str, user_id: str | None) -> bool:
    """True when ``platform:user_id`` (e.g. ``slack:U123``, ``teams:29:abc``) is listed in
    ``POLICYBOT_HR``. Exact match: platform ids are case-sensitive."""
    if not user_id or not platform:
        return False
    return f"{platform}:{user_id}" in settings.hr


def hr_link(
    settings: Settings,
    base_url: str,
    *,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> str:
    """The URL of the HR trends page with a fresh token, to send by DM to an HR identity.

    ``base_url`` is where ``policybot serve`` is reachable, e.g. ``https://policybot.example.org``.
    Raises ``ConfigError`` when ``POLICYBOT_SECRET_KEY`` is unset or the URL is not http(s).
    """
    if settings.secret_key is None:
        raise ConfigError(
            "POLICYBOT_SECRET_KEY is not set: HR links are signed with it; add it to the "
            "environment or to .env."
        )
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ConfigError(f"{base_url!r} is not a base URL such as https://bot.example.org.")
    token = sign_link(settings.secret_key, HR_PURPOSE, ttl, now=now)
    return f"{base_url.strip().rstrip('/')}{HR_PATH}?token={token}"


def _key(secret: Secret) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not raw:
        raise ConfigError("POLICYBOT_SECRET_KEY is empty: HR links need a secret to sign with.")
    return hmac.new(raw, b"policybot/links/v1", hashlib.sha256).digest()


def _mac(key: bytes, purpose: str, expires: int) -> str:
    digest = hmac.new(key, f"{purpose}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _moment(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


NOT_HR = "Question trends are for the people HR has listed (POLICYBOT_HR). Ask HR if you need them."
NO_LINK = "The full report link needs POLICYBOT_PUBLIC_URL and POLICYBOT_SECRET_KEY to be set."


def report_link(settings: Settings) -> str | None:
    """A fresh signed link to the HR report, or None when the settings cannot make one."""
    if settings.public_url is None:
        return None
    try:
        return hr_link(settings, settings.public_url)
    except ConfigError:
        return None

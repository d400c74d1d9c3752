"""Teams app setup: the settings and Bot Framework endpoints Teams needs, and the app
package an admin uploads.

The package is a zip of ``manifest.json`` (app manifest schema 1.19, the bot id from
``MICROSOFT_APP_ID``, scopes personal, team and groupChat, a command list) and two icons
drawn here, with no imaging library: ``color.png`` (192x192, full colour) and
``outline.png`` (32x32, white on transparent, as Teams requires).

Example::

    path = build_package(Settings(), Path("dist"))   # dist/policybot-teams.zip
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.errors import ConfigError

MANIFEST_VERSION = "1.19"
SCHEMA_URL = (
    f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/"
    "MicrosoftTeams.schema.json"
)
PACKAGE_NAME = "policybot-teams.zip"
COLOR_ICON, OUTLINE_ICON = "color.png", "outline.png"
COLOR_SIZE, OUTLINE_SIZE = 192, 32
ACCENT = (0x1F, 0x5F, 0x8B)
SCOPES = ("personal", "team", "groupChat")
COMMANDS = (("help", "What I can do, with example questions"),)
#: Placeholders until the organisation passes its own pages (Teams requires https URLs).
DEFAULT_WEBSITE = "https://www.example.org/policybot"

Pixel = tuple[int, int, int, int]
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@dataclass(frozen=True)
class BotFrameworkCloud:
    """Where Bot Framework tokens are checked and fetched. Defaults: Azure's public cloud.

    Given to the SDK explicitly (not left to its built-in defaults), so production and the
    tests (a loopback OpenID endpoint) run the same validation code. The values are the
    Bot Framework's published endpoints, the same for botbuilder and the Agents SDK.
    """

    openid_metadata_url: str = "https://login.botframework.com/v1/.well-known/openidconfiguration"
    emulator_openid_metadata_url: str = (
        "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
    )
    token_issuer: str = "https://api.botframework.com"
    login_url: str = "https://login.microsoftonline.com/"
    oauth_scope: str = "https://api.botframework.com"
    oauth_url: str = "https://api.botframework.com"
    caller_id: str = "urn:botframework:azure"


PUBLIC_CLOUD = BotFrameworkCloud()


def teams_configured(settings: Settings) -> bool:
    """True when ``MICROSOFT_APP_ID`` is set: Teams is mounted, with authentication on."""
    return settings.microsoft_app_id is not None


def check_teams_settings(settings: Settings) -> None:
    """Raise ``ConfigError`` naming the variable when the Teams settings cannot work.

    ``MICROSOFT_APP_ID`` must be a GUID and comes with ``MICROSOFT_APP_PASSWORD`` (except
    for a managed identity); ``MICROSOFT_APP_TYPE=SingleTenant`` (or ``UserAssignedMSI``)
    needs ``MICROSOFT_APP_TENANT_ID``; a password without an app id is a mistake too.
    """
    app_id, kind = settings.microsoft_app_id, settings.microsoft_app_type
    has_password = settings.microsoft_app_password is not None
    if app_id is None:
        if has_password:
            raise ConfigError("MICROSOFT_APP_PASSWORD is set but MICROSOFT_APP_ID is not.")
        return
    if not _GUID.match(app_id):
        raise ConfigError("MICROSOFT_APP_ID must be the Azure Bot's app id, a GUID.")
    if kind != "UserAssignedMSI" and not has_password:
        raise ConfigError(
            "MICROSOFT_APP_PASSWORD is not set: MICROSOFT_APP_ID needs the client secret "
            "of its app registration; add it to the environment or to .env."
        )
    if kind in ("SingleTenant", "UserAssignedMSI") and settings.microsoft_app_tenant_id is None:
        raise ConfigError(
            f"MICROSOFT_APP_TENANT_ID is not set: MICROSOFT_APP_TYPE={kind} needs it."
        )


def build_package(
    settings: Settings,
    out: Path,
    *,
    developer: str = "PolicyBot",
    website_url: str = DEFAULT_WEBSITE,
    privacy_url: str | None = None,
    terms_url: str | None = None,
) -> Path:
    """Write the Teams app zip and return its path.

    The path is ``out`` when it ends in ``.zip``, else ``out/policybot-teams.zip`` (the
    folder is made). Needs ``MICROSOFT_APP_ID``; the password is not needed.
    """
    app_id = settings.microsoft_app_id
    if app_id is None:
        raise ConfigError("MICROSOFT_APP_ID is not set: the package needs the Azure Bot's app id.")
    if not _GUID.match(app_id):
        raise ConfigError("MICROSOFT_APP_ID must be the Azure Bot's app id, a GUID.")
    pages = {"website": website_url, "privacy": privacy_url or website_url}
    pages["terms of use"] = terms_url or website_url
    for name, url in pages.items():
        if not url.startswith("https://"):
            raise ConfigError(f"The {name} URL must start with https:// (Teams requires it).")
    if out.suffix.lower() != ".zip":  # a folder, made if need be
        out.mkdir(parents=True, exist_ok=True)
    path = out / PACKAGE_NAME if out.is_dir() else out
    path.parent.mkdir(parents=True, exist_ok=True)
    content = manifest(app_id, developer, pages["website"], pages["privacy"], pages["terms of use"])
    draft = path.with_name(f".{path.name}.part")
    with zipfile.ZipFile(draft, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(content, indent=2, ensure_ascii=False))
        archive.writestr(COLOR_ICON, color_icon())
        archive.writestr(OUTLINE_ICON, outline_icon())
    draft.replace(path)
    return path


def manifest(app_id: str, developer: str, website: str, privacy: str, terms: str) -> dict[str, Any]:
    """The app manifest: one bot, in personal chat, teams and group chats."""
    commands = [{"title": title, "description": text} for title, text in COMMANDS]
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": _version(),
        "id": app_id,
        "developer": {
            "name": developer,
            "websiteUrl": website,
            "privacyUrl": privacy,
            "termsOfUseUrl": terms,
        },
        "name": {"short": "PolicyBot", "full": "PolicyBot: answers from our policies"},
        "description": {
            "short": "Answers questions about our policies, quoting the clause that applies.",
            "full": (
                "Ask PolicyBot about our policies in your own words. It quotes the clause "
                "that answers, with the policy, version and section, and says so honestly "
                "when a policy does not cover your question, naming who to ask instead. "
                "Message it directly, or mention it in a channel or group chat."
            ),
        },
        "icons": {"color": COLOR_ICON, "outline": OUTLINE_ICON},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [
            {
                "botId": app_id,
                "scopes": list(SCOPES),
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [{"scopes": list(SCOPES), "commands": commands}],
            }
        ],
        "validDomains": [],
    }


def _version() -> str:
    # Teams wants a new x.y.z for every upload of a changed package: follow PolicyBot's.
    try:
        found = metadata.version("policybot")
    except metadata.PackageNotFoundError:
        return "1.0.0"
    match = re.match(r"^(\d+)\.(\d+)\.(\d+)", found)
    return ".".join(match.groups()) if match else "1.0.0"


# -- icons ----------------------------------------------------------------------------------


def color_icon(size: int = COLOR_SIZE) -> bytes:
    """A white page with three lines and a check mark, on the accent colour."""
    background, white = (*ACCENT, 255), (255, 255, 255, 255)
    tick = (((0.40, 0.64), (0.47, 0.71)), ((0.47, 0.71), (0.61, 0.57)))

    def pixel(x: int, y: int) -> Pixel:
        u, v = (x + 0.5) / size, (y + 0.5) / size
        if not (0.27 <= u <= 0.73 and 0.18 <= v <= 0.82):
            return background
        if 0.35 <= u <= 0.65 and any(abs(v - row) <= 0.02 for row in (0.30, 0.38, 0.46)):
            return background
        if any(_distance((u, v), a, b) <= 0.022 for a, b in tick):
            return background
        return white

    return png(size, size, pixel)


def _distance(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    # From point p to the segment a-b.
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return float(((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2) ** 0.5)


def outline_icon(size: int = OUTLINE_SIZE) -> bytes:
    """The same page, as a white outline on transparent."""
    white, clear = (255, 255, 255, 255), (0, 0, 0, 0)
    left, right, top, bottom = 8, 23, 4, 27

    def pixel(x: int, y: int) -> Pixel:
        edge = (x in (left, right) and top <= y <= bottom) or (
            y in (top, bottom) and left <= x <= right
        )
        line = y in (10, 14, 18) and left + 3 <= x <= right - 3
        return white if edge or line else clear

    return png(size, size, pixel)


def png(width: int, height: int, pixel: Callable[[int, int], Pixel]) -> bytes:
    """An 8-bit RGBA PNG of ``pixel(x, y)``, written with zlib alone."""
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )

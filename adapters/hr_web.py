"""``GET /hr?token=...``: the HR trends page, opened from a short-lived signed link.

HR asks ``/policy trends`` in chat and gets a link by direct message (``bot.links.hr_link``);
the token in it expires within minutes and names no one. Without a valid token the answer
is a plain 401 page, never an error trace; a database that does not answer gives 503.
The page is the same self-contained report as ``policybot trends --html``, sent with
headers that keep it out of caches, referrers, frames and search engines.

Wired into the web process by ``adapters/web.py``::

    mount_hr(app, store_provider=lambda: store, settings=settings, library=bot.library)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.config import Settings
from bot.errors import PolicyBotError
from bot.links import HR_PATH, verify_link
from bot.service import Library
from bot.storage import Store
from bot.trends import DEFAULT_WEEKS, build_trends
from bot.trends_report import to_html

log = logging.getLogger(__name__)

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
}
_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<title>{title}</title></head><body style="font:16px/1.5 system-ui,sans-serif;'
    'max-width:36rem;margin:2rem auto;padding:0 1rem"><h1>{title}</h1><p>{text}</p></body></html>'
)
DENIED = _PAGE.format(
    title="This link is not valid or has expired",
    text="HR trend links work for a few minutes only. Ask PolicyBot <code>/policy trends</code> "
    "in Slack or Teams for a new one.",
)
UNAVAILABLE = _PAGE.format(
    title="Trends are unavailable", text="The database did not answer. Please try again shortly."
)


def mount_hr(
    app: web.Application,
    *,
    store_provider: Callable[[], Store],
    settings: Settings,
    library: Library,
    weeks: int = DEFAULT_WEEKS,
) -> None:
    """Add ``GET /hr`` to ``app``: the trends report for a valid signed token, else 401."""
    app.router.add_get(HR_PATH, hr_handler(store_provider, settings, library, weeks))


def hr_handler(
    store_provider: Callable[[], Store], settings: Settings, library: Library, weeks: int
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The ``/hr`` route: check the token first, then build the report off the event loop."""

    async def handle(request: web.Request) -> web.Response:
        token = request.query.get("token")
        secret = settings.secret_key
        if secret is None or not verify_link(secret, token):
            return page(DENIED, 401)
        try:
            html = await asyncio.to_thread(render)
        except PolicyBotError as error:
            log.warning("HR trends unavailable: %s", type(error).__name__)
            return page(UNAVAILABLE, 503)
        return page(html, 200)

    def render() -> str:
        return to_html(build_trends(store_provider(), library.policies, settings, weeks=weeks))

    return handle


def page(html: str, status: int) -> web.Response:
    """An HTML response with the HR page's protective headers."""
    return web.Response(text=html, status=status, content_type="text/html", headers=HEADERS)

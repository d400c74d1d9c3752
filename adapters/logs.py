"""Process logging for the long-running commands (``serve``, ``worker``)."""

from __future__ import annotations

import logging


def configure_logging() -> None:
    """INFO to stderr with time and logger name, as Heroku's log drain expects."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Alembic announces each of its plugins at INFO on every start: noise, not news.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

"""A check every adapter test runs under."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from adapters import teams


@pytest.fixture(autouse=True)
def teams_cards_are_plain_json(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Teams sends a card as it is, unconverted (``teams._CardSerializer``): every card a
    test sends must be plain JSON, what ``json.loads`` gives back from its own dump."""
    build = teams._message

    def checked(card: dict[str, Any], summary: str | None = None) -> Any:
        assert json.loads(json.dumps(card)) == card, f"not plain JSON: {card!r:.200}"
        return build(card, summary)

    monkeypatch.setattr(teams, "_message", checked)
    yield

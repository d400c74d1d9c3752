"""The documentation keeps up: every command and every setting is in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from adapters.cli import app
from bot.config import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (ROOT / ".env.example").read_text(encoding="utf-8")


def command_names() -> list[str]:
    root = typer.main.get_command(app)
    names = []
    for name, command in getattr(root, "commands", {}).items():
        subcommands = getattr(command, "commands", None)
        if subcommands:
            names += [f"{name} {sub}" for sub in subcommands]
        else:
            names.append(name)
    return sorted(names)


def setting_names() -> list[str]:
    return sorted(
        str(info.validation_alias)
        for info in Settings.model_fields.values()
        if isinstance(info.validation_alias, str)
    )


def test_the_walk_finds_the_commands() -> None:
    assert {"ask", "eval", "ingest", "db upgrade", "audit verify"} <= set(command_names())


@pytest.mark.parametrize("name", command_names())
def test_every_command_is_documented(name: str) -> None:
    assert f"policybot {name}" in README


@pytest.mark.parametrize("name", setting_names())
def test_every_setting_is_documented_and_in_env_example(name: str) -> None:
    assert f"`{name}`" in README or f"{name}`" in README
    assert f"{name}=" in ENV_EXAMPLE

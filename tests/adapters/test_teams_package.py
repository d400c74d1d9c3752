"""The Teams app package: manifest fields Teams checks on upload, and the two icons."""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from adapters import teams_package
from adapters.teams_package import build_package
from bot.config import Settings
from bot.errors import ConfigError

APP_ID = "8f0c2b7e-1d2a-4e5f-9a6b-0c1d2e3f4a5b"


def decode_png(data: bytes) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """Width, height and RGBA pixels of an 8-bit RGBA, unfiltered PNG (what we write)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks[kind] = chunks.get(kind, b"") + body
        offset += 12 + length
    width, height, depth, colour, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour) == (8, 6)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + 4 * width
    pixels = []
    for y in range(height):
        row = raw[y * stride : (y + 1) * stride]
        assert row[0] == 0
        pixels += [tuple(row[1 + 4 * x : 5 + 4 * x]) for x in range(width)]
    assert b"IEND" in chunks
    return width, height, pixels  # type: ignore[return-value]


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return build_package(Settings(MICROSOFT_APP_ID=APP_ID), tmp_path)


def read_manifest(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


def test_the_package_holds_manifest_and_icons_at_its_root(package: Path) -> None:
    assert package.name == "policybot-teams.zip"
    with zipfile.ZipFile(package) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        assert archive.testzip() is None


def test_the_manifest_names_the_bot_and_its_scopes(package: Path) -> None:
    manifest = read_manifest(package)
    version = teams_package.MANIFEST_VERSION
    assert manifest["$schema"].endswith(f"/teams/v{version}/MicrosoftTeams.schema.json")
    assert manifest["manifestVersion"] == version
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    assert manifest["id"] == APP_ID
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    [commands] = bot["commandLists"]
    assert {"title": "help"}.items() <= commands["commands"][0].items()
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert re.fullmatch(r"#[0-9A-F]{6}", manifest["accentColor"])


def test_the_manifest_respects_teams_length_and_url_rules(package: Path) -> None:
    manifest = read_manifest(package)
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["name"]["full"]) <= 100
    assert len(manifest["description"]["short"]) <= 80
    assert len(manifest["description"]["full"]) <= 4000
    for url in manifest["developer"].values():
        assert url == manifest["developer"]["name"] or url.startswith("https://")
    for command in manifest["bots"][0]["commandLists"][0]["commands"]:
        assert len(command["title"]) <= 32 and len(command["description"]) <= 128


def test_the_colour_icon_is_192_square_and_opaque(package: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        width, height, pixels = decode_png(archive.read("color.png"))
    assert (width, height) == (192, 192)
    assert all(alpha == 255 for *_, alpha in pixels)
    assert len(set(pixels)) >= 2  # a picture, not a blank square


def test_the_outline_icon_is_32_square_white_on_transparent(package: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        width, height, pixels = decode_png(archive.read("outline.png"))
    assert (width, height) == (32, 32)
    assert set(pixels) == {(255, 255, 255, 255), (0, 0, 0, 0)}


def test_pages_can_be_given_and_out_can_be_a_file(tmp_path: Path) -> None:
    target = tmp_path / "dist" / "school.zip"
    path = build_package(
        Settings(MICROSOFT_APP_ID=APP_ID),
        target,
        developer="Example School",
        website_url="https://school.example",
        privacy_url="https://school.example/privacy",
    )
    assert path == target
    developer = read_manifest(path)["developer"]
    assert developer == {
        "name": "Example School",
        "websiteUrl": "https://school.example",
        "privacyUrl": "https://school.example/privacy",
        "termsOfUseUrl": "https://school.example",
    }
    assert [p.name for p in target.parent.iterdir()] == ["school.zip"]


def test_the_package_needs_the_app_id(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MICROSOFT_APP_ID"):
        build_package(Settings(), tmp_path)
    with pytest.raises(ConfigError, match="MICROSOFT_APP_ID"):
        build_package(Settings(MICROSOFT_APP_ID="policybot"), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_pages_must_be_https(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="privacy URL"):
        build_package(Settings(MICROSOFT_APP_ID=APP_ID), tmp_path, privacy_url="http://x.example")

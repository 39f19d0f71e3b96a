"""What every builtin plugin promises, checked for all of them at once.

Each builtin is an ordinary SDK plugin: declared in our own entry points, importing only
``sdk``, with a JSON Schema that can generate the web UI's form (a default, a title and a
description for every option), drawing every mode at every supported panel size without
failing, online or not, and -- given the data or setup it needs -- drawing something.
"""

from __future__ import annotations

import ast
import importlib
import json
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import numpy as np
import pytest

from sdk.testing import PluginRunner
from tests.golden import PANEL_SIZES, size_id
from tests.httpserver import RECORDED, RecordedServer
from tests.image_fixtures import pixel_art_png

BUILTIN_DIR = Path(__file__).parent.parent / "plugins_builtin"
#: Every builtin the issue asks for; the entry points must declare exactly these.
EXPECTED = {"clock", "text", "image", "weather", "crypto", "scoreboard", "countdown", "system"}
#: Builtins that fetch from the network and so must offer the SDK's network options.
NETWORK = {"weather", "crypto", "scoreboard"}
#: Builtins with nothing to show until the user sets them up (a target date, images).
NEEDS_SETUP = {"countdown", "image"}


def builtin_entry_points() -> dict[str, str]:
    return {
        ep.name: ep.value
        for ep in entry_points(group="ledhost.plugins")
        if ep.value.startswith("plugins_builtin.")
    }


def load(plugin_id: str) -> ModuleType:
    return importlib.import_module(builtin_entry_points()[plugin_id])


def test_every_builtin_is_declared_in_our_own_entry_points() -> None:
    assert set(builtin_entry_points()) == EXPECTED


@pytest.mark.parametrize("path", sorted(BUILTIN_DIR.rglob("*.py")), ids=lambda p: p.name)
def test_builtins_import_only_the_sdk_of_ledhost(path: Path) -> None:
    """Verify builtins eat our own cooking: no host, config, store or web imports."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in {"host", "config", "store", "web"}, (
                f"{path.name} imports {name}"
            )


def _walk_properties(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, Any]]:
    for key, sub in schema.get("properties", {}).items():
        yield f"{path}{key}", sub
        if isinstance(sub, dict):
            yield from _walk_properties(sub, f"{path}{key}.")
            items = sub.get("items")
            if isinstance(items, dict):
                yield from _walk_properties(items, f"{path}{key}[].")


@pytest.mark.parametrize("plugin_id", sorted(EXPECTED))
def test_builtin_schema_can_generate_a_form(plugin_id: str) -> None:
    """Verify a valid draft 2020-12 schema whose every option has a title and description,
    and whose every top-level option has a default that the schema itself accepts."""
    schema = load(plugin_id).config_schema()
    assert isinstance(schema, dict) and schema.get("type") == "object"
    jsonschema.Draft202012Validator.check_schema(schema)
    for key, sub in _walk_properties(schema):
        assert isinstance(sub, dict), key
        assert sub.get("title"), f"{plugin_id}: {key} has no title"
        assert sub.get("description"), f"{plugin_id}: {key} has no description"
    defaults = {key: sub["default"] for key, sub in schema["properties"].items()}
    assert set(defaults) == set(schema["properties"]), f"{plugin_id}: an option lacks a default"
    jsonschema.Draft202012Validator(schema).validate(defaults)


@pytest.mark.parametrize("plugin_id", sorted(NETWORK))
def test_network_builtins_offer_the_sdk_network_options(plugin_id: str) -> None:
    properties = load(plugin_id).config_schema()["properties"]
    for key in ("base_url", "refresh_interval", "stale_after", "timeout"):
        assert key in properties, f"{plugin_id} lacks {key}"
    assert properties["base_url"]["default"].startswith("https://")


@pytest.fixture(scope="module")
def dead_url() -> str:
    """An address where nothing listens: a network that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
@pytest.mark.parametrize("plugin_id", sorted(EXPECTED))
def test_offline_with_defaults_only_the_builtins_that_need_nothing_have_content(
    plugin_id: str, size: tuple[int, int], dead_url: str, tmp_path: Path
) -> None:
    """Verify that with its defaults and no network nothing raises, a builtin that needs
    the network or setting up says it has no content (and so is never shown blank), and
    every other one draws every mode."""
    module = load(plugin_id)
    config: dict[str, Any] = {}
    if plugin_id in NETWORK:
        config = {"base_url": dead_url, "timeout": 0.5}
    runner = PluginRunner(module, size=size, config=config, data_dir=tmp_path)
    runner.context.fetcher.backoff = 0.01  # refused connections: no need to wait between
    with runner:
        # Modes that have content only once asked (a notification sent to the host).
        on_demand = {"notification"} if plugin_id == "text" else set()
        with_content = [
            mode for mode in runner.modes if mode not in on_demand and runner.has_content(mode)
        ]
        if plugin_id in NETWORK | NEEDS_SETUP:
            assert with_content == [], f"{plugin_id} claims content it cannot have"
        else:
            expected = [mode for mode in runner.modes if mode not in on_demand]
            assert with_content == expected, f"{plugin_id} lacks content"
            for mode in with_content:
                _assert_draws(runner, mode, size)


def _assert_draws(runner: PluginRunner, mode: str, size: tuple[int, int]) -> None:
    """``mode`` draws a strip of the panel's height or a frame of its size, not blank."""
    strip = runner.render_strip(mode)
    if strip is not None:
        assert strip.canvas.height == size[1]
        assert strip.canvas.to_array().any(), f"{mode}: blank strip at {size}"
        return
    frame = runner.render_frame(mode, now=NOW)
    assert frame.pixels.shape == (size[1], size[0], 3)
    assert frame.pixels.dtype == np.uint8
    assert frame.pixels.any(), f"{mode}: blank frame at {size}"


#: When the drawing tests draw: a moment inside every recorded answer's day.
NOW = 1_790_000_000.0


def _without_logos(name: str) -> Any:
    """A recorded ESPN answer whose logos point nowhere (they are optional decoration)."""
    data = json.loads((RECORDED / name).read_text())
    for event in data.get("events", []):
        for competitor in event["competitions"][0]["competitors"]:
            competitor["team"].pop("logo", None)
    return data


def _set_up(plugin_id: str, server: RecordedServer, tmp_path: Path) -> dict[str, Any]:
    """What ``plugin_id`` needs to have content: its API answered by ``server`` with a
    recorded answer, a target date, or a folder with an image."""
    if plugin_id == "weather":
        server.serve_recorded("/v1/forecast", "open_meteo/berlin_metric_day.json")
        return {"base_url": f"{server.url}/v1"}
    if plugin_id == "crypto":
        server.serve_recorded("/coins/markets", "coingecko/markets_usd_sparkline.json")
        return {"base_url": server.url}
    if plugin_id == "scoreboard":
        server.serve("/football/nfl/scoreboard", _without_logos("espn/nfl_day.json"))
        return {"base_url": server.url, "leagues": ["football/nfl"]}
    if plugin_id == "countdown":
        # has_content reads the real clock: a target a year ahead of it, and of NOW.
        target = datetime.now() + timedelta(days=365)
        return {"target": target.strftime("%Y-%m-%dT%H:%M"), "label": "Launch"}
    if plugin_id == "image":
        folder = tmp_path / "images"
        folder.mkdir()
        (folder / "a.png").write_bytes(pixel_art_png())
        return {"folder": str(folder)}
    return {}


@pytest.mark.parametrize("size", PANEL_SIZES, ids=size_id)
@pytest.mark.parametrize("plugin_id", sorted(NETWORK | NEEDS_SETUP))
def test_set_up_builtins_draw_every_mode_at_every_size(
    plugin_id: str, size: tuple[int, int], http_server: RecordedServer, tmp_path: Path
) -> None:
    """Verify the builtins that need data or setting up, given it, have content in every
    mode and draw it (non-blank) at every panel size."""
    config = _set_up(plugin_id, http_server, tmp_path)
    runner = PluginRunner(load(plugin_id), size=size, config=config, data_dir=tmp_path / "d")
    with runner:
        runner.refresh()
        for mode in runner.modes:
            assert runner.has_content(mode), f"{plugin_id}:{mode} has no content when set up"
            _assert_draws(runner, mode, size)


def _doc_sections() -> list[tuple[str, str, dict[str, Any]]]:
    """``(doc file, instance id, section)`` for every ``[plugins.*]`` in the plugin pages."""
    import re
    import tomllib

    found = []
    for page in sorted((BUILTIN_DIR.parent / "docs" / "plugins").glob("*.md")):
        for block in re.findall(r"```toml\n(.*?)```", page.read_text(), flags=re.S):
            document = tomllib.loads(block)
            for instance, section in document.get("plugins", {}).items():
                found.append((page.name, instance, section))
    return found


@pytest.mark.parametrize(
    ("page", "instance", "section"), _doc_sections(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_toml_example_in_the_plugin_pages_is_valid(
    page: str, instance: str, section: dict[str, Any]
) -> None:
    """Verify a user who copies an example from a plugin's page gets a valid config."""
    from config import INSTANCE_SETTINGS, validate_plugin_options

    plugin_id = section.get("plugin") or instance
    instance_keys = {setting.name for setting in INSTANCE_SETTINGS}
    options = {k: v for k, v in section.items() if k not in instance_keys}
    schema = load(plugin_id).config_schema()
    validate_plugin_options(schema, options, where=f"{page}: plugins.{instance}")


def test_every_builtin_has_a_page() -> None:
    pages = {p.stem for p in (BUILTIN_DIR.parent / "docs" / "plugins").glob("*.md")}
    assert EXPECTED <= pages
    assert len(_doc_sections()) >= len(EXPECTED)

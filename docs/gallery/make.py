"""Render the README's gallery with ``ledhost render``: real workers, recorded answers.

Run from the repository root, with ledhost installed (``pip install -e .``)::

    .venv/bin/python docs/gallery/make.py

Every picture is made by the ``ledhost render`` command a user would type, each plugin
in a worker of its own. The network plugins fetch from a server on 127.0.0.1 that
answers with the recorded API responses the tests use (``tests/recorded``), so the
gallery can be rebuilt without a network and shows the same data every time. The
commands are printed as they run; ``--check`` renders into a temporary folder and only
reports whether every render worked.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw  # noqa: E402

from tests.httpserver import RECORDED, RecordedServer  # noqa: E402

OUT = Path(__file__).resolve().parent
ESPN_CDN = "https://a.espncdn.com"


@dataclass(frozen=True)
class Shot:
    """One picture: what ``ledhost render`` is asked for."""

    name: str
    target: str
    size: str
    #: The plugin's options; ``{server}`` in a string becomes the local server's URL.
    options: dict[str, Any] = field(default_factory=dict)
    scale: int = 6


SHOTS = [
    Shot("clock", "clock:time", "128x32", {"timezone": "Europe/Berlin"}),
    Shot(
        "text",
        "text:message",
        "64x32",
        {"messages": [{"text": "Hello!", "color": "#ffb000"}]},
    ),
    Shot(
        "countdown",
        "countdown:countdown",
        "128x64",
        {"target": "2027-12-24T18:00", "label": "Christmas", "timezone": "Europe/Berlin"},
    ),
    Shot("weather-current", "weather:current", "64x32", {"base_url": "{server}/open-meteo"}),
    Shot("weather-forecast", "weather:forecast", "128x64", {"base_url": "{server}/open-meteo"}),
    Shot("crypto-board", "crypto:board", "128x64", {"base_url": "{server}/coingecko"}),
    Shot("crypto-ticker", "crypto:ticker", "128x32", {"base_url": "{server}/coingecko"}, 4),
    Shot(
        "scoreboard-live",
        "scoreboard:live",
        "128x64",
        {"base_url": "{server}/espn", "leagues": ["basketball/nba"]},
    ),
    Shot(
        "scoreboard-64x32",
        "scoreboard:live",
        "64x32",
        {"base_url": "{server}/espn", "leagues": ["football/nfl"]},
    ),
    Shot("image", "image:slideshow", "64x32", {"folder": "{images}"}),
    Shot("system", "system:info", "128x64", {"web_url": "http://ledsign.local:8080/"}),
]


def serve_recordings(server: RecordedServer) -> None:
    """The recorded answers at the paths each plugin asks for, logos included."""
    server.serve_recorded("/open-meteo/forecast", "open_meteo/berlin_metric_day.json")
    server.serve_recorded("/coingecko/coins/markets", "coingecko/markets_usd_sparkline.json")
    for league, file in (("basketball/nba", "nba_live.json"), ("football/nfl", "nfl_day.json")):
        data = json.loads((RECORDED / "espn" / file).read_text())
        for event in data["events"]:
            for competitor in event["competitions"][0]["competitors"]:
                team = competitor["team"]
                logo = team.get("logo", "")
                if logo.startswith(ESPN_CDN):
                    team["logo"] = server.url + logo[len(ESPN_CDN) :]
                    server.serve(logo[len(ESPN_CDN) :], badge(team), content_type="image/png")
        server.serve(f"/espn/{league}/scoreboard", data)


def badge(team: dict[str, Any]) -> bytes:
    """A stand-in logo in the team's colours (real logos are not ours to publish)."""
    image = Image.new("RGBA", (48, 48), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((2, 2, 45, 45), fill=f"#{team.get('color', '888888')}")
    draw.ellipse((12, 12, 35, 35), fill=f"#{team.get('alternateColor', 'ffffff')}")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def write_sprite(folder: Path) -> None:
    """A 16x16 pixel-art heart for the image plugin."""
    rows = [
        "................",
        "..RRRR....RRRR..",
        ".RRWWRR..RRRRRR.",
        "RRWWRRRRRRRRRRRR",
        "RRWRRRRRRRRRRRRR",
        "RRRRRRRRRRRRRRRR",
        "RRRRRRRRRRRRRRRR",
        ".RRRRRRRRRRRRRR.",
        "..RRRRRRRRRRRR..",
        "...RRRRRRRRRR...",
        "....RRRRRRRR....",
        ".....RRRRRR.....",
        "......RRRR......",
        ".......RR.......",
        "................",
        "................",
    ]
    colors = {"R": (230, 30, 60, 255), "W": (255, 220, 230, 255)}
    image = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    for y, row in enumerate(rows):
        for x, char in enumerate(row):
            if char in colors:
                image.putpixel((x, y), colors[char])
    folder.mkdir(parents=True, exist_ok=True)
    image.save(folder / "heart.png")


def toml_value(value: Any) -> str:
    """``value`` as TOML (strings, numbers, lists and inline tables are all we need)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def render(shot: Shot, out: Path, work: Path, server: RecordedServer) -> bool:
    """Run ``ledhost render`` for ``shot``; say whether it worked."""
    config = work / f"{shot.name}.toml"
    lines = []
    for key, value in shot.options.items():
        if isinstance(value, str):
            value = value.replace("{server}", server.url).replace("{images}", str(work / "images"))
        lines.append(f"{key} = {toml_value(value)}")
    config.write_text("\n".join(lines) + "\n")
    command = [
        sys.executable, "-m", "host", "render", shot.target, "--size", shot.size,
        "--config", str(config), "--led", "--scale", str(shot.scale),
        "--out", str(out / f"{shot.name}.png"),
    ]  # fmt: skip
    shown = " ".join(command[3:]).replace(str(work) + "/", "").replace(str(ROOT) + "/", "")
    print("ledhost", shown)
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if result.returncode != 0 or "note:" in result.stderr:
        print(f"  FAILED ({result.returncode}): {result.stderr.strip()}", file=sys.stderr)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="render into a temporary folder")
    parser.add_argument("--only", help="render only the shot with this name")
    ns = parser.parse_args(argv)
    server = RecordedServer()
    try:
        serve_recordings(server)
        with tempfile.TemporaryDirectory(prefix="ledhost-gallery-") as tmp:
            work = Path(tmp)
            write_sprite(work / "images")
            out = work / "out" if ns.check else OUT
            out.mkdir(exist_ok=True)
            shots = [s for s in SHOTS if ns.only in (None, s.name)]
            failed = [s.name for s in shots if not render(s, out, work, server)]
    finally:
        server.close()
    if failed:
        print(f"{len(failed)} of {len(shots)} renders failed: {', '.join(failed)}")
        return 1
    print(f"{len(shots)} renders made")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How a :class:`~plugins_builtin.system.readings.SystemInfo` is laid out on the display.

The content is a few short items (host name, the web UI's URL, other addresses, a line of
temperature, uptime and load). Each item wraps onto rows at sensible points: a URL breaks
after ``//`` and before the port or path, never inside an address unless one alone is
wider than the display. Rows are put on pages, and the font is the biggest one that needs
the fewest pages: at 256x64 everything fits at once in "large", at 64x32 the URL needs
three rows of "small" and the whole takes two pages, which the mode turns.

Pure functions of the snapshot, the config and the size: the worker draws, tests check
the same pages with made-up snapshots.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plugins_builtin.system.readings import SystemInfo
from sdk import Canvas, Font, load_font
from sdk.canvas import RGB

__all__ = ["Page", "Run", "draw_page", "paginate", "temperature_color", "web_url"]

#: Largest first.
_FONTS = ("xlarge", "large", "medium", "small")
WHITE: RGB = (255, 255, 255)
GREY: RGB = (150, 150, 150)
CYAN: RGB = (79, 195, 255)
AMBER: RGB = (255, 176, 0)
#: At most this many addresses besides the one in the URL: a Docker host has dozens.
_MAX_EXTRA_ADDRESSES = 3
#: Extra blank rows between text rows, at most, when the page has room for them.
_MAX_LEADING = 2


@dataclass(frozen=True)
class Run:
    """A piece of text in one colour that wraps as a unit (unless it alone is too wide)."""

    text: str
    color: RGB


@dataclass(frozen=True)
class Page:
    """What one page shows: rows of runs, all in ``font``."""

    font: Font
    rows: tuple[tuple[Run, ...], ...]


def web_url(info: SystemInfo, config: Mapping[str, Any]) -> str | None:
    """The admin page's URL: ``web_url`` when set, else ``http://<address>:<port>/`` for
    the first address the page is reachable on; ``None`` with no ``web_port``, no address,
    or nothing listening on the port for the room (not at all, or on loopback only)."""
    override = str(config.get("web_url", "")).strip()
    if override:
        return override
    port = int(config.get("web_port", 0))
    if not info.addresses or port == 0:
        return None
    reachable = list(info.addresses)
    if info.listening is not None:
        if not info.listening & {"0.0.0.0", "::"}:
            reachable = [a for a in info.addresses if a in info.listening]
        elif "::" not in info.listening:  # 0.0.0.0 alone: IPv4 addresses only
            reachable = [a for a in info.addresses if ":" not in a]
    if not reachable:
        return None
    host = reachable[0]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def temperature_color(celsius: float, config: Mapping[str, Any]) -> RGB:
    """Green below ``warm_at``, amber below ``hot_at``, red from there (a Pi 4 starts to
    throttle at 80 °C)."""
    if celsius < float(config.get("warm_at", 60)):
        return (64, 255, 64)
    if celsius < float(config.get("hot_at", 75)):
        return AMBER
    return (255, 48, 48)


def uptime_text(seconds: float) -> str:
    """``"up 3d 4h"``, ``"up 4h 12m"`` or ``"up 12m"``: two units are enough to tell a
    fresh boot from a long run."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"up {days}d {hours}h"
    if hours:
        return f"up {hours}h {minutes}m"
    return f"up {minutes}m"


def items(info: SystemInfo, config: Mapping[str, Any]) -> list[list[Run]]:
    """The content in display order, each item a list of runs that wrap between them."""
    url = web_url(info, config)
    content: list[list[Run]] = [[Run(info.hostname, WHITE)]]
    if url is not None:
        content.append([Run(piece, CYAN) for piece in url_pieces(url)])
    elif not info.addresses:
        content.append([Run("no network", AMBER)])
    extra = [a for a in info.addresses if url is None or a not in url]
    for address in extra[:_MAX_EXTRA_ADDRESSES]:
        content.append([Run("IP ", GREY), Run(address, WHITE)])
    stats: list[Run] = []
    if info.temperature is not None:
        color = temperature_color(info.temperature, config)
        stats.append(Run(f"{info.temperature:.0f}\u00b0C", color))
    if info.uptime is not None and config.get("show_uptime", True):
        stats.append(Run(uptime_text(info.uptime), GREY))
    if info.load is not None and config.get("show_load", False):
        stats.append(Run(f"load {info.load:.2f}", GREY))
    if stats:
        spaced = [stats[0]] + [Run(f"  {run.text}", run.color) for run in stats[1:]]
        content.append(spaced)
    return content


def url_pieces(url: str) -> list[str]:
    """``"http://10.0.0.5:8080/ui"`` -> ``["http://", "10.0.0.5", ":8080", "/ui"]``: where
    a URL may wrap without splitting the part a user types as one."""
    match = re.fullmatch(r"([a-z][a-z0-9+.-]*://)?(\[[^\]]*\]|[^:/]*)(:\d+)?(/.*)?", url, re.I)
    if match is None:
        return [url]
    scheme, host, port, path = match.groups()
    pieces = [p for p in (scheme, host, port) if p]
    for segment in re.findall(r"/[^/]*", path or ""):
        # A lone "/" stays with what comes before it, so it never takes a row alone.
        if segment == "/" and pieces:
            pieces[-1] += segment
        else:
            pieces.append(segment)
    return pieces


def paginate(info: SystemInfo, config: Mapping[str, Any], width: int, height: int) -> list[Page]:
    """The pages to show in turn: the biggest font that needs the fewest pages."""
    content = items(info, config)
    best: tuple[tuple[int, int], list[Page]] | None = None
    for name in _FONTS:
        font = load_font(name)
        if font.height > height:
            continue
        pages = _pages(content, font, width, height)
        key = (len(pages), -font.height)
        if best is None or key < best[0]:
            best = (key, pages)
    if best is None:
        small = load_font("small")
        return _pages(content, small, width, max(height, small.height))
    return best[1]


def _pages(content: Sequence[Sequence[Run]], font: Font, width: int, height: int) -> list[Page]:
    """Wrap every item and fill pages with whole items (an item taller than a page
    continues on the next)."""
    per_page = max(1, height // font.height)
    pages: list[list[tuple[Run, ...]]] = [[]]
    for item in content:
        rows = _wrap(item, font, width)
        if pages[-1] and len(pages[-1]) + len(rows) > per_page:
            pages.append([])
        for row in rows:
            if len(pages[-1]) == per_page:
                pages.append([])
            pages[-1].append(row)
    return [Page(font, tuple(rows)) for rows in pages if rows]


def _wrap(item: Sequence[Run], font: Font, width: int) -> list[tuple[Run, ...]]:
    """Greedy wrapping of runs into rows no wider than ``width``; a run that is too wide
    on its own row is split after dots, colons or dashes, and as a last resort between letters."""
    rows: list[list[Run]] = [[]]
    used = 0
    for run in item:
        for piece in _fitting_pieces(run, font, width):
            text = piece.text
            if rows[-1] and used + font.measure(text)[0] > width:
                rows.append([])
                used = 0
            if not rows[-1]:
                text = text.lstrip()
            rows[-1].append(Run(text, piece.color))
            used += font.measure(text)[0]
    return [tuple(row) for row in rows if row]


def _fitting_pieces(run: Run, font: Font, width: int) -> list[Run]:
    """``run`` whole if it fits ``width``, else cut after every dot, colon or dash (and
    between letters where a part alone is still too wide), for :func:`_wrap` to pack."""
    if font.measure(run.text.lstrip())[0] <= width:
        return [run]
    pieces: list[Run] = []
    for part in re.findall(r"[^.:\-]*[.:\-]?", run.text.lstrip()):
        current = ""
        for char in part:
            if current and font.measure(current + char)[0] > width:
                pieces.append(Run(current, run.color))
                current = ""
            current += char
        if current:
            pieces.append(Run(current, run.color))
    return pieces


def draw_page(canvas: Canvas, page: Page) -> None:
    """Draw ``page``: rows centred across, the block centred down, with up to two blank
    rows between rows when there is room."""
    font = page.font
    count = len(page.rows)
    spare = canvas.height - count * font.height
    leading = min(_MAX_LEADING, spare // (count + 1)) if count > 1 and spare > 0 else 0
    block = count * font.height + (count - 1) * leading
    y = (canvas.height - block) // 2
    for row in page.rows:
        width = sum(font.measure(run.text)[0] for run in row)
        x = (canvas.width - width) // 2
        for run in row:
            x = canvas.text(x, y, run.text, font, run.color)
        y += font.height + leading

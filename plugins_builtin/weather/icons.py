"""Pixel weather icons, drawn as text art, at 10 and 20 pixels.

A scaled-down picture turns to mush at these sizes; art drawn pixel by pixel stays crisp.
The art is in :mod:`.art`; this module puts its pieces together into one icon per kind,
size and time of day, checks each one once at import, and draws them. Look at them
enlarged after a change::

    .venv/bin/python -c "from plugins_builtin.weather import icons; icons.preview('/tmp/i.png')"
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from plugins_builtin.weather import art
from plugins_builtin.weather.art import PALETTE, Art
from sdk import Canvas

__all__ = ["ICON_SIZES", "PALETTE", "Kind", "draw_icon", "icon_rows", "preview"]


class Kind(Enum):
    """What an icon shows; several WMO codes share one (see ``conditions.py``)."""

    CLEAR = "clear"
    PARTLY_CLOUDY = "partly_cloudy"
    CLOUDY = "cloudy"
    FOG = "fog"
    DRIZZLE = "drizzle"
    RAIN = "rain"
    FREEZING_RAIN = "freezing_rain"
    SNOW = "snow"
    SHOWERS = "showers"
    THUNDERSTORM = "thunderstorm"
    #: A code this plugin does not know: a thermometer, which claims nothing.
    UNKNOWN = "unknown"


#: The icon sizes there are art for: 10 for 32-pixel-high panels, 20 for 64-pixel ones.
ICON_SIZES: tuple[int, ...] = (10, 20)


@dataclass(frozen=True)
class _Parts:
    """The art of one size, and where the pieces of composed icons go."""

    size: int
    sun: Art
    moon: Art
    cloud_top: Art
    storm_top: Art
    cloudy: Art
    sky_day: Art
    sky_night: Art
    small_cloud: Art
    rain: Art
    drizzle: Art
    freezing: Art
    snow: Art
    bolt: Art
    shower_rain: Art
    fog: Art
    thermometer: Art
    #: (x, y) of the sky piece and of the small cloud in "partly cloudy".
    partly_at: tuple[tuple[int, int], tuple[int, int]]
    #: (x, y) of the sky piece, the small cloud and the rain in "showers".
    showers_at: tuple[tuple[int, int], tuple[int, int], tuple[int, int]]
    #: Whether a thunderstorm has rain beside its bolt (no room for both at 10 pixels).
    storm_rain: bool


_PARTS = (
    _Parts(
        size=10,
        sun=art.SUN_10,
        moon=art.MOON_10,
        cloud_top=art.CLOUD_TOP_10,
        storm_top=art.STORM_TOP_10,
        cloudy=art.CLOUDY_10,
        sky_day=art.SKY_DAY_10,
        sky_night=art.SKY_NIGHT_10,
        small_cloud=art.SMALL_CLOUD_10,
        rain=art.RAIN_10,
        drizzle=art.DRIZZLE_10,
        freezing=art.FREEZING_10,
        snow=art.SNOW_10,
        bolt=art.BOLT_10,
        shower_rain=art.SHOWER_RAIN_10,
        fog=art.FOG_10,
        thermometer=art.THERMOMETER_10,
        partly_at=((0, 1), (2, 5)),
        showers_at=((0, 0), (2, 3), (2, 8)),
        storm_rain=False,
    ),
    _Parts(
        size=20,
        sun=art.SUN_20,
        moon=art.MOON_20,
        cloud_top=art.CLOUD_TOP_20,
        storm_top=art.STORM_TOP_20,
        cloudy=art.CLOUDY_20,
        sky_day=art.SKY_DAY_20,
        sky_night=art.SKY_NIGHT_20,
        small_cloud=art.SMALL_CLOUD_20,
        rain=art.RAIN_20,
        drizzle=art.DRIZZLE_20,
        freezing=art.FREEZING_20,
        snow=art.SNOW_20,
        bolt=art.BOLT_20,
        shower_rain=art.SHOWER_RAIN_20,
        fog=art.FOG_20,
        thermometer=art.THERMOMETER_20,
        partly_at=((0, 2), (5, 9)),
        showers_at=((0, 0), (5, 7), (5, 16)),
        storm_rain=True,
    ),
)


def _compose(size: int, *pieces: tuple[Art, int, int]) -> Art:
    """Lay ``(art, x, y)`` pieces over each other on a ``size`` square: a later piece's
    pixels win, its ``.`` shows what is beneath."""
    rows = [["."] * size for _ in range(size)]
    for picture, left, top in pieces:
        for dy, row in enumerate(picture):
            for dx, char in enumerate(row):
                if char != ".":
                    rows[top + dy][left + dx] = char
    return tuple("".join(row) for row in rows)


def _build(parts: _Parts) -> dict[tuple[Kind, int, bool], Art]:
    """Every icon of one size, by day and by night."""
    size = parts.size
    top = len(parts.cloud_top)
    storm = [(parts.storm_top, 0, 0)]
    if parts.storm_rain:
        storm.append((parts.rain, 0, top))
    storm.append((parts.bolt, 0, top))
    built: dict[tuple[Kind, int, bool], Art] = {}
    for day in (True, False):
        sky = parts.sky_day if day else parts.sky_night
        (sky_at, cloud_at), (sky_at2, cloud_at2, rain_at) = parts.partly_at, parts.showers_at
        found = {
            Kind.CLEAR: parts.sun if day else parts.moon,
            Kind.PARTLY_CLOUDY: _compose(size, (sky, *sky_at), (parts.small_cloud, *cloud_at)),
            Kind.SHOWERS: _compose(
                size,
                (sky, *sky_at2),
                (parts.small_cloud, *cloud_at2),
                (parts.shower_rain, *rain_at),
            ),
            Kind.CLOUDY: parts.cloudy,
            Kind.FOG: parts.fog,
            Kind.DRIZZLE: (*parts.cloud_top, *parts.drizzle),
            Kind.RAIN: (*parts.cloud_top, *parts.rain),
            Kind.FREEZING_RAIN: (*parts.cloud_top, *parts.freezing),
            Kind.SNOW: (*parts.cloud_top, *parts.snow),
            Kind.THUNDERSTORM: _compose(size, *storm),
            Kind.UNKNOWN: parts.thermometer,
        }
        for kind, rows in found.items():
            if len(rows) != size or any(len(row) != size for row in rows):
                raise AssertionError(f"{kind.value} icon of {size}px is not {size}x{size}")
            unknown = set("".join(rows)) - set(PALETTE) - {"."}
            if unknown:
                raise AssertionError(f"{kind.value} icon of {size}px uses {sorted(unknown)}")
            built[kind, size, day] = rows
    return built


_ART = {key: rows for parts in _PARTS for key, rows in _build(parts).items()}


def icon_rows(kind: Kind, size: int, *, day: bool = True) -> tuple[str, ...]:
    """The art of ``kind`` at ``size`` (one of :data:`ICON_SIZES`), by day or by night.

    :raises ValueError: for a size there is no art for.
    """
    if size not in ICON_SIZES:
        raise ValueError(f"no {size}px weather icons; the sizes are {ICON_SIZES}")
    return _ART[kind, size, day]


def draw_icon(canvas: Canvas, x: int, y: int, kind: Kind, size: int, *, day: bool = True) -> None:
    """Draw ``kind``'s icon with its top left corner at ``(x, y)``."""
    canvas.bitmap(x, y, icon_rows(kind, size, day=day), PALETTE)


def preview(path: str | Path, scale: int = 8) -> None:
    """Save every icon, enlarged ``scale`` times on a grid, to a PNG for review."""
    from PIL import Image

    gap = 4
    kinds = list(Kind)
    rows = [(size, day) for size in ICON_SIZES for day in (True, False)]
    width = sum(gap + max(ICON_SIZES) for _ in kinds) + gap
    height = sum(gap + size for size, _ in rows) + gap
    canvas = Canvas(width, height)
    y = gap
    for size, day in rows:
        x = gap
        for kind in kinds:
            canvas.draw.rectangle((x - 1, y - 1, x + size, y + size), outline=(28, 28, 28))
            draw_icon(canvas, x, y, kind, size, day=day)
            x += gap + max(ICON_SIZES)
        y += gap + size
    canvas.image.resize((width * scale, height * scale), Image.Resampling.NEAREST).save(path)

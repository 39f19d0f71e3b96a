"""Layouts: several plugin instances on the panel at once, each in a region of its own.

A layout is a ``[layouts.<name>]`` table holding ``regions``, each a rectangle of the
display showing one instance's mode::

    [layouts.desk]
    regions = [
      { mode = "clock", x = 0, y = 0, width = 22, height = 32 },
      { mode = "weather:now", x = 22, y = 0, width = 42, height = 32 },
    ]

and the rotation shows it as ``"@desk"``. Every region's worker draws at the region's
size. Pure parsing: problems are reported with their key path, like every setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, final

from config.schema import KeyPath, describe_value, is_valid_id, is_valid_mode, suggest
from config.windows import Report

__all__ = ["LAYOUT_RESERVED", "Layout", "Region", "parse_layouts"]

#: Names a layout cannot take: ``"@ticker"`` is the ticker's item in the rotation.
LAYOUT_RESERVED: Final = frozenset({"ticker"})
_REGION_KEYS: Final = ("mode", "x", "y", "width", "height")


@final
@dataclass(frozen=True, slots=True)
class Region:
    """One rectangle of a layout and what it shows."""

    instance: str
    #: The mode, or ``None`` for the instance's first.
    mode: str | None
    x: int
    y: int
    width: int
    height: int

    def to_toml_value(self) -> dict[str, Any]:
        text = self.instance if self.mode is None else f"{self.instance}:{self.mode}"
        return {"mode": text, "x": self.x, "y": self.y, "width": self.width, "height": self.height}


@final
@dataclass(frozen=True, slots=True)
class Layout:
    """A ``[layouts.<name>]`` table."""

    name: str
    regions: tuple[Region, ...]


def parse_layouts(
    raw: Any,
    display: tuple[int, int],
    instances: Mapping[str, object] | None,
    report: Report,
) -> dict[str, Layout]:
    """Parse ``[layouts]``; every problem goes to ``report`` with its key path.

    :param display: ``(width, height)`` the regions must fit in.
    :param instances: the configured plugin instances, or ``None`` if ``[plugins]`` is
        broken (then regions are not checked against it).
    """
    layouts: dict[str, Layout] = {}
    if not isinstance(raw, Mapping):
        report(("layouts",), f"expected a table of layouts, found {describe_value(raw)}")
        return layouts
    for name, table in raw.items():
        path: KeyPath = ("layouts", name)
        if not is_valid_id(name) or name in LAYOUT_RESERVED:
            report(
                path,
                f"layout name {name!r} is not allowed: use a-z, 0-9, '_' or '-', "
                "starting with a letter, and not 'ticker'",
            )
            continue
        if not isinstance(table, Mapping):
            report(path, f"expected a table with regions, found {describe_value(table)}")
            continue
        for key in table:
            if key != "regions":
                report((*path, key), f"unknown key {key!r} in a layout (it has only 'regions')")
        regions = _regions(table.get("regions"), (*path, "regions"), display, instances, report)
        if regions:
            layouts[name] = Layout(name, regions)
    return layouts


def _regions(
    raw: Any,
    path: KeyPath,
    display: tuple[int, int],
    instances: Mapping[str, object] | None,
    report: Report,
) -> tuple[Region, ...]:
    if not isinstance(raw, list) or not raw:
        report(path, f"expected a list of one or more regions, found {describe_value(raw)}")
        return ()
    regions: list[Region] = []
    for index, item in enumerate(raw):
        here: KeyPath = (*path, index)
        region = _region(item, here, display, instances, report)
        if region is None:
            continue
        for other_index, other in enumerate(regions):
            if other.instance == region.instance:
                report(
                    here,
                    f"{region.instance!r} already has region {other_index}: a "
                    "plugin instance draws one mode at a time, so once per layout",
                )
                break
            if _overlap(region, other):
                report(here, f"overlaps region {other_index}")
                break
        else:
            regions.append(region)
    return tuple(regions)


def _region(
    item: Any,
    path: KeyPath,
    display: tuple[int, int],
    instances: Mapping[str, object] | None,
    report: Report,
) -> Region | None:
    if not isinstance(item, Mapping):
        report(
            path,
            'expected a table such as { mode = "clock", x = 0, y = 0, width = 22, '
            f"height = 32 }}, found {describe_value(item)}",
        )
        return None
    ok = True
    for key in item:
        if key not in _REGION_KEYS:
            report(
                (*path, key), f"unknown key {key!r} in a region{suggest(str(key), _REGION_KEYS)}"
            )
            ok = False
    text = item.get("mode")
    if not isinstance(text, str):
        report(
            (*path, "mode"), f'expected "instance" or "instance:mode", found {describe_value(text)}'
        )
        return None
    instance, colon, mode = text.partition(":")
    if not is_valid_id(instance) or (colon and not is_valid_mode(mode)):
        report((*path, "mode"), f'{text!r} is not "instance" or "instance:mode"')
        return None
    if instances is not None and instance not in instances:
        report(
            (*path, "mode"),
            f"{instance!r} is not a configured plugin instance{suggest(instance, list(instances))}",
        )
        ok = False
    numbers: dict[str, int] = {}
    limits = {"x": display[0] - 1, "y": display[1] - 1, "width": display[0], "height": display[1]}
    for key, top in limits.items():
        value = item.get(key)
        low = 0 if key in ("x", "y") else 1
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
            report(
                (*path, key),
                f"expected an integer from {low} to {top}, found {describe_value(value)}",
            )
            ok = False
        else:
            numbers[key] = value
    if ok and (
        numbers["x"] + numbers["width"] > display[0]
        or numbers["y"] + numbers["height"] > display[1]
    ):
        report(
            path,
            f"the region {numbers['width']}x{numbers['height']} at "
            f"({numbers['x']}, {numbers['y']}) does not fit the "
            f"{display[0]}x{display[1]} display",
        )
        ok = False
    if not ok:
        return None
    return Region(instance, mode if colon else None, **numbers)


def _overlap(a: Region, b: Region) -> bool:
    return (
        a.x < b.x + b.width
        and b.x < a.x + a.width
        and a.y < b.y + b.height
        and b.y < a.y + a.height
    )

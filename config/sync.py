"""What ``[sync]`` accepts beyond its declared types: a group name and a topic level.

Both end up inside MQTT topic names and payloads that other signs read, so they are held
to a small alphabet here rather than escaped later: a ``/``, ``+`` or ``#`` in the topic
would subscribe a follower to other signs' traffic, and a group is compared as it is.

Pure: no I/O (STYLE.md rule 17).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

__all__ = ["GROUP_PATTERN", "TOPIC_PATTERN", "WALL_PIXELS_MAX", "sync_problems", "wall_problems"]

#: Most pixels of a wall's canvas (256x64, 128x128): a frame, RGB with zlib, then fits the
#: 64 KiB the bridge takes per MQTT message even when it does not compress at all.
WALL_PIXELS_MAX: Final = 16384

#: A group name: what ``[sync] group`` and a notification's ``group`` may be.
GROUP_PATTERN: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: One MQTT topic level: no ``/`` and no wildcard, so the prefix is exactly one level.
TOPIC_PATTERN: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def sync_problems(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Yield ``(key, problem)`` for each ``[sync]`` value its type check let through.

    :param values: the section, already checked against its declared types.
    """
    group = values.get("group")
    if isinstance(group, str) and group and not GROUP_PATTERN.fullmatch(group):
        yield (
            "group",
            (
                f"{group!r} is not a group name: use 1-64 letters, digits, '_', '-' or '.' "
                '(or "" for none)'
            ),
        )
    topic = values.get("topic")
    if isinstance(topic, str) and not TOPIC_PATTERN.fullmatch(topic):
        yield (
            "topic",
            (
                f"{topic!r} is not one topic level: use 1-64 letters, digits, '_', '-' or '.' "
                "(no '/', '+' or '#')"
            ),
        )


def wall_problems(values: Mapping[str, Any], width: int, height: int) -> Iterator[tuple[str, str]]:
    """Yield ``(key, problem)`` for a ``[sync]`` wall that cannot work on a display of
    ``width`` x ``height``: the leader's display is the whole canvas; a follower's slice
    (its display's size, at ``wall_x``, ``wall_y``) must lie within it.
    """
    wall_w, wall_h = values.get("wall_width"), values.get("wall_height")
    role = values.get("role")
    if not isinstance(wall_w, int) or not isinstance(wall_h, int) or not (wall_w or wall_h):
        return
    if not (wall_w and wall_h):
        yield "wall_width", "wall_width and wall_height go together: set both or neither"
        return
    if wall_w * wall_h > WALL_PIXELS_MAX:
        yield (
            "wall_width",
            f"a {wall_w}x{wall_h} wall is over {WALL_PIXELS_MAX} pixels (its frames would not "
            "fit one MQTT message of 64 KiB)",
        )
    if role == "leader" and (wall_w, wall_h) != (width, height):
        yield (
            "wall_width",
            f"the leader renders the whole wall, so its display must be {wall_w}x{wall_h} "
            f"(it is {width}x{height}: set [display] cols/chain and rows/parallel)",
        )
    x, y = values.get("wall_x", 0), values.get("wall_y", 0)
    if role == "follower" and (x + width > wall_w or y + height > wall_h):
        yield (
            "wall_x",
            f"this sign's slice ({width}x{height} at {x},{y}) goes past the {wall_w}x{wall_h} wall",
        )

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

__all__ = ["GROUP_PATTERN", "TOPIC_PATTERN", "sync_problems"]

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

"""``[web] allowed_hosts``: the host names the admin UI answers to beyond the built-in ones.

Pure (imports nothing of ours): the config loader checks the list here, and the web
process (:mod:`web.hosts`) uses the same pattern to decide whether a request's ``Host``
is one of the sign's names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = ["NAME", "host_name_problems"]

#: A DNS name (letters, digits, hyphens; dot-separated labels), optionally ``*.`` first
#: for every name below a domain. No port, no scheme, no IP address (those always pass).
NAME: Final = re.compile(
    r"^(\*\.)?(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$", re.IGNORECASE
)
#: Most names the list may hold.
MAX_NAMES: Final = 64


def host_name_problems(values: Iterable[object]) -> list[str]:
    """What is wrong with the ``allowed_hosts`` list, one sentence per bad entry."""
    problems: list[str] = []
    items = list(values)
    if len(items) > MAX_NAMES:
        problems.append(f"at most {MAX_NAMES} names (got {len(items)})")
    for value in items[:MAX_NAMES]:
        if not isinstance(value, str) or len(value) > 253 or not NAME.match(value):
            problems.append(
                f"{value!r} is not a host name (letters, digits, '-' and dots, optionally "
                "'*.' first; no scheme, port or path)"
            )
        elif value.startswith("*.") and "." not in value[2:]:
            problems.append(f"{value!r} would allow a whole top-level domain; name yours")
    return problems

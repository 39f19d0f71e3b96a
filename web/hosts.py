"""Which ``Host`` and ``Origin`` the admin UI answers to: DNS rebinding and cross-site
requests refused.

A page on any web site the user visits can send requests to the sign's LAN address, and a
site that makes its own name resolve to the sign's address (DNS rebinding) becomes, to the
browser, the same origin as the sign. Neither needs the user to do anything, and on a
fresh sign the first-run setup takes the first password it is sent. So every request must
name the sign (``Host``): an IP address, ``localhost``, a name without a dot, the Pi's own
host name, a LAN name, or a name in ``[web] allowed_hosts``, never an attacker's domain; and
every state-changing request a browser sends from another origin is refused (``Origin``).
JSON bodies must say so (:func:`web.auth.body`), which a cross-site page cannot do without
a CORS preflight the app never answers.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

__all__ = ["LAN_SUFFIXES", "HostCheck", "host_name"]

#: Names only a local resolver gives out: an attacker's site cannot take one of these.
LAN_SUFFIXES: Final = (
    ".local", ".lan", ".home", ".home.arpa", ".internal", ".localdomain", ".fritz.box",
    ".localhost",
)  # fmt: skip


def host_name(netloc: str) -> str:
    """The name (or address) of a ``Host`` header or an origin's netloc, port removed,
    lower case, without a trailing dot; IPv6 literals without their brackets."""
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0].lower()
    return netloc.rsplit(":", 1)[0].rstrip(".").lower()


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostCheck:
    """Decides whether a request names this sign and comes from its own pages.

    :param allowed: ``[web] allowed_hosts`` (``*.example.com`` allows every name below).
    :param own: the machine's own names (its host name by default).
    """

    def __init__(self, allowed: Iterable[str] = (), own: Iterable[str] | None = None) -> None:
        names = [n.lower().rstrip(".") for n in allowed]
        self.exact = frozenset(n for n in names if not n.startswith("*."))
        self.domains = tuple(n[1:] for n in names if n.startswith("*."))  # ".example.com"
        mine = [socket.gethostname()] if own is None else list(own)
        self.own = frozenset(n.lower().rstrip(".") for n in mine if n)

    def _listed(self, name: str) -> bool:
        return name in self.exact or (bool(self.domains) and name.endswith(self.domains))

    def host_ok(self, host: str) -> bool:
        """Whether the ``Host`` header names this sign."""
        name = host_name(host)
        if not name:
            return False
        return (
            _is_address(name)
            or name == "localhost"
            or "." not in name
            or name in self.own
            or name.endswith(LAN_SUFFIXES)
            or self._listed(name)
        )

    def origin_ok(self, origin: str, host: str) -> bool:
        """Whether a state-changing request's ``Origin`` is the sign's own pages: the
        origin's host and port are the request's ``Host``, or its name is listed in
        ``allowed_hosts`` (a reverse proxy that rewrites ``Host``). ``null`` (a sandboxed
        frame, a file) never is."""
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        if parts.netloc.lower() == host.lower():
            return True
        return self._listed(host_name(parts.netloc))

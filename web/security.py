"""Who may call what: the sign's names, sessions, API tokens, CSRF, first-run lock-out,
login rate limit.

Every request passes :func:`guard` (a ``before_request`` hook), so a new route is
protected by default: first the ``Host`` and ``Origin`` checks of :mod:`web.hosts` (DNS
rebinding, cross-site requests), then authentication, which only the names in
:data:`OPEN_ENDPOINTS` skip. Token-authenticated calls (``Authorization: Bearer
lh_...``) are exempt from CSRF (a browser never sends that header on its own);
session-authenticated state changes need the session's CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections import defaultdict, deque

from flask import current_app, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from web.auth_store import AuthStore
from web.errors import ApiError
from web.hosts import HostCheck, host_name

#: Reachable without a login (the rest of the API is refused).
OPEN_ENDPOINTS = {
    "auth.setup", "auth.login", "auth.logout", "auth.state", "api_meta.openapi", "static"
}  # fmt: skip
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def store() -> AuthStore:
    """The app's auth store."""
    return current_app.extensions["ledhost.auth"]  # type: ignore[no-any-return]


def is_local(address: str | None) -> bool:
    """Loopback or private (LAN) address: where first-run setup may come from."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_link_local


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return str(session["csrf"])


def guard() -> Response | None:
    """Refuse what the caller may not do; records ``g.auth`` ("session" or "token").

    A page (the ``pages`` blueprint) without a session is sent to the login page, or to
    setup on first run, rather than answered with JSON.
    """
    g.auth = None
    hosts: HostCheck = current_app.extensions["ledhost.hosts"]
    if not hosts.host_ok(request.host):
        name = host_name(request.host)
        raise ApiError(
            421, "misdirected_request",
            f"this sign does not answer to the name {name!r}; use its address or add the "
            "name to [web] allowed_hosts",
        )  # fmt: skip
    if request.method not in SAFE_METHODS:
        origin = request.headers.get("Origin")
        if origin is not None and not hosts.origin_ok(origin, request.host):
            raise ApiError(403, "cross_origin", f"a request from another site ({origin}) refused")
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        if not store().check_token(header[7:].strip()):
            raise ApiError(401, "bad_token", "the API token is unknown or revoked")
        g.auth = "token"
    elif session.get("user") == "admin":
        g.auth = "session"
        if request.method not in SAFE_METHODS:
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
            if not sent or not secrets.compare_digest(sent, csrf_token()):
                raise ApiError(403, "csrf_failed", "missing or wrong X-CSRF-Token header")
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if request.blueprint == "pages":
        from web.pages import OPEN_PAGES

        if request.endpoint in OPEN_PAGES or g.auth == "session":
            return None
        if store().needs_setup:
            return redirect(url_for("pages.setup"))
        return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
    if store().needs_setup:
        raise ApiError(403, "setup_required", "no admin password yet: POST /api/v1/auth/setup")
    if g.auth is None:
        raise ApiError(401, "auth_required", "log in or send an API token")
    return None


#: Every response says: scripts, styles, images and connections from this site only; no
#: framing (clickjacking); no MIME sniffing; no referrer leaving the site.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def secure_headers(response: Response) -> Response:
    """Add :data:`SECURITY_HEADERS`; pages and API answers are never cached by proxies."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


class RateLimit:
    """At most ``limit`` attempts per client address per ``window`` seconds."""

    def __init__(self, limit: int = 5, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: defaultdict[str, deque[float]] = defaultdict(deque)

    def hit(self, key: str, now: float | None = None) -> None:
        """Count one attempt; raise 429 when over the limit."""
        now = time.monotonic() if now is None else now
        hits = self._hits[key]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            raise ApiError(429, "rate_limited", "too many login attempts; wait a minute")
        hits.append(now)

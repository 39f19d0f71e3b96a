"""The admin UI's pages: server-rendered shells that the page's own script fills in.

Why templates plus a little hand-written JavaScript (no framework, no build step): a Pi
serves them as files, nothing needs node to build, nothing loads from the internet, and
every number on a page comes from the same ``/api/v1`` calls a script would make (so the
UI can do nothing the API cannot). Each page is a template in ``web/templates`` and, where
it is live, a script of its own in ``web/static``.

Pages need a browser session: without one, :func:`web.security.guard` sends a page
request to ``/login`` (or ``/setup`` on first run) instead of answering with JSON.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from config import is_valid_id
from web.security import csrf_token, store

bp = Blueprint("pages", __name__)

#: Pages reachable without a session (the rest redirect to the login page).
OPEN_PAGES = {"pages.login", "pages.setup"}

#: The navigation, in order: (endpoint, label).
NAV = [
    ("pages.dashboard", "Dashboard"),
    ("pages.plugins", "Plugins"),
    ("pages.rotation", "Rotation"),
    ("pages.store", "Store"),
    ("pages.system", "System"),
]


def _page(template: str, title: str, **context: object) -> str:
    return render_template(template, title=title, nav=NAV, csrf=csrf_token(), **context)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would let a link log users in elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.dashboard")


@bp.get("/login")
def login() -> ResponseReturnValue:
    """Password form; first run goes to setup instead."""
    if store().needs_setup:
        return redirect(url_for("pages.setup"))
    return _page("login.html", "Log in", next=_safe_next(request.args.get("next")))


@bp.get("/setup")
def setup() -> ResponseReturnValue:
    """First-run admin password; once set, this page is the login page."""
    if not store().needs_setup:
        return redirect(url_for("pages.login"))
    return _page("setup.html", "Set up")


@bp.get("/")
def dashboard() -> ResponseReturnValue:
    """Live preview, what is showing and why, quick actions."""
    return _page("dashboard.html", "Dashboard")


@bp.get("/plugins")
def plugins() -> ResponseReturnValue:
    """Every instance with its state; enable, disable, restart, retry."""
    return _page("plugins.html", "Plugins")


@bp.get("/plugins/<instance>")
def plugin(instance: str) -> ResponseReturnValue:
    """One instance: its config form (from its JSON Schema), actions and log."""
    if not is_valid_id(instance):
        return _page("notfound.html", "Not found", what=f"plugin instance {instance!r}"), 404
    return _page("plugin.html", instance, instance=instance)


@bp.get("/rotation")
def rotation() -> ResponseReturnValue:
    """The rotation's order and durations, transitions, and the on/dim schedule."""
    return _page("rotation.html", "Rotation and schedule")


@bp.get("/system")
def system() -> ResponseReturnValue:
    """Display settings, safe mode, backup and restore, API tokens, the host's log."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("ledhost")
    except PackageNotFoundError:
        installed = "(not installed)"
    return _page("system.html", "System", version=installed)


@bp.get("/store", endpoint="store")
def store_page() -> ResponseReturnValue:
    """Browse the registries; install, update, roll back, uninstall with live progress."""
    return _page("store.html", "Plugin store")

"""The admin web UI's REST API: a separate process reaching the host only by its socket.

``create_app(config=..., control=...)`` is the Flask app factory (one blueprint per area:
:mod:`web.auth`, :mod:`web.api`, :mod:`web.openapi`); :mod:`web.server` serves it with
waitress; :mod:`web.security` guards every request. See docs/web.md.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from flask import Flask

from web import errors
from web.auth_store import AuthStore
from web.hosts import HostCheck
from web.security import RateLimit, guard, secure_headers

#: Uploads (restore, images) larger than this are refused with 413.
MAX_UPLOAD = 1024 * 1024


def create_app(
    config: Mapping[str, Any] | None = None,
    control: Callable[[Any], Any] | None = None,
) -> Flask:
    """Build the app.

    :param config: ``auth_file`` (Path of the auth store), ``data_dir`` (where the
        session key is kept, :mod:`web.session_key`; without it the key lives as long as
        the process), ``secure_cookies`` (behind https), ``setup_code`` (the one-time code
        logged at start), ``socket`` (control socket path), ``login_limit``,
        ``allowed_hosts`` (``[web] allowed_hosts``: names beyond the built-in ones the app
        answers to, :mod:`web.hosts`).
    :param control: sends one control request and returns the host's ``Ok.data``; by
        default :func:`host.ipc.control_client.request` on ``socket``.
    """
    from host.ipc.control_client import request as control_request
    from web import api, auth, events, openapi, pages, store_api, update_api
    from web.session_key import load_or_create

    cfg = dict(config or {})
    app = Flask(__name__)
    auth_file = Path(cfg.get("auth_file") or Path.home() / ".config/ledhost/web-auth.json")
    key = cfg.get("secret_key")
    if not key:
        data_dir = cfg.get("data_dir")
        key = load_or_create(Path(data_dir)) if data_dir else secrets.token_bytes(32)
    app.config.update(
        SECRET_KEY=key,
        MAX_CONTENT_LENGTH=MAX_UPLOAD,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=bool(cfg.get("secure_cookies", False)),
        LEDHOST_SETUP_CODE=cfg.get("setup_code") or os.environ.get("LEDHOST_SETUP_CODE"),
        PROPAGATE_EXCEPTIONS=False,
        LEDHOST_SOCKET=cfg.get("socket"),
    )
    # Keep keys in the order they were built: a schema's properties are a form's field order.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["ledhost.auth"] = AuthStore(auth_file)
    app.extensions["ledhost.ratelimit"] = RateLimit(limit=int(cfg.get("login_limit", 5)))
    app.extensions["ledhost.hosts"] = HostCheck(cfg.get("allowed_hosts", ()))
    app.extensions["ledhost.control"] = control or partial(control_request, path=cfg.get("socket"))
    app.before_request(guard)
    app.after_request(secure_headers)
    errors.install(app)
    for bp in [auth.bp, openapi.bp, *api.BLUEPRINTS, store_api.bp, update_api.bp, events.bp,
               pages.bp]:  # fmt: skip
        app.register_blueprint(bp)
    return app

"""The ``ledhost dev`` page and API: a live LED-look preview, the config form, logs.

The page reuses the admin UI's own scripts and styles, served from the ``web`` package
as they are (``/static/preview.js`` draws the round LEDs, ``/static/schemaform.js``
builds the form from the plugin's schema, ``/static/ledhost.js`` makes the API calls),
so the preview looks exactly like the admin UI's. For that, the frame stream has the
admin UI's URL and format (``GET /api/v1/events``: ``frame`` events with ``rgb_zlib``,
``state`` events when something else changed; see :mod:`web.events`).

Security: there is no login, which is safe only because the server listens on the
loopback interface (``ledhost dev`` refuses other addresses without a flag). Against a
web page in the same browser: the admin UI's Content-Security-Policy and headers on every
answer; a ``Host`` header that must name the loopback address (DNS rebinding); and every
mutating request must come from this origin (``Origin``) and carry the page's
CSRF token in ``X-CSRF-Token``.

API (JSON): ``GET /api/dev/status``, ``GET /api/dev/frame.png``, ``POST /api/dev/mode``
``{"mode"}``, ``POST /api/dev/config`` ``{"options", "secrets"?}`` (400 with ``issues``),
``POST /api/dev/reload``.
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from flask import Flask, Response, abort, jsonify, render_template_string, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

import web
from host.author.devsession import DevSession
from host.errors import HostError
from web.security import SECURITY_HEADERS

__all__ = ["create_dev_app", "LOOPBACK"]

#: Addresses that count as this machine only.
LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
#: Seconds between keep-alive comments on an idle event stream.
KEEPALIVE: Final = 15.0
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
STATIC: Final = Path(__file__).parent / "dev_static"

PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{{ csrf }}">
<title>{{ plugin }} · ledhost dev</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/ledhost.css">
<link rel="stylesheet" href="/dev-static/dev.css">
<script src="/static/ledhost.js" defer></script>
<script src="/static/preview.js" defer></script>
<script src="/static/schemaform.js" defer></script>
<script src="/dev-static/dev.js" defer></script>
</head>
<body>
<header class="top"><span class="brand">ledhost dev</span>
<span id="plugin">{{ plugin }}</span> <span id="state" class="state">starting</span></header>
<main id="main">
<div id="notice" role="status" aria-live="polite" class="notice" hidden></div>
<section class="card" aria-labelledby="preview-title">
  <h2 id="preview-title">Preview <span class="muted">{{ width }}x{{ height }}</span></h2>
  <div class="preview-wrap"><canvas id="preview" class="preview"
    aria-label="What the panel shows"></canvas></div>
  <p id="live" class="muted">Connecting…</p>
  <div class="row"><label for="mode">Mode</label><select id="mode"></select>
  <button type="button" class="small" id="reload">Reload now</button></div>
</section>
<section class="card" aria-labelledby="error-title" id="error-card" hidden>
  <h2 id="error-title">Error</h2><p id="error" class="error"></p>
  <pre id="traceback" class="traceback"></pre>
</section>
<section class="card" aria-labelledby="config-title">
  <h2 id="config-title">Config</h2>
  <form id="config-form" novalidate><div id="config-fields"></div>
  <div class="buttons"><button type="submit">Apply</button></div></form>
</section>
<section class="card" aria-labelledby="log-title">
  <h2 id="log-title">Log</h2>
  <ol id="log" class="devlog" tabindex="0" aria-labelledby="log-title"></ol>
</section>
</main>
</body>
</html>
"""


def create_dev_app(session: DevSession) -> Flask:
    """The Flask app of one dev session (see the module docstring for its routes)."""
    static = Path(web.__file__).parent / "static"
    app = Flask(__name__, static_folder=str(static), static_url_path="/static")
    csrf = secrets.token_urlsafe(24)
    app.config["DEV_CSRF"] = csrf

    @app.before_request
    def guard() -> None:
        host = (
            request.host.rsplit(":", 1)[0]
            if not request.host.startswith("[")
            else (request.host.split("]")[0] + "]")
        )
        if host not in LOOPBACK and not app.config.get("DEV_ANY_HOST"):
            abort(421, "this dev server answers only to 127.0.0.1 or localhost")
        if request.method in SAFE_METHODS:
            return
        origin = request.headers.get("Origin")
        if origin is not None and origin != request.host_url.rstrip("/"):
            abort(403, f"cross-origin request from {origin} refused")
        sent = request.headers.get("X-CSRF-Token", "")
        if not secrets.compare_digest(sent, csrf):
            abort(403, "missing or wrong X-CSRF-Token header")

    @app.after_request
    def headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint not in ("static", "dev_static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        body = {"code": exc.name.lower().replace(" ", "_"), "message": exc.description}
        return jsonify(body), exc.code or 500

    @app.get("/")
    def page() -> ResponseReturnValue:
        return render_template_string(
            PAGE,
            csrf=csrf,
            plugin=session.target.spec.plugin_id,
            width=session.width,
            height=session.height,
        )

    @app.get("/dev-static/<name>")
    def dev_static(name: str) -> ResponseReturnValue:
        if name not in ("dev.js", "dev.css"):
            abort(404)
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return Response((STATIC / name).read_text(), mimetype=kind)

    @app.get("/api/dev/status")
    def status() -> ResponseReturnValue:
        return jsonify(session.status())

    @app.get("/api/dev/frame.png")
    def frame_png() -> ResponseReturnValue:
        from PIL import Image

        pixels, seq = session.frame()
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        return Response(buffer.getvalue(), mimetype="image/png", headers={"X-Frame-Seq": str(seq)})

    @app.post("/api/dev/mode")
    def mode() -> ResponseReturnValue:
        body = _json_object()
        name = body.get("mode")
        if not isinstance(name, str):
            abort(400, "mode: a mode name string is required")
        try:
            session.set_mode(name)
        except ValueError as exc:
            abort(400, str(exc))
        return jsonify({"mode": name})

    @app.post("/api/dev/config")
    def config() -> ResponseReturnValue:
        body = _json_object()
        options, secrets = body.get("options"), body.get("secrets")
        if not isinstance(options, dict):
            abort(400, "options: a JSON object of the plugin's options is required")
        if secrets is not None and not isinstance(secrets, dict):
            abort(400, "secrets: a JSON object of the plugin's secret options")
        try:
            answer = session.configure(options, secrets or None)
        except HostError as exc:
            abort(409, str(exc))
        if "issues" in answer:
            message = "; ".join(f"{i['key']}: {i['message']}" for i in answer["issues"])
            return jsonify({"code": "invalid", "message": message, **answer}), 400
        return jsonify(answer)

    @app.post("/api/dev/reload")
    def reload() -> ResponseReturnValue:
        session.reload()
        return jsonify({"reloading": True})

    @app.get("/api/v1/events")
    def events() -> ResponseReturnValue:
        return Response(
            _stream(session),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return app


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "the request body must be a JSON object")
    return body


def _stream(session: DevSession) -> Iterator[str]:
    """Frames and state changes as the admin UI's event stream sends them."""
    yield "retry: 1000\n\n"
    frame_seq, event_seq = -1, -1
    while not session.closed:
        pixels, new_frame, new_event = session.wait_frame(frame_seq, event_seq, KEEPALIVE)
        sent = False
        if pixels is not None:
            frame_seq = new_frame
            height, width = pixels.shape[:2]
            data = {
                "width": width,
                "height": height,
                "seq": new_frame,
                "rgb_zlib": base64.b64encode(zlib.compress(pixels.tobytes(), 1)).decode(),
                "at": time.time(),
            }
            yield f"event: frame\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
            sent = True
        if new_event != event_seq:
            event_seq = new_event
            yield f"event: state\ndata: {json.dumps({'event_seq': new_event})}\n\n"
            sent = True
        if not sent:
            yield ": keepalive\n\n"

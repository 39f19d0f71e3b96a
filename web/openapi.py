"""The OpenAPI 3 document of ``/api/v1`` (served at ``/api/v1/openapi.json``).

Written by hand (a table per path) rather than generated, so the document says what each
call means; ``tests/test_web.py`` checks it against the app's routes both ways.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from web.openapi_schemas import ANY, ERROR, RESPONSES, obj

bp = Blueprint("api_meta", __name__, url_prefix="/api/v1")

_OBJ: dict[str, Any] = {"type": "object"}
_ERR = {
    "description": "error: a stable code and a message naming the problem",
    "content": {"application/json": {"schema": ERROR}},
}

#: Reachable without credentials (``web.security.OPEN_ENDPOINTS``).
OPEN_PATHS = {
    "/api/v1/openapi.json", "/api/v1/auth/state", "/api/v1/auth/setup", "/api/v1/auth/login",
    "/api/v1/auth/logout",
}  # fmt: skip

#: path -> method -> (summary, takes a JSON body)
PATHS: dict[str, dict[str, tuple[str, bool]]] = {
    "/api/v1/openapi.json": {"get": ("This document", False)},
    "/api/v1/auth/state": {"get": ("Setup needed? logged in?", False)},
    "/api/v1/auth/setup": {"post": ("First-run admin password", True)},
    "/api/v1/auth/login": {"post": ("Start a browser session", True)},
    "/api/v1/auth/logout": {"post": ("End the browser session", False)},
    "/api/v1/auth/tokens": {
        "get": ("List API tokens", False),
        "post": ("Create an API token (value shown once)", True),
    },
    "/api/v1/auth/tokens/{token_id}": {"delete": ("Revoke an API token", False)},
    "/api/v1/status": {"get": ("Panel and plugin status", False)},
    "/api/v1/next": {"post": ("Next mode", False)},
    "/api/v1/previous": {"post": ("Previous mode", False)},
    "/api/v1/pin": {"post": ("Pin a mode", True), "delete": ("Unpin", False)},
    "/api/v1/brightness": {"put": ("Set brightness", True)},
    "/api/v1/power": {"put": ("Panel on/off", True)},
    "/api/v1/logs": {"get": ("The host's own recent log records", False)},
    "/api/v1/restart": {"post": ("Restart ledhost (same command line)", False)},
    "/api/v1/safe-mode": {
        "get": ("Safe mode now, and at the next start", False),
        "put": ("Ask for safe mode (builtin plugins only) at the next start", True),
    },
    "/api/v1/notify": {"post": ("Send a notification", True)},
    "/api/v1/store/plugins": {
        "get": ("Registry plugins matching q (cached; stale says so)", False)
    },
    "/api/v1/store/installed": {"get": ("Plugins the store installed", False)},
    "/api/v1/store/jobs": {"post": ("Install, update, roll back or uninstall (a job)", True)},
    "/api/v1/store/upload": {"post": ("Install an uploaded wheel (multipart 'wheel')", False)},
    "/api/v1/store/jobs/{job}": {"get": ("A store job's state and progress", False)},
    "/api/v1/system/update": {
        "get": ("Versions, the newest on the index (cached), the last update", False),
        "post": ("Update ledhost or roll it back (a job; ledhost restarts)", True),
    },
    "/api/v1/events": {"get": ("Server-sent events: state, frames, logs", False)},
    "/api/v1/plugins": {"get": ("Installed plugins with versions", False)},
    "/api/v1/plugins/{instance}": {"get": ("Modes, actions, config schema and config", False)},
    "/api/v1/plugins/{instance}/modes/{mode}/preview.png": {
        "get": ("One frame of a mode, rendered now through a real worker (PNG)", False)
    },
    "/api/v1/plugins/{instance}/validate": {
        "post": ("Check option values against the plugin's schema", True)
    },
    "/api/v1/plugins/{instance}/{op}": {"post": ("enable/disable/restart/retry", False)},
    "/api/v1/plugins/{instance}/actions/{action}": {"post": ("Run a plugin action", True)},
    "/api/v1/plugins/{instance}/logs": {"get": ("Recent log records", False)},
    "/api/v1/config/backup": {"get": ("Download the config file (no secrets)", False)},
    "/api/v1/config/schema/{section}": {"get": ("JSON Schema of a host section", False)},
    "/api/v1/config/restore": {"post": ("Replace the config file; refused whole if invalid", True)},
    "/api/v1/secrets": {"get": ("Which secrets are declared and set (never values)", False)},
    "/api/v1/secrets/{instance}/{key}": {
        "put": ("Write one secret (write-only)", True),
        "delete": ("Remove one secret", False),
    },
    "/api/v1/config/{section}": {
        "get": ("Read a config section", False),
        "put": ("Write a config section", True),
    },
}


#: Calls that answer something else than JSON: (path, method) -> media type.
MEDIA: dict[tuple[str, str], str] = {
    ("/api/v1/events", "get"): "text/event-stream",
    ("/api/v1/plugins/{instance}/modes/{mode}/preview.png", "get"): "image/png",
}


def _success(path: str, method: str) -> dict[str, Any]:
    """The documented success response of one call, with its exact body."""
    media = MEDIA.get((path, method))
    if media is not None:
        return {"200": {"description": "ok", "content": {media: {"schema": {"type": "string"}}}}}
    status, schema = RESPONSES.get((path, method), ("200", obj({"data": ANY})))
    return {status: {"description": "ok", "content": {"application/json": {"schema": schema}}}}


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    paths: dict[str, Any] = {}
    for path, methods in PATHS.items():
        params = [
            {"name": p[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
            for p in path.split("/")
            if p.startswith("{")
        ]
        paths[path] = {}
        for method, (summary, has_body) in methods.items():
            op: dict[str, Any] = {
                "summary": summary,
                "parameters": params,
                "responses": {**_success(path, method), "default": _ERR},
            }
            if path in OPEN_PATHS:
                op["security"] = []
            if has_body:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": _OBJ}},
                }
            paths[path][method] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "ledhost", "version": "1"},
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"token": []}],
        "paths": paths,
    }


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """Serve the document."""
    return jsonify(document())

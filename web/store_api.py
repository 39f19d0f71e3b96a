"""``/api/v1/store``: browse the registries, install, update, roll back, uninstall.

Each call is one control-socket request; the host runs the store's own commands as child
processes (host/control/store_ops.py). A change answers 202 with a job at once; its
progress (the store's stage lines) is read from ``GET /api/v1/store/jobs/<id>``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from host.ipc import control
from host.ipc.control_client import ControlClient
from web.auth import body
from web.errors import ApiError

bp = Blueprint("api_store", __name__, url_prefix="/api/v1/store")

#: Seconds to wait for a registry listing (the host gives up on the store after 60).
BROWSE_WAIT = 70.0


def send(fields: dict[str, Any], timeout: float = 10.0) -> Any:
    """One control request built from ``fields`` (400 when invalid); its reply's data,
    waiting up to ``timeout`` seconds (the store's and self-update's calls take long)."""
    try:
        message = msgspec.convert(fields, control.Request)
    except msgspec.ValidationError as exc:
        raise ApiError(400, "invalid", str(exc)) from exc
    with ControlClient(current_app.config.get("LEDHOST_SOCKET"), timeout=timeout) as client:
        return client.request(message)


@bp.get("/plugins")
def search() -> ResponseReturnValue:
    """The registries' plugins matching ``q`` (all without); ``refresh=1`` fetches now."""
    fields = {"t": "store_search", "text": request.args.get("q", ""),
              "refresh": request.args.get("refresh") in ("1", "true")}  # fmt: skip
    return jsonify(data=send(fields, BROWSE_WAIT))


@bp.get("/installed")
def installed() -> ResponseReturnValue:
    """The plugins the store installed, with versions and sources."""
    return jsonify(data=send({"t": "store_list"}, BROWSE_WAIT))


@bp.post("/jobs")
def start() -> ResponseReturnValue:
    """Start ``{"op": install|update|rollback|uninstall, "target", "version"}``."""
    data = body()
    fields = {"t": "store_change", "op": data.get("op"), "target": data.get("target"),
              "version": data.get("version")}  # fmt: skip
    return jsonify(data=send(fields)), 202


@bp.post("/upload")
def upload() -> ResponseReturnValue:
    """Install an uploaded wheel (multipart field ``wheel``, at most 3.5 MiB): a job."""
    request.max_content_length = control.MAX_UPLOAD + 64 * 1024
    wheel = request.files.get("wheel")
    if wheel is None or not wheel.filename:
        raise ApiError(400, "invalid", "send the wheel as the multipart field 'wheel'")
    name = wheel.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if not name.endswith(".whl"):
        raise ApiError(400, "not_a_wheel", f"{name!r}: only wheels (.whl) are installed")
    data = wheel.read(control.MAX_UPLOAD + 1)
    if len(data) > control.MAX_UPLOAD:
        raise ApiError(413, "too_large", "wheels over 3.5 MiB are installed from a URL")
    return jsonify(data=send({"t": "store_upload", "name": name, "data": data})), 202


@bp.get("/jobs/<job>")
def job(job: str) -> ResponseReturnValue:
    """A store job: ``state`` (running, done, failed), progress ``lines``, result, error."""
    if not (job.isascii() and job.isdigit()) or len(job) > 12:
        raise ApiError(404, "no_such_job", f"no store job {job[:20]!r}")
    return jsonify(data=send({"t": "store_job", "job": int(job)}))
